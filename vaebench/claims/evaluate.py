"""Evaluations of trained models that several claims share: random latent points to decode,
quality scorers (fitted on real images or on a model's own reconstructions), reconstructions,
per-image loss terms, the held-out split, and the entropy floor of the reconstruction loss."""
from __future__ import annotations

from typing import Any

import numpy as np

from vaebench.errors import SpecError, require
from vaebench.latent.quality import QualityScorer

__all__ = ["LATENT_DISTRIBUTIONS", "random_latents", "fit_quality_scorer", "reconstruct", "loss_terms",
           "reconstruction_scorer", "heldout_split", "entropy_floor"]

LATENT_DISTRIBUTIONS = ("normal", "uniform")


def random_latents(n: int, z_dim: int, dist: str = "normal", r: float | None = None, seed: int = 0) -> np.ndarray:
    """``n`` random latent points: N(0, I) (``dist='normal'``) or uniform in [-r, r]^z_dim.

    The posts decode both kinds (uniform with r = 2 and 10 in post XIII; r = 0.5 ... 8 in post XI).
    """
    require(dist in LATENT_DISTRIBUTIONS, f"dist={dist!r}; use one of {LATENT_DISTRIBUTIONS}", SpecError)
    rng = np.random.default_rng(seed)
    if dist == "normal":
        return rng.standard_normal((n, z_dim)).astype(np.float32)
    require(r is not None and r > 0, f"r={r!r}: uniform latents need a half-width r > 0", SpecError)
    return rng.uniform(-r, r, (n, z_dim)).astype(np.float32)


def fit_quality_scorer(reference_images: np.ndarray, n: int = 1000) -> QualityScorer:
    """The validated quality score (:class:`vaebench.latent.QualityScorer`) fitted on real images."""
    ref = np.asarray(reference_images[:n])
    ref = ref.astype(np.float32) / 255.0 if ref.dtype == np.uint8 else ref.astype(np.float32)
    return QualityScorer().fit(ref)


def _batches_of(n: int, batch_size: int):
    require(batch_size > 0, f"batch_size={batch_size} must be positive", SpecError)
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


def reconstruct(model: Any, images: np.ndarray, seed: int = 0, batch_size: int = 512) -> np.ndarray:
    """What the decoder makes from the codes of ``images`` (float32 in [0, 1]).

    AE: decode(encoder(x)). VAE: decode(z) with z = mu + exp(logvar/2)·eps drawn as in
    :func:`vaebench.models.vae.encode` (``seed``), i.e. samples of the aggregate posterior,
    the inputs the decoder saw in training."""
    from vaebench.models.vae import decode, encode

    codes = encode(model, np.asarray(images), batch_size=batch_size, seed=seed)
    return decode(model, codes["z"], batch_size=batch_size)


