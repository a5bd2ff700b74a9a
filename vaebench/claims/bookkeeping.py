"""What a claim records about its setting and the runs it uses: the scale description,
whether a run is usable, a history's last value, the finite latent points."""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["scale_info", "usable_run", "last_epoch", "finite_rows"]


def scale_info(scale: Any) -> dict:
    """The scale description C1, C2 and C7 record (``claim.describe_scale(**scale_info(scale), ...)``)."""
    d, t = scale.data, scale.train
    return {
        "scale": scale.name,
        "data": f"{d.source} {d.image_size}×{d.image_size}",
        "n_train": d.n_train,
        "n_test": d.n_test,
        "image_size": d.image_size,
        "z_dim": scale.z_dim,
        "epochs": t.epochs,
        "batch_size": t.batch_size,
        "learning_rate": t.learning_rate,
        "n_analysis": scale.n_analysis,
    }


def usable_run(claim: Any, run: Any, codes: dict, label: str, keys: tuple[str, ...] = ("z",)) -> bool:
    """Whether a trained run can be analysed: it did not stop early and its latent ``codes``
    hold no NaN/inf in ``keys``. If not, ``claim.note`` says why ``label`` is left out."""
    ok = run.stopped is None and all(np.all(np.isfinite(codes[k])) for k in keys)
    if not ok:
        claim.note(f"{label} is left out: {run.stopped or 'non-finite latent codes'}")
    return ok


def last_epoch(history: dict, key: str) -> float:
    """The last value of ``key`` in a training history (NaN when there is none)."""
    values = history.get(key) or [float("nan")]
    return float(values[-1])


def finite_rows(z: np.ndarray, claim: Any, label: str) -> np.ndarray:
    """The rows of ``z`` without NaN/inf (float64); how many were dropped goes to ``claim.note``."""
    z = np.asarray(z, dtype=np.float64)
    ok = np.all(np.isfinite(z), axis=1)
    if not ok.all():
        claim.note(f"{label}: dropped {int((~ok).sum())} latent points holding NaN/inf")
    return z[ok]
