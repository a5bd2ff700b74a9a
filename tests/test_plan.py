"""The plan: planned models, packs, JSON that reads back or says what is wrong, plan mode of the plugin."""
import dataclasses
import json

import pytest

from vaebench.config import DataSpec, ModelSpec, TrainSpec
from vaebench.errors import SpecError
from vaebench.store.modelstore import ModelStore
from vaebench.store.plan import VERSION, Plan, PlannedModel, planned

FP = "0" * 32


def _model(kind="ae", seed=0, epochs=2, name=None, stored=False, **changes):
    data = DataSpec(image_size=16, n_train=64, n_test=16)
    spec = ModelSpec(kind=kind, z_dim=4, filters=(4, 8), batchnorm=kind == "vae", fact=1e-2 if kind == "vae" else 0.0,
                     **changes)
    train = TrainSpec(epochs=epochs, batch_size=16, probe_size=16, seed=seed)
    return PlannedModel(data, spec, train, FP, name or f"{kind}-s{seed}-e{epochs}", stored)


def test_packs_group_what_can_train_together_in_plan_order():
    models = (_model("vae", 0), _model("ae", 0, stored=True), _model("ae", 1), _model("ae", 0, epochs=3),
              _model("vae", 1), _model("vae", 2))
    plan = Plan(models, pack=2)
    assert [m.name for m in plan.missing()] == ["vae-s0-e2", "ae-s1-e2", "ae-s0-e3", "vae-s1-e2", "vae-s2-e2"]
    assert [[m.name for m in p] for p in plan.packs()] == [["vae-s0-e2", "ae-s1-e2"], ["vae-s1-e2", "vae-s2-e2"],
                                                           ["ae-s0-e3"]]
    assert plan.summary() == "6 models, 1 in the store, 5 to train in 3 packs of up to 2"
    assert [len(p) for p in dataclasses.replace(plan, pack=1).packs()] == [1, 1, 1, 1, 1]


def test_repeats_merge_and_a_name_of_two_models_is_refused():
    plan = Plan.of([_model("ae", 0), _model("vae", 0), _model("ae", 0, stored=True)])
    assert [(m.name, m.stored) for m in plan.models] == [("ae-s0-e2", True), ("vae-s0-e2", False)]
    with pytest.raises(SpecError, match="names two different models ae-s0-e2"):
        Plan((_model("ae", 0), _model("ae", 0, dense=8)))
    with pytest.raises(SpecError, match="pack=0 must be an integer >= 1"):
        Plan((), pack=0)


def test_json_reads_back_the_same_plan(tmp_path):
    plan = Plan((_model("vae", 0, eps_clip=3.0), _model("ae", 1, stored=True)), store="/shared/store", pack=2,
                scale="smoke")
    path = plan.write(tmp_path / "sub" / "plan.json")
    data = json.loads(path.read_text())
    assert data["vaebench_plan"] == VERSION and data["packs"] == [["vae-s0-e2"]]
    again = Plan.read(path)
    assert again == plan and again.models[0].model.filters == (4, 8) and again.models[1].stored
    assert not list(path.parent.glob(".plan.json*"))             # no temporary left behind


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("vaebench_plan"), "is not a vaebench plan"),
    (lambda d: d.update(vaebench_plan=99), "has plan version 99; this vaebench reads version 1"),
    (lambda d: d.update(models={}), "'models' must be a list of planned models, not dict"),
    (lambda d: d.update(pack=0), "pack=0 must be an integer >= 1"),
    (lambda d: d["models"][0].pop("train"), r"models\[0\] has no train"),
    (lambda d: d["models"][0]["data"].update(image_size=100), r"models\[0\].data \(ae-s0-e2\): image_size=100 must be "
                                                              "divisible by 16"),
    (lambda d: d["models"][0]["model"].update(colour="red"), r"models\[0\].model \(ae-s0-e2\): unknown fields "
                                                             r"\['colour'\]"),
    (lambda d: d["models"][0].update(stored="yes"), r"models\[0\].stored='yes' must be true or false"),
    (lambda d: d["models"][0].update(name=""), r"models\[0\].name='' must be a non-empty string"),
])
def test_a_damaged_plan_says_what_is_wrong(tmp_path, edit, message):
    data = Plan((_model("ae", 0),)).to_dict()
    edit(data)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SpecError, match=message):
        Plan.read(path)


def test_a_plan_that_is_no_json_or_absent(tmp_path):
    (tmp_path / "plan.json").write_text("{not json")
    with pytest.raises(SpecError, match="is not readable JSON"):
        Plan.read(tmp_path / "plan.json")
    with pytest.raises(SpecError, match="does not exist; write it first with pytest hypotheses --vaebench-plan"):
        Plan.read(tmp_path / "nothing.json")


