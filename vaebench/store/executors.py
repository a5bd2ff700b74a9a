"""Executors: train the missing models of a :class:`vaebench.store.plan.Plan` into the store.

:class:`LocalExecutor` trains pack after pack in this process (what a cold ``pytest
hypotheses`` does through :meth:`vaebench.claims.session.Session.models`); :class:`RayExecutor`
runs one Ray task per pack on a Ray cluster (``pip install 'vaebench[ray]'``), one GPU
per task where the cluster has GPUs, one CPU otherwise, each task writing into a store
that every node reaches (a shared filesystem). Both go through :func:`train_pack`, the
store's protocol (get, claim, train, put, release; wait for an entry another process
holds), so the one-training-per-spec and atomic-write guarantees of
:mod:`vaebench.store.modelstore` hold across processes and nodes. A Ray task that fails or whose
worker dies is retried (``max_retries``); a killed writer leaves a temporary folder that
nothing loads and that the next store opening removes.
"""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from vaebench.errors import TrainingError, require
from vaebench.progress import log
from vaebench.store.plan import Plan, PlannedModel

#: test hook of the Ray task: the path of a marker file; the first task attempt that creates
#: it kills its own worker (SIGKILL) ``$VAEBENCH_TEST_KILL_AFTER_S`` seconds into its training
KILL_ONCE_ENV = "VAEBENCH_TEST_KILL_ONCE"
KILL_AFTER_ENV = "VAEBENCH_TEST_KILL_AFTER_S"
#: environment variables a Ray task takes over from the driver
FORWARDED_ENV = ("KERAS_BACKEND",)
FORWARDED_PREFIX = "VAEBENCH_"


@dataclass(frozen=True)
class PackRun:
    """What became of one pack: its models' names, those trained by this run (the others
    were in the store or trained by another process), the seconds it took and where."""

    names: tuple[str, ...]
    trained: tuple[str, ...]
    seconds: float
    where: str = ""
    entries: tuple = ()

    def to_dict(self) -> dict:
        return {"names": list(self.names), "trained": list(self.trained), "seconds": self.seconds,
                "where": self.where}


def load_datasets(store, progress: bool = True) -> Callable:
    """``datasets(data_spec) -> (train, test)`` reading through ``store``'s image cache."""
    cache: dict = {}

    def datasets(spec):
        from vaebench.data.load import load_dataset

        if spec not in cache:
            cache[spec] = load_dataset(spec, cache_dir=store.data_cache, progress=progress)
        return cache[spec]
    return datasets


def _images(pack: Sequence[PlannedModel], datasets: Callable):
    """The training images and probe images of ``pack``, after checking that the data's
    content is the plan's."""
    import numpy as np

    from vaebench.data.fingerprint import data_fingerprint

    first = pack[0]
    train_set, test_set = datasets(first.data)
    now = data_fingerprint(train_set, test_set)
    require(now == first.fingerprint, f"the images of {first.data.source}:{first.data.path or ''} "
            f"({first.data.image_size}px) have content fingerprint {now[:16]} here, the plan was made on "
            f"{first.fingerprint[:16]}: the data changed or differs on this node; make the plan again", TrainingError)
    return np.asarray(train_set.images), np.asarray(test_set.images[:first.train.probe_size])


