"""The plot data (never the plots) of figure panels that several claims share: radius
histograms, image grids, training curves, scatter plots and per-axis densities, and the
rounding that keeps plot data small. :mod:`vaebench.report.figures` draws them."""
from __future__ import annotations

from typing import Any

import numpy as np

from vaebench.claims.record import to_uint8
from vaebench.errors import SpecError, require
from vaebench.latent.geometry import radii, radius_histogram

__all__ = ["hist_series", "radius_panel", "images_panel", "history_panel", "short_floats", "scatter_panel",
           "axis_density_panel", "axes_to_show"]


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


def short_floats(values: Any, digits: int = 4, relative: bool = False) -> np.ndarray:
    """``values`` rounded to about ``digits`` significant digits of their largest magnitude
    (``relative=True``: of each value, for data drawn on a log scale), so that plot data
    (thousands of scatter points) keeps the report's JSON small."""
    x = np.asarray(values, dtype=np.float64)
    if relative:
        return np.array([float(f"{v:.{digits}g}") for v in x.ravel()]).reshape(x.shape)
    finite = x[np.isfinite(x)]
    top = float(np.max(np.abs(finite))) if finite.size else 0.0
    if top == 0.0:
        return x
    decimals = int(max(0, digits - 1 - np.floor(np.log10(top))))
    return np.round(x, decimals)


def scatter_panel(title: str, series: dict[str, tuple[np.ndarray, np.ndarray]], max_points: int = 5000,
                  seed: int = 0, xlim: tuple[float, float] | None = None,
                  ylim: tuple[float, float] | None = None, equal: bool = False, xlabel: str = "",
                  ylabel: str = "", size: float | None = None) -> dict:
    """A ``scatter`` panel of labelled ``(x, y)`` point sets.

    With ``xlim``/``ylim`` each set first keeps only its points inside the window (a zoom
    keeps the full density of the data there), then at most ``max_points`` of them (a
    seeded subsample); ``equal`` draws both axes to the same scale. Each series records
    how many points it had in the window (``n_in_window``) and how many are drawn.
    """
    require(max_points >= 1, f"max_points={max_points} must be >= 1", SpecError)
    rng = np.random.default_rng(seed)
    out = []
    for label, (x, y) in series.items():
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        require(x.shape == y.shape, f"series {label!r}: x has {x.size} values but y has {y.size}", SpecError)
        keep = np.isfinite(x) & np.isfinite(y)
        if xlim is not None:
            keep &= (x >= xlim[0]) & (x <= xlim[1])
        if ylim is not None:
            keep &= (y >= ylim[0]) & (y <= ylim[1])
        idx = np.flatnonzero(keep)
        n_in = int(idx.size)
        if idx.size > max_points:
            idx = np.sort(rng.choice(idx, max_points, replace=False))
        s = {"label": f"{label} ({n_in} pts)" if (xlim is not None or ylim is not None) else label,
             "x": short_floats(x[idx]), "y": short_floats(y[idx]), "n_in_window": n_in, "n_drawn": int(idx.size)}
        if size is not None:
            s["size"] = float(size)
        out.append(s)
    panel = {"type": "scatter", "title": title, "xlabel": xlabel, "ylabel": ylabel, "series": out, "equal": equal}
    if xlim is not None:
        panel["xlim"] = [float(xlim[0]), float(xlim[1])]
    if ylim is not None:
        panel["ylim"] = [float(ylim[0]), float(ylim[1])]
    return panel


def axis_density_panel(title: str, z: np.ndarray, axes: list[int], bin_width: float = 0.25,
                       labels: dict[int, str] | None = None) -> dict:
    """A ``hist`` panel overlaying the number density of ``z`` along single latent axes,
    binned like the posts' per-axis plots (width 0.25), each normalised to fractions."""
    z = np.asarray(z, dtype=np.float64)
    require(z.ndim == 2 and len(axes) > 0, "pass z of shape (N, d) and at least one axis", SpecError)
    for j in axes:
        require(0 <= int(j) < z.shape[1], f"axis {j} does not exist in z of shape {z.shape}", SpecError)
    cols = z[:, [int(j) for j in axes]]
    cols = cols[np.all(np.isfinite(cols), axis=1)]
    require(cols.shape[0] > 0, "no finite values on the chosen axes", SpecError)
    lo = float(np.floor(cols.min() / bin_width) * bin_width)
    hi = float(np.ceil(cols.max() / bin_width) * bin_width)
    edges = np.arange(lo, hi + bin_width * 1.5, bin_width)
    series = []
    for i, j in enumerate(axes):
        counts, _ = np.histogram(cols[:, i], bins=edges)
        label = (labels or {}).get(int(j), f"axis {int(j)}")
        series.append({"label": label, "edges": short_floats(edges, 6),
                       "counts": short_floats(counts / max(1, counts.sum()), 4)})
    return {"type": "hist", "title": title, "xlabel": "coordinate value", "ylabel": "fraction of points",
            "series": series}


def axes_to_show(table: dict, n_typical: int) -> tuple[list[int], dict[int, str]]:
    """Latent axes to draw from a :func:`vaebench.latent.axis_table`: the three broadest, the
    most off-centre one and the ``n_typical`` of most typical sd (no repeats), with labels."""
    typical = np.argsort(np.abs(table["sd"] - np.median(table["sd"])))
    axes: list[int] = []
    for j in list(np.argsort(-table["sd"])[:3]) + [int(np.argmax(np.abs(table["mean"])))] + list(typical[:n_typical]):
        if int(j) not in axes:
            axes.append(int(j))
    return axes, {j: f"axis {j}: mean {table['mean'][j]:+.2f}, sd {table['sd'][j]:.2f}" for j in axes}
