"""The architecture registry: the posts' default, a user's pair by name or entry point,
the builders' contract, the fingerprint of their code and the errors."""
import warnings
from importlib.metadata import EntryPoint

import numpy as np
import pytest
from user_code import TINY_BUILDERS, load_module

from vaebench.config import ModelSpec
from vaebench.errors import SpecError
from vaebench.models import AE, VAE, build_decoder, build_encoder, build_model, decode, encode, parameter_counts
from vaebench.models import registry as A


@pytest.fixture
def registry(monkeypatch):
    """The registry as it is, restored after the test."""
    monkeypatch.setattr(A, "_REGISTRY", dict(A._REGISTRY))


@pytest.fixture
def tiny(tmp_path, registry):
    """The tiny builders registered as ``tiny``."""
    module = load_module(tmp_path, "tiny_builders", TINY_BUILDERS)
    return A.register_architecture("tiny", encoder=module.encoder, decoder=module.decoder)


def spec(kind="ae", **changes):
    return ModelSpec(kind=kind, z_dim=4, fact=1e-2 if kind == "vae" else 0.0, architecture="tiny", **changes)


def test_the_posts_architecture_is_the_default():
    posts = A.get_architecture("posts-conv")
    assert (posts.encoder, posts.decoder) == (build_encoder, build_decoder)
    assert "posts-conv" in A.names() and ModelSpec().architecture == "posts-conv"
    assert len(posts.fingerprint) == 16 and posts.origin.endswith("posts_conv.py")


@pytest.mark.parametrize("kind, model_class", [("ae", AE), ("vae", VAE)])
def test_build_model_builds_the_registered_pair(tiny, kind, model_class, tiny_images):
    model = build_model(spec(kind), 16, seed=0)
    assert type(model) is model_class
    codes = encode(model, tiny_images[:5])
    assert codes["z"].shape == (5, 4)
    assert decode(model, codes["z"]).shape == (5, 16, 16, 3)


def test_parameter_counts_use_the_registered_pair(tiny):
    # encoder: 768 -> 8 -> 4 = 768*8+8 + 8*4+4; decoder: 4 -> 768 = 4*768+768
    assert parameter_counts(spec(), 16) == {"encoder": 6188, "decoder": 3840, "encoder_trainable": 6188,
                                            "decoder_trainable": 3840}


def test_an_unknown_name_lists_the_registered_ones(tiny, tiny_data, tiny_train):
    from vaebench.store.modelstore import ModelStore

    message = (r"architecture='nosuch' is not registered; registered: 'posts-conv', 'tiny'\. Register it with "
               r"vaebench\.models\.register_architecture\('nosuch', encoder=\.\.\., decoder=\.\.\.\) in a conftest\.py")
    with pytest.raises(SpecError, match=message):
        build_model(ModelSpec(architecture="nosuch"), 32)
    with pytest.raises(SpecError, match=message):
        ModelStore.key(tiny_data, ModelSpec(architecture="nosuch"), tiny_train, fingerprint="0" * 32)


