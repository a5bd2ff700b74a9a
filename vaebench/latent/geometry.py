"""Geometry of latent points z (an array of shape (N, d)): radii, axes, PCA, intrinsic
dimension, the Gaussian null and its voids, clustering and projections.

Every statistic returns an :class:`~vaebench.stats.estimate.Estimate`; nothing here renders.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
from scipy import signal
from scipy import stats as sps

from vaebench.errors import StatsError, require
from vaebench.stats.estimate import Estimate, _as_1d, bootstrap, mean_ci, percentile_estimate
from vaebench.stats.inference import rate_ci

__all__ = [
    "radii",
    "radius_histogram",
    "histogram_peak",
    "radius_peak",
    "kde_bandwidth",
    "fraction_in",
    "axis_table",
    "second_moment_sum",
    "broad_axes",
    "pca_spectrum",
    "spectral_flatness",
    "twonn",
    "mle_dimension",
    "gaussian_null",
    "VoidProbe",
    "void_probe",
    "inertia_curve",
    "elbow",
    "gap_statistic",
    "tsne_embedding",
]


# --------------------------------------------------------------------------- input checks


def _as_points(z: Any, name: str = "z", min_n: int = 1, finite: bool = True) -> np.ndarray:
    """A (finite, unless ``finite=False``) float64 array of shape (N, d) with N >= min_n."""
    try:
        arr = np.asarray(z, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"{name} cannot be read as numbers ({exc}); pass an (N, d) array") from exc
    require(arr.ndim == 2, f"{name} has shape {arr.shape}; pass a 2-D array of N points by d dimensions", StatsError)
    require(arr.shape[0] >= min_n, f"{name} has {arr.shape[0]} points; at least {min_n} are needed", StatsError)
    require(arr.shape[1] >= 1, f"{name} has shape {arr.shape}: no dimensions", StatsError)
    if finite:
        require(
            bool(np.all(np.isfinite(arr))),
            f"{name} holds {int(np.sum(~np.isfinite(arr)))} NaN/inf values; drop those points",
            StatsError,
        )
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


def radius_histogram(r: Any, bin_width: float = 0.5, r_max: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of radii in bins ``[0, w), [w, 2w), …`` exactly as the posts draw it.

    Bin ``i`` counts ``i·w <= R < (i+1)·w``. ``r_max`` (rounded up to a multiple of
    ``w``) ends the last bin; radii at or beyond it are not counted (the posts show
    0 < R < 35). By default the bins run just past the largest radius, so every value
    is counted. Returns ``(edges, counts)`` with ``len(edges) == len(counts) + 1``.
    """
    arr = _as_1d(r, "r")
    _positive("bin_width", bin_width)
    require(bool(np.all(arr >= 0)), f"r holds negative values (min {arr.min():.4g}); radii are >= 0", StatsError)
    if r_max is None:
        n_bins = int(math.floor(arr.max() / bin_width)) + 1
    else:
        _positive("r_max", r_max)
        n_bins = max(1, int(math.ceil(r_max / bin_width - 1e-9)))
    require(
        n_bins <= 10_000_000,
        f"{n_bins} bins of width {bin_width} are too many; raise bin_width or lower r_max",
        StatsError,
    )
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
    require(bool(np.all(arr >= 0)), f"r holds negative values (min {arr.min():.4g}); radii are >= 0", StatsError)
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
        require(
            bandwidth in ("scott", "silverman"),
            f"bandwidth={bandwidth!r} must be 'scott', 'silverman' or a positive number",
            StatsError,
        )
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


