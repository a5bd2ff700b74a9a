"""Executors: the store's protocol per pack, the local executor, `vaebench train --plan`, Ray's absence."""
import dataclasses
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

from vaebench.data.fingerprint import combine
from vaebench.errors import SpecError, TrainingError
from vaebench.store.executors import (
    LocalExecutor,
    RayExecutor,
    check_local_auth,
    executor,
    import_ray,
    load_datasets,
    train_pack,
)
from vaebench.store.executors.local import (
    auto_workers,
    requested_threads,
    requested_workers,
    spawnable,
    threads_per_worker,
)
from vaebench.store.modelstore import ModelStore
from vaebench.store.plan import Plan, planned


@pytest.fixture
def store(tmp_path):
    return ModelStore(tmp_path / "store", progress=False)


@pytest.fixture
def fingerprint(store, tiny_data):
    train_set, test_set = load_datasets(store, progress=False)(tiny_data)
    return combine(train_set.fingerprint, test_set.fingerprint)


def _weights(model):
    return [np.asarray(w) for w in model.get_weights()]


@pytest.mark.slow
def test_a_pack_trains_its_missing_models_together(store, fingerprint, tiny_data, tiny_ae, tiny_vae, tiny_train,
                                                   monkeypatch):
    import vaebench.train.trainer as T

    models = [planned(store, tiny_data, spec, train, fingerprint) for spec, train in
              [(tiny_ae, tiny_train), (tiny_vae, tiny_train), (tiny_ae, dataclasses.replace(tiny_train, seed=1))]]
    first = train_pack(store, models[:1], progress=False)
    assert first.trained == (models[0].name,)
    calls = []
    real = T.train_many
    monkeypatch.setattr(T, "train_many", lambda data, jobs, *a, **k: calls.append(len(jobs)) or
                        real(data, jobs, *a, **k))
    run = train_pack(store, models, progress=False)
    assert calls == [2] and run.trained == (models[1].name, models[2].name)
    assert run.names == tuple(m.name for m in models)
    assert [e.name for e in run.entries] == list(run.names)
    assert [e.meta["pack"] for e in run.entries] == [1, 2, 2]
    assert train_pack(store, models, progress=False).trained == () and calls == [2]     # all in the store now


@pytest.mark.slow
def test_a_held_entry_is_waited_for_and_trained_here_when_its_holder_wrote_nothing(store, fingerprint, tiny_data,
                                                                                    tiny_ae, tiny_train):
    model = planned(store, tiny_data, tiny_ae, tiny_train, fingerprint)
    held, released = threading.Event(), []

    def other_process():
        with store.claim(tiny_data, tiny_ae, tiny_train, fingerprint=fingerprint):
            held.set()
            time.sleep(0.5)
            released.append(1)

    holder = threading.Thread(target=other_process)
    holder.start()
    held.wait()
    run = train_pack(store, [model], progress=False)
    holder.join()
    assert released and run.trained == (model.name,) and run.entries[0].model_spec == tiny_ae


@pytest.mark.slow
def test_the_local_executor_trains_the_plan_then_nothing_and_matches_training_alone(store, fingerprint, tiny_data,
                                                                                    tiny_ae, tiny_vae, tiny_train,
                                                                                    tiny_images, capsys):
    from vaebench.train.trainer import train

    models = [planned(store, tiny_data, spec, tiny_train, fingerprint) for spec in (tiny_vae, tiny_ae)]
    runs = LocalExecutor(progress=True).run(Plan(tuple(models), store=str(store.root), pack=2))
    assert [r.trained for r in runs] == [(models[0].name, models[1].name)]
    err = capsys.readouterr().err
    assert f"[vaebench.local] 1/2 models done: {models[0].name} trained (pack of 2" in err
    assert f"[vaebench.local] 2/2 models done: {models[1].name} trained" in err
    again = Plan(tuple(models), store=str(store.root)).with_store(store)
    assert again.missing() == () and LocalExecutor(progress=False).run(again) == []
    train_set, test_set = load_datasets(store, progress=False)(tiny_data)
    alone = train(tiny_data, tiny_vae, tiny_train, np.asarray(train_set.images),
                  probe_images=np.asarray(test_set.images[:tiny_train.probe_size]), progress=False)
    for a, b in zip(_weights(alone.model), _weights(runs[0].entries[0].load_model())):
        np.testing.assert_array_equal(a, b)


