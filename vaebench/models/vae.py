"""The posts' convolutional AE and VAE in backend-agnostic Keras 3.

Encoder and decoder are plain functional builders; :class:`AE` and :class:`VAE` are
small ``keras.Model`` subclasses that own the loss. The builders are the default entry,
``'posts-conv'``, of the architecture registry (:mod:`vaebench.models.registry`):
:func:`build_model` builds the encoder and decoder that ``ModelSpec.architecture`` names,
so a user's own pair (``register_architecture("mlp", encoder=fn, decoder=fn)``) gets the
same loss, training, packing and store. Only ``keras.ops`` and
``keras.random`` are used, so the same code trains on TensorFlow, JAX and PyTorch.

Loss (as in posts XI-XIII): binary cross-entropy averaged over the 3 colour channels of
a pixel and summed over the H x W geometric pixels of an image, averaged over the
batch. At 96x96 a per-pixel BCE of 0.49 is 0.49 * 9216 = 4515.8 per image, the posts'
AE figure. The VAE adds ``w * KL`` with ``w = ModelSpec.kl_weight(image_size)`` (the
posts' ``fact`` at 96x96, scaled by the pixel count elsewhere so that KL and
reconstruction keep the posts' balance) and KL = -1/2 sum_j (1 + logvar_j - mu_j^2 -
exp(logvar_j)) summed over the latent axes. History keys: ``loss`` (total),
``reconstruction_loss``, ``kl_loss`` (= w * KL, the quantity the posts print as
kl_loss), ``kl`` (unweighted KL) and ``eps_tail`` (per epoch: how many sampled epsilon
components had |eps| above the clip level, i.e. how many the clip changed; for an
unclipped VAE the same count at the level 5).
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from vaebench.config import ModelSpec
from vaebench.errors import SpecError, require
from vaebench.models.registry import (
    get_architecture,
    register_architecture,  # noqa: F401  (vaebench.models.vae.register_architecture)
)

#: the level at which the tail of epsilon is counted when a VAE does not clip
EPS_TAIL_LEVEL = 5.0




def to_unit(x):
    """uint8 images -> float32 in [0, 1]; float images pass through as float32."""
    if keras.backend.standardize_dtype(x.dtype) == "uint8":
        return ops.cast(x, "float32") / 255.0
    return ops.cast(x, "float32")


def reconstruction_loss(x, recon):
    """Per-image BCE: mean over channels, sum over the H x W pixels. Shape (batch,)."""
    eps = keras.config.epsilon()
    recon = ops.clip(recon, eps, 1.0 - eps)
    bce = -(x * ops.log(recon) + (1.0 - x) * ops.log(1.0 - recon))
    return ops.sum(ops.mean(bce, axis=-1), axis=(1, 2))


def kl_divergence(mu, logvar):
    """Per-image KL(N(mu, exp(logvar)) || N(0, I)), summed over latent axes. Shape (batch,)."""
    return -0.5 * ops.sum(1.0 + logvar - ops.square(mu) - ops.exp(logvar), axis=-1)


class Sampling(layers.Layer):
    """z = mu + exp(logvar / 2) * eps with eps ~ N(0, 1), optionally clipped to |eps| <= eps_clip.

    Returns ``(z, tail)``: ``tail`` counts the epsilon components beyond the clip level
    (:data:`EPS_TAIL_LEVEL` when not clipping). ``keras.random.truncated_normal`` is
    not used: it cuts at 2 sd, the posts clip at 5.
    """

    def __init__(self, eps_clip: float | None = None, seed: int | None = None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.eps_clip = eps_clip
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, mu, logvar):
        eps = keras.random.normal(ops.shape(mu), seed=self.seed_generator)
        level = self.eps_clip if self.eps_clip is not None else EPS_TAIL_LEVEL
        tail = ops.sum(ops.cast(ops.abs(eps) > level, "float32"))
        if self.eps_clip is not None:
            eps = ops.clip(eps, -self.eps_clip, self.eps_clip)
        return mu + ops.exp(0.5 * logvar) * eps, tail

    def get_config(self):
        return {**super().get_config(), "eps_clip": self.eps_clip}


class AE(keras.Model):
    """Autoencoder: encoder -> z -> decoder, loss = reconstruction only.

    ``call`` takes uint8 or [0, 1] float images and returns a dict with ``recon`` and
    ``z`` (and, for the VAE, ``mu``, ``logvar`` and ``eps_tail``).
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")

    def call(self, x, training=False):
        z = self.encoder(to_unit(x), training=training)
        return {"recon": self.decoder(z, training=training), "z": z}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        reco = ops.mean(reconstruction_loss(to_unit(x), y_pred["recon"]))
        self.reconstruction_tracker.update_state(reco)
        return reco

    def term_trackers(self) -> list:
        """The metrics of the named loss terms (what ``compute_loss`` updates)."""
        return [self.reconstruction_tracker]