def train_pack(store, pack: Sequence[PlannedModel], datasets: Callable | None = None,
               progress: bool = True) -> PackRun:
    """Make sure every model of ``pack`` is in ``store``: the ones no process has written
    or is training train here as one pack (:func:`vaebench.train.trainer.train_many`), each
    written as soon as the pack is done; one another process holds is waited for (and
    trained here when that process went without writing it)."""
    from vaebench.train import trainer as training

    pack = list(pack)
    require(len(pack) > 0, "train_pack needs at least one planned model", TrainingError)
    datasets = datasets or load_datasets(store, progress)
    t0 = time.perf_counter()
    entries = [store.get(m.data, m.model, m.train, fingerprint=m.fingerprint) for m in pack]
    claims: dict[int, object] = {}
    busy: list[int] = []
    trained: list[str] = []
    try:
        for i, m in enumerate(pack):
            if entries[i] is None:
                claim = store.claim(m.data, m.model, m.train, fingerprint=m.fingerprint)
                if claim is None:
                    busy.append(i)
                else:
                    claims[i], entries[i] = claim, claim.entry
        todo = [i for i in claims if entries[i] is None]
        if todo:
            train_images, probe = _images(pack, datasets)
            _training_starts()
            results = training.train_many(pack[0].data, [training.Job(pack[i].model, pack[i].train) for i in todo],
                                          train_images, probe_images=probe, progress=progress)
            require(len(results) == len(todo), f"train_many returned {len(results)} results for {len(todo)} jobs",
                    TrainingError)
            for i, result in zip(todo, results):
                entries[i] = claims[i].put(result)
                trained.append(pack[i].name)
    finally:
        for claim in claims.values():
            claim.release()
    for i in busy:
        m = pack[i]
        entries[i] = store.wait(m.data, m.model, m.train, fingerprint=m.fingerprint)
        if entries[i] is None:         # its holder went without writing it: train it here
            again = train_pack(store, [m], datasets, progress)
            entries[i] = again.entries[0]
            trained += again.trained
    return PackRun(names=tuple(m.name for m in pack), trained=tuple(trained), seconds=time.perf_counter() - t0,
                   where=f"{socket.gethostname()}:{os.getpid()}", entries=tuple(entries))


def _open_store(plan: Plan, store):
    from vaebench.store.modelstore import ModelStore

    if store is not None:
        return store
    require(bool(plan.store), "the plan names no store; pass one (--store PATH)", TrainingError)
    return ModelStore(plan.store)


def _report(tag: str, done: int, total: int, run: PackRun) -> None:
    """One progress line per model of a finished pack; ``done`` counts the models before it."""
    for k, name in enumerate(run.names, start=done + 1):
        how = "trained" if name in run.trained else "ready (stored, or trained by another process)"
        log(f"{k}/{total} models done: {name} {how} (pack of {len(run.names)}, {run.seconds:.1f}s on "
            f"{run.where})", tag)


class LocalExecutor:
    """Trains a plan's missing models in this process, pack after pack."""

    name = "local"

    def __init__(self, progress: bool = True):
        self.progress = progress

    def run(self, plan: Plan, store=None, datasets: Callable | None = None) -> list[PackRun]:
        """Train ``plan.missing()`` into ``store`` (default: the plan's); one :class:`PackRun`
        per pack. ``datasets(data_spec) -> (train, test)`` (default: read through the store's
        image cache)."""
        store = _open_store(plan, store)
        datasets = datasets or load_datasets(store, self.progress)
        packs = plan.packs()
        total, done, runs = sum(map(len, packs)), 0, []
        for pack in packs:
            run = train_pack(store, pack, datasets, self.progress)
            if self.progress:
                _report("local", done, total, run)
            done += len(pack)
            runs.append(run)
        return runs


def import_ray():
    """The ``ray`` module, or a :class:`TrainingError` that names the extra to install."""
    try:
        import ray
    except ImportError as e:
        raise TrainingError(f"--executor ray needs Ray, which is not installed here ({e}): "
                            "pip install 'vaebench[ray]' (on the driver and on every node of the cluster)") from None
    return ray


#: set by :func:`_arm_kill_once` in a Ray task: kill this process that many seconds after training starts
_KILL_AFTER_S: float | None = None


def _arm_kill_once() -> None:
    """The test hook of :data:`KILL_ONCE_ENV` (nothing happens when it is not set): the
    first task attempt that creates the marker file will SIGKILL its own worker
    ``$VAEBENCH_TEST_KILL_AFTER_S`` seconds after its training starts."""
    global _KILL_AFTER_S
    marker = os.environ.get(KILL_ONCE_ENV)
    if not marker:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, f"{socket.gethostname()}:{os.getpid()}".encode())
    os.close(fd)
    _KILL_AFTER_S = float(os.environ.get(KILL_AFTER_ENV, "0.5"))


def _training_starts() -> None:
    if _KILL_AFTER_S is not None:
        import signal
        import threading

        timer = threading.Timer(_KILL_AFTER_S, os.kill, (os.getpid(), signal.SIGKILL))
        timer.daemon = True
        timer.start()


