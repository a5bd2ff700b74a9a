"""The decoded-image cache: a data set's uint8 ``(N, S, S, 3)`` array as a ``.npy`` file,
opened with ``np.load(mmap_mode='r')``, so later runs decode or render nothing.

An entry is ``<stem>-n<count>.npy`` with ``<stem>-n<count>.json`` beside it: the data
set's key, the shape, the chunk digests of the content fingerprint
(:mod:`vaebench.data.fingerprint`, over every image, computed once when the entry is built)
and what the builder recorded (file names, skips). An entry with more images serves a
smaller request with its prefix.

Guarantees: entries are written to temporaries (:mod:`vaebench.atomic`), fsynced and
renamed into place, data first and metadata last, so a killed run leaves nothing that
loads; temporaries of writers that are gone are removed at the next write. Opening an
entry rehashes every chunk (in parallel) and compares the digests with those it was
written with: any changed byte, a truncated or foreign file or missing metadata is
reported with a :class:`DataWarning` and the entry rebuilt.
"""
from __future__ import annotations

import errno
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
from filelock import FileLock

from vaebench import atomic
from vaebench.data.fingerprint import chunk_digests, images_fingerprint
from vaebench.errors import DataError, require

#: bumped when the entry layout changes; an entry of another format is rebuilt
CACHE_FORMAT = 2
_TMP = ".tmp"


class DataWarning(UserWarning):
    """Something about the data was repaired or left out (skipped files, rebuilt caches)."""


def _entries(cache_dir: Path, stem: str) -> list[tuple[int, Path]]:
    """Cache entries ``{stem}-n{count}.npy`` as (count, path), smallest count first.
    Temporary files (``.*.tmp``) never match."""
    found = []
    for p in cache_dir.glob(f"{stem}-n*.npy"):
        tail = p.name[len(stem) + 2:-4]
        if tail.isdigit():
            found.append((int(tail), p))
    return sorted(found)


def _load_meta(path: Path) -> tuple[Any, Exception | None]:
    """The parsed ``.json`` metadata of a cache entry and None, or None and the error
    reading or parsing it raised (reported by ``_open_entry``)."""
    try:
        return json.loads(path.with_suffix(".json").read_text()), None
    except Exception as exc:  # noqa: BLE001 - a damaged entry is reported when opened
        return None, exc


def _peek_complete(loaded: tuple[Any, Exception | None]) -> bool:
    """Whether ``_load_meta``'s metadata says the entry holds everything there is."""
    meta, error = loaded
    if error is not None:
        return False
    try:
        return bool(meta.get("complete"))
    except Exception:  # noqa: BLE001 - a damaged entry is reported when opened
        return False


def _open_entry(path: Path, key: str, loaded: tuple[Any, Exception | None],
                repair: bool = True) -> tuple[np.ndarray, dict] | None:
    """Open a cache entry read-only, or return None when it is not a valid entry: missing
    or unparsable metadata, another format, a truncated or foreign ``.npy``, or content
    that no longer matches the chunk digests it was written with. ``loaded`` is
    ``_load_meta(path)``. With ``repair`` (only under the entry's lock, where no writer
    can be half-way through publishing it) a damaged entry is reported with a
    DataWarning and deleted; without, it is only "not (yet) there"."""
    meta_path = path.with_suffix(".json")
    try:
        meta, error = loaded
        if error is not None:
            raise error
        require(meta.get("format") == CACHE_FORMAT,
                f"it was written by another vaebench (cache format {meta.get('format', 1)}, "
                f"this one reads {CACHE_FORMAT})", DataError)
        require(meta.get("key") == key, "its metadata belongs to another data set", DataError)
        images = np.load(path, mmap_mode="r", allow_pickle=False)
        require(images.dtype == np.uint8 and list(images.shape) == meta["shape"],
                f"it holds {images.dtype} {images.shape}, expected uint8 {tuple(meta['shape'])}", DataError)
        require(chunk_digests(images) == meta["chunks"], "its contents do not match their checksum", DataError)
        return images, meta
    except Exception as exc:  # noqa: BLE001 - any failure means "not a valid entry"
        if not repair:
            return None
        reason = str(exc) if isinstance(exc, DataError) else f"{type(exc).__name__}: {exc}"
        warnings.warn(f"cache entry {path} is damaged ({reason}); rebuilding it", DataWarning, stacklevel=5)
        for p in (meta_path, path):
            try:
                p.unlink()
            except OSError:
                pass
        return None