class VAE(AE):
    """Variational autoencoder with KL weight ``fact`` (the weight applied: see
    :meth:`vaebench.config.specs.ModelSpec.kl_weight`) and optional epsilon clipping."""

    def __init__(self, encoder: keras.Model, decoder: keras.Model, fact: float,
                 eps_clip: float | None = None, seed: int | None = None, **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        self.fact = float(fact)
        self.sampler = Sampling(eps_clip=eps_clip, seed=seed, name="sampling")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.kl_raw_tracker = keras.metrics.Mean(name="kl")
        self.eps_tail_tracker = keras.metrics.Sum(name="eps_tail")

    def call(self, x, training=False):
        mu, logvar = self.encoder(to_unit(x), training=training)
        z, tail = self.sampler(mu, logvar)
        return {"recon": self.decoder(z, training=training), "z": z, "mu": mu, "logvar": logvar,
                "eps_tail": tail}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        reco = ops.mean(reconstruction_loss(to_unit(x), y_pred["recon"]))
        kl = ops.mean(kl_divergence(y_pred["mu"], y_pred["logvar"]))
        self.reconstruction_tracker.update_state(reco)
        self.kl_tracker.update_state(self.fact * kl)
        self.kl_raw_tracker.update_state(kl)
        self.eps_tail_tracker.update_state(y_pred["eps_tail"])
        return reco + self.fact * kl

    def term_trackers(self) -> list:
        return [self.reconstruction_tracker, self.kl_tracker, self.kl_raw_tracker, self.eps_tail_tracker]


def build_model(spec: ModelSpec, image_size: int, seed: int | None = None, precision: str = "float32") -> AE:
    """The AE or VAE of ``spec`` for ``image_size`` images, built (weights created), with
    the encoder and decoder of the architecture ``spec.architecture`` names."""
    encoder, decoder = get_architecture(spec.architecture).build(spec, image_size, precision)
    if spec.kind == "vae":
        model: AE = VAE(encoder, decoder, fact=spec.kl_weight(image_size), eps_clip=spec.eps_clip, seed=seed,
                        name="vae")
    else:
        model = AE(encoder, decoder, name="ae")
    model(np.zeros((1, image_size, image_size, 3), dtype="uint8"))
    return model


def count_params(model: keras.Model, trainable_only: bool = False) -> int:
    weights = model.trainable_weights if trainable_only else model.weights
    return int(sum(int(np.prod(w.shape)) for w in weights))


def parameter_counts(spec: ModelSpec, image_size: int) -> dict[str, int]:
    """Encoder and decoder parameter counts (all weights, BatchNorm statistics included)."""
    enc, dec = get_architecture(spec.architecture).build(spec, image_size)
    return {"encoder": count_params(enc), "decoder": count_params(dec),
            "encoder_trainable": count_params(enc, True), "decoder_trainable": count_params(dec, True)}


def _batched(images, batch_size: int):
    require(batch_size > 0, f"batch_size={batch_size} must be positive", SpecError)
    for start in range(0, len(images), batch_size):
        yield np.asarray(images[start:start + batch_size])


def encode(model: AE, images, batch_size: int = 512, seed: int = 0) -> dict[str, np.ndarray]:
    """Latent codes of ``images`` (uint8 or float in [0, 1]), as NumPy arrays.

    AE: ``{'z'}``. VAE: ``{'mu', 'logvar', 'z'}`` where z = mu + exp(logvar/2) * eps is
    drawn here with NumPy (``seed``) and clipped like the model's sampler.
    """
    out: dict[str, list] = {}
    for batch in _batched(images, batch_size):
        x = to_unit(ops.convert_to_tensor(batch))
        codes = model.encoder(x, training=False)
        if isinstance(model, VAE):
            codes = {"mu": codes[0], "logvar": codes[1]}
        else:
            codes = {"z": codes}
        for k, v in codes.items():
            out.setdefault(k, []).append(ops.convert_to_numpy(v))
    result = {k: np.concatenate(v).astype(np.float32) for k, v in out.items()}
    if isinstance(model, VAE):
        eps = np.random.default_rng(seed).standard_normal(result["mu"].shape).astype(np.float32)
        if model.sampler.eps_clip is not None:
            eps = np.clip(eps, -model.sampler.eps_clip, model.sampler.eps_clip)
        result["z"] = result["mu"] + np.exp(0.5 * result["logvar"]) * eps
    return result


def decode(model: AE, z, batch_size: int = 512) -> np.ndarray:
    """Images (float32 in [0, 1], NHWC) the decoder makes from latent points ``z``."""
    z = np.asarray(z, dtype=np.float32)
    require(z.ndim == 2 and z.shape[1] == model.decoder.input_shape[-1],
            f"z of shape {z.shape} does not fit a decoder with z_dim={model.decoder.input_shape[-1]}; "
            "pass an array (n, z_dim)")
    parts = [ops.convert_to_numpy(model.decoder(ops.convert_to_tensor(b), training=False))
             for b in _batched(z, batch_size)]
    return np.concatenate(parts).astype(np.float32)
