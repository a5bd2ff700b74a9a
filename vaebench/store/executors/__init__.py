"""Executors: train the missing models of a :class:`vaebench.store.plan.Plan` into the store.

:class:`LocalExecutor` (:mod:`.local`) trains pack after pack in this process, or independent
packs at once in worker processes (``workers=``, ``$VAEBENCH_WORKERS``; one per core where the
threads are split);
:class:`RayExecutor` (:mod:`.ray`) runs one Ray task per pack on a Ray cluster. Both run
the pack task of :mod:`.pack` (:func:`train_pack`: the store's protocol per pack)."""
from __future__ import annotations

from vaebench.errors import TrainingError, require
from vaebench.store.executors.local import LocalExecutor
from vaebench.store.executors.pack import PackRun, load_datasets, train_pack
from vaebench.store.executors.ray import RayExecutor, check_local_auth, import_ray, ray_pack_task

__all__ = ["LocalExecutor", "RayExecutor", "PackRun", "check_local_auth", "executor", "import_ray", "load_datasets",
           "ray_pack_task", "train_pack"]


def executor(name: str, address: str | None = None, progress: bool = True, workers: int | str | None = None):
    """The executor called ``name`` (``local`` or ``ray``); ``workers``: the local executor's
    worker processes (None: ``$VAEBENCH_WORKERS``, else 1: this process)."""
    require(name in ("local", "ray"), f"executor={name!r} is not an executor; use local or ray", TrainingError)
    require(address is None or name == "ray", f"--address={address!r} is for --executor ray", TrainingError)
    require(workers is None or name == "local", f"workers={workers!r} is for --executor local", TrainingError)
    if name == "local":
        return LocalExecutor(progress, workers=workers)
    return RayExecutor(address=address, progress=progress)
