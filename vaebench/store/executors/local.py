"""The local executor: a plan's missing models on this machine (what a cold ``pytest
hypotheses`` does through :meth:`vaebench.claims.session.Session.models`, and what
``vaebench main`` does first with the whole plan: :mod:`vaebench.cli.planfirst`).

With one worker it trains pack after pack in this process. With more (``workers=``, else
``$VAEBENCH_WORKERS``, else, when the threads are split, :func:`auto_workers`: one per core
when there are at least two packs to train; 1 otherwise) independent packs
train at once in worker processes (``spawn``: a fresh interpreter each, no forked
TensorFlow state). By default a worker keeps the thread settings a lone process has.
``threads=`` (or ``$VAEBENCH_WORKER_THREADS``; ``split``: ``cores // workers``) sets a worker's
``OMP_NUM_THREADS``, ``TF_NUM_INTRAOP_THREADS``/``TF_NUM_INTEROP_THREADS`` and TensorFlow's
thread pools before TensorFlow loads there (:mod:`vaebench.store.threads`). Threads change a
model's weights by float32 rounding (measured: 2 workers x 1 thread against one 2-thread
process, up to 1.5e-8 after a step), so each entry records its threads, and a model's
weights are bitwise those of training it alone with the same threads (tested). Where the
split is faster, :func:`split_by_default` says so (TensorFlow on a CPU with two or more cores).
Each worker runs
the same pack task (:func:`vaebench.store.executors.pack.train_pack`: lock per entry,
atomic writes), so a worker that dies leaves no damaged entry; the executor waits for the
other workers' packs and then raises a :class:`TrainingError` that names the pack."""
from __future__ import annotations

import multiprocessing
import os
from contextlib import contextmanager
from multiprocessing.connection import wait
from typing import Callable, Sequence

from vaebench.errors import TrainingError, require
from vaebench.store.executors.pack import PackRun, load_datasets, open_store, report, train_pack
from vaebench.store.plan import Plan
from vaebench.store.threads import THREAD_ENV, pin_threads

#: the environment variable that sets the number of worker processes (``auto``: :func:`auto_workers`)
WORKERS_ENV = "VAEBENCH_WORKERS"
#: the environment variable that sets a worker's threads (a number, or ``split``)
THREADS_ENV = "VAEBENCH_WORKER_THREADS"


def auto_workers(n_packs: int, cores: int | None = None) -> int:
    """Worker processes for ``n_packs`` packs on ``cores`` cores (default ``os.cpu_count()``):
    one per core, at most one per pack; 1 (this process) when there is one pack or one core."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(cores, n_packs))


def split_by_default(cores: int | None = None) -> bool:
    """Whether a whole plan trains one worker per core with the threads split by default
    (``vaebench main``: :mod:`vaebench.cli.planfirst`): TensorFlow on a CPU with two or more
    cores, where two one-thread workers measured faster than one two-thread process (the
    README gives the figures); on a GPU the device, not the cores, sets the pace, and one
    process uses it."""
    from vaebench import backend

    return (cores or os.cpu_count() or 1) >= 2 and backend.name() == "tensorflow" and not backend.accelerator_visible()


def requested_workers(workers: int | str | None, environ=os.environ, env: str = WORKERS_ENV,
                      name: str = "workers") -> int | None:
    """``workers`` checked, else ``$VAEBENCH_WORKERS``; None (or ``auto``): choose from the core count."""
    raw = workers if workers is not None else environ.get(env)
    if raw is None or str(raw).strip().lower() in ("", "auto"):
        return None
    where = name if workers is not None else env
    try:
        n = int(str(raw).strip())
    except ValueError:
        n = 0
    require(n >= 1 and str(raw).strip().lstrip("+").isdigit(),
            f"{where}={raw!r} is not a number of {name}; give a whole number >= 1 or auto", TrainingError)
    return n


def requested_threads(threads: int | str | None, workers: int, environ=os.environ) -> int | None:
    """A worker's threads: ``threads``, else ``$VAEBENCH_WORKER_THREADS``; ``split``: the cores
    shared out (:func:`threads_per_worker`); None: as a lone process (bitwise-equal weights)."""
    raw = threads if threads is not None else environ.get(THREADS_ENV)
    if raw is not None and str(raw).strip().lower() == "split":
        return threads_per_worker(workers)
    return requested_workers(threads, environ, THREADS_ENV, "threads")


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """The cores each of ``workers`` processes gets (at least 1)."""
    return max(1, (cores or os.cpu_count() or 1) // workers)


class LocalExecutor:
    """Trains a plan's missing models on this machine (module docstring). ``task``: the pack
    task, ``task(store, pack, datasets, progress) -> PackRun`` (default :func:`train_pack`;
    with workers it must be picklable: a module-level function). ``workers``: worker
    processes (None: ``$VAEBENCH_WORKERS``, else :func:`auto_workers` when threads are split, else 1); ``threads``: each
    worker's threads (None: ``$VAEBENCH_WORKER_THREADS``, else as a lone process; ``split``)."""

    name = "local"

    def __init__(self, progress: bool = True, task: Callable = train_pack, workers: int | str | None = None,
                 threads: int | str | None = None):
        self.progress, self.task, self.threads = progress, task, threads
        self.workers = requested_workers(workers)
        requested_threads(threads, 1)                   # a bad value is refused here

    def run(self, plan: Plan, store=None, datasets: Callable | None = None) -> list[PackRun]:
        """Train ``plan.missing()`` into ``store`` (default: the plan's); one :class:`PackRun`
        per pack, in plan order. ``datasets(data_spec) -> (train, test)`` (default: read
        through the store's image cache; workers always read through the cache)."""
        store = open_store(plan, store)
        packs = plan.packs()
        split = requested_threads(self.threads, 1) is not None
        workers = min(self.workers or (auto_workers(len(packs)) if split else 1), max(1, len(packs)))
        if workers > 1 and spawnable(packs):
            return self._in_workers(store, packs, workers)
        datasets = datasets or load_datasets(store, self.progress)
        total, done, runs = sum(map(len, packs)), 0, []
        for pack in packs:
            run = self.task(store, pack, datasets, self.progress)
            if self.progress:
                report("local", done, total, run)
            done += len(pack)
            runs.append(run)
        return runs

    def _in_workers(self, store, packs: list, workers: int) -> list[PackRun]:
        """The packs trained by ``workers`` spawned processes, each taking the next pack when
        it is done; raises once every other pack has finished when a pack failed."""
        pool = _Pool(workers, requested_threads(self.threads, workers), self.task, str(store.root), self.progress)
        total, done, runs, failed = sum(map(len, packs)), 0, [None] * len(packs), []
        todo = list(range(len(packs)))
        try:
            while todo or pool.busy():
                while todo and not failed and pool.idle():
                    i = todo.pop(0)
                    pool.give(i, packs[i])
                for i, run in pool.finished():
                    if isinstance(run, PackRun):
                        runs[i] = run
                        if self.progress:
                            report("local", done, total, run)
                        done += len(run.names)
                    else:
                        failed.append((i, run))
                if todo and not pool.busy() and not pool.idle():       # every worker ended between packs
                    failed += [(i, "no worker process was left to train it") for i in todo]
                if failed:
                    todo.clear()
        finally:
            pool.close()
        if failed:
            raise _failure(packs, failed)
        return runs


