"""What a claim records about its setting and the runs it uses: the scale description,
whether a run is usable, a history's last value, the finite latent points."""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["scale_info", "usable_run", "last_epoch", "finite_rows", "models_ran"]


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


def _one_or_all(values) -> Any:
    values = list(dict.fromkeys(values))
    return values[0] if len(values) == 1 else values


def models_ran(served: list[tuple], backend: str | None = None, train_images: Any = None) -> dict:
    """What a test's models were, from the ``(data_spec, model_spec, train_spec)`` it asked
    for (:meth:`vaebench.claims.session.Session.served`): data, image size, training images
    (``train_images(data_spec)`` when given and not None: what the data held, else the
    count asked for), architecture, kind, z_dim, epochs, runs per model, precision, backend;
    a field with several values is a list. ``{}`` when the test asked for no model."""
    if not served:
        return {}
    data = [d for d, _, _ in served]
    models = [m for _, m, _ in served]
    trains = [t for _, _, t in served]
    seeds: dict[Any, set] = {}
    for _, m, t in served:
        seeds.setdefault(m, set()).add(t.seed)
    out = {"source": _one_or_all(d.source for d in data), "path": _one_or_all(d.path for d in data),
           "image_size": _one_or_all(d.image_size for d in data),
           "train_images": _one_or_all(_count(train_images, d) for d in data),
           "architecture": _one_or_all(m.architecture for m in models), "kind": _one_or_all(m.kind for m in models),
           "z_dim": _one_or_all(m.z_dim for m in models), "epochs": _one_or_all(t.epochs for t in trains),
           "runs_per_model": _one_or_all(len(s) for s in seeds.values()), "models": len(set(zip(models, trains))),
           "precision": _one_or_all(t.precision for t in trains)}
    if backend:
        out["backend"] = backend
    return {k: v for k, v in out.items() if v is not None}


def _count(train_images: Any, data: Any) -> int | None:
    held = train_images(data) if train_images is not None else None
    return data.n_train if held is None else held