def test_with_store_looks_the_models_up_again_and_refuses_names_of_other_code(tmp_path):
    from vaebench.models import build_model

    store = ModelStore(tmp_path, progress=False)
    a, b = _model("ae", 0), _model("ae", 1)
    a, b = (planned(store, m.data, m.model, m.train, FP) for m in (a, b))
    assert not a.stored and not b.stored
    store.put(a.data, a.model, a.train, build_model(a.model, 16, seed=0), {"loss": [1.0]}, fingerprint=FP)
    plan = Plan((a, b)).with_store(store)
    assert [m.stored for m in plan.models] == [True, False] and plan.store == str(store.root)
    assert planned(store, a.data, a.model, a.train, FP).stored
    other_code = dict(b.key, code_fingerprint="0123456789abcdef")
    stale = Plan((dataclasses.replace(b, name="synthetic16-ae-z4-s1-0123456789abcdef", key=other_code),))
    with pytest.raises(SpecError, match="keys that model as synthetic16-ae-z4-s1-.*the plan was made by other code "
                       r"\(code_fingerprint: planned '0123456789abcdef', here '[0-9a-f]{16}'\)"):
        stale.with_store(store)
    unknown = Plan((dataclasses.replace(b, name="synthetic16-ae-z4-s1-0123456789abcdef", key=None),))
    with pytest.raises(SpecError, match="made by other code .* or its specs were edited after it was made"):
        unknown.with_store(store)


def test_a_plan_whose_specs_were_edited_says_so_not_other_code(tmp_path):
    """issue 23 item 9: an edited data.path was reported as "made by other code"."""
    store = ModelStore(tmp_path / "store", progress=False)
    data = DataSpec(source="folder", path=str(tmp_path / "faces"), image_size=16, n_train=8, n_test=2)
    m = _model("ae", 0)
    path = Plan((planned(store, data, m.model, m.train, FP),)).write(tmp_path / "plan.json")
    plan = json.loads(path.read_text())
    plan["models"][0]["data"]["path"] = str(tmp_path / "other-faces")
    path.write_text(json.dumps(plan))
    with pytest.raises(SpecError, match="its data, model or train spec was edited after the plan was made "
                       r"\(e.g. data.path"):
        Plan.read(path).with_store(store)
    plan["models"][0]["train"]["learning_rate"] = float("inf")
    path.write_text(json.dumps(plan))                          # JSON's Infinity
    with pytest.raises(SpecError, match=r"models\[0\].train \(folder16-ae-z4-s0-[0-9a-f]{16}\): "
                       "learning_rate=inf must be a finite number > 0"):
        Plan.read(path)


TOY = '''
from vaebench.claims.record import Claim
from vaebench.stats import SubClaim

CLAIM = Claim(id="P1", title="plans", quote="q", source="s", subclaims=(SubClaim("P1a", "a", "a"),))


def test_two_models(claim, trained, scale):
    trained.many([(scale.vae(), 0), (scale.ae(), 1), (scale.vae(), 0)])
    raise AssertionError("plan mode trains nothing and skips here")


def test_one_more(claim, trained, scale):
    trained(scale.ae(), 1)
    trained(scale.ae(), 2)


def test_no_models():
    pass
'''


def test_plan_mode_records_every_request_and_skips_its_test(pytester, tmp_path):
    pytester.makepyfile(test_toy=TOY)
    store = tmp_path / "store"
    result = pytester.runpytest("--vaebench-scale", "smoke", "--vaebench-store", str(store), "--vaebench-plan",
                                "plan.json", "--vaebench-report", "reports", "-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*vaebench plan: 2 models, 0 in the store, 2 to train in 1 packs of up to 2 -> "
                                 f"{pytester.path / 'plan.json'}",
                                 "*planned: 2 models (0 in the store); --vaebench-plan trains nothing*",
                                 "*planned: 1 models (0 in the store)*"])
    plan = Plan.read(pytester.path / "plan.json")
    assert [(m.model.kind, m.train.seed) for m in plan.models] == [("vae", 0), ("ae", 1)]
    assert plan.store == str(store) and plan.pack == 2 and plan.scale == "smoke"
    assert not (pytester.path / "reports").exists()              # a planning run writes no report
    assert not list((store / "models").iterdir())                # and trains nothing


def test_a_plan_onto_a_full_disk_is_one_plan_error_and_no_temporary(tmp_path, monkeypatch):
    import errno
    import os

    from vaebench.store import plan as P

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(P.os, "replace", full)
    with pytest.raises(SpecError, match=r"cannot write the plan to .*plan.json': no space left on device \(free some, "
                       r"or write elsewhere\); pass a writable path to --vaebench-plan"):
        Plan((_model("ae", 0),)).write(tmp_path / "plan.json")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_plan_says_which_models_resume_from_a_shorter_training(tmp_path, tiny_data, tiny_ae, tiny_train,
                                                                  tiny_images):
    from vaebench.train import train

    store = ModelStore(tmp_path / "store", progress=False)
    with store.claim(tiny_data, tiny_ae, tiny_train, fingerprint="0" * 32) as claim:     # 2 epochs, stored
        claim.put(train(tiny_data, tiny_ae, tiny_train, tiny_images, progress=False))
    longer = planned(store, tiny_data, tiny_ae, dataclasses.replace(tiny_train, epochs=5), "0" * 32)
    other = planned(store, tiny_data, tiny_ae, dataclasses.replace(tiny_train, epochs=5, seed=1), "0" * 32)
    assert (longer.resumes_from, other.resumes_from) == (2, None)
    plan = Plan.of([longer, other], store=str(store.root), pack=1)
    assert plan.summary().endswith("(1 resume from shorter trainings in the store)")
    again = Plan.read(plan.write(tmp_path / "plan.json"))
    assert [m.resumes_from for m in again.models] == [2, None]
