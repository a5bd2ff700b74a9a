"""Session.models: requests in, trained models out in the same order, the missing ones in packs."""
import dataclasses

import pytest

from vaebench.claims.session import Session, Trained
from vaebench.config import SCALES, DataSpec
from vaebench.errors import SpecError


@pytest.fixture
def session(tmp_path, tiny_train):
    scale = dataclasses.replace(SCALES["smoke"], data=DataSpec(image_size=16, n_train=64, n_test=32),
                                train=tiny_train, n_analysis=64, pack=2)
    return Session(scale, tmp_path, progress=False)


@pytest.mark.slow
def test_models_train_in_packs_and_keep_the_order(session, tiny_ae, tiny_vae, tiny_train):
    mixed = dataclasses.replace(tiny_train, seed=1, precision="mixed_bfloat16")
    longer = dataclasses.replace(tiny_train, epochs=3)
    requests = [(tiny_vae, 0), (tiny_ae, 0), (tiny_ae, 1), (tiny_vae, 1, mixed), (tiny_ae, 0, longer), (tiny_vae, 0)]
    got = session.models(requests)
    assert [(t.entry.model_spec, t.entry.train.seed) for t in got] == [(r[0], r[1]) for r in requests]
    assert got[0] is got[5]                                  # one request, one model
    assert got[3].entry.train.precision == "mixed_bfloat16" and got[4].entry.train.epochs == 3
    # 4 models share their training settings: two packs of 2; the 3-epoch model trains alone
    assert sorted(t.entry.meta["pack"] for t in got[:5]) == [1, 2, 2, 2, 2]
    assert got[4].entry.meta["pack"] == 1
    trains = [k for k in session.timings if k.startswith("train ")]
    assert len(trains) == 3
    again = Session(session.scale, session.store, progress=False).models(requests)  # all from the store now
    assert [t.entry.name for t in again] == [t.entry.name for t in got]


def test_bad_request(session, tiny_ae):
    with pytest.raises(SpecError, match="must be \\(model_spec, seed\\)"):
        session.models([tiny_ae])


def test_pack_must_be_a_positive_integer(session, tiny_ae):
    with pytest.raises(SpecError, match="pack=0 must be an integer >= 1"):
        session.models([(tiny_ae, 0)], pack=0)


def _trainings(session):
    return [k for k in session.timings if k.startswith("train ")]


@pytest.mark.slow
def test_a_changed_image_retrains_an_unchanged_folder_does_not(tmp_path, tiny_train, tiny_ae):
    from celeba_layout import write_face

    folder = tmp_path / "faces"
    folder.mkdir()
    for i in range(40):
        write_face(folder / f"{i:03d}.jpg", i, size=(20, 24))
    scale = dataclasses.replace(SCALES["smoke"], data=DataSpec(source="folder", path=str(folder), image_size=16,
                                                                n_train=32, n_test=8),
                                train=tiny_train, n_analysis=32, pack=1)
    first = Session(scale, tmp_path / "store", progress=False)
    a = first.model(tiny_ae, 0)
    assert len(_trainings(first)) == 1 and a.entry.name.startswith("folder16-ae-z4-s0-")
    assert a.entry.key_parts["data_fingerprint"] == first.data_fingerprint()
    same = Session(scale, tmp_path / "store", progress=False)
    assert same.model(tiny_ae, 0).entry.path == a.entry.path and _trainings(same) == []
    write_face(folder / "007.jpg", 1000, size=(20, 24))       # one training image's content changes
    changed = Session(scale, tmp_path / "store", progress=False)
    b = changed.model(tiny_ae, 0)
    assert len(_trainings(changed)) == 1 and b.entry.path != a.entry.path
    assert b.entry.data == a.entry.data                        # the same spec: only the content differs
    notes = changed.environment()["data"]
    assert notes["source"] == "folder" and notes["path"] == str(folder)
    assert (notes["train_images"], notes["test_images"]) == (32, 8)
    assert notes["fingerprint"] == b.entry.key_parts["data_fingerprint"] != a.entry.key_parts["data_fingerprint"]


def test_environment_before_any_data_is_loaded(session):
    notes = session.environment()["data"]
    assert notes == {"source": "synthetic", "path": None, "image_size": 16, "n_train_asked": 64,
                     "n_test_asked": 32, "loaded": False}


