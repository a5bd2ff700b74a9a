"""Training a plan on a local Ray cluster (2 CPUs): the warm run trains nothing, the weights
are local training's, and a worker killed mid-training is retried without a damaged entry."""
import dataclasses
import subprocess
import sys

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from killhook import killing_once, ship_by_value  # noqa: E402

from vaebench.claims.session import Session  # noqa: E402
from vaebench.config import SCALES, DataSpec  # noqa: E402
from vaebench.store.executors import LocalExecutor, RayExecutor, ray_pack_task  # noqa: E402
from vaebench.store.modelstore import ModelStore  # noqa: E402
from vaebench.store.plan import Plan  # noqa: E402

CLAIM = "hypotheses/test_c2_tiny_kl_logvar_far_below_zero.py"


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _weights(entry):
    return [np.asarray(w) for w in entry.load_model().get_weights()]


def _trainings(session):
    return [k for k in session.timings if k.startswith("train ")]


@pytest.mark.slow
def test_a_plan_trained_on_ray_is_loaded_warm_with_the_weights_of_local_training(cluster, tmp_path, pytestconfig):
    root = pytestconfig.rootpath
    store = tmp_path / "ray-store"
    planned = subprocess.run([sys.executable, "-m", "pytest", "-q", str(root / CLAIM), "--vaebench-scale", "smoke",
                              "--vaebench-store", str(store), "--vaebench-plan", str(tmp_path / "plan.json"),
                              "--vaebench-report", "none", "-p", "no:cacheprovider"],
                             cwd=root, capture_output=True, text=True, timeout=300)
    assert planned.returncode == 0 and "1 skipped" in planned.stdout, planned.stdout[-2000:] + planned.stderr[-2000:]
    plan = Plan.read(tmp_path / "plan.json")
    assert plan.scale == "smoke" and len(plan.missing()) == len(SCALES["smoke"].seeds) == 2

    runs = RayExecutor(progress=False).run(plan, ModelStore(store, progress=False))
    assert sorted(n for r in runs for n in r.trained) == sorted(m.name for m in plan.models)
    assert all(r.where.split(":")[1] != str(__import__("os").getpid()) for r in runs)   # trained in Ray workers

    warm = Session("smoke", store, progress=False)
    got = warm.models([(m.model, m.train.seed, m.train) for m in plan.models])
    assert _trainings(warm) == [] and [t.entry.name for t in got] == [m.name for m in plan.models]
    assert ModelStore(store, progress=False).damaged() == []

    local = ModelStore(tmp_path / "local-store", progress=False)
    first = Plan(plan.models[:1], store=str(local.root))
    (run,) = LocalExecutor(progress=False).run(first, local)
    for a, b in zip(_weights(run.entries[0]), _weights(got[0].entry)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_a_worker_killed_mid_training_is_retried_and_leaves_no_damaged_entry(cluster, tmp_path,
                                                                              tiny_ae, tiny_vae, tiny_train):
    longer = dataclasses.replace(tiny_train, epochs=4)          # the kill lands 1 s into a training of seconds
    scale = dataclasses.replace(SCALES["smoke"], data=DataSpec(image_size=16, n_train=64, n_test=16),
                                train=longer, n_analysis=16, pack=1)
    session = Session(scale, tmp_path / "store", progress=False)
    plan = Plan.of(session.plan([(tiny_ae, 0), (tiny_vae, 0), (tiny_ae, 1)]), store=str(session.store.root), pack=1)
    marker = tmp_path / "killed"
    ship_by_value()
    task = killing_once(ray_pack_task, str(marker), after_s=1.0)      # the first attempt kills its own worker
    runs = RayExecutor(max_retries=2, progress=False, task=task).run(plan, session.store)
    killed = marker.read_text()                      # "host:pid" of the attempt that killed itself
    assert killed and killed not in {r.where for r in runs}
    assert sorted(n for r in runs for n in r.trained) == sorted(m.name for m in plan.models)
    store = ModelStore(session.store.root, progress=False)
    assert store.damaged() == [] and not list(store.models.glob(".tmp-*"))
    assert sorted(e.name for e in store.entries()) == sorted(m.name for m in plan.models)
    for entry in store.entries():
        entry.load_model()
