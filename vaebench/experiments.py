"""Computations that several claims share: random latent points, decoded-sample quality,
and the plot data (never the plots) of radius histograms, image grids and training
curves. Hypothesis modules call these instead of writing them again."""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import SpecError, require
from .latent import QualityScorer, radii, radius_histogram
from .models import decode
from .record import to_uint8
from .stats import Estimate

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


def decoded_quality(model: Any, z: np.ndarray, scorer: QualityScorer, n_show: int = 16,
                    seed: int = 0) -> tuple[Estimate, np.ndarray]:
    """Quality of the images the decoder makes from ``z`` (typicality against real images,
    ≈ 1 for real images, ≈ 0 for garbage) and the first ``n_show`` of them as uint8."""
    images = decode(model, z)
    return scorer.score(images, seed=seed), to_uint8(images[:n_show])


def hist_series(label: str, r: np.ndarray, bin_width: float = 0.5, r_max: float | None = None,
                density: bool = True, fill: bool = False) -> dict:
    """Plot data of a radius histogram exactly as the posts bin it (width 0.5 from 0)."""
    edges, counts = radius_histogram(np.asarray(r), bin_width=bin_width, r_max=r_max)
    values = counts / max(1, counts.sum()) if density else counts
    return {"label": label, "edges": edges, "counts": values, "fill": fill}


def radius_panel(title: str, latents: dict[str, np.ndarray], bin_width: float = 0.5,
                 marks: dict[str, float] | None = None) -> dict:
    """A ``hist`` panel overlaying the radius histograms of several latent sets."""
    all_r = {label: radii(z) for label, z in latents.items()}
    r_max = max(float(np.nanmax(r)) for r in all_r.values()) + bin_width
    series = [hist_series(label, r, bin_width, r_max) for label, r in all_r.items()]
    return {"type": "hist", "title": title, "xlabel": "radius R = ||z||", "ylabel": "fraction of points",
            "series": series, "vlines": [{"x": x, "label": k} for k, x in (marks or {}).items()]}


def images_panel(title: str, images: np.ndarray, ncols: int = 8) -> dict:
    return {"type": "images", "title": title, "images": to_uint8(images), "ncols": ncols}


def history_panel(title: str, histories: dict[str, dict], key: str = "loss", logy: bool = False) -> dict:
    """Training curves of ``key`` (one series per labelled history)."""
    series = []
    for label, h in histories.items():
        y = h.get(key)
        if y:
            series.append({"label": label, "x": list(range(1, len(y) + 1)), "y": y})
    return {"type": "lines", "title": title, "xlabel": "epoch", "ylabel": key, "series": series, "logy": logy}
