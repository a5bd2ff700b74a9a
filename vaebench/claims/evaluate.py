"""Computations that several claims share: random latent points, decoded-sample quality
(with the held-out validation of the own-reconstruction scorer), the scale description,
run usability, ratios of estimates, and the plot data (never the plots) of radius
histograms, image grids and training curves. Hypothesis modules call these instead of
writing them again."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as sps

from vaebench.claims.record import to_uint8
from vaebench.errors import SpecError, require
from vaebench.latent.geometry import radii, radius_histogram
from vaebench.latent.quality import QualityScorer
from vaebench.models.vae import decode
from vaebench.stats.estimate import Estimate

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


# --------------------------------------------------------------------------- geometry views (C3, C6)

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


# ------------------------------------------------------- loss terms, model-relative quality (C1, C2, C7)


def _batches_of(n: int, batch_size: int):
    require(batch_size > 0, f"batch_size={batch_size} must be positive", SpecError)
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


def reconstruct(model: Any, images: np.ndarray, seed: int = 0, batch_size: int = 512) -> np.ndarray:
    """What the decoder makes from the codes of ``images`` (float32 in [0, 1]).

    AE: decode(encoder(x)). VAE: decode(z) with z = mu + exp(logvar/2)·eps drawn as in
    :func:`vaebench.models.vae.encode` (``seed``), i.e. samples of the aggregate posterior,
    the inputs the decoder saw in training."""
    from vaebench.models.vae import encode

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

    from vaebench.models.vae import VAE, encode, kl_divergence, reconstruction_loss

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


def validated_reconstruction_scorer(
    claim: Any, label: str, model: Any, ref_images: np.ndarray, val_images: np.ndarray, real_scorer: QualityScorer
) -> tuple[QualityScorer, np.ndarray]:
    """``model``'s :func:`reconstruction_scorer` on ``ref_images`` (seed 0) and its
    reconstructions of ``val_images`` (seed 1), recording the metric's validation: both
    scorers' quality of the held-out reconstructions (own-reconstruction scorer ≈ 1 by
    construction; the real-image scorer shows how much it penalises the decoder's blur).
    Returns the scorer and the reconstructions."""
    scorer = reconstruction_scorer(model, ref_images, seed=0)
    recon_val = reconstruct(model, val_images, seed=1)
    claim.statistic(
        f"{label}: held-out reconstructions, own-reconstruction scorer",
        scorer.score(recon_val),
        note="validation of the metric: ≈ 1 by construction",
    )
    claim.statistic(
        f"{label}: held-out reconstructions, real-image scorer",
        real_scorer.score(recon_val),
        note="how much the real-image scorer penalises this decoder's blur",
    )
    return scorer, recon_val


def decoded_result(
    model: Any, z: np.ndarray, scorer: QualityScorer, n_show: int = 16, n_boot: int = 1000, seed: int = 0
) -> tuple[Any, np.ndarray]:
    """Quality of the images the decoder makes from ``z`` as the scorer's full
    :class:`vaebench.latent.QualityResult` (per-image scores and summary; typicality against
    the scorer's reference, ≈ 1 for typical images, ≈ 0 for garbage) and the first ``n_show``
    decoded images as uint8."""
    images = decode(model, z)
    return scorer.result(images, n_boot=n_boot, seed=seed), to_uint8(images[:n_show])


def finite_rows(z: np.ndarray, claim: Any, label: str) -> np.ndarray:
    """The rows of ``z`` without NaN/inf (float64); how many were dropped goes to ``claim.note``."""
    z = np.asarray(z, dtype=np.float64)
    ok = np.all(np.isfinite(z), axis=1)
    if not ok.all():
        claim.note(f"{label}: dropped {int((~ok).sum())} latent points holding NaN/inf")
    return z[ok]


# --------------------------------------------------------------------------- claim bookkeeping (C1, C2, C3, C6, C7)


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


def log_se(e: Estimate) -> float:
    """Standard error of ln(value) read off a (roughly log-symmetric) CI (0 without a usable CI)."""
    if not (e.low > 0 and e.high > e.low):
        return 0.0
    return (math.log(e.high) - math.log(e.low)) / (2 * float(sps.norm.ppf(0.5 + e.level / 2)))


def lognormal_ratio(a: Estimate, b: Estimate) -> Estimate:
    """a / b for independent positive estimates: log-normal approximation of each CI, combined
    at ``a``'s level."""
    z = float(sps.norm.ppf(0.5 + a.level / 2))
    lr = math.log(a.value / b.value)
    half = z * math.hypot(log_se(a), log_se(b))
    return Estimate(
        a.value / b.value, math.exp(lr - half), math.exp(lr + half), a.level, "ratio, log-normal CIs combined", a.n
    )


def axes_to_show(table: dict, n_typical: int) -> tuple[list[int], dict[int, str]]:
    """Latent axes to draw from a :func:`vaebench.latent.axis_table`: the three broadest, the
    most off-centre one and the ``n_typical`` of most typical sd (no repeats), with labels."""
    typical = np.argsort(np.abs(table["sd"] - np.median(table["sd"])))
    axes: list[int] = []
    for j in list(np.argsort(-table["sd"])[:3]) + [int(np.argmax(np.abs(table["mean"])))] + list(typical[:n_typical]):
        if int(j) not in axes:
            axes.append(int(j))
    return axes, {j: f"axis {j}: mean {table['mean'][j]:+.2f}, sd {table['sd'][j]:.2f}" for j in axes}


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
