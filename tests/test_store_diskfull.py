"""Writing a store entry on a full, read-only or foreign disk: a StoreError worded by its
errno, nothing damaged, no temporaries left, never a crash."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vaebench.errors import StoreError
from vaebench.store import modelstore as M
from vaebench.store.modelstore import ModelStore
from vaebench.train.trainer import train

FP = "0" * 32
H5_NO_SPACE = ("Unable to synchronously create dataset (file write failed: time = Thu Dec  3, filename = "
               "'model.weights.h5', file descriptor = 5, errno = 28, error message = 'No space left on device', "
               "buf = 0x55, total write size = 4096, bytes this sub-write = 4096, bytes actually written = "
               "18446744073709551615, offset = 0)")


@pytest.fixture(scope="module")
def result():
    import numpy as np

    from vaebench.config import DataSpec, ModelSpec, TrainSpec

    data = DataSpec(image_size=16, n_train=64, n_test=16)
    model = ModelSpec(kind="ae", z_dim=4, filters=(4, 8), batchnorm=False, fact=0.0)
    tr = TrainSpec(epochs=1, batch_size=16, probe_size=16)
    images = (np.random.default_rng(0).random((64, 16, 16, 3)) * 255).astype(np.uint8)
    return data, model, tr, train(data, model, tr, images, progress=False)


def _failing_save(error):
    def save_weights(path, *args, **kwargs):
        Path(path).write_bytes(b"\x89HDF half")   # what a write cut short leaves
        raise error
    return save_weights


def _nothing_left(store: ModelStore) -> None:
    assert list(store.models.iterdir()) == [] and store.entries() == [] and store.damaged() == []


@pytest.mark.slow
@pytest.mark.parametrize("error,wording", [
    (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), "no space left on device to write the entry "),
    (RuntimeError(H5_NO_SPACE), "no space left on device to write the entry "),
    (OSError(errno.EDQUOT, os.strerror(errno.EDQUOT)), "no space left on device to write the entry "),
    (OSError(errno.EROFS, os.strerror(errno.EROFS)), "it is on a read-only file system; set --vaebench-store"),
    (PermissionError(errno.EACCES, os.strerror(errno.EACCES)), "not writable for this user"),
    (OSError(errno.EIO, os.strerror(errno.EIO)), "check the disk, or set --vaebench-store"),
], ids=["ENOSPC", "h5py-ENOSPC", "EDQUOT", "EROFS", "EACCES", "EIO"])
def test_a_failed_weights_write_is_worded_by_errno_and_leaves_nothing(tmp_path, monkeypatch, result, error,
                                                                       wording):
    data, model, tr, res = result
    store = ModelStore(tmp_path, progress=False)
    monkeypatch.setattr(res.model, "save_weights", _failing_save(error))
    with pytest.raises(StoreError, match=wording) as err:
        store.put_result(data, model, tr, res, fingerprint=FP)
    if "no space" in wording:
        assert str(err.value).endswith("MB or set --vaebench-store, --store or VAEBENCH_STORE to another folder")
    _nothing_left(store)


@pytest.mark.slow
def test_too_little_space_is_refused_before_writing(tmp_path, monkeypatch, result):
    data, model, tr, res = result
    store = ModelStore(tmp_path, progress=False)
    real = os.statvfs

    class Full:
        def __init__(self, st):
            self.f_frsize, self.f_bavail = st.f_frsize, 10

    monkeypatch.setattr(M.os, "statvfs", lambda p: Full(real(p)))
    monkeypatch.setattr(res.model, "save_weights", _failing_save(AssertionError("nothing is written")))
    need = -(-(int(M._weights_bytes(res.model) * 1.25) + (1 << 20)) // 10**6)
    with pytest.raises(StoreError, match=f"no space left on device to write the entry .*: free {need} MB or set"):
        store.put_result(data, model, tr, res, fingerprint=FP)
    _nothing_left(store)


FULL_DISK = """
import sys
import numpy as np
from vaebench.config import DataSpec, ModelSpec, TrainSpec
from vaebench.errors import StoreError
from vaebench.store import modelstore as M
from vaebench.train.trainer import train
data = DataSpec(image_size=16, n_train=64, n_test=16)
model = ModelSpec(kind="ae", z_dim=4, filters=(16, 32), batchnorm=False, fact=0.0)
tr = TrainSpec(epochs=1, batch_size=16, probe_size=16)
res = train(data, model, tr, (np.random.default_rng(0).random((64, 16, 16, 3)) * 255).astype(np.uint8),
            progress=False)
store = M.ModelStore(sys.argv[1], progress=False)
M._check_space = lambda *a: None   # the disk fills between the check and the write
with open(sys.argv[2], "wb") as f:
    try:
        f.write(bytes(4 * 2**20))
    except OSError:
        pass
try:
    store.put_result(data, model, tr, res, fingerprint="0" * 32)
except StoreError as e:
    print(e, file=sys.stderr)
    sys.exit(2)
"""


@pytest.mark.slow
def test_weights_onto_a_full_tmpfs_are_a_store_error_not_a_crash(tmpfs):
    run = subprocess.run([sys.executable, "-c", FULL_DISK, str(tmpfs / "store"), str(tmpfs / "filler")],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert run.returncode == 2, (run.returncode, run.stderr[-3000:])   # a segfault would be -11
    assert run.stderr.strip().splitlines()[-1].startswith("no space left on device to write the entry ")
    store = ModelStore(tmpfs / "store", progress=False)
    assert list(store.models.iterdir()) == [] and store.damaged() == []
