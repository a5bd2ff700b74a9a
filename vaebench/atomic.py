"""Atomic writes, shared by the model store and the decoded-image cache.

A writer puts its output under a temporary name that says who wrote it
(``<stem>@<host>@<pid>@<token>``), fsyncs it and renames it into place, so a run killed
at any moment leaves either the complete file (or folder) or a temporary that nothing
loads. A temporary is *abandoned* when its writer is gone: on this host, when no process
with its pid is running; for another host's writer (a shared network store), when it has
not been touched for ``age_s`` (6 hours). Abandoned temporaries are removed at the next
write.
"""
from __future__ import annotations

import errno
import json
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any

STALE_AGE_S = 6 * 3600
_SEP = "@"


def _host() -> str:
    return socket.gethostname().replace(_SEP, "_") or "localhost"


def temp_name(stem: str, suffix: str = "") -> str:
    """A fresh temporary name for ``stem`` that names this process as its writer."""
    return f"{stem}{_SEP}{_host()}{_SEP}{os.getpid()}{_SEP}{secrets.token_hex(6)}{suffix}"


def writer_of(name: str, suffix: str = "") -> tuple[str, int] | None:
    """``(host, pid)`` of the writer of temporary ``name`` (see :func:`temp_name`), or None
    when ``name`` is not such a name."""
    if suffix:
        if not name.endswith(suffix):
            return None
        name = name[: -len(suffix)]
    parts = name.rsplit(_SEP, 3)
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2])


def alive(pid: int) -> bool:
    """Whether a process with ``pid`` runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # it exists, it is someone else's
        return True
    except OSError:
        return True
    return True


def abandoned(path: Path, suffix: str = "", age_s: float = STALE_AGE_S) -> bool:
    """Whether the temporary ``path`` belongs to a writer that is gone (module docstring).
    Names not written by :func:`temp_name` never count as abandoned."""
    writer = writer_of(path.name, suffix)
    if writer is None:
        return False
    host, pid = writer
    if host == _host():
        return pid != os.getpid() and not alive(pid)
    try:
        return time.time() - path.stat().st_mtime > age_s
    except OSError:
        return False


def fsync(path: Path, directory: bool = False) -> None:
    """Flush ``path`` (a file, or a folder's entries) to disk; best effort."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` and fsync it (``path`` is a temporary or lies in a
    temporary folder: the caller renames it into place)."""
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True, default=float)
        f.flush()
        os.fsync(f.fileno())


def stale(path: Path, suffix: str = "", age_s: float = STALE_AGE_S) -> bool:
    """Whether a temporary can go: :func:`abandoned`, or named by an older vaebench (no
    writer in its name) and untouched for ``age_s``."""
    if writer_of(path.name, suffix) is not None:
        return abandoned(path, suffix, age_s)
    try:
        return time.time() - path.stat().st_mtime > age_s
    except OSError:
        return False


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a temporary beside it, fsynced, renamed into
    place; on any failure the temporary is removed and the OSError raised (``path`` is
    left as it was)."""
    path = Path(path)
    tmp = path.with_name(temp_name("." + path.name, ".tmp"))
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def why_not_written(error: OSError) -> str:
    """A failed write in words, by its errno: what the user can do about it."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "no space left on device (free some, or write elsewhere)"
    if error.errno == errno.EROFS:
        return "the file system is read-only (write elsewhere)"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied (write where this user may)"
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return "its folder does not exist (create it, or write elsewhere)"
    return f"{type(error).__name__}: {error}"
