"""The pack task every executor runs: :func:`train_pack` makes sure the models of one pack
are in the store, through the store's protocol (get, claim, train, put, release; wait for
an entry another process holds), so the one-training-per-spec and atomic-write guarantees
of :mod:`vaebench.store.modelstore` hold across processes and nodes. A model the store holds
at fewer epochs resumes from there (:func:`_by_start`); while a pack trains, its models are
also stored at the epochs of :func:`snapshot_epochs` (:func:`snapshot_publisher`)."""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from vaebench.errors import TrainingError, require
from vaebench.progress import log
from vaebench.store.plan import Plan, PlannedModel


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
    pack = list(pack)
    require(len(pack) > 0, "train_pack needs at least one planned model", TrainingError)
    datasets = datasets or load_datasets(store, progress)
    t0 = time.perf_counter()
    entries = [store.get(m.data, m.model, m.train, fingerprint=m.fingerprint) for m in pack]
    claims: dict[int, object] = {}
    busy: list[int] = []
    try:
        for i, m in enumerate(pack):
            if entries[i] is None:
                claim = store.claim(m.data, m.model, m.train, fingerprint=m.fingerprint)
                if claim is None:
                    busy.append(i)
                else:
                    claims[i], entries[i] = claim, claim.entry
        trained = _train_claimed(pack, [i for i in claims if entries[i] is None], claims, entries, datasets,
                                 progress)
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


def _train_claimed(pack: list, todo: list[int], claims: dict, entries: list, datasets: Callable,
                   progress: bool) -> list[str]:
    """Train the models ``todo`` (indices into ``pack`` whose locks this process holds) and put
    each into the store; their names. A model whose store holds a resumable entry of fewer
    epochs (:meth:`vaebench.store.modelstore.ModelStore.resumable`) goes on from it; the others
    train from the start; each group of one starting epoch trains as one pack."""
    if not todo:
        return []
    train_images, probe = _images(pack, datasets)
    store = claims[todo[0]].store
    for group in _by_start(store, pack, todo).values():
        _train_group(store, pack, group, claims, entries, (train_images, probe), progress)
    return [pack[i].name for i in todo]


def _by_start(store, pack: list, todo: list[int]) -> dict[int, list[tuple[int, object]]]:
    """``todo`` grouped by the epoch each resumes from (0: the start), with the entry it resumes from."""
    groups: dict[int, list[tuple[int, object]]] = {}
    for i in todo:
        m = pack[i]
        source = store.resumable(m.data, m.model, m.train, fingerprint=m.fingerprint)
        groups.setdefault(source.train.epochs if source else 0, []).append((i, source))
    return dict(sorted(groups.items()))


def _train_group(store, pack: list, group: list, claims: dict, entries: list, images: tuple,
                 progress: bool) -> None:
    """Train one group of :func:`_by_start` as one pack (publishing snapshots) and put each result."""
    from vaebench.store.modelstore import WEIGHTS
    from vaebench.train import trainer as training
    from vaebench.train.records import Start

    starts = None
    if group[0][1] is not None:
        starts = [Start(epoch=e.train.epochs, weights=str(e.path / WEIGHTS), state=e.train_state(), history=e.history)
                  for _, e in group]
    models = [pack[i] for i, _ in group]
    publish = snapshot_publisher(store, models) if snapshots_on() else None
    results = training.train_many(models[0].data, [training.Job(m.model, m.train) for m in models], images[0],
                                  probe_images=images[1], progress=progress, starts=starts, on_epoch=publish)
    require(len(results) == len(group), f"train_many returned {len(results)} results for {len(group)} jobs",
            TrainingError)
    for (i, _), result in zip(group, results):
        entries[i] = claims[i].put(result)


#: the environment variable that turns the snapshots off (``0``); on by default
SNAPSHOTS_ENV = "VAEBENCH_SNAPSHOTS"


def snapshots_on(environ=os.environ) -> bool:
    """Whether training publishes snapshots (:func:`snapshot_epochs`): unless ``$VAEBENCH_SNAPSHOTS`` is ``0``."""
    return environ.get(SNAPSHOTS_ENV, "1").strip().lower() not in ("0", "no", "off", "false")


def snapshot_epochs(epochs: int) -> tuple[int, ...]:
    """The epochs below ``epochs`` at which a training of ``epochs`` epochs also stores its models:
    the two earlier budgets an equilibrium check reads (:func:`vaebench.stats.equilibrium.budgets`,
    ⌈E/3⌉ and ⌈2E/3⌉); below 3 epochs, each epoch before the last."""
    from vaebench.stats.equilibrium import budgets

    return tuple(budgets(epochs)[:2]) if epochs >= 3 else tuple(range(1, epochs))


def snapshot_publisher(store, models: Sequence[PlannedModel]) -> Callable:
    """``on_epoch`` for :meth:`vaebench.train.trainer.PackTrainer.run`: at each of
    :func:`snapshot_epochs`, every running member of ``models`` is stored as the entry of its
    specs with that many epochs: the model a direct training of that many epochs gives (the
    trajectory of epoch k depends on the seed and k alone). An entry the store holds, or that
    another process is training, is left alone. Snapshots hold no training state (a longer
    training resumes from the full entry)."""
    at = set(snapshot_epochs(models[0].train.epochs))

    def publish(trainer) -> None:
        if trainer.epoch not in at:
            return
        for m, result in zip(models, trainer.results(state=False)):
            if result.stopped is not None:
                continue
            result.info["snapshot_of_epochs"] = m.train.epochs
            lease = store.claim(m.data, m.model, replace(m.train, epochs=trainer.epoch), fingerprint=m.fingerprint)
            if lease is None:
                continue
            with lease:
                if lease.entry is None:
                    lease.put(result)
    return publish


def open_store(plan: Plan, store):
    """``store``, else the store the plan names."""
    from vaebench.store.modelstore import ModelStore

    if store is not None:
        return store
    require(bool(plan.store), "the plan names no store; pass one (--store PATH)", TrainingError)
    return ModelStore(plan.store)


def report(tag: str, done: int, total: int, run: PackRun) -> None:
    """One progress line per model of a finished pack; ``done`` counts the models before it."""
    for k, name in enumerate(run.names, start=done + 1):
        how = "trained" if name in run.trained else "ready (stored, or trained by another process)"
        log(f"{k}/{total} models done: {name} {how} (pack of {len(run.names)}, {run.seconds:.1f}s on "
            f"{run.where})", tag)
