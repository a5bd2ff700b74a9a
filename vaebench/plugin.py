"""The vaebench pytest plugin (registered through the ``pytest11`` entry point).

Options (see ``pytest --help``, group "vaebench"):
  --vaebench-scale   smoke | cpu | full | auto (default: $VAEBENCH_SCALE or auto)
  --vaebench-store   model store folder (default: $VAEBENCH_STORE or ~/.cache/vaebench)
Markers: ``gpu`` (trains models; at the full scale it wants a GPU), ``claim(id)``.
Fixtures: ``vaebench_session`` (scale, store, datasets, trained models), ``scale``.
"""
from __future__ import annotations

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("vaebench", "vaebench claims")
    group.addoption("--vaebench-scale", default=None,
                    help="scale of the claims: smoke, cpu, full or auto (default: $VAEBENCH_SCALE or auto, "
                         "which is full with a GPU and cpu without)")
    group.addoption("--vaebench-store", default=None,
                    help="trained-model store folder (default: $VAEBENCH_STORE or ~/.cache/vaebench)")


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: trains models; at the full scale this wants a GPU")
    config.addinivalue_line("markers", "claim(id): the claim (C1..C7) a test checks")


@pytest.fixture(scope="session")
def vaebench_session(request):
    from .session import Session

    return Session(request.config.getoption("--vaebench-scale"), request.config.getoption("--vaebench-store"))


@pytest.fixture(scope="session")
def scale(vaebench_session):
    return vaebench_session.scale
