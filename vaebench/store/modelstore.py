"""The trained-model store: a model is written once per key and loaded every time after.

The store trains nothing itself: executors (:mod:`vaebench.store.executors`) ``get`` an entry,
``claim`` the missing one, train it and ``put`` it; the session only loads.

An entry is a folder ``<root>/models/<name>/`` holding ``model.weights.h5``,
``spec.json`` (data, model and training specs, the key's other parts, versions),
``history.json``, ``train_state.npz`` (what a longer training resumes from:
:mod:`vaebench.train.state`; absent in snapshots, which are not resumed from) and
``manifest.json`` (SHA-256 of each file, written last).

A request for E' epochs that the store lacks resumes from the entry of the same specs,
data and code with the most epochs E < E' that holds a training state (:meth:`ModelStore.resumable`,
used by :func:`vaebench.store.executors.pack.train_pack`): the result is the direct training's,
and nothing of the resume is in the key (the meta says ``resumed_from_epochs``).

The key (the hash that ends an entry's name) covers everything that changes the
weights, so the store never serves a model that its spec, data and code would not
reproduce:

- the data, model and training specs;
- the data's content fingerprint: blake2b over every byte of every training and test
  image (:mod:`vaebench.data.fingerprint`; computed once when the decoded-image cache is built
  and checked whenever it is opened), so a changed image is a new key even where the
  spec, a folder's path, stays the same;
- the code fingerprint of what builds and trains models: every module of ``vaebench.train``,
  ``models.vae``, ``models.posts_conv`` and the vaebench code they import, transitively (a
  module imported whole, or the definitions taken from it by name and what they use, e.g.
  ``latent.geometry.histogram_peak``, which shapes the stored history;
  :func:`vaebench.models.code_fingerprint.code_parts`): a hash of their syntax trees with
  docstrings removed. A change of behaviour (a constant, an
  operator, a layer) is a new key and a retrain; a change of comments, docstrings or
  formatting is not, because none of them is in the syntax tree;
- the fingerprint of the code of the model's architecture (``ModelSpec.architecture``:
  the encoder and decoder builders registered under that name, a user's own among them,
  and the top-level definitions of their modules they use; :mod:`vaebench.models.registry`),
  hashed the same way;
- the Keras version, the backend and the backend's framework version (TensorFlow, JAX or
  torch: :func:`framework`).

The name starts with the data source and image size and the architecture, e.g.
``synthetic32-vae-z256-f1e-05-s0-<key>`` (the posts' architecture) or
``folder32-mlp-ae-z8-s0-<key>`` (a user's, registered as ``mlp``). Loading recomputes the
key from the entry's own ``spec.json`` and refuses an entry whose key is not the one
asked for (one copied or renamed under another spec's name) with a :class:`StoreError`.

Guarantees:
- atomic writes: an entry is written into a temporary folder and renamed into place,
  so a run killed at any moment leaves no entry that loads (temporary folders of
  writers that are gone are removed the next time the store is opened);
- corruption is detected (a missing file or a hash mismatch), reported with a warning
  and the entry rebuilt;
- one training per spec across processes and machines: a file lock per key
  (:meth:`ModelStore.claim`, ``fcntl``/``flock`` through ``filelock``) makes a second
  process (a pytest-xdist worker, a Ray task on another node of a shared filesystem) wait
  for the first and then load its entry; a process that dies releases its locks;
- a store it cannot write to (read-only, another user's) or a file where an entry
  folder belongs is a :class:`StoreError` that says so, never a raw ``OSError``; entries
  it holds still load.

Location: the ``root`` argument, else ``$VAEBENCH_STORE``, else
``$XDG_CACHE_HOME/vaebench`` (``~/.cache/vaebench``).
"""
from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import shutil
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np
from filelock import FileLock, Timeout

