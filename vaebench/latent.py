"""Analysis of latent points z (an array of shape (N, d)) and of decoded images.

Every function that computes a statistic returns an :class:`~vaebench.stats.Estimate`
(value with confidence interval); curves and tables come back as arrays. Nothing here
renders: the plots (zoom sequences, t-SNE, inertia curves) are drawn elsewhere from
what these functions return.

Contents
--------
* Radii (C3): :func:`radii`, :func:`radius_histogram`, :func:`histogram_peak`,
  :func:`radius_peak`, :func:`fraction_in`.
* Axes (C3): :func:`axis_table`, :func:`second_moment_sum`, :func:`broad_axes`.
* Geometry against a Gaussian null (C6): :func:`pca_spectrum`, :func:`twonn`,
  :func:`mle_dimension`, :func:`gaussian_null`, :func:`void_probe`.
* Clustering and projections (C1, C6): :func:`inertia_curve`, :func:`elbow`,
  :func:`gap_statistic`, :func:`tsne_embedding`.
* Decoded-image quality (C1, C5, C7): :func:`spectral_slope`, :class:`QualityScorer`,
  :func:`image_quality`, :func:`quality_vs_reference`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
from scipy import signal
from scipy import stats as sps

from .errors import StatsError, require
from .stats import Estimate, _as_1d, bootstrap, mean_ci, rate_ci

__all__ = [
    "radii", "radius_histogram", "histogram_peak", "radius_peak", "kde_bandwidth",
    "fraction_in",
    "axis_table", "second_moment_sum", "broad_axes",
    "pca_spectrum", "spectral_flatness", "twonn", "mle_dimension", "gaussian_null",
    "VoidProbe", "void_probe",
    "inertia_curve", "elbow", "gap_statistic", "tsne_embedding",
    "power_spectrum_features", "spectral_slope", "QualityScorer", "QualityResult",
    "image_quality", "quality_vs_reference",
]


# --------------------------------------------------------------------------- input checks

def _as_points(z: Any, name: str = "z", min_n: int = 1, finite: bool = True) -> np.ndarray:
    """A (finite, unless ``finite=False``) float64 array of shape (N, d) with N >= min_n."""
    try:
        arr = np.asarray(z, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"{name} cannot be read as numbers ({exc}); pass an (N, d) array") from exc
    require(arr.ndim == 2,
            f"{name} has shape {arr.shape}; pass a 2-D array of N points by d dimensions",
            StatsError)
    require(arr.shape[0] >= min_n,
            f"{name} has {arr.shape[0]} points; at least {min_n} are needed", StatsError)
    require(arr.shape[1] >= 1, f"{name} has shape {arr.shape}: no dimensions", StatsError)
    if finite:
        require(bool(np.all(np.isfinite(arr))),
                f"{name} holds {int(np.sum(~np.isfinite(arr)))} NaN/inf values; drop those points",
                StatsError)
    return arr


def _positive(name: str, value: Any, integer: bool = False) -> None:
    if integer:
        ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0
        require(ok, f"{name}={value!r} must be a positive integer", StatsError)
    else:
        ok = isinstance(value, (int, float, np.number)) and math.isfinite(value) and value > 0
        require(ok, f"{name}={value!r} must be a positive number", StatsError)


def _subsample(z: np.ndarray, max_points: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(z.shape[0])
    if max_points is not None and z.shape[0] > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(z.shape[0], max_points, replace=False))
    return z[idx], idx


# --------------------------------------------------------------------------- radii (C3)

def radii(z: Any) -> np.ndarray:
    """Euclidean norms R = ||z|| of the rows of ``z`` (float64, shape (N,)).

    Rows holding NaN/inf give NaN/inf radii (training monitors a diverging run with it).
    """
    arr = _as_points(z, finite=False)
    return np.sqrt(np.einsum("ij,ij->i", arr, arr))


def radius_histogram(r: Any, bin_width: float = 0.5,
                     r_max: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of radii in bins ``[0, w), [w, 2w), …`` exactly as the posts draw it.

    Bin ``i`` counts ``i·w <= R < (i+1)·w``. ``r_max`` (rounded up to a multiple of
    ``w``) ends the last bin; radii at or beyond it are not counted (the posts show
    0 < R < 35). By default the bins run just past the largest radius, so every value
    is counted. Returns ``(edges, counts)`` with ``len(edges) == len(counts) + 1``.
    """
    arr = _as_1d(r, "r")
    _positive("bin_width", bin_width)
    require(bool(np.all(arr >= 0)),
            f"r holds negative values (min {arr.min():.4g}); radii are >= 0", StatsError)
    if r_max is None:
        n_bins = int(math.floor(arr.max() / bin_width)) + 1
    else:
        _positive("r_max", r_max)
        n_bins = max(1, int(math.ceil(r_max / bin_width - 1e-9)))
    require(n_bins <= 10_000_000, f"{n_bins} bins of width {bin_width} are too many; "
            "raise bin_width or lower r_max", StatsError)
    idx = np.floor(arr / bin_width).astype(np.int64)
    idx = idx[idx < n_bins]
    counts = np.bincount(idx, minlength=n_bins)
    edges = np.arange(n_bins + 1, dtype=np.float64) * bin_width
    return edges, counts


def histogram_peak(r: Any, bin_width: float = 0.5) -> float:
    """Centre of the fullest histogram bin (the first one on ties).

    A plain float for per-epoch training monitoring (the posts' "radius peak"); the
    same bins as :func:`radius_histogram`, but memory does not grow with the largest
    radius, so a diverging run (R ~ 1e30) is still monitored.
    """
    arr = _as_1d(r, "r")
    _positive("bin_width", bin_width)
    require(bool(np.all(arr >= 0)),
            f"r holds negative values (min {arr.min():.4g}); radii are >= 0", StatsError)
    bins, counts = np.unique(np.floor(arr / bin_width), return_counts=True)
    i = int(np.argmax(counts))  # bins are sorted, so ties go to the smallest radius
    return float((bins[i] + 0.5) * bin_width)


def kde_bandwidth(r: Any, bandwidth: str | float = "scott") -> float:
    """Gaussian KDE bandwidth in the units of ``r``.

    ``'scott'``: sd · n^(-1/5); ``'silverman'``: sd · (3n/4)^(-1/5) (the 1-D factors of
    ``scipy.stats.gaussian_kde``, sd with ddof=1); a number is taken as the bandwidth.
    """
    arr = _as_1d(r, "r", 2)
    n = arr.size
    if isinstance(bandwidth, str):
        require(bandwidth in ("scott", "silverman"),
                f"bandwidth={bandwidth!r} must be 'scott', 'silverman' or a positive number",
                StatsError)
        sd = float(arr.std(ddof=1))
        factor = n ** (-0.2) if bandwidth == "scott" else (n * 3.0 / 4.0) ** (-0.2)
        return sd * factor
    _positive("bandwidth", bandwidth)
    return float(bandwidth)