def loss_terms(model: Any, images: np.ndarray, seed: int = 0, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Per-image loss terms of a trained AE/VAE on ``images`` (uint8 or floats in [0, 1]), the
    way training computes them (:mod:`vaebench.models.vae`): ``reconstruction`` (BCE averaged over
    the channels of a pixel, summed over pixels; a VAE decodes its sampled z), ``kl``
    (unweighted KL summed over latent axes; 0 for an AE), ``kl_loss`` (fact × kl) and
    ``total``. Encoder and decoder run in inference mode (BatchNorm moving statistics), so
    the numbers differ slightly from the running epoch means in the training history."""
    from keras import ops

    from vaebench.models.vae import VAE, decode, encode, kl_divergence, reconstruction_loss

    images = np.asarray(images)
    codes = encode(model, images, batch_size=batch_size, seed=seed)
    reco = np.empty(len(images), dtype=np.float64)
    for sl in _batches_of(len(images), batch_size):
        x = images[sl]
        x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
        recon = decode(model, codes["z"][sl], batch_size=batch_size)
        reco[sl] = ops.convert_to_numpy(reconstruction_loss(ops.convert_to_tensor(x), ops.convert_to_tensor(recon)))
    if isinstance(model, VAE):
        kl = np.asarray(
            ops.convert_to_numpy(
                kl_divergence(ops.convert_to_tensor(codes["mu"]), ops.convert_to_tensor(codes["logvar"]))
            ),
            dtype=np.float64,
        )
        fact = float(model.fact)
    else:
        kl, fact = np.zeros(len(images)), 0.0
    return {"reconstruction": reco, "kl": kl, "kl_loss": fact * kl, "total": reco + fact * kl}


def reconstruction_scorer(model: Any, images: np.ndarray, seed: int = 0) -> QualityScorer:
    """A :class:`QualityScorer` whose reference is ``model``'s own reconstructions of the real
    ``images`` (use held-out images): a score near 1 then means "as typical as what this
    decoder makes from the codes of real images", which judges whether a latent point
    decodes to a face without penalising the decoder's blur (the real-image scorer of
    :func:`fit_quality_scorer` does penalise it)."""
    return QualityScorer().fit(reconstruct(model, images, seed=seed))


def heldout_split(test_set: Any, n_ref: int = 1000, n_val: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Held-out images split in two: the first min(``n_ref``, half) fit a scorer's reference,
    the next min(``n_val``, the rest) validate it (C1, C7)."""
    n_ref = min(n_ref, len(test_set) // 2)
    n_val = min(n_val, len(test_set) - n_ref)
    return np.asarray(test_set.images[:n_ref]), np.asarray(test_set.images[n_ref : n_ref + n_val])


def _binary_entropy(x: np.ndarray) -> np.ndarray:
    """The binary entropy (nats) of targets ``x`` in [0, 1], clipped to [1e-7, 1 - 1e-7] as the loss clips."""
    eps = 1e-7
    x = np.clip(np.asarray(x, dtype=np.float64), eps, 1 - eps)
    return -(x * np.log(x) + (1 - x) * np.log(1 - x))


#: the binary entropy of each uint8 value v as a target v / 255 (float64)
_UINT8_ENTROPY = _binary_entropy(np.arange(256) / 255.0)


def _byte_counts(values: np.ndarray) -> np.ndarray:
    """How often each of the 256 values occurs in the uint8 ``values``: ``bincount`` of the
    bytes taken in pairs (a uint16 view, 65,536 bins; several times faster than of the bytes),
    each pair counted once for its low and once for its high byte."""
    flat = np.ascontiguousarray(values).reshape(-1)
    even = flat.size - flat.size % 2
    pairs = np.bincount(flat[:even].view(np.uint16), minlength=1 << 16).reshape(256, 256)
    counts = pairs.sum(axis=0) + pairs.sum(axis=1)
    if even < flat.size:
        counts[flat[-1]] += 1
    return counts


def entropy_floor(images: np.ndarray, batch: int = 2048) -> float:
    """Mean per-image BCE of a perfect reconstruction of uint8 ``images`` (the targets' binary
    entropy, averaged over channels and summed over pixels as the loss is): no model goes below.

    For uint8 images it is exact from a table: how often each of the 256 values occurs
    (:func:`_byte_counts`, about 8 M values at a time) times its entropy, over the channels and
    the images; other dtypes are scaled by 1/255 and summed pixel by pixel, ``batch`` images
    at a time."""
    n = len(images)
    if n == 0:
        return float("nan")
    channels = images.shape[-1]
    if np.asarray(images[:1]).dtype != np.uint8:
        total = sum(float(_binary_entropy(np.asarray(images[i:i + batch], np.float64) / 255.0).sum())
                    for i in range(0, n, batch))
        return total / channels / n
    counts = np.zeros(256, dtype=np.int64)
    step = max(1, (1 << 23) // max(1, int(np.prod(images.shape[1:]))))
    for start in range(0, n, step):
        counts += _byte_counts(np.asarray(images[start:start + step]))
    return float(counts @ _UINT8_ENTROPY) / channels / n