def test_data_that_changed_since_the_plan_is_refused(store, fingerprint, tiny_data, tiny_ae, tiny_train):
    model = planned(store, tiny_data, tiny_ae, tiny_train, "1" * 32)
    with pytest.raises(TrainingError, match=f"have content fingerprint {fingerprint[:16]} here, the plan was made on "
                                            "1111111111111111: the data changed"):
        train_pack(store, [model], progress=False)
    assert store.entries() == [] and store.claim(tiny_data, tiny_ae, tiny_train, fingerprint="1" * 32) is not None


def test_without_ray_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(TrainingError, match=r"--executor ray needs Ray.*pip install 'vaebench\[ray\]'"):
        import_ray()


def test_production_code_holds_no_kill_hook():
    package = Path(__file__).resolve().parents[1] / "vaebench"
    hooked = [str(p.relative_to(package)) for p in package.rglob("*.py")
              if any(word in p.read_text() for word in ("VAEBENCH_TEST", "SIGKILL", "_arm_kill"))]
    assert hooked == []


KILLED_PLAN = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from killhook import killing_once
    from vaebench.store.executors import LocalExecutor, train_pack
    from vaebench.store.plan import Plan

    task = killing_once(train_pack, sys.argv[3], after_s=0.5)
    LocalExecutor(progress=False, task=task).run(Plan.read(sys.argv[2]))
    print("training finished before the kill")
