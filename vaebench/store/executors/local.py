"""The local executor: a plan's missing models, pack after pack, in this process (what a
cold ``pytest hypotheses`` does through :meth:`vaebench.claims.session.Session.models`)."""
from __future__ import annotations

from typing import Callable

from vaebench.store.executors.pack import PackRun, load_datasets, open_store, report, train_pack
from vaebench.store.plan import Plan


class LocalExecutor:
    """Trains a plan's missing models in this process, pack after pack. ``task``: the pack
    task, ``task(store, pack, datasets, progress) -> PackRun`` (default :func:`train_pack`)."""

    name = "local"

    def __init__(self, progress: bool = True, task: Callable = train_pack):
        self.progress, self.task = progress, task

    def run(self, plan: Plan, store=None, datasets: Callable | None = None) -> list[PackRun]:
        """Train ``plan.missing()`` into ``store`` (default: the plan's); one :class:`PackRun`
        per pack. ``datasets(data_spec) -> (train, test)`` (default: read through the store's
        image cache)."""
        store = open_store(plan, store)
        datasets = datasets or load_datasets(store, self.progress)
        packs = plan.packs()
        total, done, runs = sum(map(len, packs)), 0, []
        for pack in packs:
            run = self.task(store, pack, datasets, self.progress)
            if self.progress:
                report("local", done, total, run)
            done += len(pack)
            runs.append(run)
        return runs
