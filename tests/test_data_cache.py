"""vaebench.data.cache on a full or read-only disk, and with a writer publishing an entry:
a clear DataError (never SIGBUS), no temporaries left, and a half-published entry is
"not yet", not damaged."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from vaebench.config import DataSpec
from vaebench.data import cache as C
from vaebench.data import load_dataset
from vaebench.data.synthetic import synthetic_faces
from vaebench.errors import DataError

SMALL = DataSpec(image_size=32, n_train=40, n_test=12, seed=3)
NBYTES = 40 * 32 * 32 * 3   # the train set's entry


def _left(folder: Path) -> list[str]:
    """What a build left besides lock files (which stay: removing a lock is racy)."""
    return sorted(p.name for p in folder.iterdir() if p.suffix != ".lock")


def _raise(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return fail


def test_no_space_when_reserving_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(C.os, "posix_fallocate", _raise(errno.ENOSPC))
    with pytest.raises(DataError) as err:
        load_dataset(SMALL, cache_dir=tmp_path, progress=False)
    text = str(err.value)
    assert text.startswith(f"no space left on device writing {tmp_path}/.synthetic-32px-seed3")
    assert text.endswith(f": free {-(-NBYTES // 10**6)} MB or set --vaebench-store/cache elsewhere")
    assert _left(tmp_path) == []


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_a_read_only_cache_is_worded_by_its_errno(tmp_path, monkeypatch, code):
    monkeypatch.setattr(C.os, "posix_fallocate", _raise(code))
    with pytest.raises(DataError, match=f"is not writable \\({os.strerror(code)}\\); set --vaebench-store"):
        load_dataset(SMALL, cache_dir=tmp_path, progress=False)
    assert _left(tmp_path) == []


def test_without_fallocate_space_is_reserved_with_plain_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(C.os, "posix_fallocate", _raise(errno.EOPNOTSUPP))
    writes = []
    real_write = os.write
    monkeypatch.setattr(C.os, "write", lambda fd, data: writes.append(len(data)) or real_write(fd, data))
    train, _ = load_dataset(SMALL, cache_dir=tmp_path, progress=False)
    assert np.array_equal(train.images, synthetic_faces(40, 32, seed=3)[0])
    assert sorted(writes) == [12 * 32 * 32 * 3, NBYTES]   # every image byte of both sets, written before mapping
    monkeypatch.setattr(C.os, "write", _raise(errno.ENOSPC))
    with pytest.raises(DataError, match="no space left on device"):
        load_dataset(DataSpec(image_size=32, n_train=41, n_test=12, seed=4), cache_dir=tmp_path / "b", progress=False)
    assert _left(tmp_path / "b") == []


def test_no_space_for_the_metadata_is_a_clear_error(tmp_path, monkeypatch):
    real = Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name.endswith(".tmp"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    with pytest.raises(DataError, match=r"no space left on device writing .*\.tmp: free 1 MB"):
        load_dataset(SMALL, cache_dir=tmp_path, progress=False)
    assert _left(tmp_path) == []


FULL_DISK = """
import sys
from vaebench.config import DataSpec
from vaebench.data import load_dataset
from vaebench.errors import DataError
try:
    load_dataset(DataSpec(image_size=64, n_train=200, n_test=8), cache_dir=sys.argv[1], progress=False)
except DataError as e:
    print(e, file=sys.stderr)
    sys.exit(2)
"""


@pytest.fixture
def full_tmpfs(tmpfs):
    """The 2 MiB tmpfs with 512 KiB free."""
    (tmpfs / "filler").write_bytes(bytes(2 * 2**20 - 512 * 2**10))
    return tmpfs


@pytest.mark.slow
def test_a_full_tmpfs_gives_the_error_not_sigbus(full_tmpfs):
    cache = full_tmpfs / "cache"
    run = subprocess.run([sys.executable, "-c", FULL_DISK, str(cache)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}, timeout=120)
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])   # SIGBUS would be -7
    assert run.stderr.startswith(f"no space left on device writing {cache}/.synthetic-64px")
    assert "free 3 MB or set --vaebench-store/cache elsewhere" in run.stderr
    assert _left(cache) == []


def test_a_half_published_entry_is_not_yet_there_not_damaged(tmp_path):
    train, _ = load_dataset(SMALL, cache_dir=tmp_path, progress=False)
    entry = Path(train.images.filename)
    meta = entry.with_suffix(".json")
    saved, inode = meta.read_bytes(), entry.stat().st_ino
    del train
    stem = entry.name.rsplit("-n", 1)[0]
    writer = FileLock(str(tmp_path / f".{stem}.lock"))
    writer.acquire()                   # a writer between its .npy and its .json rename
    meta.unlink()
    got = {}
    reader = threading.Thread(target=lambda: got.update(sets=load_dataset(SMALL, cache_dir=tmp_path, progress=False)))
    reader.start()
    time.sleep(1.0)
    assert reader.is_alive() and entry.exists()     # it waits on the lock; it deleted nothing
    meta.write_bytes(saved)            # the writer's last rename
    writer.release()
    reader.join(30)
    assert not reader.is_alive() and entry.stat().st_ino == inode   # the published entry, not a rebuild
    assert np.array_equal(got["sets"][0].images, synthetic_faces(40, 32, seed=3)[0])