BROKEN = {
    "not a model": ("    return keras.Model(images, codes)", "    return 'a model'",
                    r"encoder\(spec, 16, precision\) returned str, not a keras\.Model; return keras\.Model\(inputs"),
    "wrong z size": ("codes = layers.Dense(spec.z_dim, dtype", "codes = layers.Dense(spec.z_dim + 1, dtype",
                     r"for kind='ae', z_dim=4 the encoder must map images \(1, 16, 16, 3\) to one z \(1, 4\) float32; "
                     r"it gives \(1, 5\) float32"),
    "bfloat16 z": ('codes = layers.Dense(spec.z_dim, dtype="float32")',
                   'codes = layers.Dense(spec.z_dim, dtype="bfloat16")',
                   r"for kind='ae', z_dim=4 the encoder must map .* to one z \(1, 4\) float32; "
                   r"it gives \(1, 4\) bfloat16"),
    "wrong image": ("layers.Reshape((image_size, image_size, 3))",
                    "layers.Reshape((image_size * 4, image_size // 4, 3))",
                    r"the decoder must map z \(1, 4\) to images \(1, 16, 16, 3\) float32; "
                    r"it gives \(1, 64, 4, 3\) float32"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_builders_that_break_the_contract_are_errors(tmp_path, registry, case):
    old, new, message = BROKEN[case]
    assert old in TINY_BUILDERS
    module = load_module(tmp_path, "broken", TINY_BUILDERS.replace(old, new))
    A.register_architecture("broken", encoder=module.encoder, decoder=module.decoder)
    with pytest.raises(SpecError, match="architecture 'broken': " + message):
        build_model(ModelSpec(kind="ae", z_dim=4, fact=0.0, architecture="broken"), 16)


def test_a_vae_encoder_must_give_mu_and_logvar(tiny):
    A.register_architecture("ae-only", encoder=ae_encoder_for_any_kind, decoder=A.get_architecture("tiny").decoder)
    with pytest.raises(SpecError, match=r"architecture 'ae-only': for kind='vae', z_dim=4 the encoder must map images "
                                        r"\(1, 16, 16, 3\) to \[mu, logvar\], each \(1, 4\) float32; it gives "
                                        r"\(1, 4\) float32"):
        build_model(ModelSpec(kind="vae", z_dim=4, architecture="ae-only"), 16)


def ae_encoder_for_any_kind(spec, image_size, precision="float32"):
    """An encoder that gives one z whatever the kind."""
    return A.get_architecture("tiny").encoder(ModelSpec(kind="ae", z_dim=spec.z_dim, fact=0.0), image_size, precision)


def test_registering_checks_the_name_and_the_builders(registry):
    with pytest.raises(SpecError, match="architecture='My MLP' is not an architecture name"):
        A.register_architecture("My MLP", encoder=build_encoder, decoder=build_decoder)
    with pytest.raises(SpecError, match=r"architecture 'mlp': decoder=3 is not callable; pass a function "
                                        r"decoder\(spec, image_size, precision\)"):
        A.register_architecture("mlp", encoder=build_encoder, decoder=3)
    with pytest.raises(SpecError, match=r"architecture 'mlp': encoder=<function .*<lambda> at .* must be a "
                                        r"function \(or class\) defined at the top level of a module"):
        A.register_architecture("mlp", encoder=lambda spec, size, precision: None, decoder=build_decoder)


def test_the_fingerprint_covers_the_builders_their_module_and_code(tmp_path, registry):
    base = A.register_architecture("a", **_pair(load_module(tmp_path, "fp0", TINY_BUILDERS))).fingerprint
    reworded = TINY_BUILDERS.replace('"""Flatten -> Dense(HIDDEN) -> the codes."""', '"""The encoder."""')
    assert A.register_architecture("b", **_pair(load_module(tmp_path, "fp1", reworded))).fingerprint == base
    wider = TINY_BUILDERS.replace("HIDDEN = 8", "HIDDEN = 16")
    assert A.register_architecture("c", **_pair(load_module(tmp_path, "fp2", wider))).fingerprint != base
    helper = load_module(tmp_path, "fp_helper", "SCALE = 2\n")
    with_code = A.register_architecture("d", **_pair(load_module(tmp_path, "fp3", TINY_BUILDERS)), code=helper)
    assert with_code.fingerprint != base and with_code.code == (helper,)
    assert A.fingerprint("a") == base


def _pair(module):
    return {"encoder": module.encoder, "decoder": module.decoder}


def test_registering_again(tmp_path, registry):
    first = A.register_architecture("mlp", **_pair(load_module(tmp_path, "again0", TINY_BUILDERS)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # the same code again (a conftest imported twice): silent
        A.register_architecture("mlp", **_pair(load_module(tmp_path, "again1", TINY_BUILDERS)))
    other = load_module(tmp_path, "again2", TINY_BUILDERS.replace("HIDDEN = 8", "HIDDEN = 9"))
    with pytest.warns(RuntimeWarning, match=r"architecture 'mlp' registered again with other code \(from .*again2\.py; "
                                            r"it was from .*again1\.py\): the new one is used"):
        A.register_architecture("mlp", **_pair(other))
    assert A.get_architecture("mlp").fingerprint not in ("", first.fingerprint)
    A.register_architecture("posts-conv", encoder=build_encoder, decoder=build_decoder)    # the same: fine
    with pytest.raises(SpecError, match="architecture 'posts-conv' is vaebench's own .* register yours under another "
                                        "name"):
        A.register_architecture("posts-conv", **_pair(other))
    assert A.get_architecture("posts-conv").encoder is build_encoder


@pytest.fixture
def entry_points(monkeypatch, tmp_path, registry):
    """Entry points of the group ``vaebench.architectures`` that the test declares."""
    declared = []
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(A, "entry_points", lambda group: [ep for ep in declared if ep.group == group])

    def declare(name, value):
        declared.append(EntryPoint(name=name, value=value, group=A.GROUP))
    return declare


def test_an_entry_point_registers_its_architecture_when_asked_for(tmp_path, entry_points):
    (tmp_path / "ep_mlp.py").write_text(TINY_BUILDERS)
    entry_points("ep-mlp", "ep_mlp")
    assert "ep-mlp" in A.names() and "ep-mlp" not in A._REGISTRY            # listed, not loaded yet
    model = build_model(ModelSpec(kind="ae", z_dim=4, fact=0.0, architecture="ep-mlp"), 16)
    assert model.encoder.count_params() == 6188
    arch = A.get_architecture("ep-mlp")
    assert arch.origin == str(tmp_path / "ep_mlp.py") and len(arch.fingerprint) == 16


def test_entry_points_that_do_not_give_builders_are_errors(entry_points):
    entry_points("missing", "no_such_module_for_vaebench")
    entry_points("empty", "json")
    with pytest.raises(SpecError, match=r"the entry point missing = 'no_such_module_for_vaebench' of the group "
                                        r"'vaebench.architectures' does not load \(ModuleNotFoundError: .*fix or "
                                        "uninstall the package"):
        A.get_architecture("missing")
    with pytest.raises(SpecError, match=r"the entry point empty = 'json' .* loads <module 'json'.*which has no "
                                        r"callable encoder and decoder; point it at a module that defines "
                                        r"encoder\(spec"):
        A.get_architecture("empty")


def test_check_contract_on_the_posts_builders():
    posts = ModelSpec(kind="vae", z_dim=4, filters=(4, 8))
    A.check_contract("posts-conv", posts, 16, build_encoder(posts, 16), build_decoder(posts, 16))
    with pytest.raises(SpecError, match=r"returned ndarray, not a keras\.Model"):
        A.check_contract("posts-conv", posts, 16, np.zeros(3), build_decoder(posts, 16))


def test_check_architecture_passes_a_sigmoid_decoder(tiny):
    from vaebench.models import check_architecture

    check_architecture("tiny")                                   # a VAE and an AE of z_dim 8
    check_architecture("tiny", spec("vae"), image_size=16)


def test_a_decoder_without_sigmoid_fails_the_architecture_check(tmp_path, registry):
    from vaebench.models import check_architecture

    linear = TINY_BUILDERS.replace('activation="sigmoid", ', "")
    assert linear != TINY_BUILDERS
    module = load_module(tmp_path, "linear_builders", linear)
    A.register_architecture("linear", encoder=module.encoder, decoder=module.decoder)
    with pytest.raises(SpecError, match=r"architecture 'linear': the decoder must give images in \[0, 1\].*"
                                        r"End the decoder with a sigmoid"):
        check_architecture("linear")
