"""The ``vaebench`` command (:mod:`.commands`).

Layer 13 (the top): imports everything."""
from vaebench.cli.commands import main  # noqa: F401