from vaebench import atomic, backend
from vaebench.config import (
    DEFAULT_ARCHITECTURE,
    DataSpec,
    ModelSpec,
    TrainSpec,
    model_spec_from_record,
    recorded_model_spec,
    spec_from_dict,
    spec_hash,
    spec_to_dict,
)
from vaebench.errors import SpecError, StoreError, VaebenchError, require
from vaebench.models import registry as architectures
from vaebench.models.code_fingerprint import code_fingerprint
from vaebench.models.vae import AE, build_model
from vaebench.progress import log
from vaebench.store.threads import cpu_threads

WEIGHTS = "model.weights.h5"
FILES = (WEIGHTS, "spec.json", "history.json")
#: what training needs to go on from the entry (:mod:`vaebench.train.state`); optional: an entry
#: without it loads, and is not resumed from
STATE = "train_state.npz"
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


def _no_space(error: BaseException) -> bool:
    """Whether ``error`` (an OSError, or h5py's error text carrying the errno) is a full disk or quota."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(error)
    return f"errno = {errno.ENOSPC}," in text or os.strerror(errno.ENOSPC) in text


def _unwritable(root: Path, what: str, error: BaseException, nbytes: int = 0) -> StoreError:
    """The :class:`StoreError` of a failed write, worded by its errno: a full disk, a store
    that is not this user's or read-only, or another failure."""
    where = f"the store {str(root)!r}"
    elsewhere = "set --vaebench-store, --store or VAEBENCH_STORE to"
    if _no_space(error):
        need = f"free {max(1, math.ceil(nbytes / 1e6))} MB" if nbytes else "free space"
        return StoreError(f"no space left on device to {what} in {where}: {need} or {elsewhere} another folder")
    code = getattr(error, "errno", None)
    if code == errno.EROFS:
        return StoreError(f"cannot {what} in {where}: it is on a read-only file system; {elsewhere} a writable folder")
    if code in (errno.EACCES, errno.EPERM) or code is None and isinstance(error, PermissionError):
        return StoreError(f"cannot {what} in {where} ({type(error).__name__}: {error}); it is not "
                          f"writable for this user: {elsewhere} a writable folder")
    return StoreError(f"cannot {what} in {where} ({type(error).__name__}: {error}); check the disk, or {elsewhere} "
                      "another folder")


def _unlink_unless_held(path: Path) -> bool:
    """Remove the lock file ``path`` when no process holds it (taken without waiting, then
    removed while held); True when it went."""
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return False
    try:
        path.unlink(missing_ok=True)
    finally:
        lock.release()
    return True


def _weights_bytes(model: keras.Model) -> int:
    """The bytes of ``model``'s weights (its weights file is about as large)."""
    return sum(math.prod(v.shape) * np.dtype(str(v.dtype)).itemsize for v in model.weights)


def _check_space(root: Path, folder: Path, what: str, nbytes: int) -> None:
    """Refuse before writing when ``folder``'s file system has not room for ``nbytes`` (with
    a margin for HDF5 and the JSON files), so that no library ever meets a full disk half-way."""
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):
        return
    need = int(nbytes * 1.25) + (1 << 20)
    if st.f_bavail * st.f_frsize < need:
        raise _unwritable(root, what, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), need)


def _remove_it(path: Path) -> str:
    return f"remove it (rm -r {path}) and the model is trained again"


def _weights_problem(path: Path) -> str | None:
    """``None`` if the weights file opens as HDF5, else why not (a truncated file)."""
    import h5py

    try:
        with h5py.File(path, "r"):
            return None
    except (OSError, ValueError) as e:
        return f"its weights do not open ({type(e).__name__}: {e}); {_remove_it(path.parent)}"


#: the names of the key's parts besides the three specs (:func:`key_parts`)
KEY_PARTS = ("data_fingerprint", "code_fingerprint", "architecture_fingerprint", "keras", "backend", "framework")


def framework() -> str:
    """The backend's framework and its version (``tensorflow 2.20.0``): it changes the numbers."""
    name = backend.name()
    return f"{name} {backend.versions().get(name, 'unknown')}"