""")


@pytest.mark.slow
def test_a_local_run_killed_mid_training_leaves_no_damaged_entry_and_the_rerun_trains(store, fingerprint, tiny_data,
                                                                                      tiny_ae, tiny_vae, tiny_train,
                                                                                      tmp_path):
    longer = dataclasses.replace(tiny_train, epochs=30)       # seconds of training: the kill lands 0.5 s in
    models = [planned(store, tiny_data, spec, longer, fingerprint) for spec in (tiny_ae, tiny_vae)]
    path = Plan(tuple(models), store=str(store.root), pack=2).write(tmp_path / "plan.json")
    script = tmp_path / "killed.py"
    script.write_text(KILLED_PLAN)
    marker = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(script), str(Path(__file__).parent), str(path), str(marker)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == -9, (proc.returncode, out[-2000:], err[-2000:])      # SIGKILL, mid-training
    assert marker.read_text() == f"{socket.gethostname()}:{proc.pid}"
    reopened = ModelStore(store.root, progress=False)
    assert reopened.damaged() == [] and reopened.entries() == [] and not list(reopened.models.glob(".tmp-*"))
    (again,) = LocalExecutor(progress=False).run(Plan.read(path), reopened)
    assert sorted(again.trained) == sorted(m.name for m in models)
    for entry in ModelStore(store.root, progress=False).entries():
        entry.load_model()


@pytest.mark.parametrize("version, env, message", [
    ("2.60.0", {}, None),                                         # Ray turns token auth on for local clusters
    ("2.60.0", {"RAY_AUTH_MODE": "token"}, None),
    ("2.52.1", {"RAY_AUTH_MODE": "token"}, None),                 # has it, when asked for
    ("2.55.0", {}, "Ray 2.55.0 starts local clusters without authentication, and they listen on every network "
                   "interface: set RAY_AUTH_MODE=token before starting (or install ray>=2.59), or pass --address"),
    ("2.51.0", {"RAY_AUTH_MODE": "token"}, "Ray 2.51.0 has no token authentication"),
    ("2.60.0", {"RAY_AUTH_MODE": "disabled"}, "RAY_AUTH_MODE='disabled': the local Ray cluster vaebench starts "
                                              "listens on every network interface"),
])
def test_a_local_ray_cluster_needs_token_authentication(version, env, message):
    if message is None:
        check_local_auth(version, env)
    else:
        with pytest.raises(TrainingError) as e:
            check_local_auth(version, env)
        assert message in str(e.value)


def _fake_ray(version="2.60.0", refuse=False):
    calls = []

    def init(**kwargs):
        if refuse:
            raise ConnectionError("Could not find any running Ray instance")
        calls.append(("init", kwargs))

    return types.SimpleNamespace(__version__=version, is_initialized=lambda: False, init=init), calls


def test_the_ray_executor_starts_a_local_cluster_only_with_token_auth(monkeypatch):
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    ray, calls = _fake_ray()
    assert RayExecutor(progress=False).connect(ray) is True
    assert calls == [("init", {"address": None, "include_dashboard": False, "log_to_driver": False})]
    ray, calls = _fake_ray(version="2.40.0")
    with pytest.raises(TrainingError, match="Ray 2.40.0 has no token authentication"):
        RayExecutor(progress=False).connect(ray)
    assert calls == []
    RayExecutor(address="head:6379", progress=False).connect(ray)          # a cluster of one's own: as it is
    assert calls == [("init", {"address": "head:6379", "include_dashboard": False, "log_to_driver": False})]


def test_a_refused_ray_connection_is_one_clear_error(monkeypatch):
    ray, _ = _fake_ray(refuse=True)
    with pytest.raises(TrainingError, match=r"cannot reach the Ray cluster at 'head:6379' \(Could not find any "
                                            r"running Ray instance\); check --address or \$RAY_ADDRESS"):
        RayExecutor(address="head:6379", progress=False).connect(ray)


# ---------------------------------------------------------------------------- vaebench train --plan

@pytest.mark.slow
def test_train_plan_trains_the_missing_models_once(store, fingerprint, tiny_data, tiny_ae, tiny_vae, tiny_train,
                                                   tmp_path, capsys):
    from vaebench.cli import commands as cli

    path = Plan(tuple(planned(store, tiny_data, s, tiny_train, fingerprint) for s in (tiny_ae, tiny_vae)),
                store=str(store.root), pack=2).write(tmp_path / "plan.json")
    assert cli.main(["train", "--plan", str(path)]) == 0
    out = capsys.readouterr().out
    assert "2 models, 0 in the store, 2 to train in 1 packs of up to 2" in out and "trained 2 models in " in out
    assert "2 of 2 models of the plan are in the store" in out
    assert cli.main(["train", "--plan", str(path), "--store", str(store.root)]) == 0
    out = capsys.readouterr().out
    assert "2 models, 2 in the store, 0 to train" in out and "trained 0 models" in out


@pytest.mark.parametrize("options, message", [
    (["--kind", "ae"], "--kind with --plan: the plan holds every spec"),
    (["--seed", "1", "--scale", "smoke"], "--scale, --seed with --plan"),
    (["--address", "ray://head:10001"], "--address='ray://head:10001' is for --executor ray"),
])
def test_train_plan_refuses_options_that_do_not_apply(tmp_path, capsys, options, message):
    from vaebench.cli import commands as cli

    path = Plan(()).write(tmp_path / "plan.json")
    assert cli.main(["train", "--plan", str(path), "--store", str(tmp_path / "s"), *options]) == 2
    assert message in capsys.readouterr().err


def test_train_plan_of_a_missing_file(tmp_path, capsys):
    from vaebench.cli import commands as cli

    assert cli.main(["train", "--plan", str(tmp_path / "no.json"), "--store", str(tmp_path / "s")]) == 2
    assert "does not exist; write it first" in capsys.readouterr().err
    with pytest.raises(SpecError):
        Plan.read(tmp_path / "no.json")


# ---------------------------------------------------------------------------- the local executor's workers

@pytest.mark.parametrize("packs, cores, workers", [(1, 2, 1), (2, 2, 2), (5, 2, 2), (3, 8, 3), (4, 1, 1), (0, 2, 1)])
def test_workers_are_one_per_core_and_at_most_one_per_pack(packs, cores, workers):
    assert auto_workers(packs, cores) == workers
    assert threads_per_worker(workers, cores) == max(1, cores // workers)


@pytest.mark.parametrize("given, env, expected", [
    (None, {}, None), (None, {"VAEBENCH_WORKERS": "auto"}, None), (None, {"VAEBENCH_WORKERS": "3"}, 3),
    (2, {"VAEBENCH_WORKERS": "3"}, 2), ("1", {}, 1)])
def test_workers_come_from_the_parameter_then_the_environment(given, env, expected):
    assert requested_workers(given, env) == expected


@pytest.mark.parametrize("given, env, message", [(0, {}, "workers=0 is not"), ("two", {}, "workers='two' is not"),
                                                 (None, {"VAEBENCH_WORKERS": "1.5"}, "VAEBENCH_WORKERS='1.5' is not")])
def test_a_bad_number_of_workers_is_refused_by_name(given, env, message):
    with pytest.raises(TrainingError, match=message):
        requested_workers(given, env)


def test_worker_threads_are_a_lone_process_s_unless_split_or_given(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert requested_threads(None, 2, {}) is None
    assert requested_threads("split", 2, {}) == 4
    assert requested_threads(None, 3, {"VAEBENCH_WORKER_THREADS": "split"}) == 2
    assert requested_threads(None, 2, {"VAEBENCH_WORKER_THREADS": "1"}) == 1 and requested_threads(3, 2, {}) == 3
    with pytest.raises(TrainingError, match="threads='many' is not a number of threads"):
        LocalExecutor(threads="many")


def test_a_model_of_an_architecture_registered_here_only_trains_here(tiny_data, tiny_ae, store, fingerprint,
                                                                    tiny_train):
    mine = dataclasses.replace(tiny_ae, architecture="h6-here-only")
    assert spawnable([[planned(store, tiny_data, tiny_ae, tiny_train, fingerprint)]])
    assert not spawnable([[types.SimpleNamespace(model=tiny_ae)], [types.SimpleNamespace(model=mine)]])


def test_workers_are_for_the_local_executor():
    assert executor("local", workers=2).workers == 2
    with pytest.raises(TrainingError, match="workers=2 is for --executor local"):
        executor("ray", workers=2)


def _two_packs(store, fingerprint, tiny_data, tiny_ae, tiny_vae, train):
    return Plan(tuple(planned(store, tiny_data, spec, train, fingerprint) for spec in (tiny_vae, tiny_ae)),
                store=str(store.root), pack=1)


@pytest.mark.slow
def test_two_workers_train_the_same_weights_as_one_process(tmp_path, tiny_data, tiny_ae, tiny_vae, tiny_train, capsys):
    weights = {}
    for workers in (2, 1):
        store = ModelStore(tmp_path / f"store{workers}", progress=False)
        train_set, test_set = load_datasets(store, progress=False)(tiny_data)
        plan = _two_packs(store, combine(train_set.fingerprint, test_set.fingerprint), tiny_data, tiny_ae, tiny_vae,
                          tiny_train)
        runs = LocalExecutor(progress=True, workers=workers).run(plan)
        assert [r.trained for r in runs] == [(m.name,) for m in plan.models]
        assert len({r.where for r in runs}) == workers and all(r.where != f"{socket.gethostname()}:{os.getpid()}"
                                                               for r in runs if workers == 2)
        err = capsys.readouterr().err
        assert all(f"models done: {m.name} trained (pack of 1" in err for m in plan.models)
        assert "2/2 models done" in err
        weights[workers] = [_weights(e.load_model()) for e in ModelStore(store.root, progress=False).entries()]
        assert LocalExecutor(progress=False, workers=workers).run(plan.with_store(store)) == []
    assert len(weights[2]) == 2
    for a_model, b_model in zip(weights[2], weights[1]):
        for a, b in zip(a_model, b_model):
            np.testing.assert_array_equal(a, b)


KILLED_WORKER = textwrap.dedent("""
    import os
    import sys
    sys.path.insert(0, sys.argv[1])
    from killhook import claim_marker, kill_when_training_starts
    from vaebench.errors import TrainingError
    from vaebench.store.executors import LocalExecutor, train_pack
    from vaebench.store.plan import Plan


    def task(store, pack, datasets, progress):      # the worker given the first pack kills itself
        if pack[0].model.kind == "vae" and claim_marker(os.environ["KILL_MARKER"]):
            kill_when_training_starts(0.5)
        return train_pack(store, pack, datasets, progress)


    if __name__ == "__main__":
        try:
            LocalExecutor(progress=False, task=task, workers=2).run(Plan.read(sys.argv[2]))
        except TrainingError as e:
            print(e)
            sys.exit(3)
        print("training finished before the kill")
