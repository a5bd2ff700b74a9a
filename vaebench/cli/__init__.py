"""The ``vaebench`` command: :func:`main` in :mod:`.commands` (the entry point), its
arguments in :mod:`.arguments`, the commands in :mod:`.claims` (``main``), :mod:`.train`,
:mod:`.store` and :mod:`.commands` (``scales``, ``device-check``), and the pytest plugin
``vaebench main`` runs the claims with in :mod:`.outcomes`.

Layer 13 (the top): imports everything."""
from vaebench.cli.commands import main

__all__ = ["main"]
