"""Root conftest: makes the vaebench plugin available when the package is used from a
checkout on PYTHONPATH without being pip-installed (e.g. on a GPU machine with only JAX),
where the ``pytest11`` entry point is not registered."""
import os
from importlib.metadata import entry_points

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

if not any(ep.value == "vaebench.pytest_plugin" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["vaebench.pytest_plugin"]


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: a slow test (JAX or pytest subprocesses, Ray clusters, concurrency, whole claim runs, "
        "training); the inner loop is `pytest -m 'not slow'`, CI runs every test")


def pytest_collection_modifyitems(config, items):
    """Every claim run (hypotheses/) and benchmark (benchmarks/) of this repository is slow."""
    import pytest

    root = config.rootpath
    for item in items:
        rel = item.path.relative_to(root).parts if item.path.is_relative_to(root) else ()
        if rel and rel[0] in ("hypotheses", "benchmarks"):
            item.add_marker(pytest.mark.slow)