""")


@pytest.mark.slow
def test_a_killed_worker_leaves_no_damaged_entry_and_its_pack_is_named(store, fingerprint, tiny_data, tiny_ae,
                                                                       tiny_vae, tiny_train, tmp_path):
    longer = dataclasses.replace(tiny_train, epochs=30)       # seconds of training: the kill lands 0.5 s in
    plan = _two_packs(store, fingerprint, tiny_data, tiny_ae, tiny_vae, longer)
    path = plan.write(tmp_path / "plan.json")
    script = tmp_path / "killed_worker.py"
    script.write_text(KILLED_WORKER)
    marker = tmp_path / "killed"
    proc = subprocess.run([sys.executable, str(script), str(Path(__file__).parent), str(path)], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "KILL_MARKER": str(marker)})
    vae, ae = plan.models
    assert proc.returncode == 3, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    worker = marker.read_text().split(":")[1]
    assert f"pack 1 of 2 ({vae.name}): its worker process {worker} ended with exit code -9" in proc.stdout
    reopened = ModelStore(store.root, progress=False)
    assert reopened.damaged() == [] and [e.name for e in reopened.entries()] == [ae.name]
    assert not list(reopened.models.glob(".tmp-*"))
    runs = LocalExecutor(progress=False, workers=2).run(Plan.read(path).with_store(reopened), reopened)
    assert [r.trained for r in runs] == [(vae.name,)]
    for entry in ModelStore(store.root, progress=False).entries():
        entry.load_model()


@pytest.mark.parametrize("epochs, at", [(1, ()), (2, (1,)), (3, (1, 2)), (12, (4, 8)), (24, (8, 16)), (10, (4, 7))])
def test_snapshots_are_taken_at_a_third_and_two_thirds_of_the_epochs(epochs, at):
    from vaebench.store.executors.pack import snapshot_epochs

    assert snapshot_epochs(epochs) == at
    if epochs >= 3:                          # what the equilibrium check asks session.at_epochs for
        from vaebench.stats.equilibrium import budgets

        assert snapshot_epochs(epochs) == budgets(epochs)[:2]


def test_snapshots_are_on_unless_the_environment_turns_them_off():
    from vaebench.store.executors.pack import snapshots_on

    assert snapshots_on({}) and snapshots_on({"VAEBENCH_SNAPSHOTS": "1"})
    assert not snapshots_on({"VAEBENCH_SNAPSHOTS": "0"}) and not snapshots_on({"VAEBENCH_SNAPSHOTS": "off"})


def test_a_whole_plan_splits_the_cores_on_a_cpu_only(monkeypatch):
    from vaebench import backend
    from vaebench.store.executors.local import split_by_default

    monkeypatch.setattr(backend, "accelerator_visible", lambda: False)
    assert split_by_default(cores=2) and split_by_default(cores=16)
    assert not split_by_default(cores=1)
    monkeypatch.setattr(backend, "accelerator_visible", lambda: True)       # a GPU sets the pace, not the cores
    assert not split_by_default(cores=16)
    monkeypatch.setattr(backend, "accelerator_visible", lambda: False)
    monkeypatch.setattr(backend, "name", lambda: "jax")                      # measured on TensorFlow only
    assert not split_by_default(cores=2)


ALONE_ONE_THREAD = textwrap.dedent("""
    import sys
    from vaebench.store.executors import LocalExecutor
    from vaebench.store.plan import Plan

    LocalExecutor(progress=False, workers=1).run(Plan.read(sys.argv[1]))
