import dataclasses

import pytest

from vaebench.config import (SCALES, DataSpec, ModelSpec, TrainSpec, get_scale, spec_from_dict, spec_hash,
                             spec_to_dict)
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
