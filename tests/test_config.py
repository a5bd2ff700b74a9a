import dataclasses
import math
import re

import pytest

from vaebench.config import (
    SCALES,
    DataSpec,
    ModelSpec,
    TrainSpec,
    get_scale,
    recorded_model_spec,
    spec_from_dict,
    spec_hash,
    spec_to_dict,
)
from vaebench.errors import SpecError


def test_image_size_must_be_divisible_by_16():
    with pytest.raises(SpecError, match="image_size=100 must be divisible by 16"):
        DataSpec(image_size=100)


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="gan"), "kind='gan'"),
    (dict(z_dim=0), "z_dim=0"),
    (dict(fact=-1.0), "fact=-1.0"),
    (dict(eps_clip=0.0), "eps_clip=0.0"),
    (dict(kind="ae", fact=0.0, eps_clip=5.0), "an AE has no KL term"),
    (dict(filters=()), "filters=()"),
])
def test_model_spec_errors_name_the_value(kwargs, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ModelSpec(**kwargs)


@pytest.mark.parametrize("name", ["MLP", "my net", "-mlp", "mlp-", "my--net", "9net", "", "a" * 41, 3])
def test_architecture_names_are_checked(name):
    with pytest.raises(SpecError, match=rf"architecture={re.escape(repr(name))} is not an architecture name: use lower "
                                        "case letters"):
        ModelSpec(architecture=name)


def test_architecture_is_part_of_the_spec_and_its_hash():
    assert ModelSpec().architecture == "posts-conv"
    mine = ModelSpec(architecture="my_mlp-2")
    assert spec_from_dict(ModelSpec, spec_to_dict(mine)) == mine
    assert spec_hash(mine) != spec_hash(ModelSpec())
    assert spec_from_dict(ModelSpec, {"z_dim": 8}).architecture == "posts-conv"   # a spec.json without the field


def test_train_spec_errors():
    with pytest.raises(SpecError, match="batch_size=0"):
        TrainSpec(batch_size=0)
    with pytest.raises(SpecError, match="learning_rate=-0.1"):
        TrainSpec(learning_rate=-0.1)


def test_non_synthetic_sources_need_a_path():
    with pytest.raises(SpecError, match="needs path="):
        DataSpec(source="celeba")


def test_hash_is_stable_and_sensitive():
    a, b = ModelSpec(), ModelSpec(fact=1e-4)
    assert spec_hash(a) == spec_hash(ModelSpec())
    assert spec_hash(a) != spec_hash(b)
    assert spec_hash(a, "keras-3.0") != spec_hash(a, "keras-3.1")
    assert len(spec_hash(a)) == 16


@pytest.mark.parametrize("spec", [DataSpec(), ModelSpec(dense=256, eps_clip=5.0), TrainSpec(seed=3)])
def test_round_trip(spec):
    assert spec_from_dict(type(spec), spec_to_dict(spec)) == spec


def test_unknown_field_is_an_error():
    with pytest.raises(SpecError, match="unknown fields"):
        spec_from_dict(TrainSpec, {"epochs": 1, "momentum": 0.9})


def test_full_scale_is_the_posts_experiment():
    full = SCALES["full"]
    assert (full.data.image_size, full.data.n_train) == (96, 170_000)
    assert (full.z_dim, full.train.epochs, full.train.batch_size, full.train.learning_rate) == (256, 24, 128, 5e-4)
    ae, vae = full.ae(), full.vae()
    assert ae.filters == vae.filters == (32, 64, 128, 256)
    assert not ae.batchnorm and vae.batchnorm and vae.fact == 1e-5


def test_get_scale(monkeypatch):
    assert get_scale("smoke").name == "smoke"
    monkeypatch.setenv("VAEBENCH_SCALE", "cpu")
    assert get_scale().name == "cpu"
    with pytest.raises(SpecError, match="scale='huge'"):
        get_scale("huge")


def test_auto_scale_picks_cpu_without_gpu(monkeypatch):
    import vaebench.backend as backend

    monkeypatch.setattr(backend, "accelerator_visible", lambda: False)
    assert get_scale("auto").name == "cpu"
    monkeypatch.setattr(backend, "accelerator_visible", lambda: True)
    assert get_scale("auto").name == "full"


def test_specs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        ModelSpec().z_dim = 3


def test_precision_and_pack_are_checked():
    from vaebench.config import SCALES, Scale, TrainSpec
    from vaebench.errors import SpecError

    assert TrainSpec(precision="mixed_bfloat16").precision == "mixed_bfloat16"
    with pytest.raises(SpecError, match="precision='mixed_float16' is not a training precision"):
        TrainSpec(precision="mixed_float16")
    with pytest.raises(SpecError, match="pack=0 must be a positive integer"):
        Scale(name="x", data=SCALES["smoke"].data, train=SCALES["smoke"].train, pack=0)
    # what a pack shares: all but the seed and the precision
    assert TrainSpec(seed=3, precision="mixed_bfloat16").pack_key() == TrainSpec(seed=0).pack_key()
    assert TrainSpec(epochs=3).pack_key() != TrainSpec(epochs=4).pack_key()


def test_data_choice_from_the_command_line_or_the_environment(monkeypatch, tmp_path):
    from vaebench.config import parse_data

    monkeypatch.delenv("VAEBENCH_DATA", raising=False)
    assert parse_data(None) == ("synthetic", None)
    assert parse_data("synthetic") == ("synthetic", None)
    assert parse_data(f"celeba:{tmp_path}") == ("celeba", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert parse_data("folder:imgs") == ("folder", str(tmp_path / "imgs"))    # made absolute
    monkeypatch.setenv("VAEBENCH_DATA", "celeba:/data/celeba")
    assert parse_data(None) == ("celeba", "/data/celeba")
    assert parse_data("synthetic") == ("synthetic", None)                     # the option wins
    for bad, message in [("celebA:/x", None), ("imagenet:/x", "'imagenet:/x' is not a data source"),
                         ("celeba", "'celeba' names no folder; use celeba:/path"),
                         ("folder:", "names no folder"), ("synthetic:/x", "reads no folder")]:
        if message is None:
            assert parse_data(bad) == ("celeba", "/x")                       # the source is case-blind
            continue
        with pytest.raises(SpecError, match=message.replace("(", r"\(")):
            parse_data(bad)


def test_every_scale_applies_to_every_source(tmp_path):
    from vaebench.config import with_data

    for scale in SCALES.values():
        picked = with_data(scale, f"celeba:{tmp_path}")
        assert picked.data == dataclasses.replace(scale.data, source="celeba", path=str(tmp_path))
        assert (picked.train, picked.seeds, picked.z_dim) == (scale.train, scale.seeds, scale.z_dim)
        assert with_data(scale, "synthetic") is scale


def test_counts_name_the_value():
    from vaebench.config import check_count, check_image_size

    assert check_count("n", 0) == 0 and check_count("n", 3, allow_zero=False) == 3
    with pytest.raises(SpecError, match="--pack=0 must be an integer >= 1"):
        check_count("--pack", 0, allow_zero=False)
    with pytest.raises(SpecError, match="n=1.5"):
        check_count("n", 1.5)
    with pytest.raises(SpecError, match="image_size=40 must be divisible by 16"):
        check_image_size(40)


def test_a_non_finite_fact_is_an_error():
    for bad in (float("inf"), float("nan"), -float("inf")):
        with pytest.raises(SpecError, match=f"fact={bad} must be a finite number >= 0"):
            ModelSpec(kind="vae", fact=bad)


@pytest.mark.parametrize("clip", [math.inf, -math.inf, math.nan, 0, -1.0])
def test_an_infinite_or_non_positive_eps_clip_is_refused(clip):
    """issue 23 item 9: eps_clip=inf trained the unclipped model again under another key."""
    with pytest.raises(SpecError, match=f"eps_clip={clip} must be a finite number > 0 or None"):
        ModelSpec(kind="vae", eps_clip=clip)
    assert ModelSpec(kind="vae", eps_clip=3.0).eps_clip == 3.0


@pytest.mark.parametrize("seed", [2**32, 2**63, -1])
def test_a_training_seed_outside_32_bits_is_refused_at_the_spec(seed):
    with pytest.raises(SpecError, match=rf"seed={seed} must be an int in \[0, 2\*\*32\)"):
        TrainSpec(seed=seed)
    assert TrainSpec(seed=2**32 - 1).seed == 2**32 - 1


@pytest.mark.parametrize("rate", [math.inf, math.nan, 0.0])
def test_learning_rate_must_be_finite_and_positive(rate):
    with pytest.raises(SpecError, match=f"learning_rate={rate} must be a finite number > 0"):
        TrainSpec(learning_rate=rate)


def test_a_users_spec_is_recorded_without_the_posts_stack_fields():
    from vaebench.config import model_spec_from_record

    mine = ModelSpec(kind="ae", z_dim=8, fact=0.0, batchnorm=False, architecture="mlp")
    recorded = recorded_model_spec(mine)
    assert not {"filters", "kernel", "stride", "batchnorm", "dense", "activation"} & set(recorded)
    assert recorded["not_applicable"] == {"batchnorm": False}             # set apart, not as if it applied
    assert model_spec_from_record(recorded) == mine                        # the spec (and its key) unchanged
    assert "not_applicable" not in recorded_model_spec(ModelSpec(architecture="mlp"))
    assert recorded_model_spec(ModelSpec()) == spec_to_dict(ModelSpec())  # the posts' stack: every field
    assert model_spec_from_record(spec_to_dict(ModelSpec())) == ModelSpec()


def test_label_parts_name_a_model_the_same_in_labels_and_store_entries():
    from vaebench.store.modelstore import architecture
    from vaebench.train.records import describe

    vae = ModelSpec(kind="vae", z_dim=16, fact=1e-5, eps_clip=5.0, dense=64)
    assert vae.label_parts() == [("z", "16"), ("fact", "1e-05"), ("clip", "5"), ("dense", "64")]
    assert architecture(vae) == "vae-z16-f1e-05-c5-d64"
    assert describe(vae, TrainSpec(seed=3)) == "vae z=16 fact=1e-05 clip=5 dense=64 seed=3"
    ae = ModelSpec(kind="ae", z_dim=8, fact=0.0, batchnorm=False)
    assert ae.label_parts() == [("z", "8")] and architecture(ae) == "ae-z8"


def test_a_budget_replaces_the_epochs_and_the_runs_of_a_scale():
    from vaebench.config import budget, with_budget

    cpu = SCALES["cpu"]
    assert with_budget(cpu) == cpu
    longer = with_budget(cpu, epochs=48)
    assert longer.train == dataclasses.replace(cpu.train, epochs=48) and longer.seeds == cpu.seeds
    more = with_budget(SCALES["full"], runs="6")
    assert more.seeds == (0, 1, 2, 3, 4, 5) and more.runaway_runs == 6 and more.train == SCALES["full"].train
    assert budget(longer, epochs_from="--epochs") == {"epochs": 48, "runs_per_model": 3, "runs_per_arm": 3,
                                                      "epochs_from": "--epochs", "runs_from": "scale"}


@pytest.mark.parametrize("value", [0, -3, "x", "2.5", True, 1.0])
def test_a_budget_must_be_a_whole_number_from_one(value):
    from vaebench.config import check_budget

    with pytest.raises(SpecError, match=f"--epochs={re.escape(repr(value))} must be a whole number >= 1"):
        check_budget("--epochs", value)
