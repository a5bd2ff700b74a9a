"""The trained-model store: train a spec once, load it every time after.

An entry is a folder ``<root>/models/<name>/`` holding ``model.weights.h5``,
``spec.json`` (data, model and training specs, versions), ``history.json`` and
``manifest.json`` (SHA-256 of each file, written last). Its name ends in a hash of the
specs plus the Keras version and backend, so a change in any of them is a new entry.

Guarantees:
- atomic writes: an entry is written into a temporary folder and renamed into place,
  so a run killed at any moment leaves no entry that loads (left-over temporary folders
  are removed the next time the store is opened);
- corruption is detected (a missing file or a hash mismatch), reported with a warning
  and the entry rebuilt;
- one training per spec across processes: a file lock per key makes a second process
  (say a pytest-xdist worker) wait for the first and then load its entry.

Location: the ``root`` argument, else ``$VAEBENCH_STORE``, else
``$XDG_CACHE_HOME/vaebench`` (``~/.cache/vaebench``).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import keras
from filelock import FileLock, Timeout

from . import backend
from .config import DataSpec, ModelSpec, TrainSpec, spec_from_dict, spec_hash, spec_to_dict
from .errors import StoreError, require
from .models import AE, build_model

WEIGHTS = "model.weights.h5"
FILES = (WEIGHTS, "spec.json", "history.json")
MANIFEST = "manifest.json"
TMP_PREFIX = ".tmp-"


def default_root() -> Path:
    env = os.environ.get("VAEBENCH_STORE")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "vaebench"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: Path, obj) -> None:
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True, default=float)
        f.flush()
        os.fsync(f.fileno())


@dataclass
class Entry:
    """A stored model: its specs, history and where its files are."""

    path: Path
    data: DataSpec
    model_spec: ModelSpec
    train: TrainSpec
    history: dict
    meta: dict

    @property
    def name(self) -> str:
        return self.path.name

    def load_model(self) -> AE:
        model = build_model(self.model_spec, self.data.image_size, seed=self.train.seed,
                            precision=self.train.precision)
        model.load_weights(str(self.path / WEIGHTS))
        return model


class ModelStore:
    """Train-or-load by spec. See the module docstring for the guarantees."""

    def __init__(self, root: str | os.PathLike | None = None, progress: bool = True):
        self.root = Path(root).expanduser() if root is not None else default_root()
        self.models = self.root / "models"
        self.locks = self.root / "locks"
        self.data_cache = self.root / "data"
        self.progress = progress
        for d in (self.models, self.locks, self.data_cache):
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"store root={str(self.root)!r} cannot be created ({e}); "
                                 "set --vaebench-store or VAEBENCH_STORE to a writable folder") from e
        self._remove_stale_tmp()

    # -- naming --------------------------------------------------------------------------
    @staticmethod
    def key(data: DataSpec, model: ModelSpec, train: TrainSpec) -> str:
        return spec_hash(data, model, train, keras.__version__, backend.name())

    def entry_name(self, data: DataSpec, model: ModelSpec, train: TrainSpec) -> str:
        return f"{model.kind}-z{model.z_dim}-s{train.seed}-{self.key(data, model, train)}"

    def path_for(self, data: DataSpec, model: ModelSpec, train: TrainSpec) -> Path:
        return self.models / self.entry_name(data, model, train)

    # -- reading -------------------------------------------------------------------------
    def _remove_stale_tmp(self) -> None:
        """Remove temporary folders of writers that are no longer running."""
        for tmp in self.models.glob(TMP_PREFIX + "*"):
            try:
                pid = int(tmp.name.split("-")[-2])
            except (ValueError, IndexError):
                pid = -1
            if pid > 0 and pid != os.getpid() and _alive(pid):
                continue
            shutil.rmtree(tmp, ignore_errors=True)

    def verify(self, path: Path) -> str | None:
        """``None`` if the entry at ``path`` is complete and intact, else what is wrong."""
        manifest = path / MANIFEST
        if not manifest.is_file():
            return "no manifest (incomplete entry)"
        try:
            hashes = json.loads(manifest.read_text())["sha256"]
        except (ValueError, KeyError, OSError) as e:
            return f"unreadable manifest ({e})"
        for name in FILES:
            f = path / name
            if not f.is_file():
                return f"missing {name}"
            if _sha256(f) != hashes.get(name):
                return f"{name} does not match its checksum"
        return None

    def read(self, path: Path) -> Entry:
        spec = json.loads((path / "spec.json").read_text())
        return Entry(path=path, data=spec_from_dict(DataSpec, spec["data"]),
                     model_spec=spec_from_dict(ModelSpec, spec["model"]),
                     train=spec_from_dict(TrainSpec, spec["train"]),
                     history=json.loads((path / "history.json").read_text()), meta=spec.get("meta", {}))

    def get(self, data: DataSpec, model: ModelSpec, train: TrainSpec) -> Entry | None:
        """The intact entry for these specs, or ``None``; a damaged one is removed with a warning."""
        path = self.path_for(data, model, train)
        if not path.exists():
            return None
        problem = self.verify(path)
        if problem is None:
            return self.read(path)
        warnings.warn(f"store entry {path.name} is damaged ({problem}); it is removed and will be rebuilt",
                      RuntimeWarning, stacklevel=2)
        shutil.rmtree(path, ignore_errors=True)
        return None

    def entries(self) -> list[Entry]:
        out = []
        for path in sorted(self.models.iterdir()):
            if path.name.startswith(TMP_PREFIX) or not path.is_dir():
                continue
            if self.verify(path) is None:
                out.append(self.read(path))
        return out

    def damaged(self) -> list[tuple[str, str]]:
        return [(p.name, problem) for p in sorted(self.models.iterdir())
                if p.is_dir() and not p.name.startswith(TMP_PREFIX) and (problem := self.verify(p))]

    # -- writing -------------------------------------------------------------------------
    def put(self, data: DataSpec, model_spec: ModelSpec, train: TrainSpec, model: keras.Model,
            history: dict, meta: dict | None = None) -> Entry:
        """Write an entry atomically (temporary folder, fsync, rename)."""
        final = self.path_for(data, model_spec, train)
        tmp = self.models / f"{TMP_PREFIX}{final.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            model.save_weights(str(tmp / WEIGHTS))
            meta = {**(meta or {}), "versions": backend.versions(), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
            _write_json(tmp / "spec.json", {"data": spec_to_dict(data), "model": spec_to_dict(model_spec),
                                            "train": spec_to_dict(train), "meta": meta})
            _write_json(tmp / "history.json", history)
            _write_json(tmp / MANIFEST, {"sha256": {n: _sha256(tmp / n) for n in FILES}})
            _fsync_dir(tmp)
            if final.exists():
                shutil.rmtree(final)
            os.rename(tmp, final)
            _fsync_dir(self.models)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self.read(final)

    def get_or_train(self, data: DataSpec, model_spec: ModelSpec, train: TrainSpec,
                     trainer: Callable[[], "object"]) -> Entry:
        """The entry for these specs, calling ``trainer()`` to make it if there is none.

        ``trainer`` returns a :class:`vaebench.training.TrainResult`. A file lock per key
        makes concurrent callers train once: the others wait, then load.
        """
        return self.get_or_train_many(data, [(model_spec, train)], lambda todo: [trainer()])[0]

    def get_or_train_many(self, data: DataSpec, jobs: Sequence[tuple[ModelSpec, TrainSpec]],
                          trainer: Callable[[list[int]], list]) -> list[Entry]:
        """The entries for ``jobs`` ((model spec, train spec) pairs), training the missing ones
        together with one call ``trainer(indices)`` that returns a
        :class:`vaebench.training.TrainResult` per index, in order.

        Every missing entry is locked before training and written as soon as the pack is
        done, each atomically. An entry another process is training (its lock is held) is
        left out of the pack and waited for afterwards, then loaded (or trained here if
        that process died without writing it).
        """
        jobs = list(jobs)
        entries: list[Entry | None] = [self.get(data, m, t) for m, t in jobs]
        held: dict[int, FileLock] = {}
        busy: list[int] = []
        try:
            for i, (m, t) in enumerate(jobs):
                if entries[i] is not None:
                    continue
                lock = self._lock(data, m, t)
                try:
                    lock.acquire(timeout=0)
                    held[i] = lock
                except Timeout:
                    busy.append(i)
            # an entry may have landed between the first look and the lock
            for i in held:
                entries[i] = self.get(data, *jobs[i])
            todo = [i for i in held if entries[i] is None]
            if todo:
                results = trainer(todo)
                require(len(results) == len(todo), f"the trainer returned {len(results)} results for "
                        f"{len(todo)} jobs; it must return one per index", StoreError)
                for i, result in zip(todo, results):
                    entries[i] = self._put_result(data, *jobs[i], result)
        finally:
            for lock in held.values():
                lock.release()
        for i in busy:
            if self.progress:
                print(f"[vaebench] waiting for another process to train {self.entry_name(data, *jobs[i])}",
                      file=sys.stderr, flush=True)
            entries[i] = self._wait(data, *jobs[i])
            if entries[i] is None:  # that process stopped without writing it: train it here
                entries[i] = self.get_or_train_many(data, [jobs[i]], lambda todo, i=i: trainer([i]))[0]
        return entries

    def _lock(self, data: DataSpec, model_spec: ModelSpec, train: TrainSpec) -> FileLock:
        return FileLock(str(self.locks / f"{self.entry_name(data, model_spec, train)}.lock"))

    def _wait(self, data: DataSpec, model_spec: ModelSpec, train: TrainSpec) -> Entry | None:
        """Block until no process holds the lock of this entry; then the entry, if it was written."""
        with self._lock(data, model_spec, train):
            return self.get(data, model_spec, train)

    def _put_result(self, data: DataSpec, model_spec: ModelSpec, train: TrainSpec, result) -> Entry:
        meta = {"stopped": result.stopped, "seconds": result.seconds,
                "images_per_second": result.images_per_second, **result.info}
        return self.put(data, model_spec, train, result.model, result.history, meta)

    def clear(self) -> int:
        """Remove every entry (and the data cache); returns how many model entries went."""
        n = sum(1 for p in self.models.iterdir() if p.is_dir() and not p.name.startswith(TMP_PREFIX))
        for d in (self.models, self.data_cache, self.locks):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True, exist_ok=True)
        return n

    def size_bytes(self, path: Path) -> int:
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
