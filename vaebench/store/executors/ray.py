"""The Ray executor: one Ray task per pack on a Ray cluster (``pip install 'vaebench[ray]'``),
one GPU per task where the cluster has GPUs, one CPU otherwise, each task writing into a
store that every node reaches (a shared filesystem). A task that fails or whose worker
dies is retried (``max_retries``); a killed writer leaves a temporary folder that nothing
loads and that the next store opening removes.

Without an address (``--address``, ``$RAY_ADDRESS``, a cluster this process is connected
to) it starts a local cluster for the run. Ray's processes listen on every network
interface whatever ``ray.init`` is given (measured with Ray 2.60: ``_node_ip_address=
"127.0.0.1"`` changes nothing), so that cluster is started only with Ray's token
authentication (https://docs.ray.io/en/latest/ray-security/token-auth.html): Ray >= 2.59
turns it on for local clusters unless ``RAY_AUTH_MODE`` says otherwise; Ray 2.52 to 2.58
has it when ``RAY_AUTH_MODE=token`` is set before Python starts; anything else is refused
with a message saying what to install or set."""
from __future__ import annotations

import os
import re
import socket
from typing import Callable

from vaebench.errors import TrainingError, require
from vaebench.progress import log
from vaebench.store.executors.pack import PackRun, open_store, report, train_pack
from vaebench.store.plan import Plan, PlannedModel

#: environment variables a Ray task takes over from the driver
FORWARDED_ENV = ("KERAS_BACKEND",)
FORWARDED_PREFIX = "VAEBENCH_"
#: the first Ray release with token authentication, and the first that turns it on for local clusters
TOKEN_AUTH_RAY, TOKEN_DEFAULT_RAY = (2, 52), (2, 59)
AUTH_ENV = "RAY_AUTH_MODE"


def import_ray():
    """The ``ray`` module, or a :class:`TrainingError` that names the extra to install."""
    try:
        import ray
    except ImportError as e:
        raise TrainingError(f"--executor ray needs Ray, which is not installed here ({e}): "
                            "pip install 'vaebench[ray]' (on the driver and on every node of the cluster)") from None
    return ray


def check_local_auth(version: str, environ) -> None:
    """A :class:`TrainingError` unless a local cluster started by this Ray (``version``) in
    this environment uses token authentication (module docstring)."""
    found = re.match(r"(\d+)\.(\d+)", version)
    have = tuple(map(int, found.groups())) if found else (0, 0)
    mode = (environ.get(AUTH_ENV) or "").lower()
    require(have >= TOKEN_AUTH_RAY,
            f"Ray {version} has no token authentication, and the local cluster vaebench would start listens on every "
            "network interface: install ray>=2.59, or pass --address of a cluster you secured", TrainingError)
    require(mode in ("", "token"),
            f"{AUTH_ENV}={environ.get(AUTH_ENV)!r}: the local Ray cluster vaebench starts listens on every network "
            f"interface, so it runs only with token authentication; unset {AUTH_ENV} (or set it to token), or pass "
            "--address", TrainingError)
    require(mode == "token" or have >= TOKEN_DEFAULT_RAY,
            f"Ray {version} starts local clusters without authentication, and they listen on every network interface: "
            f"set {AUTH_ENV}=token before starting (or install ray>=2.59), or pass --address", TrainingError)


def ray_pack_task(root: str, pack: list[dict], progress: bool, env: dict) -> dict:
    """The body of one Ray task: :func:`train_pack` of the planned models ``pack`` (as
    :meth:`PlannedModel.to_dict` gives them) into the store at ``root``."""
    os.environ.update(env)
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
    or its worker died; ``task``: the pack task (default :func:`ray_pack_task`)."""

    name = "ray"

    def __init__(self, address: str | None = None, num_gpus: float | None = None, num_cpus: float = 1,
                 max_retries: int = 3, progress: bool = True, task: Callable = ray_pack_task):
        require(isinstance(max_retries, int) and max_retries >= 0, f"max_retries={max_retries!r} must be an "
                "integer >= 0", TrainingError)
        self.address, self.num_gpus, self.num_cpus = address, num_gpus, num_cpus
        self.max_retries, self.progress, self.task = max_retries, progress, task

    def options(self, ray) -> dict:
        gpus = self.num_gpus
        if gpus is None:
            gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        opts = {"max_retries": self.max_retries, "retry_exceptions": True, "num_gpus": gpus}
        opts["num_cpus"] = self.num_cpus if not gpus else 1
        return opts

    def connect(self, ray) -> bool:
        """Connect to the cluster, or start a local one (with token authentication); whether
        this call connected (False: this process was connected already)."""
        if ray.is_initialized():
            return False
        address = self.address or os.environ.get("RAY_ADDRESS")
        if not address:
            check_local_auth(getattr(ray, "__version__", "0"), os.environ)
        try:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=self.progress)
        except ConnectionError as e:
            raise TrainingError(f"cannot reach the Ray cluster at {address!r} ({e}); check --address or "
                                "$RAY_ADDRESS, or leave both unset to start a local cluster") from None
        return True

    def run(self, plan: Plan, store=None) -> list[PackRun]:
        """Train ``plan.missing()`` into ``store`` (default: the plan's); one :class:`PackRun`
        per pack, in the order the packs finish."""
        ray = import_ray()
        store = open_store(plan, store)
        packs = plan.packs()
        if not packs:
            return []
        started = self.connect(ray)
        try:
            return self._run_packs(ray, packs, str(store.root.resolve()))
        finally:
            if started:
                ray.shutdown()

    def _run_packs(self, ray, packs: list, root: str) -> list[PackRun]:
        opts = self.options(ray)
        env = {k: v for k, v in os.environ.items() if k in FORWARDED_ENV or k.startswith(FORWARDED_PREFIX)}
        # a GPU task gets a fresh worker (max_calls=1): a backend keeps the GPU it started on
        task = ray.remote(**opts, **({"max_calls": 1} if opts["num_gpus"] else {}))(self.task)
        pending = {task.remote(root, [m.to_dict() for m in pack], self.progress, env): pack for pack in packs}
        if self.progress:
            resources = ray.cluster_resources()
            log(f"{len(packs)} packs of {sum(map(len, packs))} models sent to Ray ({resources.get('CPU', 0):g} CPUs, "
                f"{resources.get('GPU', 0):g} GPUs; per task {opts['num_gpus']:g} GPU, {opts['num_cpus']:g} CPU, "
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
                report("ray", done, total, run)
            done += len(run.names)
            runs.append(run)
        return runs