""")


@pytest.mark.slow
def test_a_split_worker_trains_the_weights_of_training_alone_with_its_threads(tmp_path, tiny_data, tiny_ae, tiny_vae,
                                                                              tiny_train):
    """Two one-thread workers give each model the weights it gets alone in a one-thread process,
    and each entry records the threads it trained with."""
    weights = {}
    for how in ("workers", "alone"):
        store = ModelStore(tmp_path / how, progress=False)
        train_set, test_set = load_datasets(store, progress=False)(tiny_data)
        plan = _two_packs(store, combine(train_set.fingerprint, test_set.fingerprint), tiny_data, tiny_ae, tiny_vae,
                          tiny_train)
        if how == "workers":
            runs = LocalExecutor(progress=False, workers=2, threads=1).run(plan)
            assert len({r.where for r in runs}) == 2
        else:
            path = plan.write(tmp_path / "plan.json")
            one = {k: "1" for k in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")}
            subprocess.run([sys.executable, "-c", ALONE_ONE_THREAD, str(path)], check=True, timeout=600,
                           env={**os.environ, **one})
        entries = ModelStore(store.root, progress=False).entries()
        assert [e.meta["cpu_threads"] for e in entries] == [1, 1]
        weights[how] = [_weights(e.load_model()) for e in entries]
    for a_model, b_model in zip(weights["workers"], weights["alone"], strict=True):
        for a, b in zip(a_model, b_model, strict=True):
            np.testing.assert_array_equal(a, b)
