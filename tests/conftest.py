"""Shared fixtures of the unit tests: tiny specs that train in well under a second."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from vaebench.config import DataSpec, ModelSpec, TrainSpec

pytest_plugins = ("pytester",)


@pytest.fixture(autouse=True)
def _no_snapshots(monkeypatch):
    """Training publishes no snapshot entries in the unit tests (their stores hold what they
    train, as they assert); the tests of snapshots turn them on (VAEBENCH_SNAPSHOTS=1)."""
    monkeypatch.setenv("VAEBENCH_SNAPSHOTS", "0")


@pytest.fixture
def tiny_data():
    return DataSpec(image_size=16, n_train=64, n_test=16)


@pytest.fixture
def tiny_vae():
    return ModelSpec(kind="vae", z_dim=4, filters=(4, 8), batchnorm=True, fact=1e-2)


@pytest.fixture
def tiny_ae():
    return ModelSpec(kind="ae", z_dim=4, filters=(4, 8), batchnorm=False, fact=0.0)


@pytest.fixture
def tiny_train():
    return TrainSpec(epochs=2, batch_size=16, probe_size=16, seed=0)


@pytest.fixture
def tiny_images():
    return (np.random.default_rng(0).random((64, 16, 16, 3)) * 255).astype(np.uint8)


@pytest.fixture
def tmpfs(tmp_path):
    """An empty 2 MiB tmpfs, unmounted afterwards (skipped where mounting is impossible: not root)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
