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

import json
import os
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

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


def _open_entry(path: Path, key: str, loaded: tuple[Any, Exception | None]) -> tuple[np.ndarray, dict] | None:
    """Open a cache entry read-only, or return None (with a DataWarning, deleting it)
    when it is damaged: missing or unparsable metadata, another format, a truncated or
    foreign ``.npy``, or content that no longer matches the chunk digests it was
    written with. ``loaded`` is ``_load_meta(path)``."""
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
        reason = str(exc) if isinstance(exc, DataError) else f"{type(exc).__name__}: {exc}"
        warnings.warn(f"cache entry {path} is damaged ({reason}); rebuilding it", DataWarning, stacklevel=4)
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


def cached(cache_dir: str | Path | None, stem: str, key: str, count: int | None, max_count: int,
           size: int, build: Callable[[np.ndarray], tuple[int, dict]]) -> tuple[np.ndarray, dict]:
    """The uint8 array of ``count`` images (all there are when None) of the data set
    ``key``, from a cache entry when one holds them, else built, and the entry's metadata
    (``chunks``: the chunk digests of the whole entry, of which the array is a prefix).

    ``build(out)`` fills the first rows of ``out`` (``(max_count, size, size, 3)``) and
    returns how many it filled and JSON-able metadata (``complete``: nothing more exists).
    Without ``cache_dir`` the array is built in memory and ``chunks`` is absent.
    """
    shape = (max_count, size, size, 3)
    if cache_dir is None:
        out = np.empty(shape, np.uint8)
        filled, meta = build(out)
        return out[:filled], meta
    cache_dir = Path(cache_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cache_dir={str(cache_dir)!r} cannot be created ({exc}); "
                        "pass a writable folder or cache_dir=None") from exc
    for have, path in _entries(cache_dir, stem):
        loaded = _load_meta(path)
        if count is not None and have < count and not _peek_complete(loaded):
            continue   # too small and not everything there is
        opened = _open_entry(path, key, loaded)
        if opened is not None and (count is not None or opened[1].get("complete")):
            images, meta = opened
            return (images if count is None else images[:count]), meta

    remove_abandoned(cache_dir)
    tmp_paths: list[Path] = []

    def temp() -> Path:   # like mkstemp, but with the umask's permissions (a shared cache)
        while True:
            path = cache_dir / atomic.temp_name(f".{stem}", _TMP)
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                continue
            except OSError as exc:
                raise DataError(f"the data cache {str(cache_dir)!r} is not writable ({exc}); set "
                                "--vaebench-store or VAEBENCH_STORE to a writable folder") from exc
            tmp_paths.append(path)
            return path

    try:
        first = temp()
        out = np.lib.format.open_memmap(first, mode="w+", dtype=np.uint8, shape=shape)
        filled, meta = build(out)
        if filled < max_count:  # a reader skipped files: keep only the filled prefix
            second = temp()
            small = np.lib.format.open_memmap(second, mode="w+", dtype=np.uint8, shape=(filled,) + shape[1:])
            for s in range(0, filled, 4096):
                e = min(filled, s + 4096)
                small[s:e] = out[s:e]
            del out
            out, first = small, second
        out.flush()
        chunks = chunk_digests(out)
        meta = dict(meta, format=CACHE_FORMAT, key=key, shape=list(out.shape), chunks=chunks,
                    fingerprint=images_fingerprint(out, chunks))
        del out
        atomic.fsync(first)
        final = cache_dir / f"{stem}-n{filled}.npy"
        meta_tmp = temp()
        meta_tmp.write_text(json.dumps(meta))
        atomic.fsync(meta_tmp)
        os.replace(first, final)
        os.replace(meta_tmp, final.with_suffix(".json"))
        atomic.fsync(cache_dir, directory=True)
    finally:
        for p in tmp_paths:
            try:
                p.unlink()
            except OSError:
                pass
    images = np.load(final, mmap_mode="r", allow_pickle=False)
    return (images if count is None else images[:count]), meta