def spawnable(packs: Sequence) -> bool:
    """Whether a spawned worker can build every model of ``packs``: vaebench's own architecture
    or one a package's entry point provides (one registered in this process only, from a
    ``conftest.py`` say, trains here)."""
    from importlib.metadata import entry_points

    from vaebench.models import registry

    there = {registry.DEFAULT_ARCHITECTURE} | {ep.name for ep in entry_points(group=registry.GROUP)}
    return all(m.model.architecture in there for pack in packs for m in pack)


def _failure(packs: list, failed: list) -> Exception:
    """The error for the failed packs: a worker's own exception when it raised one (one pack),
    else a :class:`TrainingError` naming each failed pack and why."""
    if len(failed) == 1 and isinstance(failed[0][1], BaseException):
        return failed[0][1]
    why = "; ".join(f"pack {i + 1} of {len(packs)} ({', '.join(m.name for m in packs[i])}): {what}"
                    for i, what in failed)
    return TrainingError(f"the local executor's workers failed: {why}. The store holds no damaged entry; run "
                         "again to train the missing models (workers=1 or VAEBENCH_WORKERS=1 trains in this process)")


@contextmanager
def _thread_env(threads: int | None):
    """``os.environ`` with the worker's thread counts while workers are spawned (they copy it)."""
    if threads is None:
        yield
        return
    before = {k: os.environ.get(k) for k in THREAD_ENV}
    os.environ.update({k: str(threads) for k in THREAD_ENV})
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _Pool:
    """``n`` spawned worker processes, each with a pipe; knows which pack each holds, so a
    worker that dies names its pack."""

    def __init__(self, n: int, threads: int | None, task: Callable, root: str, progress: bool):
        ctx = multiprocessing.get_context("spawn")
        self.conns, self.procs, self.holds = [], [], {}
        with _thread_env(threads):
            for _ in range(n):
                here, there = ctx.Pipe()
                proc = ctx.Process(target=serve, args=(there, task, root, progress, threads), daemon=True)
                proc.start()
                there.close()
                self.conns.append(here)
                self.procs.append(proc)

    def idle(self) -> bool:
        return any(w not in self.holds and p.is_alive() for w, p in enumerate(self.procs))

    def busy(self) -> bool:
        return bool(self.holds)

    def give(self, i: int, pack: Sequence) -> None:
        w = next(w for w, p in enumerate(self.procs) if w not in self.holds and p.is_alive())
        self.conns[w].send((i, tuple(pack)))
        self.holds[w] = i

    def finished(self) -> list[tuple[int, object]]:
        """Wait for one or more workers; ``(pack index, PackRun | exception | reason)`` each."""
        ready = set(wait([self.conns[w] for w in self.holds] + [self.procs[w].sentinel for w in self.holds]))
        out = []
        for w in [w for w in self.holds if self.conns[w] in ready or self.procs[w].sentinel in ready]:
            i, conn, proc = self.holds.pop(w), self.conns[w], self.procs[w]
            try:
                if conn.poll():
                    out.append((i, conn.recv()))
                    continue
            except (EOFError, OSError):
                pass
            proc.join()
            out.append((i, f"its worker process {proc.pid} ended with exit code {proc.exitcode} before finishing"))
        return out

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
        for proc in self.procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join()


def serve(conn, task: Callable, root: str, progress: bool, threads: int | None) -> None:
    """A worker: pin TensorFlow's threads (``threads``), then run ``task`` on each pack it is sent until
    it is sent None; answers each with the :class:`PackRun` or the exception."""
    pin_threads(threads)
    from vaebench.store.modelstore import ModelStore

    store = ModelStore(root, progress=progress)
    datasets = load_datasets(store, progress)
    while (job := conn.recv()) is not None:
        i, pack = job
        try:
            answer = task(store, pack, datasets, progress)
        except Exception as e:       # handed to the parent, which raises it
            answer = e
        try:
            conn.send(answer)
        except Exception as e:       # an exception that does not pickle: its text
            conn.send(TrainingError(f"pack {i + 1}: {answer!r} (and it could not be sent: {e})"))