def radius_peak(
    r: Any,
    n_boot: int = 200,
    seed: int = 0,
    level: float = 0.95,
    bandwidth: str | float = "scott",
    grid_step: float | None = None,
) -> Estimate:
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
    lo, step, counts, kernel = _kde_grid(arr, h, step)

    def modes(c: np.ndarray) -> np.ndarray:
        dens = signal.fftconvolve(c, kernel[None, :], mode="same", axes=-1)
        return lo + _parabolic_peak(dens) * step

    value = float(modes(counts[None, :])[0])
    reps = _multinomial_replicates(counts, n_boot, np.random.default_rng(seed), modes)
    return percentile_estimate(value, reps, level, f"KDE mode ({bw_name} h={h:.3g}), bootstrap", n)


def _kde_grid(arr: np.ndarray, h: float, step: float) -> tuple[float, float, np.ndarray, np.ndarray]:
    """The radii binned onto a grid from min − 5h to max + 5h (at most 2**17 points):
    ``(grid start, grid step, counts per grid point, sampled Gaussian kernel)``."""
    lo, hi = float(arr.min() - 5 * h), float(arr.max() + 5 * h)
    max_grid = 1 << 17
    if (hi - lo) / step + 1 > max_grid:
        step = (hi - lo) / (max_grid - 1)
    g = int(math.ceil((hi - lo) / step)) + 1
    idx = np.clip(np.rint((arr - lo) / step).astype(np.int64), 0, g - 1)
    counts = np.bincount(idx, minlength=g).astype(np.float64)
    half = int(math.ceil(5 * h / step))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * step / h) ** 2)
    return lo, step, counts, kernel


