"""The vaebench pytest plugin (the ``pytest11`` entry point): options, fixtures, the
outcome hook and the end-of-run summary (:mod:`.hooks`).

Layer 12: imports everything below it."""
from vaebench.pytest_plugin.hooks import *  # noqa: F401,F403
from vaebench.pytest_plugin.hooks import _prop  # noqa: F401