@pytest.mark.slow
def test_plan_lists_each_model_once_with_whether_the_store_holds_it(session, tiny_ae, tiny_vae, tiny_train):
    planned = session.plan([(tiny_ae, 0), (tiny_vae, 0), (tiny_ae, 0)])
    assert [(m.model, m.train, m.stored) for m in planned] == [(tiny_ae, tiny_train, False),
                                                               (tiny_vae, tiny_train, False)]
    assert planned[0].name == session.store.entry_name(session.data_spec, tiny_ae, tiny_train,
                                                       fingerprint=session.data_fingerprint())
    assert session.store.entries() == [] and _trainings(session) == []          # planning trains nothing
    session.models([(tiny_ae, 0)])
    assert [m.stored for m in session.plan([(tiny_ae, 0), (tiny_vae, 0)])] == [True, False]


@pytest.mark.slow
def test_after_an_executor_trained_the_plan_the_session_only_loads(session, tiny_ae, tiny_vae):
    from vaebench.store.executors import LocalExecutor
    from vaebench.store.plan import Plan

    requests = [(tiny_ae, 0), (tiny_vae, 1)]
    plan = Plan.of(session.plan(requests), store=str(session.store.root), pack=2)
    (run,) = LocalExecutor(progress=False).run(plan)
    assert sorted(run.trained) == sorted(m.name for m in plan.models)
    warm = Session(session.scale, session.store.root, progress=False)
    assert [t.entry.name for t in warm.models(requests)] == [m.name for m in plan.models]
    assert _trainings(warm) == []


def _same_model(a, b):
    import numpy as np

    for wa, wb in zip(a.model.weights, b.model.weights):
        np.testing.assert_array_equal(np.asarray(wa), np.asarray(wb))
    for key in set(a.history) - {"seconds"}:
        np.testing.assert_array_equal(np.asarray(a.history[key]), np.asarray(b.history[key]), err_msg=key)
    assert set(a.history) == set(b.history)


@pytest.mark.slow
def test_at_epochs_loads_the_snapshots_and_resumes_a_longer_budget(tmp_path, session, tiny_vae, tiny_train,
                                                                   monkeypatch):
    monkeypatch.setenv("VAEBENCH_SNAPSHOTS", "1")
    three = dataclasses.replace(session.scale, train=dataclasses.replace(tiny_train, epochs=3))
    session = Session(three, session.store, progress=False)
    run = session.model(tiny_vae, 0)
    assert session.at_epochs(run, 3) is run
    one, two = session.at_epochs(run, 1), session.at_epochs(run, 2)
    assert len(_trainings(session)) == 1                                    # both were stored on the way
    assert [len(t.history["loss"]) for t in (one, two)] == [1, 2] and two.entry.meta["snapshot_of_epochs"] == 3
    assert two.history["loss"] == run.history["loss"][:2]
    five = session.at_epochs(run, 5)
    assert five.entry.meta["resumed_from_epochs"] == 3 and five.entry.train.epochs == 5
    # what the test ran is the 3-epoch model; the other budgets are what an equilibrium check read
    assert [t.epochs for _, _, t in session.served()] == [3]
    assert session.earlier_epochs() == [1, 2, 5] and session.earlier_epochs() == []
    assert five.history["loss"][:3] == run.history["loss"]
    monkeypatch.setenv("VAEBENCH_SNAPSHOTS", "0")      # the direct trainings: longest first, nothing to resume from
    direct = Session(three, tmp_path / "direct", progress=False)
    direct_five = direct.model(tiny_vae, 0, dataclasses.replace(tiny_train, epochs=5))
    direct_two = direct.model(tiny_vae, 0, dataclasses.replace(tiny_train, epochs=2))
    assert len(_trainings(direct)) == 2 and "resumed_from_epochs" not in direct_five.entry.meta
    _same_model(five, direct_five)
    _same_model(two, direct_two)


def test_at_epochs_checks_its_arguments(session, tiny_ae):
    with pytest.raises(SpecError, match="k=0 must be an integer >= 1"):
        session.at_epochs(Trained(entry=None, model=None), 0)
    with pytest.raises(SpecError, match="run=.* must be a run the session gave"):
        session.at_epochs(tiny_ae, 2)


def test_the_environment_records_the_budget(tmp_path, tiny_train):
    from vaebench.config import with_budget

    scale = with_budget(SCALES["smoke"], epochs=7, runs=4)
    env = Session(scale, tmp_path, progress=False, budget_from={"epochs_from": "--vaebench-epochs"}).environment()
    assert env["epochs"] == 7 and env["seeds"] == [0, 1, 2, 3]
    assert env["budget"] == {"epochs": 7, "runs_per_model": 4, "runs_per_arm": 4, "epochs_from": "--vaebench-epochs",
                             "runs_from": "scale"}
