"""The pack task every executor runs: :func:`train_pack` makes sure the models of one pack
are in the store, through the store's protocol (get, claim, train, put, release; wait for
an entry another process holds), so the one-training-per-spec and atomic-write guarantees
of :mod:`vaebench.store.modelstore` hold across processes and nodes."""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
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
    """Train the models ``todo`` (indices into ``pack`` whose locks this process holds) as
    one pack and put each into the store; their names."""
    if not todo:
        return []
    from vaebench.train import trainer as training

    train_images, probe = _images(pack, datasets)
    results = training.train_many(pack[0].data, [training.Job(pack[i].model, pack[i].train) for i in todo],
                                  train_images, probe_images=probe, progress=progress)
    require(len(results) == len(todo), f"train_many returned {len(results)} results for {len(todo)} jobs",
            TrainingError)
    for i, result in zip(todo, results):
        entries[i] = claims[i].put(result)
    return [pack[i].name for i in todo]


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
