"""The statistics most claims compute per training run, for a claim module of your own
(``from vaebench import claims``): the reconstruction loss in excess of the entropy floor
(:func:`excess_loss`; a raw BCE is dominated by the floor, so a ratio of raw losses is near
1 whatever the model does), the same for the mean training image as a baseline
(:func:`mean_image_excess_loss`), a run's latent codes (:func:`latent_codes`) and their
radius peak (:func:`radius_peak_of`), and the health of a test's runs recorded as the
precondition of its checks (:func:`record_health`). Each returns plain numbers: the
interval across runs is the claim's (``stats.across_runs``)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from vaebench.claims.evaluate import entropy_floor, loss_terms

__all__ = ["excess_loss", "mean_image_excess_loss", "latent_codes", "radius_peak_of", "record_health"]


def excess_loss(model: Any, images: np.ndarray, floor: float | None = None) -> float:
    """Mean per-image reconstruction loss of ``model`` on uint8 ``images`` minus their entropy
    floor (:func:`vaebench.claims.evaluate.entropy_floor`, computed when ``floor`` is None):
    what the model loses beyond what no model can avoid."""
    images = np.asarray(images)
    floor = entropy_floor(images) if floor is None else floor
    return float(loss_terms(model, images)["reconstruction"].mean()) - floor


def mean_image_excess_loss(train_images: np.ndarray, images: np.ndarray, floor: float | None = None) -> float:
    """:func:`excess_loss` of predicting every one of ``images`` by the mean training image:
    the baseline a model must beat."""
    from keras import ops

    from vaebench.models import reconstruction_loss

    mean = np.asarray(train_images).mean(axis=0, dtype=np.float64).astype(np.float32) / 255.0
    x = np.asarray(images, np.float32) / 255.0
    loss = ops.convert_to_numpy(reconstruction_loss(x, np.broadcast_to(mean, x.shape)))
    floor = entropy_floor(np.asarray(images)) if floor is None else floor
    return float(np.mean(loss)) - floor


def latent_codes(session: Any, run: Any, split: str = "test", n: int | None = None, key: str = "z") -> np.ndarray:
    """The latent codes ``key`` (``z``; for a VAE also ``mu``, ``logvar``) of the first ``n``
    images (default ``scale.n_analysis``) of ``split`` (``train`` or ``test``) under ``run``
    (computed once per run: :meth:`vaebench.claims.session.Session.latents`)."""
    return np.asarray(session.latents(run, split, n)[key])


def radius_peak_of(session: Any, run: Any, split: str = "test", n_boot: int = 200) -> float:
    """The peak (KDE mode, :func:`vaebench.latent.radius_peak`) of the radii ‖z‖ of ``run``'s
    codes of ``split``: one value per run (its bootstrap interval over points never votes)."""
    from vaebench import latent

    return float(latent.radius_peak(latent.radii(latent_codes(session, run, split)), n_boot=n_boot).value)


def record_health(claim: Any, session: Any, runs: Sequence[Any]) -> list:
    """Record the health of ``runs`` on ``claim`` (not converged, collapsed or stopped runs
    make its primary checks inconclusive, with the reason) and return it, one per run."""
    health = [session.health(run) for run in runs]
    claim.model_health(*health)
    return health
