"""vaebench.atomic: temporaries that name their writer, and which of them are abandoned."""
import os
import socket
import subprocess
import sys
import time

from vaebench import atomic


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_temporary_names_its_writer():
    name = atomic.temp_name(".synthetic-32px-abc", ".tmp")
    assert name.startswith(".synthetic-32px-abc@") and name.endswith(".tmp")
    assert atomic.writer_of(name, ".tmp") == (socket.gethostname(), os.getpid())
    assert atomic.writer_of(name, ".npy") is None
    assert atomic.writer_of(".synthetic-32px-abc.1234-ff00.tmp", ".tmp") is None     # an older name
    assert atomic.writer_of("a@h@x@t") is None


def test_abandoned_when_the_writer_is_gone(tmp_path):
    host = socket.gethostname()
    dead = tmp_path / f".x@{host}@{_dead_pid()}@aa.tmp"
    mine = tmp_path / atomic.temp_name(".x", ".tmp")
    parent = tmp_path / f".x@{host}@{os.getppid()}@bb.tmp"
    other_new = tmp_path / ".x@another-host@1@cc.tmp"
    other_old = tmp_path / ".x@another-host@1@dd.tmp"
    older_name = tmp_path / ".x.1.tmp"
    for p in (dead, mine, parent, other_new, other_old, older_name):
        p.write_bytes(b"")
    old = time.time() - 7 * 3600
    os.utime(other_old, (old, old))
    os.utime(older_name, (old, old))
    assert atomic.abandoned(dead, ".tmp")
    assert not atomic.abandoned(mine, ".tmp") and not atomic.abandoned(parent, ".tmp")
    assert not atomic.abandoned(other_new, ".tmp") and atomic.abandoned(other_old, ".tmp")
    assert not atomic.abandoned(older_name, ".tmp")       # not ours to judge by name


def test_stale_also_takes_old_names_after_six_hours(tmp_path):
    recent, old_name = tmp_path / ".tmp-x-123-abcd", tmp_path / ".tmp-y-123-abcd"
    for p in (recent, old_name):
        p.mkdir()
    old = time.time() - 7 * 3600
    os.utime(old_name, (old, old))
    assert not atomic.stale(recent) and atomic.stale(old_name)
    assert atomic.stale(tmp_path / f".z@{socket.gethostname()}@{_dead_pid()}@ee")


def test_write_text_replaces_whole_or_leaves_the_old_file(tmp_path, monkeypatch):
    import errno
    import os

    from vaebench import atomic

    path = tmp_path / "out.txt"
    atomic.write_text(path, "first")
    assert path.read_text() == "first"

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "replace", full)
    try:
        atomic.write_text(path, "second")
    except OSError as e:
        assert atomic.why_not_written(e).startswith("no space left on device")
    else:
        raise AssertionError("the write must fail")
    assert path.read_text() == "first" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    for code, words in ((errno.EROFS, "read-only"), (errno.EACCES, "permission denied"), (errno.EIO, "OSError")):
        assert words in atomic.why_not_written(OSError(code, os.strerror(code)))
