"""Root conftest: makes the vaebench plugin available when the package is used from a
checkout on PYTHONPATH without being pip-installed (e.g. on a GPU machine with only JAX),
where the ``pytest11`` entry point is not registered."""
import os
from importlib.metadata import entry_points

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

if not any(ep.value == "vaebench.plugin" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["vaebench.plugin"]