def remove_abandoned(cache_dir: Path, age_s: float = atomic.STALE_AGE_S) -> list[Path]:
    """Delete the temporaries in ``cache_dir`` whose writer is gone (:func:`vaebench.atomic.abandoned`;
    temporaries named by older versions: when untouched for ``age_s``). Returns them."""
    removed = []
    for p in cache_dir.glob(f".*{_TMP}"):
        try:
            if atomic.stale(p, _TMP, age_s):
                p.unlink()
                removed.append(p)
        except OSError:
            pass
    return removed


def write_error(exc: OSError, path: Path, nbytes: int) -> DataError:
    """The :class:`DataError` of a failed write of ``nbytes`` to ``path``, worded by its errno."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DataError(f"no space left on device writing {path}: free {max(1, math.ceil(nbytes / 1e6))} MB "
                         "or set --vaebench-store/cache elsewhere")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return DataError(f"the data cache {str(path.parent)!r} is not writable ({exc.strerror}); set "
                         "--vaebench-store or VAEBENCH_STORE to a writable folder")
    return DataError(f"writing {path} failed ({type(exc).__name__}: {exc}); check the disk, or set "
                     "--vaebench-store/cache elsewhere")


def reserve(path: Path, start: int = 0) -> None:
    """Allocate every block of the file ``path`` now, so that writing through a map of it
    can never meet a full disk (a sparse file's holes, filled by the map, end in SIGBUS).
    ``os.posix_fallocate``, else zeros written with plain I/O from byte ``start`` on (the
    bytes before it are written already); a full disk is an OSError here."""
    size = path.stat().st_size
    fd = os.open(path, os.O_RDWR)
    try:
        try:
            os.posix_fallocate(fd, 0, size)
            return
        except (AttributeError, OSError) as exc:
            if isinstance(exc, OSError) and exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
        block = bytes(1 << 20)
        os.lseek(fd, start, os.SEEK_SET)
        for at in range(start, size, len(block)):
            os.write(fd, block[: min(len(block), size - at)])
    finally:
        os.close(fd)


def _mapped(path: Path, shape: tuple[int, ...]) -> np.memmap:
    """A new ``.npy`` file of uint8 ``shape`` at ``path``, its space reserved, mapped for writing."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=shape)
    try:
        reserve(path, out.offset)
    except BaseException:
        del out
        raise
    return out


def _lock(cache_dir: Path, stem: str) -> FileLock:
    """The lock of the entries of ``stem``: held while one is built and published, and by a
    reader that found one that is not (yet) valid before it decides it is damaged."""
    return FileLock(str(cache_dir / f".{stem}.lock"))


def _find(cache_dir: Path, stem: str, key: str, count: int | None, repair: bool) -> tuple[np.ndarray, dict] | None:
    """The array of ``count`` images (all: None) and metadata from a valid entry, or None."""
    for have, path in _entries(cache_dir, stem):
        loaded = _load_meta(path)
        if count is not None and have < count and not _peek_complete(loaded):
            continue   # too small and not everything there is
        opened = _open_entry(path, key, loaded, repair)
        if opened is not None and (count is not None or opened[1].get("complete")):
            images, meta = opened
            return (images if count is None else images[:count]), meta
    return None


def cached(cache_dir: str | Path | None, stem: str, key: str, count: int | None, max_count: int,
           size: int, build: Callable[[np.ndarray], tuple[int, dict]]) -> tuple[np.ndarray, dict]:
    """The uint8 array of ``count`` images (all there are when None) of the data set
    ``key``, from a cache entry when one holds them, else built, and the entry's metadata
    (``chunks``: the chunk digests of the whole entry, of which the array is a prefix).

    ``build(out)`` fills the first rows of ``out`` (``(max_count, size, size, 3)``) and
    returns how many it filled and JSON-able metadata (``complete``: nothing more exists).
    Without ``cache_dir`` the array is built in memory and ``chunks`` is absent.

    Entries are looked up without a lock; when none is valid, the stem's lock is taken
    (waiting for a writer that is publishing one), the entries are looked up again, and a
    damaged one is removed and rebuilt only then.
    """
    if cache_dir is None:
        out = np.empty((max_count, size, size, 3), np.uint8)
        filled, meta = build(out)
        return out[:filled], meta
    cache_dir = Path(cache_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cache_dir={str(cache_dir)!r} cannot be created ({exc}); "
                        "pass a writable folder or cache_dir=None") from exc
    found = _find(cache_dir, stem, key, count, repair=False)
    if found is not None:
        return found
    lock = _lock(cache_dir, stem)
    try:
        lock.acquire()
    except OSError as exc:   # the lock file cannot be made
        raise write_error(exc, Path(lock.lock_file), 0) from exc
    try:
        found = _find(cache_dir, stem, key, count, repair=True)
        if found is not None:
            return found
        final, meta = _build(cache_dir, stem, key, (max_count, size, size, 3), build)
    finally:
        lock.release()
    images = np.load(final, mmap_mode="r", allow_pickle=False)
    return (images if count is None else images[:count]), meta


class _Temporaries:
    """Temporary files of one build in ``cache_dir``, removed when the build ends."""

    def __init__(self, cache_dir: Path, stem: str):
        self.cache_dir, self.stem, self.paths = cache_dir, stem, []

    def new(self) -> Path:   # like mkstemp, but with the umask's permissions (a shared cache)
        while True:
            path = self.cache_dir / atomic.temp_name(f".{self.stem}", _TMP)
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                continue
            except OSError as exc:
                raise write_error(exc, path, 0) from exc
            self.paths.append(path)
            return path

    def remove(self) -> None:
        for p in self.paths:
            try:
                p.unlink()
            except OSError:
                pass


def _prefix(out: np.ndarray, path: Path, filled: int) -> np.ndarray:
    """The first ``filled`` rows of ``out`` as a new mapped ``.npy`` at ``path``."""
    small = _mapped(path, (filled,) + out.shape[1:])
    for s in range(0, filled, 4096):
        e = min(filled, s + 4096)
        small[s:e] = out[s:e]
    return small


def _build(cache_dir: Path, stem: str, key: str, shape: tuple[int, ...],
           build: Callable[[np.ndarray], tuple[int, dict]]) -> tuple[Path, dict]:
    """Build the entry (under the stem's lock) and publish it: data first, metadata last."""
    remove_abandoned(cache_dir)
    temps = _Temporaries(cache_dir, stem)
    where, nbytes = cache_dir, int(np.prod(shape))
    try:
        where = first = temps.new()
        try:
            out = _mapped(first, shape)
        except OSError as exc:
            raise write_error(exc, first, nbytes) from exc
        filled, meta = build(out)
        where = cache_dir
        try:
            if filled < shape[0]:  # a reader skipped files: keep only the filled prefix
                where = second = temps.new()
                out, first = _prefix(out, second, filled), second
            out.flush()
            chunks = chunk_digests(out)
            meta = dict(meta, format=CACHE_FORMAT, key=key, shape=list(out.shape), chunks=chunks,
                        fingerprint=images_fingerprint(out, chunks))
            del out
            atomic.fsync(first)
            final = cache_dir / f"{stem}-n{filled}.npy"
            where = meta_tmp = temps.new()
            meta_tmp.write_text(json.dumps(meta))
            atomic.fsync(meta_tmp)
            where = final
            os.replace(first, final)
            os.replace(meta_tmp, final.with_suffix(".json"))
            atomic.fsync(cache_dir, directory=True)
        except OSError as exc:
            raise write_error(exc, where, nbytes) from exc
    finally:
        temps.remove()
    return final, meta