def key_parts(data_fingerprint: str, model: ModelSpec) -> dict:
    """What the key of ``model`` on that data holds besides the three specs (see the module
    docstring); an architecture that is not registered is a :class:`SpecError`."""
    require(isinstance(data_fingerprint, str) and bool(data_fingerprint),
            f"data_fingerprint={data_fingerprint!r} must be the data's content fingerprint "
            "(vaebench.data.fingerprint.combine(train.fingerprint, test.fingerprint))", StoreError)
    return {"data_fingerprint": data_fingerprint, "code_fingerprint": code_fingerprint(),
            "architecture_fingerprint": architectures.fingerprint(model.architecture),
            "keras": keras.__version__, "backend": backend.name(), "framework": framework()}


#: the letter of each label part in an entry name
_SHORT = {"z": "z", "fact": "f", "clip": "c", "dense": "d"}


def architecture(model: ModelSpec) -> str:
    """The architecture part of an entry name: ``vae-z256-f1e-05`` (plus ``-c<clip>``,
    ``-d<dense>``, ``-<activation>``, ``-bn``/``-nobn`` where they are not the kind's usual),
    led by the architecture's name where it is not the posts' (``mlp-ae-z8``)."""
    parts = [] if model.architecture == DEFAULT_ARCHITECTURE else [model.architecture]
    parts += [model.kind] + [_SHORT[field] + value for field, value in model.label_parts()]
    if model.activation != "leaky_relu":
        parts.append(model.activation.replace("_", ""))
    if model.batchnorm != (model.kind == "vae"):
        parts.append("bn" if model.batchnorm else "nobn")
    return "-".join(parts)


@dataclass
class Entry:
    """A stored model: its specs, the other parts of its key, history and where its files are."""

    path: Path
    data: DataSpec
    model_spec: ModelSpec
    train: TrainSpec
    history: dict
    meta: dict
    key_parts: dict | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def key(self) -> str | None:
        """The key recomputed from the entry's own files (None: an entry of an older vaebench)."""
        if self.key_parts is None:
            return None
        return spec_hash(self.data, self.model_spec, self.train, self.key_parts)

    @property
    def resumable(self) -> bool:
        """Whether training can go on from this entry: it holds its training state and did not stop."""
        return (self.path / STATE).is_file() and not self.meta.get("stopped")

    def train_state(self) -> dict:
        """What training needs to go on from here (:func:`vaebench.train.state.capture`)."""
        try:
            with np.load(self.path / STATE) as f:
                return {k: f[k] for k in f.files}
        except (OSError, ValueError) as e:
            raise StoreError(f"store entry {self.name}: its training state does not load ({type(e).__name__}: "
                             f"{e}); {_remove_it(self.path)}") from e

    def load_model(self) -> AE:
        model = build_model(self.model_spec, self.data.image_size, seed=self.train.seed,
                            precision=self.train.precision)
        try:
            model.load_weights(str(self.path / WEIGHTS))
        except (OSError, ValueError) as e:
            raise StoreError(f"store entry {self.name}: its weights do not load ({type(e).__name__}: {e}); "
                             f"{_remove_it(self.path)}") from e
        return model