def _parabolic_peak(y: np.ndarray) -> np.ndarray:
    """Sub-grid position of the maximum of each row of ``y`` (parabola through 3 points)."""
    i = np.argmax(y, axis=-1)
    rows = np.arange(y.shape[0])
    inner = (i > 0) & (i < y.shape[1] - 1)
    pos = i.astype(np.float64)
    ii = i[inner]
    r = rows[inner]
    ym, y0, yp = y[r, ii - 1], y[r, ii], y[r, ii + 1]
    denom = ym - 2 * y0 + yp
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(denom < 0, 0.5 * (ym - yp) / denom, 0.0)
    pos[inner] = ii + np.clip(shift, -0.5, 0.5)
    return pos


def radius_peak(r: Any, n_boot: int = 200, seed: int = 0, level: float = 0.95,
                bandwidth: str | float = "scott", grid_step: float | None = None) -> Estimate:
    """Mode of a Gaussian kernel density estimate of the radii, with a bootstrap CI.

    The KDE is ``scipy.stats.gaussian_kde`` with Scott's bandwidth by default (see
    :func:`kde_bandwidth`), evaluated on a grid of step ``grid_step`` (default h/40)
    by binning the radii onto the grid and convolving with the sampled Gaussian
    kernel — identical to ``gaussian_kde`` up to the grid step, and fast for 10⁵–10⁶
    radii. The mode is refined between grid points by a parabola.

    The CI is a percentile bootstrap with the bandwidth held at its full-sample
    value: resampling the radii is done exactly by drawing multinomial bin counts.
    Known answer: for z ~ N(0, I_k), R is chi-distributed with mode √(k−1).
    """
    arr = _as_1d(r, "r", 10)
    _positive("n_boot", n_boot, integer=True)
    require(0 < level < 1, f"level={level!r} must lie in (0, 1)", StatsError)
    n = arr.size
    if float(arr.max() - arr.min()) == 0.0:
        return Estimate(float(arr[0]), float(arr[0]), float(arr[0]), level, "all radii equal", n)
    h = kde_bandwidth(arr, bandwidth)
    bw_name = bandwidth if isinstance(bandwidth, str) else "fixed"
    step = h / 40.0 if grid_step is None else float(grid_step)
    _positive("grid_step", step)
    lo, hi = float(arr.min() - 5 * h), float(arr.max() + 5 * h)
    max_grid = 1 << 17
    if (hi - lo) / step + 1 > max_grid:
        step = (hi - lo) / (max_grid - 1)
    g = int(math.ceil((hi - lo) / step)) + 1
    idx = np.clip(np.rint((arr - lo) / step).astype(np.int64), 0, g - 1)
    counts = np.bincount(idx, minlength=g).astype(np.float64)
    half = int(math.ceil(5 * h / step))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * step / h) ** 2)

    def modes(c: np.ndarray) -> np.ndarray:
        dens = signal.fftconvolve(c, kernel[None, :], mode="same", axes=-1)
        return lo + _parabolic_peak(dens) * step

    value = float(modes(counts[None, :])[0])
    rng = np.random.default_rng(seed)
    nz = np.flatnonzero(counts)
    probs = counts[nz] / n
    chunk = int(max(1, min(n_boot, 20_000_000 // g)))
    boots = []
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        draws = rng.multinomial(n, probs, size=b)
        c = np.zeros((b, g))
        c[:, nz] = draws
        boots.append(modes(c))
        done += b
    reps = np.concatenate(boots)
    alpha = 1 - level
    qlo, qhi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return Estimate(value, min(qlo, value), max(qhi, value), level,
                    f"KDE mode ({bw_name} h={h:.3g}), bootstrap", n)


def fraction_in(r: Any, lo: float, hi: float, level: float = 0.95,
                method: str = "wilson") -> Estimate:
    """Fraction of radii with ``lo <= R <= hi``, with a Wilson (default) or
    Clopper–Pearson interval (see :func:`vaebench.stats.rate_ci`)."""
    arr = _as_1d(r, "r")
    require(lo <= hi, f"lo={lo} exceeds hi={hi}; swap them", StatsError)
    k = int(np.sum((arr >= lo) & (arr <= hi)))
    return rate_ci(k, int(arr.size), level, method)


# --------------------------------------------------------------------------- axes (C3)

def axis_table(z: Any) -> dict[str, np.ndarray]:
    """Per-axis statistics of ``z``: arrays of shape (d,).

    Keys: ``mean``, ``sd`` (ddof=1), ``mean_se`` (sd/√N), ``second_moment`` (E[z_j²]),
    ``min``, ``max``, ``skew``, ``excess_kurtosis`` (0 for a Gaussian).
    """
    arr = _as_points(z, min_n=2)
    n = arr.shape[0]
    sd = arr.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = sps.skew(arr, axis=0)
        kurt = sps.kurtosis(arr, axis=0)
    return {"mean": arr.mean(axis=0), "sd": sd, "mean_se": sd / math.sqrt(n),
            "second_moment": np.mean(arr ** 2, axis=0), "min": arr.min(axis=0),
            "max": arr.max(axis=0), "skew": np.asarray(skew), "excess_kurtosis": np.asarray(kurt)}


def second_moment_sum(z: Any, level: float = 0.95) -> Estimate:
    """M = Σ_j E[z_j²] = E[R²], with the t interval of the mean of R² over points.

    The posts' explanation of the radius peak: M ≈ z_dim when every axis has
    E[z_j²] ≈ 1. Divide by d (``.scale(1/d)``) for M/z_dim.
    """
    arr = _as_points(z, min_n=2)
    est = mean_ci(np.einsum("ij,ij->i", arr, arr), level)
    return Estimate(est.value, est.low, est.high, level, "t over points", est.n)


def broad_axes(z: Any, sd_threshold: float = 1.5, mean_threshold: float = 1.0) -> list[int]:
    """Indices of axes with sd > ``sd_threshold`` or |mean| > ``mean_threshold``."""
    _positive("sd_threshold", sd_threshold)
    _positive("mean_threshold", mean_threshold)
    table = axis_table(z)
    mask = (table["sd"] > sd_threshold) | (np.abs(table["mean"]) > mean_threshold)
    return [int(i) for i in np.flatnonzero(mask)]


# --------------------------------------------------------------------------- PCA (C6)

def spectral_flatness(eigenvalues: Any) -> float:
    """Geometric mean / arithmetic mean of eigenvalues: 1 for a flat spectrum, → 0 for a
    steeply falling one (Wiener entropy). Non-positive eigenvalues give 0."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    require(lam.ndim == 1 and lam.size >= 1, "eigenvalues must be a non-empty 1-D array",
            StatsError)
    if np.any(lam <= 0):
        return 0.0
    return float(np.exp(np.mean(np.log(lam))) / np.mean(lam))


def pca_spectrum(z: Any, n_boot: int = 200, seed: int = 0, level: float = 0.95, k: int = 10,
                 n_groups: int = 100) -> dict[str, Any]:
    """Eigenvalues of the covariance of ``z`` (descending), with bootstrap CIs.

    Returns a dict:

    * ``eigenvalues`` (d,), ``explained_variance_ratio`` (d,), and ``eigenvalue_low`` /
      ``eigenvalue_high`` (d,) — percentile bounds for each;
    * ``ratio12`` — Estimate of λ1/λ2 (one dominant component ⇒ ≫ 1);
    * ``flatness_after`` — Estimate of the spectral flatness (geometric mean over
      arithmetic mean, :func:`spectral_flatness`) of λ_{k+1} … λ_d: 1 for a perfectly
      flat tail, → 0 for a falling one; ``None`` when d < k + 2. Sampling alone spreads
      the eigenvalues of an isotropic cloud (Marchenko–Pastur, width ~ 4√(d/N)), so the
      flatness of a finite isotropic sample is a little below 1 — compare with
      :func:`gaussian_null` of the same size, not with 1;
    * ``k``, ``n``.

    The bootstrap resamples ``n_groups`` random blocks of points (a block bootstrap that
    equals the ordinary row bootstrap when N <= n_groups): per-block scatter matrices
    are computed once, so a replicate costs O(n_groups·d²) instead of O(N·d²).
    """
    arr = _as_points(z, min_n=3)
    _positive("n_boot", n_boot, integer=True)
    _positive("k", k, integer=True)
    _positive("n_groups", n_groups, integer=True)
    require(0 < level < 1, f"level={level!r} must lie in (0, 1)", StatsError)
    n, d = arr.shape
    require(d >= 2, f"z has d={d}; the PCA ratio λ1/λ2 needs at least 2 dimensions", StatsError)
    x = arr - arr.mean(axis=0)
    cov = x.T @ x / (n - 1)
    lam = np.clip(np.linalg.eigvalsh(cov)[::-1], 0.0, None)
    require(lam[1] > 0, "z has a rank-1 covariance; λ1/λ2 is undefined", StatsError)
    g_count = int(min(n_groups, n, max(10, int(1.6e8 // (8 * d * d)))))  # <= ~160 MB
    perm = np.random.default_rng([seed, 7]).permutation(n)
    groups = np.array_split(perm, g_count)
    scat = np.stack([x[idx].T @ x[idx] for idx in groups])
    sums = np.stack([x[idx].sum(axis=0) for idx in groups])
    sizes = np.array([idx.size for idx in groups], dtype=np.float64)
    rng = np.random.default_rng(seed)
    reps = np.empty((n_boot, d))
    for b in range(n_boot):
        w = np.bincount(rng.integers(0, g_count, g_count), minlength=g_count).astype(np.float64)
        nn = float(w @ sizes)
        s = w @ sums
        c = (np.tensordot(w, scat, axes=1) - np.outer(s, s) / nn) / (nn - 1)
        reps[b] = np.clip(np.linalg.eigvalsh(c)[::-1], 0.0, None)
    alpha = 1 - level

    def est(value: float, samples: np.ndarray, what: str) -> Estimate:
        samples = samples[np.isfinite(samples)]
        lo_, hi_ = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
        return Estimate(value, min(lo_, value), max(hi_, value), level,
                        f"{what}, block bootstrap", n)

    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = est(float(lam[0] / lam[1]), reps[:, 0] / reps[:, 1], "λ1/λ2")
    flat = None
    if d >= k + 2:
        flat = est(spectral_flatness(lam[k:]),
                   np.array([spectral_flatness(row[k:]) for row in reps]),
                   f"flatness of λ{k + 1}..λ{d}")
    total = float(lam.sum())
    elo, ehi = np.quantile(reps, [alpha / 2, 1 - alpha / 2], axis=0)
    return {"eigenvalues": lam, "explained_variance_ratio": lam / total if total > 0 else lam,
            "eigenvalue_low": elo, "eigenvalue_high": ehi, "ratio12": ratio,
            "flatness_after": flat, "k": k, "n": n}


# --------------------------------------------------------------------------- intrinsic dimension

def _neighbour_distances(z: np.ndarray, k: int, max_points: int | None,
                         seed: int) -> tuple[np.ndarray, int]:
    """Distances to the k nearest other points, after removing duplicate points."""
    from sklearn.neighbors import NearestNeighbors

    x, _ = _subsample(z, max_points, seed)
    x = np.unique(x, axis=0)
    require(x.shape[0] >= k + 1,
            f"z has {x.shape[0]} distinct points; at least {k + 1} are needed "
            f"(duplicates are removed before the neighbour search)", StatsError)
    nn = NearestNeighbors(n_neighbors=k + 1).fit(x)
    dist, _ = nn.kneighbors(x)
    return dist[:, 1:], x.shape[0]


def twonn(z: Any, discard: float = 0.1, level: float = 0.95, method: str = "mle",
          n_boot: int = 1000, seed: int = 0, max_points: int | None = 20_000) -> Estimate:
    """Intrinsic dimension by TwoNN (Facco, d'Errico, Rodriguez & Laio 2017).

    For every point μ = r₂/r₁ (second over first neighbour distance); where the density
    is locally constant over the scale of the second neighbour, μ is Pareto with
    P(μ > x) = x^(−d). Duplicate points are removed first (they would give r₁ = 0).
    The largest fraction ``discard`` of μ are censored (Facco et al. drop them; they
    come from points whose neighbourhoods are inhomogeneous).

    * ``method='mle'`` (default): the censored maximum-likelihood estimate
      d̂ = m / T with m kept ratios and T = Σ_{i<=m} ln μ_(i) + (N − m) ln μ_(m) the
      total time on test of the exponentials ln μ; 2dT ~ χ²(2m), which gives an exact
      analytic CI (exact if the μ were independent; neighbouring points share
      neighbours, so treat it as slightly optimistic).
    * ``method='fit'``: Facco's least-squares line through the origin of
      −ln(1 − F(μ)) against ln μ over the kept ratios, with a bootstrap CI over points.

    ``max_points`` subsamples (seeded) for speed; the dimension is then measured at a
    somewhat larger scale. Compare with a :func:`gaussian_null` of the same size.
    """
    require(method in ("mle", "fit"), f"method={method!r} must be 'mle' or 'fit'", StatsError)
    require(isinstance(discard, (int, float)) and 0.0 <= discard < 0.9,
            f"discard={discard!r} must be a fraction in [0, 0.9)", StatsError)
    require(0 < level < 1, f"level={level!r} must lie in (0, 1)", StatsError)
    arr = _as_points(z, min_n=3)
    dist, n = _neighbour_distances(arr, 2, max_points, seed)
    mu = np.sort(dist[:, 1] / dist[:, 0])
    m = int(math.floor(n * (1.0 - discard)))
    require(m >= 2, f"only {m} ratios remain after discard={discard}; pass more points",
            StatsError)
    logmu = np.log(mu)
    if method == "mle":
        total = float(np.sum(logmu[:m]) + (n - m) * logmu[m - 1])
        require(total > 0, "every point has equidistant first and second neighbours "
                "(μ = 1); the dimension is undefined (a lattice?)", StatsError)
        alpha = 1 - level
        lo = sps.chi2.ppf(alpha / 2, 2 * m) / (2 * total)
        hi = sps.chi2.ppf(1 - alpha / 2, 2 * m) / (2 * total)
        return Estimate(m / total, lo, hi, level, "TwoNN censored MLE, χ² CI", n)

    def fit(sorted_logmu: np.ndarray) -> float:
        f_emp = np.arange(1, n + 1) / n
        x = sorted_logmu[:m]
        y = -np.log1p(-f_emp[:m])
        sxx = float(x @ x)
        return float(x @ y) / sxx if sxx > 0 else float("nan")

    value = fit(logmu)
    est = bootstrap(np.log(dist[:, 1] / dist[:, 0]), lambda lm: fit(np.sort(lm)),
                    n_boot=n_boot, level=level, seed=seed)
    return Estimate(value, min(est.low, value), max(est.high, value), level,
                    "TwoNN linear fit, bootstrap", n)


def mle_dimension(z: Any, k: int = 20, level: float = 0.95, n_boot: int = 1000, seed: int = 0,
                  max_points: int | None = 20_000) -> Estimate:
    """Levina–Bickel (2004) maximum-likelihood intrinsic dimension with the
    MacKay–Ghahramani correction.

    Per point, m̂_k(x)⁻¹ = (1/(k−1)) Σ_{j<k} ln(T_k(x)/T_j(x)) with T_j the distance to
    the j-th neighbour; the global estimate averages these *inverses* over points and
    inverts (MacKay & Ghahramani 2005): each inverse is unbiased for 1/m under the local
    Poisson model, whereas averaging the m̂_k themselves is biased upwards. Duplicate
    points are removed first. The CI is a bootstrap over
    points of the averaged inverse (the neighbour graph is held fixed).
    """
    _positive("k", k, integer=True)
    require(k >= 3, f"k={k} must be at least 3 (the Levina–Bickel sum needs k−1 >= 2 terms)",
            StatsError)
    require(0 < level < 1, f"level={level!r} must lie in (0, 1)", StatsError)
    arr = _as_points(z, min_n=3)
    dist, n = _neighbour_distances(arr, k, max_points, seed)
    logs = np.log(dist)
    # mean_j ln(T_k/T_j) over j < k: a Gamma(k−1, m)/(k−1) variable, unbiased for 1/m
    inv = np.mean(logs[:, -1:] - logs[:, :-1], axis=1)
    require(float(inv.mean()) > 0, "all neighbour distances are equal; the dimension is "
            "undefined", StatsError)
    est = bootstrap(inv, lambda v: 1.0 / v.mean(axis=-1), n_boot=n_boot, level=level, seed=seed,
                    vectorized=True)
    return Estimate(est.value, est.low, est.high, level,
                    f"Levina–Bickel MLE k={k}, MacKay–Ghahramani, bootstrap", n)


# --------------------------------------------------------------------------- Gaussian null, voids

def gaussian_null(z: Any, n: int | None = None, seed: int = 0) -> np.ndarray:
    """A sample from N(m̂, Σ̂) fitted to ``z`` (full covariance, ddof=1), ``n`` points
    (default: as many as ``z``). A singular Σ̂ is handled through its eigendecomposition."""
    arr = _as_points(z, min_n=2)
    if n is None:
        n = arr.shape[0]
    _positive("n", n, integer=True)
    mean = arr.mean(axis=0)
    cov = np.atleast_2d(np.cov(arr, rowvar=False))
    lam, vec = np.linalg.eigh(cov)
    root = vec * np.sqrt(np.clip(lam, 0.0, None))
    eps = np.random.default_rng(seed).standard_normal((int(n), arr.shape[1]))
    return mean + eps @ root.T


@dataclass(frozen=True)
class VoidProbe:
    """Nearest-neighbour distances of probe points against held-out data points.

    ``ratio`` = median NN distance of probes to the data / median NN distance of
    held-out data points to the data (≈ 1 when probes land where data lives, ≫ 1 when
    they land in voids). ``void_fraction`` = fraction of probes whose NN distance
    exceeds the ``quantile`` (default 99 %) of the held-out NN distances (≈ 1 − quantile
    under the null). Both CIs are two-sample percentile bootstraps over probes and
    held-out points (the training set is held fixed).
    """

    ratio: Estimate
    void_fraction: Estimate
    probe_nn: np.ndarray
    heldout_nn: np.ndarray
    threshold: float
    probes: str

    def to_dict(self) -> dict:
        return {"ratio": self.ratio.to_dict(), "void_fraction": self.void_fraction.to_dict(),
                "threshold": self.threshold, "probes": self.probes,
                "n_probes": int(self.probe_nn.size), "n_heldout": int(self.heldout_nn.size)}


def void_probe(z_train: Any, z_heldout: Any,
               probes: str | np.ndarray | Callable[[np.ndarray, int, np.random.Generator],
                                                   np.ndarray] = "gaussian",
               n_probes: int | None = None, seed: int = 0, quantile: float = 0.99,
               n_boot: int = 1000, level: float = 0.95) -> VoidProbe:
    """Do random points fall into voids of the data (C6)?

    ``probes`` is an (n, d) array, ``'gaussian'`` (default: the matched null
    N(m̂, Σ̂) of ``z_train``, see :func:`gaussian_null`), ``'box'`` (uniform in the
    bounding box of ``z_train``) or a callable ``(z_train, n, rng) -> array``.
    ``n_probes`` defaults to the number of held-out points. For data that really is
    Gaussian the ratio is ≈ 1; for points on thin filaments it is ≫ 1.
    """
    from sklearn.neighbors import NearestNeighbors

    train = _as_points(z_train, "z_train", 2)
    held = _as_points(z_heldout, "z_heldout", 2)
    require(held.shape[1] == train.shape[1],
            f"z_heldout has d={held.shape[1]} but z_train has d={train.shape[1]}", StatsError)
    require(0.5 <= quantile < 1, f"quantile={quantile!r} must lie in [0.5, 1)", StatsError)
    n = held.shape[0] if n_probes is None else n_probes
    _positive("n_probes", n, integer=True)
    rng = np.random.default_rng(seed)
    if isinstance(probes, str):
        require(probes in ("gaussian", "box"),
                f"probes={probes!r} must be 'gaussian', 'box', an array or a callable", StatsError)
        kind = probes
        if probes == "gaussian":
            pts = gaussian_null(train, n, seed=int(rng.integers(2 ** 31)))
        else:
            pts = rng.uniform(train.min(axis=0), train.max(axis=0), size=(n, train.shape[1]))
    elif callable(probes):
        kind = getattr(probes, "__name__", "custom")
        pts = _as_points(probes(train, n, rng), "probes", 2)
    else:
        kind = "given"
        pts = _as_points(probes, "probes", 2)
    require(pts.shape[1] == train.shape[1],
            f"probes have d={pts.shape[1]} but z_train has d={train.shape[1]}", StatsError)
    nn = NearestNeighbors(n_neighbors=1).fit(train)
    probe_nn = nn.kneighbors(pts)[0][:, 0]
    held_nn = nn.kneighbors(held)[0][:, 0]
    require(float(np.median(held_nn)) > 0,
            "most held-out points coincide with training points (median NN distance 0); "
            "z_heldout must be points not in z_train", StatsError)

    def ratio_stat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.median(a, axis=-1) / np.median(b, axis=-1)

    def frac_stat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        thr = np.quantile(b, quantile, axis=-1)
        return np.mean(a > thr[..., None], axis=-1)

    ratio = bootstrap((probe_nn, held_nn), ratio_stat, n_boot=n_boot, level=level, seed=seed,
                      paired=False, vectorized=True)
    frac = bootstrap((probe_nn, held_nn), frac_stat, n_boot=n_boot, level=level, seed=seed,
                     paired=False, vectorized=True)
    ratio = Estimate(ratio.value, ratio.low, ratio.high, level,
                     "median NN ratio, bootstrap", ratio.n)
    frac = Estimate(frac.value, frac.low, frac.high, level,
                    f"fraction beyond held-out q{quantile:g}, bootstrap", frac.n)
    return VoidProbe(ratio, frac, probe_nn, held_nn, float(np.quantile(held_nn, quantile)), kind)


# --------------------------------------------------------------------------- clustering

def _inertia(x: np.ndarray, k: int, seed: int, batch_size: int, n_init: int) -> float:
    from sklearn.cluster import MiniBatchKMeans

    if k == 1:
        return float(np.sum((x - x.mean(axis=0)) ** 2))
    from threadpoolctl import threadpool_limits

    km = MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=batch_size, n_init=n_init)
    with threadpool_limits(1):  # small problems: thread pools cost more than they give (10-40x on 2 busy cores)
        km.fit(x)
        return float(-km.score(x))


def _check_ks(ks: Iterable[int], n: int) -> np.ndarray:
    arr = np.asarray(list(ks))
    require(arr.ndim == 1 and arr.size >= 1, "ks must be a non-empty sequence of cluster counts",
            StatsError)
    require(np.issubdtype(arr.dtype, np.integer) and bool(np.all(arr >= 1)),
            f"ks={arr.tolist()} must be positive integers", StatsError)
    require(bool(np.all(np.diff(arr) > 0)), f"ks={arr.tolist()} must be increasing", StatsError)
    require(int(arr.max()) <= n, f"k={int(arr.max())} exceeds the {n} points", StatsError)
    return arr.astype(int)


def inertia_curve(z: Any, ks: Iterable[int] = range(2, 81, 2), seed: int = 0,
                  batch_size: int = 1024, n_init: int = 3,
                  max_points: int | None = None) -> dict[str, np.ndarray]:
    """MiniBatchKMeans inertia (within-cluster sum of squares on all of ``z``) per k,
    as in the posts (2 ≤ k ≤ 80, every second k).

    Returns ``k``, ``inertia`` and ``normalised`` (inertia / inertia at ``ks[0]``, so
    curves of models with different latent scales can be laid over each other).
    """
    arr = _as_points(z, min_n=2)
    arr, _ = _subsample(arr, max_points, seed)
    karr = _check_ks(ks, arr.shape[0])
    _positive("batch_size", batch_size, integer=True)
    inertia = np.array([_inertia(arr, int(k), seed, batch_size, n_init) for k in karr])
    norm = inertia / inertia[0] if inertia[0] > 0 else np.full_like(inertia, np.nan)
    return {"k": karr, "inertia": inertia, "normalised": norm}


def elbow(ks: Any, values: Any) -> dict[str, float]:
    """Elbow of a falling curve: the k farthest from the chord joining its ends, with
    both axes scaled to [0, 1] (the "kneedle" construction).

    ``strength`` is that largest distance (0 for a straight line, ≈ 0.7 for a sharp
    right angle); a weak elbow (the posts: "no pronounced elbow") has small strength.
    """
    k = np.asarray(ks, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    require(k.ndim == 1 and k.shape == v.shape and k.size >= 3,
            f"ks and values must be 1-D of equal length >= 3, got {k.shape} and {v.shape}",
            StatsError)
    require(bool(np.all(np.isfinite(v))), "values hold NaN/inf", StatsError)
    kx = (k - k[0]) / (k[-1] - k[0]) if k[-1] != k[0] else np.zeros_like(k)
    span = v.max() - v.min()
    vy = (v - v.min()) / span if span > 0 else np.zeros_like(v)
    # distance from the chord between (kx[0], vy[0]) and (kx[-1], vy[-1])
    dx, dy = kx[-1] - kx[0], vy[-1] - vy[0]
    norm = math.hypot(dx, dy)
    dist = np.abs(dy * (kx - kx[0]) - dx * (vy - vy[0])) / norm if norm > 0 else np.zeros_like(v)
    i = int(np.argmax(dist))
    return {"k": float(k[i]), "strength": float(dist[i])}


def gap_statistic(z: Any, ks: Iterable[int] = range(1, 11), n_refs: int = 10, seed: int = 0,
                  reference: str = "pca", batch_size: int = 1024, n_init: int = 3,
                  max_points: int | None = 5000) -> dict[str, Any]:
    """Gap statistic (Tibshirani, Walther & Hastie 2001) with MiniBatchKMeans.

    gap(k) = E*[ln W_k] − ln W_k, with W_k the within-cluster sum of squares and E* the
    mean over ``n_refs`` reference data sets drawn uniformly in the bounding box of the
    data along its principal axes (``reference='pca'``, the paper's recommended
    variant) or of the raw coordinates (``'box'``). ``sd`` is s_k = sd*(ln W*_k)·√(1 + 1/B).
    ``k_opt`` is the smallest k with gap(k) >= gap(k+1) − s_{k+1} (the last k if none).
    """
    arr = _as_points(z, min_n=2)
    arr, _ = _subsample(arr, max_points, seed)
    karr = _check_ks(ks, arr.shape[0])
    _positive("n_refs", n_refs, integer=True)
    require(reference in ("pca", "box"), f"reference={reference!r} must be 'pca' or 'box'",
            StatsError)
    x = arr - arr.mean(axis=0)
    if reference == "pca":
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        x = x @ vt.T  # W_k is rotation invariant, so the references stay in this frame
    lo, hi = x.min(axis=0), x.max(axis=0)
    rng = np.random.default_rng(seed)
    log_w = np.log([_inertia(x, int(k), seed, batch_size, n_init) for k in karr])
    ref = np.empty((n_refs, karr.size))
    for b in range(n_refs):
        xr = rng.uniform(lo, hi, size=x.shape)
        ref[b] = np.log([_inertia(xr, int(k), seed + b + 1, batch_size, n_init) for k in karr])
    log_w_ref = ref.mean(axis=0)
    gap = log_w_ref - log_w
    sd = ref.std(axis=0) * math.sqrt(1 + 1 / n_refs)
    k_opt = int(karr[-1])
    for i in range(karr.size - 1):
        if gap[i] >= gap[i + 1] - sd[i + 1]:
            k_opt = int(karr[i])
            break
    return {"k": karr, "gap": gap, "sd": sd, "log_w": log_w, "log_w_ref": log_w_ref,
            "k_opt": k_opt}


def tsne_embedding(z: Any, perplexity: float = 30.0, early_exaggeration: float = 12.0,
                   seed: int = 0, max_points: int | None = 5000, max_iter: int = 1000,
                   n_components: int = 2) -> dict[str, Any]:
    """t-SNE of ``z`` (sklearn ``TSNE``, PCA initialisation, automatic learning rate),
    on a seeded subsample of at most ``max_points`` points for speed.

    Returns ``embedding`` (m, n_components), ``index`` (the rows of ``z`` used, sorted),
    ``kl_divergence`` and ``params``. The posts used perplexity 30 / early exaggeration
    12, and 10 / 16.
    """
    from sklearn.manifold import TSNE

    arr = _as_points(z, min_n=4)
    _positive("perplexity", perplexity)
    _positive("early_exaggeration", early_exaggeration)
    x, idx = _subsample(arr, max_points, seed)
    require(perplexity < x.shape[0],
            f"perplexity={perplexity} must be below the number of points ({x.shape[0]})",
            StatsError)
    tsne = TSNE(n_components=n_components, perplexity=perplexity,
                early_exaggeration=early_exaggeration, init="pca", learning_rate="auto",
                random_state=seed, max_iter=max_iter)
    emb = tsne.fit_transform(x)
    return {"embedding": emb, "index": idx, "kl_divergence": float(tsne.kl_divergence_),
            "params": {"perplexity": perplexity, "early_exaggeration": early_exaggeration,
                       "seed": seed, "max_iter": max_iter, "n_points": int(x.shape[0])}}


# --------------------------------------------------------------------------- image quality

def _as_images(images: Any, name: str = "images", min_n: int = 1) -> np.ndarray:
    try:
        arr = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"{name} cannot be read as numbers ({exc})") from exc
    require(arr.ndim == 4 and arr.shape[-1] == 3,
            f"{name} has shape {arr.shape}; pass float images of shape (N, H, W, 3)", StatsError)
    require(arr.shape[0] >= min_n, f"{name} holds {arr.shape[0]} images; at least {min_n} needed",
            StatsError)
    require(min(arr.shape[1:3]) >= 8, f"{name} are {arr.shape[1]}x{arr.shape[2]}; need >= 8x8",
            StatsError)
    require(bool(np.all(np.isfinite(arr))), f"{name} hold NaN/inf pixels", StatsError)
    lo, hi = float(arr.min()), float(arr.max())
    require(lo >= -1e-3 and hi <= 1 + 1e-3,
            f"{name} have pixel values in [{lo:.3g}, {hi:.3g}]; scale them to [0, 1]", StatsError)
    return arr


_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _band_index(h: int, w: int, n_bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Band of each rfft2 frequency (−1 = unused) and the bands' centre frequencies."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fy ** 2 + fx ** 2)
    edges = np.geomspace(1.0 / min(h, w), 0.5, n_bands + 1)
    band = np.searchsorted(edges, f * (1 + 1e-9), side="right") - 1
    band[(f < edges[0] * (1 - 1e-9)) | (f > 0.5 * (1 + 1e-9))] = -1
    band[band >= n_bands] = n_bands - 1
    band[f == 0] = -1
    counts = np.bincount(band[band >= 0].ravel(), minlength=n_bands)
    require(bool(np.all(counts > 0)),
            f"images of {h}x{w} are too small for n_bands={n_bands}; use fewer bands", StatsError)
    centres = np.sqrt(edges[:-1] * edges[1:])
    return band, centres


def power_spectrum_features(images: Any, n_bands: int = 8, batch: int = 256) -> np.ndarray:
    """log10 of the mean power of each image's luma in ``n_bands`` log-spaced radial
    frequency bands from 1/size to 0.5 cycles per pixel, shape (N, n_bands).

    The luma is mean-subtracted and Hann-windowed (no edge artefacts). A constant image
    has power 0 in every band, floored at 1e-12 (log10 = −12).
    """
    arr = _as_images(images)
    _positive("n_bands", n_bands, integer=True)
    return _spectrum_features(arr, n_bands, batch)


def _spectrum_features(arr: np.ndarray, n_bands: int, batch: int = 256,
                       band: np.ndarray | None = None) -> np.ndarray:
    """:func:`power_spectrum_features` of images already checked by ``_as_images``
    (``band``: ``_band_index``'s first result, when the caller has it)."""
    n, h, w, _ = arr.shape
    if band is None:
        band, _ = _band_index(h, w, n_bands)
    window = np.outer(np.hanning(h + 2)[1:-1], np.hanning(w + 2)[1:-1]).astype(np.float32)
    sel = band >= 0
    bidx = band[sel]
    counts = np.bincount(bidx, minlength=n_bands).astype(np.float64)
    out = np.empty((n, n_bands))
    for start in range(0, n, batch):
        luma = arr[start:start + batch] @ _LUMA
        luma = luma - luma.mean(axis=(1, 2), keepdims=True)
        spec = np.abs(np.fft.rfft2(luma * window)) ** 2 / (h * w)
        flat = spec[:, sel]
        sums = np.zeros((flat.shape[0], n_bands))
        for b in range(n_bands):
            sums[:, b] = flat[:, bidx == b].sum(axis=1)
        out[start:start + batch] = np.log10(sums / counts + 1e-12)
    return out


def spectral_slope(images: Any, n_bands: int = 8) -> np.ndarray:
    """Per-image exponent α of the radial power spectrum, |F(f)|² ∝ f^(−α), fitted by
    least squares over the bands of :func:`power_spectrum_features`.

    Natural images have α ≈ 2; white noise α ≈ 0; blur makes the spectrum fall much
    faster (α ≫ 4). Constant images give NaN (no spectrum to fit).
    """
    arr = _as_images(images)
    _positive("n_bands", n_bands, integer=True)
    return _spectral_slope(arr, n_bands)


def _spectral_slope(arr: np.ndarray, n_bands: int) -> np.ndarray:
    """:func:`spectral_slope` of images already checked by ``_as_images``."""
    band, centres = _band_index(arr.shape[1], arr.shape[2], n_bands)
    feats = _spectrum_features(arr, n_bands, band=band)
    lf = np.log10(centres)
    lf = lf - lf.mean()
    slope = (feats - feats.mean(axis=1, keepdims=True)) @ lf / float(lf @ lf)
    alpha = -slope
    alpha[np.all(feats <= -11.9, axis=1)] = np.nan
    return alpha


def _downsample(arr: np.ndarray, grid: int) -> np.ndarray:
    """Area-average each image onto a grid×grid×3 raster (any H, W), flattened."""
    n, h, w, c = arr.shape
    ys = np.linspace(0, h, grid + 1).round().astype(int)
    xs = np.linspace(0, w, grid + 1).round().astype(int)
    rows = np.add.reduceat(arr, ys[:-1], axis=1) / np.diff(ys)[None, :, None, None]
    cells = np.add.reduceat(rows, xs[:-1], axis=2) / np.diff(xs)[None, None, :, None]
    return cells.reshape(n, grid * grid * c).astype(np.float64)


@dataclass(frozen=True)
class QualityResult:
    """Per-image scores and their summary."""

    scores: np.ndarray
    summary: Estimate
    method: str

    def to_dict(self) -> dict:
        return {"summary": self.summary.to_dict(), "method": self.method,
                "n": int(self.scores.size), "scores_mean": float(np.mean(self.scores))}


class QualityScorer:
    """Typicality of images relative to a reference set of real images.

    Design. Each image is described by two feature blocks, each standardised on the
    reference:

    * ``spectrum`` — its radial power spectrum, log10 power in ``n_bands`` log-spaced
      bands (:func:`power_spectrum_features`), each band z-scored over the reference.
      It sees noise (too much high-frequency power), blur (too little), constant
      images (none at all) and ringing;
    * ``layout`` — its coarse layout and colour: the image area-averaged to
      ``grid × grid × 3`` and projected on the first ``n_components`` principal
      components of the reference, whitened. It sees images whose arrangement of light
      and colour is unlike any real one.

    In each block the distance of an image to the reference is its mean Euclidean
    distance to the ``k`` nearest reference images, divided by the median
    leave-one-out distance of the reference images themselves. The non-conformity of
    an image is the larger of its two block distances (so one block cannot dilute the
    other: uniform noise has a typical coarse layout — mid grey — but an impossible
    spectrum). ``fit`` computes the leave-one-out non-conformity of every reference
    image, the calibration set, and an image's score is its conformal p-value
    (1 + #{calibration values >= its value}) / (n_ref + 1): held-out real images get
    scores uniform on (0, 1]; images unlike every real one get 1/(n_ref + 1).
    :meth:`score` summarises a set as 2 × mean score, so real images score ≈ 1 and
    garbage ≈ 0.

    Validation (tests/test_latent.py): with smooth procedural face-like images as the
    reference, held-out ones score ≈ 1, while uniform noise, heavily blurred copies of
    the held-out images, pixel-shuffled copies and constant images score < 0.1. Blur
    is penalised by design, so a blurry-but-recognisable VAE sample scores between
    real images and garbage: use the score to rank models and sampling radii, not as an
    absolute grade.
    """

    def __init__(self, k: int = 5, n_bands: int = 8, n_components: int = 16, grid: int = 8):
        for name, v in (("k", k), ("n_bands", n_bands), ("n_components", n_components),
                        ("grid", grid)):
            _positive(name, v, integer=True)
        self.k, self.n_bands, self.n_components, self.grid = k, n_bands, n_components, grid
        self._fitted = False

    # -- fitting
    def fit(self, reference: Any) -> "QualityScorer":
        """Fit the standardisation, PCA and calibration on real images (>= 20 advised)."""
        from sklearn.neighbors import NearestNeighbors

        ref = _as_images(reference, "reference", min_n=max(self.k + 2, 10))
        self.shape_ = ref.shape[1:]
        spec = _spectrum_features(ref, self.n_bands)
        self.spec_mean_ = spec.mean(axis=0)
        self.spec_sd_ = np.maximum(spec.std(axis=0, ddof=1), 1e-6)
        pix = _downsample(ref, self.grid)
        self.pix_mean_ = pix.mean(axis=0)
        _, s, vt = np.linalg.svd(pix - self.pix_mean_, full_matrices=False)
        m = int(min(self.n_components, ref.shape[0] - 1, pix.shape[1]))
        scale = s[:m] / math.sqrt(ref.shape[0] - 1)
        keep = scale > 1e-8
        require(bool(np.any(keep)), "the reference images are all identical; pass varied "
                "real images", StatsError)
        self.components_ = vt[:m][keep]
        self.pix_scale_ = scale[keep]
        self.nn_, self.block_median_ = [], []
        loo = []
        for block in self._standardised(spec, pix):
            nn = NearestNeighbors(n_neighbors=self.k + 1).fit(block)
            dist, _ = nn.kneighbors(block)
            d = dist[:, 1:].mean(axis=1)  # leave-one-out: drop the image itself
            med = float(np.median(d))
            med = med if med > 0 else 1.0
            self.nn_.append(nn)
            self.block_median_.append(med)
            loo.append(d / med)
        self.calibration_ = np.sort(np.max(np.stack(loo), axis=0))
        self._fitted = True
        return self

    def _need_fit(self) -> None:
        require(self._fitted, "the QualityScorer is not fitted; call .fit(reference_images)",
                StatsError)

    def _standardised(self, spec: np.ndarray, pix: np.ndarray) -> list[np.ndarray]:
        """The two blocks from spectrum features and downsampled images."""
        spec = (spec - self.spec_mean_) / self.spec_sd_
        pix = (pix - self.pix_mean_) @ self.components_.T
        pix = pix / self.pix_scale_
        return [spec, pix]

    def _blocks_of(self, arr: np.ndarray) -> list[np.ndarray]:
        return self._standardised(_spectrum_features(arr, self.n_bands),
                                  _downsample(arr, self.grid))

    def _checked(self, images: Any, prechecked: bool = False) -> np.ndarray:
        """``images`` checked (``prechecked``: already by ``_as_images``) and of the
        reference's size, on a fitted scorer."""
        self._need_fit()
        arr = images if prechecked else _as_images(images)
        require(arr.shape[1:] == self.shape_,
                f"images are {arr.shape[1:]} but the reference was {self.shape_}; "
                "resize them to the reference size", StatsError)
        return arr

    def block_distances(self, images: Any) -> dict[str, np.ndarray]:
        """Per block, each image's k-NN distance over the reference's median LOO distance."""
        return self._block_distances(self._checked(images))

    def _block_distances(self, arr: np.ndarray) -> dict[str, np.ndarray]:
        blocks = self._blocks_of(arr)
        out = {}
        for name, block, nn, med in zip(("spectrum", "layout"), blocks, self.nn_,
                                        self.block_median_):
            dist, _ = nn.kneighbors(block, n_neighbors=self.k)
            out[name] = dist.mean(axis=1) / med
        return out

    def distances(self, images: Any) -> np.ndarray:
        """Non-conformity of each image: the larger of its two block distances
        (≈ 1 for a typical real image)."""
        return self._distances(self._checked(images))

    def _distances(self, arr: np.ndarray) -> np.ndarray:
        d = self._block_distances(arr)
        return np.maximum(d["spectrum"], d["layout"])

    def scores(self, images: Any) -> np.ndarray:
        """Per-image conformal p-values in (0, 1] (uniform for real images)."""
        return self._scores(self._checked(images))

    def _scores(self, arr: np.ndarray) -> np.ndarray:
        d = self._distances(arr)
        cal = self.calibration_
        above = cal.size - np.searchsorted(cal, d, side="left")
        return (1.0 + above) / (cal.size + 1.0)

    def score(self, images: Any, n_boot: int = 1000, seed: int = 0,
              level: float = 0.95) -> Estimate:
        """2 × mean conformal p-value, bootstrap CI over images (real ≈ 1, garbage ≈ 0)."""
        return self.result(images, n_boot, seed, level).summary

    def result(self, images: Any, n_boot: int = 1000, seed: int = 0,
               level: float = 0.95) -> QualityResult:
        """Per-image scores and their summary (see :meth:`score`)."""
        return self._result(self._checked(images), n_boot, seed, level)

    def _result(self, arr: np.ndarray, n_boot: int, seed: int, level: float) -> QualityResult:
        p = self._scores(arr)
        if p.size >= 2:
            est = bootstrap(p, lambda v: 2.0 * v.mean(axis=-1), n_boot=n_boot, level=level,
                            seed=seed, vectorized=True)
        else:
            est = Estimate(2 * float(p[0]), 0.0, 2.0, level, "single image", 1)
        summary = Estimate(est.value, est.low, est.high, level,
                           "typicality (2 × mean conformal p), bootstrap", int(p.size))
        return QualityResult(p, summary, "reference typicality")


def _reference_free_scores(arr: np.ndarray, alpha0: float, width: float) -> np.ndarray:
    alpha = _spectral_slope(arr, 8)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.exp(-0.5 * (np.log(alpha / alpha0) / width) ** 2)
    return np.where(np.isfinite(score) & (alpha > 0), score, 0.0)


def image_quality(images: Any, reference: Any = None, n_boot: int = 1000, seed: int = 0,
                  level: float = 0.95, alpha0: float = 2.5, width: float = 0.4) -> QualityResult:
    """Quality scores of decoded images in [0, 1] with a summary Estimate.

    * With ``reference`` (real images, or a fitted :class:`QualityScorer`): the
      reference typicality of :class:`QualityScorer` — the recommended, validated score.
    * Without: a reference-free score from the spectral exponent α
      (:func:`spectral_slope`): exp(−½ (ln(α/alpha0)/width)²), 1 at α = alpha0 (2.5,
      between natural photographs, α ≈ 2, and smooth rendered or slightly soft images,
      α ≈ 3), 0.6 at α ≈ 1.7 or 3.7, ≈ 0 for noise (α ≈ 0), heavy blur (α ≫ 5) and
      constant images (no spectrum). The summary is the mean score with a bootstrap CI.
      It judges only the spectrum, not content: prefer the reference score.
    """
    arr = _as_images(images)
    if reference is not None:
        scorer = (reference if isinstance(reference, QualityScorer)
                  else QualityScorer().fit(reference))
        return scorer._result(scorer._checked(arr, prechecked=True), n_boot, seed, level)
    _positive("alpha0", alpha0)
    _positive("width", width)
    scores = _reference_free_scores(arr, alpha0, width)
    if scores.size >= 2:
        est = bootstrap(scores, lambda v: v.mean(axis=-1), n_boot=n_boot, level=level, seed=seed,
                        vectorized=True)
    else:
        est = Estimate(float(scores[0]), 0.0, 1.0, level, "single image", 1)
    summary = Estimate(est.value, est.low, est.high, level,
                       "spectral-slope score, bootstrap", int(scores.size))
    return QualityResult(scores, summary, "spectral slope")


def quality_vs_reference(images: Any, reference: Any, heldout: Any, k: int = 5,
                         n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> Estimate:
    """Median feature-space distance of held-out real images to ``reference`` over that
    of ``images`` (see :class:`QualityScorer` for the features): ≈ 1 when the images are
    as close to real ones as real held-out images are, → 0 for images unlike real ones.
    Two-sample bootstrap CI over images and held-out images.
    """
    scorer = (reference if isinstance(reference, QualityScorer)
              else QualityScorer(k=k).fit(reference))
    d_img = scorer.distances(images)
    d_held = scorer.distances(heldout)
    require(d_img.size >= 2 and d_held.size >= 2,
            "quality_vs_reference needs at least 2 images and 2 held-out images", StatsError)
    est = bootstrap((d_held, d_img),
                    lambda h, i: np.median(h, axis=-1) / np.median(i, axis=-1),
                    n_boot=n_boot, level=level, seed=seed, paired=False, vectorized=True)
    return Estimate(est.value, est.low, est.high, level,
                    "held-out/image median NN distance, bootstrap", est.n)
