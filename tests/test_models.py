"""Architecture, loss and parameter counts of the posts' AE/VAE."""
import numpy as np
import pytest
from keras import ops

from vaebench.config import ModelSpec
from vaebench.errors import SpecError
from vaebench.models import (
    VAE,
    build_decoder,
    build_encoder,
    build_model,
    decode,
    encode,
    kl_divergence,
    parameter_counts,
    reconstruction_loss,
)

POSTS = ModelSpec(kind="vae", batchnorm=False)  # the counts in post XII are of the plain layers


@pytest.mark.parametrize("changes, encoder, decoder", [
    (dict(z_dim=256), 5_107_520, 2_756_675),
    (dict(z_dim=256, dense=256), 2_879_552, 2_756_675),
    (dict(z_dim=256, dense=384), 4_124_864, 2_756_675),
    (dict(z_dim=512), 9_826_624, 5_115_971),
])
def test_parameter_counts_match_post_xii(changes, encoder, decoder):
    import dataclasses

    counts = parameter_counts(dataclasses.replace(POSTS, **changes), 96)
    assert counts["encoder"] == encoder
    assert counts["decoder"] == decoder


def test_mu_logvar_connections_dominate_at_512():
    """Post XII: for z_dim=512 more than 9.4 M of the encoder's 9.83 M are mu/logvar weights."""
    enc = build_encoder(ModelSpec(kind="vae", z_dim=512, batchnorm=False), 96)
    mu_logvar = sum(int(np.prod(w.shape)) for name in ("mu", "logvar") for w in enc.get_layer(name).weights)
    assert mu_logvar > 9_400_000


@pytest.mark.parametrize("size", [32, 64, 96])
@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_shapes(size, kind):
    spec = ModelSpec(kind=kind, z_dim=8, batchnorm=kind == "vae", fact=1e-5 if kind == "vae" else 0.0)
    enc, dec = build_encoder(spec, size), build_decoder(spec, size)
    assert enc.get_layer("flatten").output.shape[-1] == (size // 16) ** 2 * 256
    x = np.zeros((2, size, size, 3), np.float32)
    out = enc(x)
    z = out[0] if kind == "vae" else out
    assert tuple(z.shape) == (2, 8)
    assert tuple(dec(z).shape) == (2, size, size, 3)


def test_image_size_that_does_not_fit():
    with pytest.raises(SpecError, match="image_size=40 must be a positive multiple of 16"):
        build_encoder(ModelSpec(), 40)


def test_reconstruction_loss_counts_pixels_not_channels():
    """BCE is averaged over the 3 channels and summed over H*W: 0.49 per pixel at 96x96 -> 4515.8."""
    x = np.full((1, 96, 96, 3), 0.5, np.float32)
    p = np.full((1, 96, 96, 3), 0.5, np.float32)
    per_pixel = float(np.log(2.0))  # BCE(0.5, 0.5)
    value = float(ops.convert_to_numpy(reconstruction_loss(x, p))[0])
    assert value == pytest.approx(per_pixel * 96 * 96, rel=1e-5)
    assert 0.49 * 96 * 96 == pytest.approx(4515.8, abs=0.1)


def test_reconstruction_loss_hand_computed():
    x = np.array([[[[1.0, 0.0, 1.0]]]], np.float32)  # one pixel, three channels
    p = np.array([[[[0.9, 0.2, 0.5]]]], np.float32)
    expected = -(np.log(0.9) + np.log(0.8) + np.log(0.5)) / 3
    assert float(ops.convert_to_numpy(reconstruction_loss(x, p))[0]) == pytest.approx(expected, rel=1e-5)


def test_kl_hand_computed():
    mu = np.array([[1.0, 0.0]], np.float32)
    logvar = np.array([[0.0, np.log(4.0)]], np.float32)
    # per axis: 0.5*(mu^2 + var - 1 - logvar)
    expected = 0.5 * (1.0) + 0.5 * (4.0 - 1.0 - np.log(4.0))
    assert float(ops.convert_to_numpy(kl_divergence(mu, logvar))[0]) == pytest.approx(expected, rel=1e-5)
    assert float(ops.convert_to_numpy(kl_divergence(np.zeros((1, 5), np.float32),
                                                    np.zeros((1, 5), np.float32)))[0]) == 0.0


def test_eps_clip_bounds_z_and_counts_the_tail():
    spec = ModelSpec(kind="vae", z_dim=4, filters=(4, 8), fact=1.0, eps_clip=0.1)
    model = build_model(spec, 16, seed=0)
    mu = ops.zeros((1000, 4))
    logvar = ops.zeros((1000, 4))
    z, tail = model.sampler(mu, logvar)
    z = ops.convert_to_numpy(z)
    assert np.abs(z).max() <= 0.1 + 1e-6
    # P(|eps| > 0.1) = 0.92: the tail count is the number of clipped values
    assert 3400 < float(ops.convert_to_numpy(tail)) < 3950
    assert int(np.sum(np.isclose(np.abs(z), 0.1))) == int(float(ops.convert_to_numpy(tail)))


def test_encode_decode_round(tiny_vae, tiny_images):
    model = build_model(tiny_vae, 16, seed=0)
    assert isinstance(model, VAE)
    codes = encode(model, tiny_images, batch_size=10)
    assert set(codes) == {"mu", "logvar", "z"}
    assert codes["mu"].shape == (64, 4)
    images = decode(model, codes["z"], batch_size=7)
    assert images.shape == (64, 16, 16, 3) and images.min() >= 0 and images.max() <= 1
    with pytest.raises(SpecError, match="does not fit a decoder"):
        decode(model, np.zeros((3, 5)))


def test_uint8_and_float_inputs_agree(tiny_ae, tiny_images):
    model = build_model(tiny_ae, 16, seed=0)
    a = encode(model, tiny_images)["z"]
    b = encode(model, tiny_images.astype(np.float32) / 255.0)["z"]
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_mixed_precision_keeps_weights_and_heads_in_float32():
    """Mixed bfloat16 computes the hidden layers in bfloat16; the weights (so the parameter
    counts and the saved files) and the heads that feed the loss stay float32."""
    spec = ModelSpec(kind="vae", z_dim=8, filters=(4, 8))
    f32, bf16 = build_model(spec, 16), build_model(spec, 16, precision="mixed_bfloat16")
    assert [tuple(w.shape) for w in f32.weights] == [tuple(w.shape) for w in bf16.weights]
    assert all(w.dtype == "float32" for w in bf16.trainable_weights)
    assert bf16.encoder.get_layer("conv1").compute_dtype == "bfloat16"
    for layer in (bf16.encoder.get_layer("mu"), bf16.encoder.get_layer("logvar"), bf16.decoder.get_layer("deconv1")):
        assert layer.compute_dtype == "float32"
    with pytest.raises(SpecError, match="precision='float16' is not a training precision"):
        build_model(spec, 16, precision="float16")
