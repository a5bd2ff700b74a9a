import math

import numpy as np
import pytest

from vaebench.errors import TrainingError
from vaebench.training import train


def _weights(model):
    return [w.numpy() for w in model.weights]


def test_same_seed_same_weights(tiny_data, tiny_vae, tiny_train, tiny_images):
    a = train(tiny_data, tiny_vae, tiny_train, tiny_images, progress=False)
    b = train(tiny_data, tiny_vae, tiny_train, tiny_images, progress=False)
    for wa, wb in zip(_weights(a.model), _weights(b.model)):
        np.testing.assert_array_equal(wa, wb)
    assert a.history["loss"] == b.history["loss"]


def test_other_seed_other_weights(tiny_data, tiny_vae, tiny_train, tiny_images):
    import dataclasses

    a = train(tiny_data, tiny_vae, tiny_train, tiny_images, progress=False)
    b = train(tiny_data, tiny_vae, dataclasses.replace(tiny_train, seed=1), tiny_images, progress=False)
    assert any(not np.array_equal(x, y) for x, y in zip(_weights(a.model), _weights(b.model)))


def test_history_has_the_named_loss_terms(tiny_data, tiny_vae, tiny_train, tiny_images):
    result = train(tiny_data, tiny_vae, tiny_train, tiny_images, progress=False)
    h = result.history
    for key in ("loss", "reconstruction_loss", "kl_loss", "kl", "eps_tail", "probe_radius_peak",
                "probe_logvar_mean", "seconds"):
        assert len(h[key]) == tiny_train.epochs, key
    for total, reco, kl in zip(h["loss"], h["reconstruction_loss"], h["kl_loss"]):
        assert total == pytest.approx(reco + kl, rel=1e-5)
    for kl_loss, kl in zip(h["kl_loss"], h["kl"]):
        assert kl_loss == pytest.approx(tiny_vae.fact * kl, rel=1e-5)
    assert result.stopped is None and result.epochs_done == tiny_train.epochs


def test_ae_history(tiny_data, tiny_ae, tiny_train, tiny_images):
    h = train(tiny_data, tiny_ae, tiny_train, tiny_images, progress=False).history
    assert h["loss"] == pytest.approx(h["reconstruction_loss"])
    assert "kl_loss" not in h


def test_progress_output(tiny_data, tiny_ae, tiny_train, tiny_images, capsys):
    train(tiny_data, tiny_ae, tiny_train, tiny_images, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "img/s" in err


def test_stops_cleanly_on_nonfinite_loss(tiny_data, tiny_vae, tiny_train, tiny_images):
    import dataclasses

    # a huge learning rate with a huge KL weight blows the VAE up within a few steps
    wild = dataclasses.replace(tiny_train, learning_rate=1e4, epochs=5)
    spec = dataclasses.replace(tiny_vae, fact=1e6)
    result = train(tiny_data, spec, wild, tiny_images, progress=False)
    assert result.stopped is not None and "non-finite" in result.stopped
    assert result.epochs_done < 5
    assert not math.isfinite(result.history["loss"][-1])


def test_bad_images_are_rejected(tiny_data, tiny_vae, tiny_train):
    with pytest.raises(TrainingError, match="do not match image_size=16"):
        train(tiny_data, tiny_vae, tiny_train, np.zeros((64, 32, 32, 3), np.uint8), progress=False)
    with pytest.raises(TrainingError, match="fewer than batch_size=16"):
        train(tiny_data, tiny_vae, tiny_train, np.zeros((8, 16, 16, 3), np.uint8), progress=False)


def test_session_latents_draw_fresh_noise_per_split(tmp_path, tiny_vae, tiny_train):
    """Held-out VAE codes must not share epsilon with the training codes row by row."""
    import dataclasses

    import numpy as np

    from vaebench.config import SCALES, DataSpec
    from vaebench.session import Session

    scale = dataclasses.replace(SCALES["smoke"], data=DataSpec(image_size=16, n_train=64, n_test=64),
                                train=tiny_train, n_analysis=64)
    session = Session(scale, tmp_path, progress=False)
    model = session.model(tiny_vae, seed=0)
    train, test = session.latents(model), session.latents(model, split="test")
    eps_train = (train["z"] - train["mu"]) / np.exp(0.5 * train["logvar"])
    eps_test = (test["z"] - test["mu"]) / np.exp(0.5 * test["logvar"])
    assert not np.allclose(eps_train, eps_test)
    assert session.latents(model) is train  # cached