def ray_pack_task(root: str, pack: list[dict], progress: bool, env: dict) -> dict:
    """The body of one Ray task: :func:`train_pack` of the planned models ``pack`` (as
    :meth:`PlannedModel.to_dict` gives them) into the store at ``root``."""
    os.environ.update(env)
    _arm_kill_once()
    from vaebench.store.modelstore import ModelStore

    store = ModelStore(root, progress=progress)
    models = [PlannedModel.from_dict(m, f"pack[{i}]") for i, m in enumerate(pack)]
    for m in models:
        here = store.entry_name(m.data, m.model, m.train, fingerprint=m.fingerprint)
        require(here == m.name, f"node {socket.gethostname()} keys {m.name} as {here}: its vaebench code, Keras "
                "version or backend differ from the driver's; install the same on every node", TrainingError)
    return train_pack(store, models, progress=progress).to_dict()


class RayExecutor:
    """Trains a plan's missing models as Ray tasks, one pack per task (see the module docstring).

    ``address``: the cluster's (``ray.init(address=...)``; ``None``: the one this process
    is connected to, else ``$RAY_ADDRESS``, else a local cluster started for the run and
    stopped after it). ``num_gpus`` per task (default: 1 when the cluster has a GPU, else
    0); ``num_cpus`` per task without GPUs; ``max_retries``: attempts after a task failed
    or its worker died."""

    name = "ray"

    def __init__(self, address: str | None = None, num_gpus: float | None = None, num_cpus: float = 1,
                 max_retries: int = 3, progress: bool = True):
        require(isinstance(max_retries, int) and max_retries >= 0, f"max_retries={max_retries!r} must be an "
                "integer >= 0", TrainingError)
        self.address, self.num_gpus, self.num_cpus = address, num_gpus, num_cpus
        self.max_retries, self.progress = max_retries, progress

    def options(self, ray) -> dict:
        gpus = self.num_gpus
        if gpus is None:
            gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        opts = {"max_retries": self.max_retries, "retry_exceptions": True, "num_gpus": gpus}
        opts["num_cpus"] = self.num_cpus if not gpus else 1
        return opts

    def run(self, plan: Plan, store=None) -> list[PackRun]:
        """Train ``plan.missing()`` into ``store`` (default: the plan's); one :class:`PackRun`
        per pack, in the order the packs finish."""
        ray = import_ray()
        store = _open_store(plan, store)
        packs = plan.packs()
        if not packs:
            return []
        started = not ray.is_initialized()
        if started:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=self.progress)
        try:
            opts = self.options(ray)
            root = str(store.root.resolve())
            env = {k: v for k, v in os.environ.items() if k in FORWARDED_ENV or k.startswith(FORWARDED_PREFIX)}
            # a GPU task gets a fresh worker (max_calls=1): a backend keeps the GPU it started on
            task = ray.remote(**opts, **({"max_calls": 1} if opts["num_gpus"] else {}))(ray_pack_task)
            pending = {task.remote(root, [m.to_dict() for m in pack], self.progress, env): pack for pack in packs}
            if self.progress:
                log(f"{len(packs)} packs of {sum(map(len, packs))} models sent to Ray "
                    f"({ray.cluster_resources().get('CPU', 0):g} CPUs, {ray.cluster_resources().get('GPU', 0):g} "
                    f"GPUs; per task {opts['num_gpus']:g} GPU, {opts['num_cpus']:g} CPU, "
                    f"{self.max_retries} retries)", "ray")
            total, done, runs = sum(map(len, packs)), 0, []
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                pack = pending.pop(ready[0])
                try:
                    got = ray.get(ready[0])
                except Exception as e:
                    raise TrainingError(f"the Ray task of the pack {', '.join(m.name for m in pack)} failed after "
                                        f"{self.max_retries} retries: {type(e).__name__}: {str(e)[-2000:]}") from e
                run = PackRun(names=tuple(got["names"]), trained=tuple(got["trained"]), seconds=got["seconds"],
                              where=got["where"])
                if self.progress:
                    _report("ray", done, total, run)
                done += len(run.names)
                runs.append(run)
            return runs
        finally:
            if started:
                ray.shutdown()


def executor(name: str, address: str | None = None, progress: bool = True):
    """The executor called ``name`` (``local`` or ``ray``)."""
    require(name in ("local", "ray"), f"executor={name!r} is not an executor; use local or ray", TrainingError)
    require(address is None or name == "ray", f"--address={address!r} is for --executor ray", TrainingError)
    return LocalExecutor(progress) if name == "local" else RayExecutor(address=address, progress=progress)