class ModelStore:
    """Entries by spec and data: get, claim, put, wait. See the module docstring for the guarantees.

    Every method that names an entry takes the data's content fingerprint
    (``fingerprint=``) with the specs: the same specs on other images are another entry."""

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
            require(d.is_dir(), f"{d} is not a folder: the store {str(self.root)!r} needs models/, locks/ and "
                    "data/ folders there; remove the file or use another store", StoreError)
        self._remove_stale_tmp()

    # -- naming --------------------------------------------------------------------------
    @staticmethod
    def key(data: DataSpec, model: ModelSpec, train: TrainSpec, *, fingerprint: str) -> str:
        return spec_hash(data, model, train, key_parts(fingerprint, model))

    def entry_name(self, data: DataSpec, model: ModelSpec, train: TrainSpec, *, fingerprint: str) -> str:
        prefix = f"{data.source}{data.image_size}-{architecture(model)}-s{train.seed}"
        if train.precision != "float32":
            prefix += "-" + train.precision.replace("mixed_", "")
        return f"{prefix}-{self.key(data, model, train, fingerprint=fingerprint)}"

    def path_for(self, data: DataSpec, model: ModelSpec, train: TrainSpec, *, fingerprint: str) -> Path:
        return self.models / self.entry_name(data, model, train, fingerprint=fingerprint)

    # -- reading -------------------------------------------------------------------------
    def _remove_stale_tmp(self) -> None:
        """Remove temporary folders of writers that are gone (:func:`vaebench.atomic.stale`)."""
        for tmp in self.models.glob(TMP_PREFIX + "*"):
            if atomic.stale(tmp):
                shutil.rmtree(tmp, ignore_errors=True)

    def verify(self, path: Path) -> str | None:
        """``None`` if the entry at ``path`` is complete and intact, else what is wrong."""
        if not path.is_dir():
            return "a file, not an entry folder: remove it"
        manifest = path / MANIFEST
        if not manifest.is_file():
            return "no manifest (incomplete entry)"
        try:
            hashes = json.loads(manifest.read_text())["sha256"]
        except (ValueError, KeyError, OSError) as e:
            return f"unreadable manifest ({e})"
        for name in FILES + tuple(n for n in (STATE,) if n in hashes):
            f = path / name
            if not f.is_file():
                return f"missing {name}"
            if _sha256(f) != hashes.get(name):
                return f"{name} does not match its checksum"
        return None

    def read(self, path: Path) -> Entry:
        """The entry at ``path`` from its ``spec.json`` and ``history.json``; one that this
        vaebench cannot read (a spec field of a newer vaebench, a spec that is not an object,
        a history that is not JSON, …) is a :class:`StoreError` naming it and how to remove it."""
        try:
            spec = json.loads((path / "spec.json").read_text())
            history = json.loads((path / "history.json").read_text())
            require(isinstance(spec, dict), f"spec.json holds a {type(spec).__name__}, not an object", SpecError)
            require(isinstance(history, dict) and all(isinstance(v, list) for v in history.values()),
                    "history.json is not an object of per-epoch lists", SpecError)
            parts = {k: spec[k] for k in ("data", "model", "train")}
            meta, key = spec.get("meta") or {}, spec.get("key")
            require(isinstance(meta, dict) and (key is None or isinstance(key, dict)),
                    "its meta or key in spec.json is not an object", SpecError)
            return Entry(path=path, data=spec_from_dict(DataSpec, parts["data"]),
                         model_spec=model_spec_from_record(parts["model"]),
                         train=spec_from_dict(TrainSpec, parts["train"]), history=history, meta=meta, key_parts=key)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, VaebenchError) as e:
            why = f"no {e.args[0]!r} in spec.json" if isinstance(e, KeyError) else f"{type(e).__name__}: {e}"
            raise StoreError(f"store entry {path.name} cannot be read by this vaebench ({why}): written by another "
                             f"version or damaged; {_remove_it(path)}") from e

    def problem(self, path: Path) -> str | None:
        """``None`` if the entry at ``path`` loads, else why not: damaged (:meth:`verify`),
        unreadable or foreign (:meth:`read`), misplaced (:meth:`misplaced`), or weights that
        do not open. Reads only: nothing is removed, and no entry breaks another's listing."""
        problem = self.verify(path)
        if problem is not None:
            return problem
        try:
            entry = self.read(path)
        except StoreError as e:
            return str(e)
        return self.misplaced(entry) or _weights_problem(path / WEIGHTS)

    @staticmethod
    def misplaced(entry: Entry) -> str | None:
        """``None`` if the entry's own spec.json gives the key its name ends with, else why not."""
        if entry.key is None:
            return "written by an older vaebench (no data or code fingerprint in its spec.json); it is never loaded"
        if set(entry.key_parts) != set(KEY_PARTS):
            return (f"written by another vaebench (its key has the parts {sorted(entry.key_parts)}, this one "
                    f"{sorted(KEY_PARTS)}); it is never loaded")
        named = entry.name.rsplit("-", 1)[-1]
        if entry.key != named:
            return (f"its spec.json gives key {entry.key}, its name says {named}: copied or renamed from "
                    "another entry; it is never loaded")
        return None

    def _check_matches(self, entry: Entry, data: DataSpec, model: ModelSpec, train: TrainSpec,
                       fingerprint: str) -> Entry:
        wanted = self.key(data, model, train, fingerprint=fingerprint)
        if entry.key == wanted:
            return entry
        asked = {"data": spec_to_dict(data), "model": spec_to_dict(model), "train": spec_to_dict(train),
                 **{f"key.{k}": v for k, v in key_parts(fingerprint, model).items()}}
        held = {"data": spec_to_dict(entry.data), "model": spec_to_dict(entry.model_spec),
                "train": spec_to_dict(entry.train), **{f"key.{k}": v for k, v in (entry.key_parts or {}).items()}}
        diff = []
        for part in asked:
            a, h = asked[part], held.get(part)
            if isinstance(a, dict) and isinstance(h, dict):
                diff += [f"{part}.{k}: asked {a.get(k)!r}, entry holds {h.get(k)!r}"
                         for k in sorted(set(a) | set(h)) if a.get(k) != h.get(k)]
            elif a != h:
                diff.append(f"{part}: asked {a!r}, entry holds {h!r}")
        raise StoreError(f"store entry {entry.path} holds the model of another spec (key {entry.key}, asked for "
                         f"{wanted}): it was copied or renamed there. Differences: {'; '.join(diff[:6]) or 'none'}. "
                         f"Remove it (rm -r {entry.path!s}) and the model is trained again.")

    def get(self, data: DataSpec, model: ModelSpec, train: TrainSpec, *, fingerprint: str) -> Entry | None:
        """The intact entry for these specs and data, or ``None``; a damaged one is removed
        with a warning; one whose spec.json is another spec's raises :class:`StoreError`."""
        path = self.path_for(data, model, train, fingerprint=fingerprint)
        if not path.exists() and not path.is_symlink():
            return None
        require(path.is_dir(), f"{path} is a file where the store keeps the entry folder of this model; "
                f"remove it (rm {path}) or use another store", StoreError)
        problem = self.verify(path)
        if problem is None:
            entry = self._check_matches(self.read(path), data, model, train, fingerprint)
            bad_weights = _weights_problem(path / WEIGHTS)
            require(bad_weights is None, f"store entry {path.name} cannot be loaded: {bad_weights}", StoreError)
            return entry
        warnings.warn(f"store entry {path.name} is damaged ({problem}); it is removed and will be rebuilt",
                      RuntimeWarning, stacklevel=2)
        self._remove(path)
        return None

    def _items(self) -> list[Path]:
        return [p for p in sorted(self.models.iterdir()) if not p.name.startswith(".")]

    def entries(self) -> list[Entry]:
        """The intact entries that load (see :meth:`damaged` for the others)."""
        return [self.read(path) for path in self._items() if self.problem(path) is None]

    def damaged(self) -> list[tuple[str, str]]:
        """``(name, problem)`` of everything in ``models/`` that is not an entry that loads:
        damaged entries, files where folders belong, entries copied under another name,
        entries this vaebench cannot read (another version's) and weights that do not open."""
        return [(path.name, problem) for path in self._items() if (problem := self.problem(path))]

    # -- writing -------------------------------------------------------------------------
    def _remove(self, path: Path) -> None:
        """Remove an entry folder (or a file where one belongs), all or nothing: it is
        renamed out of the way first, so a store that forbids it is left as it was."""
        trash = self.models / atomic.temp_name(f"{TMP_PREFIX}removed-{path.name}")
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return
        except OSError as e:
            raise _unwritable(self.root, f"remove {path.name}", e) from e
        if trash.is_dir() and not trash.is_symlink():
            shutil.rmtree(trash, ignore_errors=True)
        else:
            trash.unlink(missing_ok=True)

    def put(self, data: DataSpec, model_spec: ModelSpec, train: TrainSpec, model: keras.Model,
            history: dict, meta: dict | None = None, *, fingerprint: str, state: dict | None = None) -> Entry:
        """Write an entry atomically (temporary folder, fsync, rename); with ``state`` (the
        training state, :mod:`vaebench.train.state`) a longer training can resume from it."""
        final = self.path_for(data, model_spec, train, fingerprint=fingerprint)
        require(not final.exists() or final.is_dir(), f"{final} is a file where the store keeps the entry folder "
                f"of this model; remove it (rm {final}) or use another store", StoreError)
        tmp = self.models / atomic.temp_name(TMP_PREFIX + final.name)
        what, nbytes = f"write the entry {final.name}", _weights_bytes(model) * (3 if state else 1)
        _check_space(self.root, self.models, what, nbytes)
        try:
            tmp.mkdir()
        except OSError as e:
            raise _unwritable(self.root, what, e, nbytes) from e
        try:
            model.save_weights(str(tmp / WEIGHTS))
            meta = {**(meta or {}), "versions": backend.versions(), "cpu_threads": cpu_threads(),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
            atomic.write_json(tmp / "spec.json", {"data": spec_to_dict(data), "model": recorded_model_spec(model_spec),
                                                  "train": spec_to_dict(train),
                                                  "key": key_parts(fingerprint, model_spec), "meta": meta})
            atomic.write_json(tmp / "history.json", history)
            names = FILES
            if state:
                np.savez(tmp / STATE, **state)
                names += (STATE,)
            atomic.write_json(tmp / MANIFEST, {"sha256": {n: _sha256(tmp / n) for n in names}})
            atomic.fsync(tmp, directory=True)
            if final.exists():
                self._remove(final)
            os.rename(tmp, final)
            atomic.fsync(self.models, directory=True)
        except BaseException as e:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(e, OSError) or _no_space(e):   # h5py raises its own errors with the errno in the text
                raise _unwritable(self.root, what, e, nbytes) from e
            raise
        return self.read(final)

    def put_result(self, data: DataSpec, model_spec: ModelSpec, train: TrainSpec, result, *,
                   fingerprint: str) -> Entry:
        """Write a :class:`vaebench.train.trainer.TrainResult` as the entry of these specs (atomic,
        :meth:`put`), with its stop, seconds, images/s and info in the entry's meta (a resumed
        training's ``resumed_from_epochs`` too: it is not part of the key) and its training state."""
        meta = {"stopped": result.stopped, "seconds": result.seconds,
                "images_per_second": result.images_per_second, **result.info}
        return self.put(data, model_spec, train, result.model, result.history, meta, fingerprint=fingerprint,
                        state=getattr(result, "state", None))

    def resumable(self, data: DataSpec, model_spec: ModelSpec, train: TrainSpec, *,
                  fingerprint: str) -> Entry | None:
        """The entry with the most epochs below ``train.epochs`` that differs from these specs in
        its epochs alone and that training can go on from (:attr:`Entry.resumable`), or None.
        An entry that cannot be read is passed over (its own request reports it)."""
        for epochs in range(train.epochs - 1, 0, -1):
            try:
                entry = self.get(data, model_spec, replace(train, epochs=epochs), fingerprint=fingerprint)
            except StoreError:
                continue
            if entry is not None and entry.resumable:
                return entry
        return None

    # -- one training per spec -----------------------------------------------------------
    def claim(self, data: DataSpec, model_spec: ModelSpec, train: TrainSpec, *, fingerprint: str,
              wait: bool = False) -> "Lease | None":
        """Take the lock of this entry, to train its model here: a :class:`Lease`, or
        ``None`` when another process holds the lock (``wait=True``: block until it is free).

        The protocol of every executor: ``get`` (a hit: done); else ``claim`` (``None``:
        another process trains it, :meth:`wait` for it); the claim's ``entry`` is the entry
        when it landed between the look and the lock, else train and ``claim.put(result)``;
        then ``release`` (a ``with`` block does). A process that dies releases its locks
        (the operating system drops them), so a killed trainer never blocks the others."""
        name = self.entry_name(data, model_spec, train, fingerprint=fingerprint)
        lock = FileLock(str(self.locks / f"{name}.lock"))
        if not self._acquire(lock, -1 if wait else 0, name):
            return None
        try:
            entry = self.get(data, model_spec, train, fingerprint=fingerprint)
        except BaseException:
            lock.release()
            raise
        return Lease(self, data, model_spec, train, fingerprint, lock, entry)

    def wait(self, data: DataSpec, model_spec: ModelSpec, train: TrainSpec, *, fingerprint: str) -> Entry | None:
        """Block until no process holds the lock of this entry; then the entry, or ``None``
        when its holder went without writing it (claim it and train it then)."""
        if self.progress:
            name = self.entry_name(data, model_spec, train, fingerprint=fingerprint)
            log(f"waiting for another process to train {name}")
        claim = self.claim(data, model_spec, train, fingerprint=fingerprint, wait=True)
        claim.release()
        return claim.entry

    def _acquire(self, lock: FileLock, timeout: float, name: str) -> bool:
        """Take ``lock`` (False when another process holds it past ``timeout``); a lock
        file that cannot be created is a :class:`StoreError`."""
        try:
            lock.acquire(timeout=timeout)
            return True
        except Timeout:
            return False
        except OSError as e:
            raise _unwritable(self.root, f"lock {name} (to train it)", e) from e

    def clear(self) -> int:
        """Remove every entry (and the data cache); returns how many model entries went.

        A lock file is removed only when no process holds it (taken without waiting, then
        removed): one that another process holds stays, so no second process can take a
        fresh lock of the same entry beside it.

        Each entry goes all or nothing; where the store forbids removing (read-only, not
        this user's) a :class:`StoreError` says how many went and which did not."""
        items = self._items()
        removed, failed = 0, []
        for path in items:
            try:
                self._remove(path)
                removed += 1
            except StoreError as e:
                failed.append((path.name, e.__cause__ or e))
        for d in (self.data_cache, self.locks):
            for p in list(d.iterdir()):
                try:
                    if p.suffix == ".lock" and p.is_file():
                        _unlink_unless_held(p)
                    else:
                        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
                except OSError as e:
                    failed.append((f"{d.name}/{p.name}", e))
        self._remove_stale_tmp()
        if failed:
            shown = "; ".join(f"{n} ({type(e).__name__}: {getattr(e, 'strerror', None) or e})" for n, e in failed[:3])
            raise StoreError(f"removed {removed} of {len(items)} entries from {self.root}; could not remove "
                             f"{len(failed)} item(s): {shown}{' ...' if len(failed) > 3 else ''}. The store is "
                             "not writable for this user: clear it as its owner, or use another store")
        return removed

    def size_bytes(self, path: Path) -> int:
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


class Lease:
    """This process's lock on one entry while it trains the entry's model
    (:meth:`ModelStore.claim`). ``entry``: the entry, when it was in the store once the
    lock was taken (nothing to train); :meth:`put` writes the trained result."""

    def __init__(self, store: ModelStore, data: DataSpec, model_spec: ModelSpec, train: TrainSpec,
                 fingerprint: str, lock: FileLock, entry: Entry | None):
        self.store, self.data, self.model_spec, self.train = store, data, model_spec, train
        self.fingerprint, self._lock, self.entry = fingerprint, lock, entry

    @property
    def name(self) -> str:
        return self.store.entry_name(self.data, self.model_spec, self.train, fingerprint=self.fingerprint)

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def put(self, result) -> Entry:
        """Write ``result`` (a :class:`vaebench.train.trainer.TrainResult`) as this entry, atomically."""
        require(self.held, f"the claim on {self.name} was released; claim the entry again before writing it",
                StoreError)
        self.entry = self.store.put_result(self.data, self.model_spec, self.train, result,
                                           fingerprint=self.fingerprint)
        return self.entry

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()

    def __enter__(self) -> "Lease":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