def _multinomial_replicates(counts: np.ndarray, n_boot: int, rng: np.random.Generator,
                            statistic: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Bootstrap replicates of a batched ``statistic`` of binned data: resampling the points
    exactly, as multinomial bin counts (in chunks of at most 2·10⁷ grid cells)."""
    g = counts.size
    n = int(round(float(counts.sum())))
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
        boots.append(statistic(c))
        done += b
    return np.concatenate(boots)


def fraction_in(r: Any, lo: float, hi: float, level: float = 0.95, method: str = "wilson") -> Estimate:
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
    return {
        "mean": arr.mean(axis=0),
        "sd": sd,
        "mean_se": sd / math.sqrt(n),
        "second_moment": np.mean(arr**2, axis=0),
        "min": arr.min(axis=0),
        "max": arr.max(axis=0),
        "skew": np.asarray(skew),
        "excess_kurtosis": np.asarray(kurt),
    }


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
    require(lam.ndim == 1 and lam.size >= 1, "eigenvalues must be a non-empty 1-D array", StatsError)
    if np.any(lam <= 0):
        return 0.0
    return float(np.exp(np.mean(np.log(lam))) / np.mean(lam))


def pca_spectrum(
    z: Any, n_boot: int = 200, seed: int = 0, level: float = 0.95, k: int = 10, n_groups: int = 100
) -> dict[str, Any]:
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
    reps = _block_bootstrap_eigenvalues(x, n_groups, n_boot, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        rr = reps[:, 0] / reps[:, 1]
    ratio = percentile_estimate(float(lam[0] / lam[1]), rr[np.isfinite(rr)], level, "λ1/λ2, block bootstrap", n)
    flat = None
    if d >= k + 2:
        fr = np.array([spectral_flatness(row[k:]) for row in reps])
        flat = percentile_estimate(spectral_flatness(lam[k:]), fr[np.isfinite(fr)], level,
                                   f"flatness of λ{k + 1}..λ{d}, block bootstrap", n)
    total = float(lam.sum())
    alpha = 1 - level
    elo, ehi = np.quantile(reps, [alpha / 2, 1 - alpha / 2], axis=0)
    return {
        "eigenvalues": lam,
        "explained_variance_ratio": lam / total if total > 0 else lam,
        "eigenvalue_low": elo,
        "eigenvalue_high": ehi,
        "ratio12": ratio,
        "flatness_after": flat,
        "k": k,
        "n": n,
    }


def _block_bootstrap_eigenvalues(x: np.ndarray, n_groups: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, d)`` covariance eigenvalues (descending) of block-bootstrap resamples of the
    centred points ``x``: per-block scatter matrices are computed once (at most ~160 MB)."""
    n, d = x.shape
    g_count = int(min(n_groups, n, max(10, int(1.6e8 // (8 * d * d)))))
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
    return reps


# --------------------------------------------------------------------------- intrinsic dimension


def _neighbour_distances(z: np.ndarray, k: int, max_points: int | None, seed: int) -> tuple[np.ndarray, int]:
    """Distances to the k nearest other points, after removing duplicate points."""
    from sklearn.neighbors import NearestNeighbors

    x, _ = _subsample(z, max_points, seed)
    x = np.unique(x, axis=0)
    require(
        x.shape[0] >= k + 1,
        f"z has {x.shape[0]} distinct points; at least {k + 1} are needed "
        f"(duplicates are removed before the neighbour search)",
        StatsError,
    )
    nn = NearestNeighbors(n_neighbors=k + 1).fit(x)
    dist, _ = nn.kneighbors(x)
    return dist[:, 1:], x.shape[0]


def twonn(
    z: Any,
    discard: float = 0.1,
    level: float = 0.95,
    method: str = "mle",
    n_boot: int = 1000,
    seed: int = 0,
    max_points: int | None = 20_000,
) -> Estimate:
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
    require(
        isinstance(discard, (int, float)) and 0.0 <= discard < 0.9,
        f"discard={discard!r} must be a fraction in [0, 0.9)",
        StatsError,
    )
    require(0 < level < 1, f"level={level!r} must lie in (0, 1)", StatsError)
    arr = _as_points(z, min_n=3)
    dist, n = _neighbour_distances(arr, 2, max_points, seed)
    mu = np.sort(dist[:, 1] / dist[:, 0])
    m = int(math.floor(n * (1.0 - discard)))
    require(m >= 2, f"only {m} ratios remain after discard={discard}; pass more points", StatsError)
    logmu = np.log(mu)
    if method == "mle":
        return _twonn_mle(logmu, n, m, level)
    return _twonn_fit(logmu, np.log(dist[:, 1] / dist[:, 0]), m, level, n_boot, seed)


def _twonn_mle(logmu: np.ndarray, n: int, m: int, level: float) -> Estimate:
    """TwoNN's censored MLE from the sorted ``logmu`` (m kept of n), with its exact χ² CI."""
    total = float(np.sum(logmu[:m]) + (n - m) * logmu[m - 1])
    require(
        total > 0,
        "every point has equidistant first and second neighbours (μ = 1); the dimension is undefined (a lattice?)",
        StatsError,
    )
    alpha = 1 - level
    lo = sps.chi2.ppf(alpha / 2, 2 * m) / (2 * total)
    hi = sps.chi2.ppf(1 - alpha / 2, 2 * m) / (2 * total)
    return Estimate(m / total, lo, hi, level, "TwoNN censored MLE, χ² CI", n)


def _twonn_fit(logmu: np.ndarray, unsorted_logmu: np.ndarray, m: int, level: float, n_boot: int,
               seed: int) -> Estimate:
    """Facco's least-squares line through the origin over the m smallest ``logmu`` (sorted),
    with a bootstrap CI over points (resampling ``unsorted_logmu``)."""
    n = logmu.size

    def fit(sorted_logmu: np.ndarray) -> float:
        f_emp = np.arange(1, n + 1) / n
        x = sorted_logmu[:m]
        y = -np.log1p(-f_emp[:m])
        sxx = float(x @ x)
        return float(x @ y) / sxx if sxx > 0 else float("nan")

    value = fit(logmu)
    est = bootstrap(unsorted_logmu, lambda lm: fit(np.sort(lm)), n_boot=n_boot, level=level, seed=seed)
    return Estimate(value, min(est.low, value), max(est.high, value), level, "TwoNN linear fit, bootstrap", n)


def mle_dimension(
    z: Any, k: int = 20, level: float = 0.95, n_boot: int = 1000, seed: int = 0, max_points: int | None = 20_000
) -> Estimate:
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
    require(k >= 3, f"k={k} must be at least 3 (the Levina–Bickel sum needs k−1 >= 2 terms)", StatsError)
    require(0 < level < 1, f"level={level!r} must lie in (0, 1)", StatsError)
    arr = _as_points(z, min_n=3)
    dist, n = _neighbour_distances(arr, k, max_points, seed)
    logs = np.log(dist)
    # mean_j ln(T_k/T_j) over j < k: a Gamma(k−1, m)/(k−1) variable, unbiased for 1/m
    inv = np.mean(logs[:, -1:] - logs[:, :-1], axis=1)
    require(float(inv.mean()) > 0, "all neighbour distances are equal; the dimension is undefined", StatsError)
    est = bootstrap(inv, lambda v: 1.0 / v.mean(axis=-1), n_boot=n_boot, level=level, seed=seed, vectorized=True)
    return Estimate(est.value, est.low, est.high, level, f"Levina–Bickel MLE k={k}, MacKay–Ghahramani, bootstrap", n)


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
        return {
            "ratio": self.ratio.to_dict(),
            "void_fraction": self.void_fraction.to_dict(),
            "threshold": self.threshold,
            "probes": self.probes,
            "n_probes": int(self.probe_nn.size),
            "n_heldout": int(self.heldout_nn.size),
        }


def void_probe(
    z_train: Any,
    z_heldout: Any,
    probes: str | np.ndarray | Callable[[np.ndarray, int, np.random.Generator], np.ndarray] = "gaussian",
    n_probes: int | None = None,
    seed: int = 0,
    quantile: float = 0.99,
    n_boot: int = 1000,
    level: float = 0.95,
) -> VoidProbe:
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
    require(
        held.shape[1] == train.shape[1],
        f"z_heldout has d={held.shape[1]} but z_train has d={train.shape[1]}",
        StatsError,
    )
    require(0.5 <= quantile < 1, f"quantile={quantile!r} must lie in [0.5, 1)", StatsError)
    n = held.shape[0] if n_probes is None else n_probes
    _positive("n_probes", n, integer=True)
    rng = np.random.default_rng(seed)
    pts, kind = _probe_points(train, probes, n, rng)
    nn = NearestNeighbors(n_neighbors=1).fit(train)
    probe_nn = nn.kneighbors(pts)[0][:, 0]
    held_nn = nn.kneighbors(held)[0][:, 0]
    require(
        float(np.median(held_nn)) > 0,
        "most held-out points coincide with training points (median NN distance 0); "
        "z_heldout must be points not in z_train",
        StatsError,
    )
    ratio, frac = _void_estimates(probe_nn, held_nn, quantile, n_boot, level, seed)
    return VoidProbe(ratio, frac, probe_nn, held_nn, float(np.quantile(held_nn, quantile)), kind)


def _probe_points(train: np.ndarray, probes: Any, n: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """The ``n`` probe points that :func:`void_probe`'s ``probes`` asks for, and their kind."""
    if isinstance(probes, str):
        require(
            probes in ("gaussian", "box"),
            f"probes={probes!r} must be 'gaussian', 'box', an array or a callable",
            StatsError,
        )
        kind = probes
        if probes == "gaussian":
            pts = gaussian_null(train, n, seed=int(rng.integers(2**31)))
        else:
            pts = rng.uniform(train.min(axis=0), train.max(axis=0), size=(n, train.shape[1]))
    elif callable(probes):
        kind = getattr(probes, "__name__", "custom")
        pts = _as_points(probes(train, n, rng), "probes", 2)
    else:
        kind = "given"
        pts = _as_points(probes, "probes", 2)
    require(
        pts.shape[1] == train.shape[1], f"probes have d={pts.shape[1]} but z_train has d={train.shape[1]}", StatsError
    )
    return pts, kind


def _void_estimates(probe_nn: np.ndarray, held_nn: np.ndarray, quantile: float, n_boot: int, level: float,
                    seed: int) -> tuple[Estimate, Estimate]:
    """Bootstrap CIs of the median NN-distance ratio (probes / held-out) and of the fraction
    of probes beyond the held-out ``quantile`` of NN distances."""

    def ratio_stat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.median(a, axis=-1) / np.median(b, axis=-1)

    def frac_stat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        thr = np.quantile(b, quantile, axis=-1)
        return np.mean(a > thr[..., None], axis=-1)

    ratio = bootstrap(
        (probe_nn, held_nn), ratio_stat, n_boot=n_boot, level=level, seed=seed, paired=False, vectorized=True
    )
    frac = bootstrap(
        (probe_nn, held_nn), frac_stat, n_boot=n_boot, level=level, seed=seed, paired=False, vectorized=True
    )
    ratio = Estimate(ratio.value, ratio.low, ratio.high, level, "median NN ratio, bootstrap", ratio.n)
    frac = Estimate(
        frac.value, frac.low, frac.high, level, f"fraction beyond held-out q{quantile:g}, bootstrap", frac.n
    )
    return ratio, frac


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
    require(arr.ndim == 1 and arr.size >= 1, "ks must be a non-empty sequence of cluster counts", StatsError)
    require(
        np.issubdtype(arr.dtype, np.integer) and bool(np.all(arr >= 1)),
        f"ks={arr.tolist()} must be positive integers",
        StatsError,
    )
    require(bool(np.all(np.diff(arr) > 0)), f"ks={arr.tolist()} must be increasing", StatsError)
    require(int(arr.max()) <= n, f"k={int(arr.max())} exceeds the {n} points", StatsError)
    return arr.astype(int)


def inertia_curve(
    z: Any,
    ks: Iterable[int] = range(2, 81, 2),
    seed: int = 0,
    batch_size: int = 1024,
    n_init: int = 3,
    max_points: int | None = None,
) -> dict[str, np.ndarray]:
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
    require(
        k.ndim == 1 and k.shape == v.shape and k.size >= 3,
        f"ks and values must be 1-D of equal length >= 3, got {k.shape} and {v.shape}",
        StatsError,
    )
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


def gap_statistic(
    z: Any,
    ks: Iterable[int] = range(1, 11),
    n_refs: int = 10,
    seed: int = 0,
    reference: str = "pca",
    batch_size: int = 1024,
    n_init: int = 3,
    max_points: int | None = 5000,
) -> dict[str, Any]:
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
    require(reference in ("pca", "box"), f"reference={reference!r} must be 'pca' or 'box'", StatsError)
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
    return {"k": karr, "gap": gap, "sd": sd, "log_w": log_w, "log_w_ref": log_w_ref, "k_opt": k_opt}


def tsne_embedding(
    z: Any,
    perplexity: float = 30.0,
    early_exaggeration: float = 12.0,
    seed: int = 0,
    max_points: int | None = 5000,
    max_iter: int = 1000,
    n_components: int = 2,
) -> dict[str, Any]:
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
    require(
        perplexity < x.shape[0],
        f"perplexity={perplexity} must be below the number of points ({x.shape[0]})",
        StatsError,
    )
    tsne = TSNE(
        n_components=n_components,
        perplexity=perplexity,
        early_exaggeration=early_exaggeration,
        init="pca",
        learning_rate="auto",
        random_state=seed,
        max_iter=max_iter,
    )
    emb = tsne.fit_transform(x)
    return {
        "embedding": emb,
        "index": idx,
        "kl_divergence": float(tsne.kl_divergence_),
        "params": {
            "perplexity": perplexity,
            "early_exaggeration": early_exaggeration,
            "seed": seed,
            "max_iter": max_iter,
            "n_points": int(x.shape[0]),
        },
    }
