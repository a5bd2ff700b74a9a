"""Executors: the store's protocol per pack, the local executor, `vaebench train --plan`, Ray's absence."""
import dataclasses
import sys
import threading
import time

import numpy as np
import pytest

from vaebench.data.fingerprint import combine
from vaebench.errors import SpecError, TrainingError
from vaebench.store.executors import LocalExecutor, import_ray, load_datasets, train_pack
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
