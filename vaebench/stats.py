"""Statistics with confidence intervals, equivalence and rare-event tests, verdicts.

Every statistic here comes back as an :class:`Estimate` (a value with its confidence
interval, the level and the method that made it), never as a bare number. The few
functions that return plain floats compute exact, deterministic quantities that carry
no sampling error (:func:`rate_upper_bound` is itself a confidence bound,
:func:`power_two_rates` is an exact probability).

Contents
--------
* :class:`Estimate`, :func:`bootstrap` (percentile or BCa, seeded, optionally
  vectorised), :func:`mean_ci` (exact t), :func:`quantile_ci` (exact order statistics).
* :func:`tost` — Welch two one-sided tests for equivalence of two means.
* :func:`wasserstein`, :func:`ks`, :func:`distance_vs_seed_noise` — two-sample distances
  and their comparison with seed-to-seed noise.
* :func:`fisher_exact`, :func:`boschloo`, :func:`rate_ci`, :func:`rate_upper_bound`,
  :func:`power_two_rates` — rare events (runaway rates in C4).
* :func:`linear_fit`, :func:`linear_slope` — OLS with t or cluster-bootstrap CIs.
* :class:`Verdict`, :class:`Check`, :class:`ClaimResult`, :func:`combine`,
  :func:`check_within`, :func:`check_above`, :func:`check_below` — how a claim's
  statistics become a verdict.

Compute modules never render; nothing here imports matplotlib.
"""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Callable, Sequence

import numpy as np
from scipy import special
from scipy import stats as sps

from .errors import StatsError, require

__all__ = [
    "Estimate", "bootstrap", "mean_ci", "quantile_ci",
    "Equivalence", "tost",
    "wasserstein", "ks", "DistanceRatio", "distance_vs_seed_noise",
    "RateTest", "fisher_exact", "boschloo", "rate_ci", "rate_upper_bound",
    "power_two_rates",
    "linear_fit", "linear_slope",
    "Verdict", "Check", "ClaimResult", "combine",
    "check_within", "check_above", "check_below",
]

#: Elements of resampled data materialised at once by a vectorised bootstrap.
_BOOT_CHUNK_ELEMENTS = 20_000_000


# --------------------------------------------------------------------------- helpers

def _check_level(level: float, name: str = "level") -> None:
    require(isinstance(level, (int, float)) and 0.0 < float(level) < 1.0,
            f"{name}={level!r} must be a probability strictly between 0 and 1, e.g. 0.95",
            StatsError)


def _check_alpha(alpha: float) -> None:
    require(isinstance(alpha, (int, float)) and 0.0 < float(alpha) < 0.5,
            f"alpha={alpha!r} must lie in (0, 0.5), e.g. 0.05", StatsError)


def _as_1d(x: Any, name: str, min_n: int = 1) -> np.ndarray:
    """A finite float64 1-D array with at least ``min_n`` values, or a StatsError."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"{name} cannot be read as numbers ({exc}); "
                         "pass a 1-D numeric array") from exc
    require(arr.ndim == 1,
            f"{name} has shape {arr.shape}; pass a 1-D array of values", StatsError)
    require(arr.size >= min_n,
            f"{name} has {arr.size} values; at least {min_n} are needed", StatsError)
    require(bool(np.all(np.isfinite(arr))),
            f"{name} holds {int(np.sum(~np.isfinite(arr)))} NaN/inf values; remove them first",
            StatsError)
    return arr


def _check_count(k: Any, n: Any, kname: str = "k", nname: str = "n") -> tuple[int, int]:
    ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (k, n))
    require(ok, f"{kname}={k!r} and {nname}={n!r} must be integers", StatsError)
    k, n = int(k), int(n)
    require(n >= 1, f"{nname}={n} must be at least 1 (the number of trials)", StatsError)
    require(0 <= k <= n, f"{kname}={k} must lie between 0 and {nname}={n}", StatsError)
    return k, n


def _fmt_pair(value: float, low: float, high: float) -> tuple[str, str, str]:
    """Format three numbers with as many decimals as the CI width deserves."""
    finite = [v for v in (value, low, high) if math.isfinite(v)]
    width = high - low if math.isfinite(low) and math.isfinite(high) else float("nan")
    biggest = max((abs(v) for v in finite), default=0.0)
    if not finite or biggest == 0.0 or biggest < 1e-3 or biggest >= 1e7 \
            or not (math.isfinite(width) and width > 0):
        return tuple(f"{v:.4g}" for v in (value, low, high))  # type: ignore[return-value]
    decimals = int(min(8, max(0, 1 - math.floor(math.log10(width)))))
    return tuple(f"{v:.{decimals}f}" if math.isfinite(v) else f"{v}"  # type: ignore[return-value]
                 for v in (value, low, high))


# --------------------------------------------------------------------------- Estimate

@dataclass(frozen=True)
class Estimate:
    """A value with its confidence interval ``[low, high]`` at ``level``.

    ``method`` says how the interval was made (e.g. ``"bootstrap"``, ``"t"``,
    ``"clopper-pearson"``); ``n`` is the number of observations it rests on.
    Infinite bounds mean the data cannot bound the value at this level.
    """

    value: float
    low: float
    high: float
    level: float = 0.95
    method: str = ""
    n: int | None = None

    def __post_init__(self) -> None:
        for name in ("value", "low", "high", "level"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if self.n is not None:
            object.__setattr__(self, "n", int(self.n))
        if not (math.isnan(self.low) or math.isnan(self.high)):
            require(self.low <= self.high,
                    f"Estimate low={self.low} exceeds high={self.high}; swap them", StatsError)

    @classmethod
    def exact(cls, value: float, method: str = "exact", n: int | None = None) -> "Estimate":
        """A value known without sampling error (its interval is the point)."""
        return cls(value, value, value, 1.0, method, n)

    def contains(self, x: float) -> bool:
        """True when ``x`` lies in the closed interval ``[low, high]``."""
        return bool(self.low <= x <= self.high)

    def inside(self, lo: float, hi: float) -> bool:
        """True when the whole interval lies inside ``[lo, hi]``."""
        return bool(lo <= self.low and self.high <= hi)

    def outside(self, lo: float, hi: float) -> bool:
        """True when the whole interval lies outside ``[lo, hi]`` (entirely below or above)."""
        return bool(self.high < lo or self.low > hi)

    @property
    def width(self) -> float:
        return self.high - self.low

    def scale(self, factor: float) -> "Estimate":
        """The estimate of ``factor * value`` (exact scaling, bounds swapped if negative)."""
        lo, hi = sorted((self.low * factor, self.high * factor))
        return Estimate(self.value * factor, lo, hi, self.level, self.method, self.n)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Estimate":
        return cls(**data)

    def __str__(self) -> str:
        v, lo, hi = _fmt_pair(self.value, self.low, self.high)
        tail = f"{self.level * 100:g}%"
        if self.method:
            tail += f" {self.method}"
        return f"{v} [{lo}, {hi}] ({tail})"


# --------------------------------------------------------------------------- bootstrap

def _prepare_samples(data: Any) -> tuple[tuple[np.ndarray, ...], bool]:
    multi = isinstance(data, tuple)
    raw = data if multi else (data,)
    require(len(raw) >= 1, "data is an empty tuple; pass at least one array", StatsError)
    samples = []
    for i, s in enumerate(raw):
        name = f"data[{i}]" if multi else "data"
        try:
            arr = np.asarray(s)
        except (TypeError, ValueError) as exc:  # pragma: no cover - numpy accepts nearly anything
            raise StatsError(f"{name} cannot be read as an array ({exc})") from exc
        require(arr.ndim >= 1,
                f"{name} is a scalar; pass a 1-D array (values) or 2-D array (rows)", StatsError)
        require(arr.shape[0] >= 2,
                f"{name} has {arr.shape[0]} observations; the bootstrap needs at least 2",
                StatsError)
        samples.append(arr)
    return tuple(samples), multi


def _jackknife_units(n: int, max_groups: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Index sets to delete: single points when ``n <= max_groups``, else random groups."""
    if n <= max_groups:
        return [np.array([i]) for i in range(n)]
    return np.array_split(rng.permutation(n), max_groups)


def _bca_acceleration(samples: tuple[np.ndarray, ...], statistic: Callable, paired: bool,
                      max_groups: int, rng: np.random.Generator) -> float:
    """Jackknife (delete-one or delete-group) estimate of the BCa acceleration."""
    def evaluate(arrays: Sequence[np.ndarray]) -> float:
        return float(statistic(*arrays))

    blocks = []
    if paired:
        n = samples[0].shape[0]
        units = _jackknife_units(n, max_groups, rng)
        vals = []
        for drop in units:
            keep = np.setdiff1d(np.arange(n), drop, assume_unique=True)
            vals.append(evaluate([s[keep] for s in samples]))
        blocks.append(np.asarray(vals))
    else:
        for j, s in enumerate(samples):
            n = s.shape[0]
            vals = []
            for drop in _jackknife_units(n, max_groups, rng):
                keep = np.setdiff1d(np.arange(n), drop, assume_unique=True)
                arrays = list(samples)
                arrays[j] = s[keep]
                vals.append(evaluate(arrays))
            blocks.append(np.asarray(vals))
    nums, dens = 0.0, 0.0
    for theta in blocks:
        theta = theta[np.isfinite(theta)]
        g = theta.size
        if g < 2:
            continue
        u = (g - 1) * (theta.mean() - theta)
        nums += float(np.sum(u ** 3)) / g ** 3
        dens += float(np.sum(u ** 2)) / g ** 2
    if dens <= 0:
        return 0.0
    return nums / (6.0 * dens ** 1.5)


def bootstrap(data: Any, statistic: Callable[..., Any], n_boot: int = 1000,
              level: float = 0.95, seed: int = 0, method: str = "percentile", *,
              paired: bool = True, vectorized: bool = False,
              jackknife_groups: int = 200) -> Estimate:
    """Seeded bootstrap confidence interval of ``statistic(*data)``.

    ``data`` is one of:

    * a 1-D array — its values are resampled;
    * a 2-D (or higher) array — its rows (first axis) are resampled;
    * a tuple of arrays — ``statistic`` is called with them as separate arguments.
      With ``paired=True`` (default) they must have the same length and are resampled
      together with the same row indices (e.g. ``(x, y)`` for a slope); with
      ``paired=False`` each is resampled independently (two-sample statistics such
      as a distance between two distributions).

    ``statistic`` returns a number. With ``vectorized=True`` it is instead called on
    a batch: every argument gains a leading axis of bootstrap replicates (a 1-D sample
    arrives as shape ``(B, n)``, a 2-D one as ``(B, n, d)``) and it must return shape
    ``(B,)`` — e.g. ``lambda x: x.mean(axis=-1)``. The point value is always
    ``statistic`` on the original data (for a vectorised statistic, called with a batch
    of one). Vectorised and looped runs with the same seed give identical intervals.

    ``method='percentile'`` takes the α/2 and 1−α/2 quantiles of the replicates;
    ``method='bca'`` applies Efron's bias correction and acceleration, the latter from
    a jackknife that deletes single observations when there are at most
    ``jackknife_groups`` of them and otherwise deletes ``jackknife_groups`` random
    groups (a grouped jackknife, which keeps BCa affordable for 10⁵ points).

    Replicates where the statistic is not finite are dropped; if fewer than half are
    finite a :class:`StatsError` is raised. ``Estimate.n`` is the number of
    observations (for independent samples, their total).
    """
    require(isinstance(n_boot, (int, np.integer)) and n_boot >= 10,
            f"n_boot={n_boot!r} must be an integer of at least 10 (1000 is usual)", StatsError)
    _check_level(level)
    require(method in ("percentile", "bca"),
            f"method={method!r} is not a bootstrap method; use 'percentile' or 'bca'", StatsError)
    samples, multi = _prepare_samples(data)
    lengths = [s.shape[0] for s in samples]
    if paired and len(samples) > 1:
        require(len(set(lengths)) == 1,
                f"paired samples have different lengths {lengths}; resample them "
                "independently with paired=False or pass equal-length arrays", StatsError)
    rng = np.random.default_rng(seed)

    def call(arrays: Sequence[np.ndarray]) -> np.ndarray:
        out = statistic(*arrays)
        return np.asarray(out, dtype=np.float64)

    point = call([s[None, ...] for s in samples] if vectorized else samples)
    if vectorized:
        point = point.reshape(-1)
    require(point.size == 1,
            f"a vectorized statistic must return shape (B,), got {point.shape} for B=1"
            if vectorized else
            f"the statistic returned shape {point.shape}; it must return one number "
            "(or pass vectorized=True for a batched statistic)", StatsError)
    value = float(point.reshape(-1)[0])
    require(math.isfinite(value),
            f"the statistic on the original data is {value}; it must be finite", StatsError)

    per_rep = sum(int(s.size) for s in samples)
    chunk = int(max(1, min(n_boot, _BOOT_CHUNK_ELEMENTS // max(per_rep, 1))))
    boots = np.empty(n_boot, dtype=np.float64)
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        if paired:
            shared = rng.integers(0, lengths[0], size=(b, lengths[0]))
            idx = [shared] * len(samples)
        else:
            idx = [rng.integers(0, n, size=(b, n)) for n in lengths]
        if vectorized:
            out = call([s[i] for s, i in zip(samples, idx)]).reshape(-1)
            require(out.size == b,
                    f"a vectorized statistic must return shape ({b},), got {out.shape}",
                    StatsError)
            boots[done:done + b] = out
        else:
            for r in range(b):
                boots[done + r] = float(call([s[i[r]] for s, i in zip(samples, idx)]))
        done += b

    finite = boots[np.isfinite(boots)]
    require(finite.size >= max(10, n_boot // 2),
            f"only {finite.size} of {n_boot} bootstrap replicates gave a finite statistic; "
            "the statistic is unstable on resampled data", StatsError)
    alpha = 1.0 - level
    if method == "percentile" or np.all(finite == finite[0]):
        lo, hi = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
        label = "bootstrap"
    else:
        frac = (np.sum(finite < value) + 0.5 * np.sum(finite == value)) / finite.size
        frac = float(np.clip(frac, 1.0 / (2 * finite.size), 1 - 1.0 / (2 * finite.size)))
        z0 = special.ndtri(frac)
        if vectorized:
            def scalar_stat(*arrays: np.ndarray) -> float:
                return float(np.asarray(statistic(*[a[None, ...] for a in arrays])).reshape(-1)[0])
        else:
            scalar_stat = statistic  # type: ignore[assignment]
        a = _bca_acceleration(samples, scalar_stat, paired or len(samples) == 1,
                              jackknife_groups, np.random.default_rng([seed, 1]))
        qs = []
        for zq in (special.ndtri(alpha / 2), special.ndtri(1 - alpha / 2)):
            denom = 1.0 - a * (z0 + zq)
            adj = special.ndtr(z0 + (z0 + zq) / denom) if denom > 0 else (0.0 if zq < 0 else 1.0)
            qs.append(float(np.clip(adj, 0.0, 1.0)))
        lo, hi = np.quantile(finite, qs)
        label = "bootstrap BCa"
    lo, hi = float(min(lo, hi)), float(max(lo, hi))
    n = lengths[0] if (paired or not multi) else int(sum(lengths))
    return Estimate(value, lo, hi, level, label, n)


# --------------------------------------------------------------------------- exact CIs

def mean_ci(x: Any, level: float = 0.95) -> Estimate:
    """Mean with the exact Student-t interval ``mean ± t(n-1) · sd / √n``.

    Exact for normal data, asymptotically right for any finite-variance data.
    """
    _check_level(level)
    arr = _as_1d(x, "x", min_n=2)
    n = arr.size
    m = float(arr.mean())
    se = float(arr.std(ddof=1)) / math.sqrt(n)
    half = float(sps.t.ppf(0.5 + level / 2, n - 1)) * se
    return Estimate(m, m - half, m + half, level, "t", n)


def quantile_ci(x: Any, q: float, level: float = 0.95) -> Estimate:
    """The ``q`` quantile with an exact, distribution-free order-statistic interval.

    The number ``B`` of observations below the true quantile is Binomial(n, q), so
    ``[x_(l), x_(u)]`` covers it with probability ``P(l <= B <= u-1) >= level`` for
    ``l - 1`` the largest ``j`` with ``P(B <= j) <= α/2`` and ``u - 1`` the smallest ``j``
    with ``P(B <= j) >= 1 - α/2`` (equal tails, each at most α/2; valid for continuous
    data). When the sample is too small to bound a tail (e.g. the 99 % quantile of 100
    points), that bound is ``-inf``/``inf``. The point value is ``numpy.quantile``
    (linear interpolation). ``q`` must lie strictly inside (0, 1); the sample maximum
    has no distribution-free interval.
    """
    _check_level(level)
    require(isinstance(q, (int, float)) and 0.0 < float(q) < 1.0,
            f"q={q!r} must lie strictly between 0 and 1 (for the max or min report the "
            "sample extreme; it has no distribution-free CI)", StatsError)
    arr = _as_1d(x, "x", min_n=1)
    n = arr.size
    alpha = 1.0 - level
    dist = sps.binom(n, q)
    j = int(dist.ppf(alpha / 2))
    l_idx = j + 1 if dist.cdf(j) <= alpha / 2 else j  # 1-based; 0 means unbounded
    u_idx = int(dist.ppf(1 - alpha / 2)) + 1          # 1-based; n+1 means unbounded
    wanted = [i - 1 for i in (l_idx, u_idx) if 1 <= i <= n]
    part = np.partition(arr, wanted) if wanted else arr
    low = float(part[l_idx - 1]) if l_idx >= 1 else -math.inf
    high = float(part[u_idx - 1]) if u_idx <= n else math.inf
    value = float(np.quantile(arr, q))
    low, high = min(low, value), max(high, value)
    return Estimate(value, low, high, level, "order statistics", n)


# --------------------------------------------------------------------------- equivalence

@dataclass(frozen=True)
class Equivalence:
    """Result of a TOST equivalence test of two means.

    ``difference`` is mean(a) − mean(b) with its (1 − 2α) confidence interval — the
    interval that must lie inside ``[-margin, margin]`` for equivalence at level α.
    ``margin`` is absolute; ``relative_margin`` is set when it was given as a fraction
    of |mean(b)|.
    """

    difference: Estimate
    margin: float
    p_value: float
    equivalent: bool
    alpha: float = 0.05
    relative_margin: float | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["difference"] = self.difference.to_dict()
        return out

    def __str__(self) -> str:
        word = "equivalent" if self.equivalent else "not shown equivalent"
        return (f"difference {self.difference} vs margin ±{self.margin:.4g}: {word} "
                f"(TOST p={self.p_value:.3g}, α={self.alpha:g})")


def tost(a: Any, b: Any, margin: float, alpha: float = 0.05, *,
         relative: bool = False) -> Equivalence:
    """Welch two one-sided tests (TOST) for equivalence of the means of ``a`` and ``b``.

    H0: |mean(a) − mean(b)| >= margin against H1: |difference| < margin. Each one-sided
    Welch t-test is run at level α; the TOST p-value is the larger of the two and
    equivalence is declared when it is below α — the same as the (1 − 2α) Welch
    interval of the difference lying strictly inside (−margin, margin). Its false
    positive rate at |true difference| = margin is at most α.

    With ``relative=True`` the margin is a fraction of |mean(b)| (``margin=0.01`` means
    "within 1 % of b's mean"); mean(b) is then treated as known, which is accurate when
    its standard error is small against the margin.
    """
    _check_alpha(alpha)
    x = _as_1d(a, "a", min_n=2)
    y = _as_1d(b, "b", min_n=2)
    require(isinstance(margin, (int, float)) and math.isfinite(margin) and margin > 0,
            f"margin={margin!r} must be a positive number", StatsError)
    rel = float(margin) if relative else None
    m = float(margin) * abs(float(y.mean())) if relative else float(margin)
    require(m > 0, f"relative margin={margin} of mean(b)=0 is zero; give an absolute margin",
            StatsError)
    na, nb = x.size, y.size
    va, vb = float(x.var(ddof=1)) / na, float(y.var(ddof=1)) / nb
    diff = float(x.mean() - y.mean())
    se = math.sqrt(va + vb)
    if se == 0.0:
        p = 0.0 if abs(diff) < m else 1.0
        est = Estimate(diff, diff, diff, 1 - 2 * alpha, "Welch t", na + nb)
        return Equivalence(est, m, p, abs(diff) < m, float(alpha), rel)
    df = (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))
    p_low = float(sps.t.sf((diff + m) / se, df))   # H0: diff <= -m
    p_high = float(sps.t.cdf((diff - m) / se, df))  # H0: diff >= +m
    p = max(p_low, p_high)
    half = float(sps.t.ppf(1 - alpha, df)) * se
    est = Estimate(diff, diff - half, diff + half, 1 - 2 * alpha, "Welch t", na + nb)
    return Equivalence(est, m, p, bool(p < alpha), float(alpha), rel)


# --------------------------------------------------------------------------- distances

def _ks_stat(a: np.ndarray, b: np.ndarray) -> float:
    a = np.sort(a)
    b = np.sort(b)
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(fa - fb)))


def _w1_stat(a: np.ndarray, b: np.ndarray) -> float:
    return float(sps.wasserstein_distance(a, b))


_DISTANCES: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "wasserstein": _w1_stat, "ks": _ks_stat,
}


def wasserstein(a: Any, b: Any, n_boot: int = 200, seed: int = 0,
                level: float = 0.95) -> Estimate:
    """1-Wasserstein (earth mover's) distance between two 1-D samples, bootstrap CI.

    Both samples are resampled independently. A distance between finite samples is
    biased upwards (two samples of one distribution are at distance ~1/√n, not 0), so
    its CI never contains 0; compare it with a seed-to-seed distance of the same
    sample sizes (:func:`distance_vs_seed_noise`) rather than with 0.
    """
    x = _as_1d(a, "a", min_n=2)
    y = _as_1d(b, "b", min_n=2)
    est = bootstrap((x, y), _w1_stat, n_boot=n_boot, level=level, seed=seed, paired=False)
    return Estimate(est.value, est.low, est.high, level, "bootstrap", est.n)


def ks(a: Any, b: Any, n_boot: int = 200, seed: int = 0, level: float = 0.95) -> Estimate:
    """Two-sample Kolmogorov–Smirnov statistic sup|F_a − F_b|, bootstrap CI.

    Same caveat as :func:`wasserstein`: for two samples of one distribution the
    statistic is of order 1/√n, not 0.
    """
    x = _as_1d(a, "a", min_n=2)
    y = _as_1d(b, "b", min_n=2)
    est = bootstrap((x, y), _ks_stat, n_boot=n_boot, level=level, seed=seed, paired=False)
    return Estimate(est.value, est.low, est.high, level, "bootstrap", est.n)


@dataclass(frozen=True)
class DistanceRatio:
    """Between-model distance against seed-to-seed distance.

    ``ratio`` = mean(between) / mean(within). Read it as: ≈ 1 (CI containing 1, or
    inside a stated band such as [0.5, 2]) — the two models differ no more than two
    seeds of one model do; ≫ 1 — a model effect beyond seed noise. ``resample`` says
    what the CI resamples (``'values'``: the distance values of each group,
    ``'points'``: the points of each sample).
    """

    ratio: Estimate
    between: Estimate
    within: Estimate
    between_values: tuple[float, ...]
    within_values: tuple[float, ...]
    distance: str
    resample: str

    def to_dict(self) -> dict:
        return {"ratio": self.ratio.to_dict(), "between": self.between.to_dict(),
                "within": self.within.to_dict(), "between_values": list(self.between_values),
                "within_values": list(self.within_values), "distance": self.distance,
                "resample": self.resample}


def _parse_group(group: Any, name: str) -> tuple[list[tuple[np.ndarray, np.ndarray]] | None,
                                                 list[float] | None]:
    require(isinstance(group, (list, tuple, np.ndarray)) and len(group) >= 1,
            f"{name} must be a non-empty list of (a, b) sample pairs or of distance values",
            StatsError)
    first = group[0]
    if isinstance(first, (tuple, list)) and len(first) == 2:
        pairs = []
        for i, pair in enumerate(group):
            require(isinstance(pair, (tuple, list)) and len(pair) == 2,
                    f"{name}[{i}] is not an (a, b) pair; do not mix pairs and values",
                    StatsError)
            pairs.append((_as_1d(pair[0], f"{name}[{i}][0]", 2),
                          _as_1d(pair[1], f"{name}[{i}][1]", 2)))
        return pairs, None
    values = _as_1d(group, name, 1)
    require(bool(np.all(values >= 0)), f"{name} holds negative distances; pass distances >= 0",
            StatsError)
    return None, [float(v) for v in values]


def distance_vs_seed_noise(between: Any, within: Any, distance: str | Callable = "wasserstein",
                           n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                           resample: str = "auto") -> DistanceRatio:
    """Compare a between-model distance with the seed-to-seed distance.

    ``between`` lists (a, b) sample pairs across models (e.g. radii of AE seed i and
    VAE seed j) or their precomputed distances; ``within`` lists pairs within one model
    (AE seed i vs AE seed j) or their distances. ``distance`` is ``'wasserstein'``,
    ``'ks'`` or a callable ``(a, b) -> float``.

    The statistic is ratio = mean(between distances) / mean(within distances), a
    two-sample bootstrap CI:

    * ``resample='values'`` resamples the distance values of each group independently
      (needs ≥ 2 values per group). Pairs that share a run are not independent, so with
      few seeds this CI is optimistic — read it loosely.
    * ``resample='points'`` (needs pairs) resamples the points of every sample and
      recomputes all distances: it captures finite-sample noise only.
    * ``'auto'`` takes ``'values'`` when both groups have ≥ 3 values, else ``'points'``.

    Reading: ratio ≈ 1 means the models differ no more than seeds do; ratio ≫ 1 means
    a real model effect. Finite-sample bias inflates both distances alike when the
    samples have the same size, so it largely cancels in the ratio.
    """
    _check_level(level)
    if callable(distance):
        dist_fn, dist_name = distance, getattr(distance, "__name__", "custom")
    else:
        require(distance in _DISTANCES,
                f"distance={distance!r} is unknown; use one of {sorted(_DISTANCES)} or a callable",
                StatsError)
        dist_fn, dist_name = _DISTANCES[distance], distance
    b_pairs, b_vals = _parse_group(between, "between")
    w_pairs, w_vals = _parse_group(within, "within")
    if b_vals is None:
        b_vals = [float(dist_fn(x, y)) for x, y in b_pairs]  # type: ignore[union-attr]
    if w_vals is None:
        w_vals = [float(dist_fn(x, y)) for x, y in w_pairs]  # type: ignore[union-attr]
    require(resample in ("auto", "values", "points"),
            f"resample={resample!r} must be 'auto', 'values' or 'points'", StatsError)
    if resample == "auto":
        resample = "values" if min(len(b_vals), len(w_vals)) >= 3 else "points"
    require(float(np.mean(w_vals)) > 0,
            "the within (seed-to-seed) distances are all 0; the ratio is undefined", StatsError)
    ratio_value = float(np.mean(b_vals) / np.mean(w_vals))

    if resample == "values":
        require(min(len(b_vals), len(w_vals)) >= 2,
                f"resample='values' needs at least 2 distances per group, got "
                f"{len(b_vals)} between and {len(w_vals)} within; pass sample pairs and "
                "resample='points'", StatsError)
        bv, wv = np.asarray(b_vals), np.asarray(w_vals)
        def ratio_of_means(x: np.ndarray, y: np.ndarray) -> float:
            return float(x.mean() / y.mean()) if y.mean() > 0 else float("nan")

        ratio = bootstrap((bv, wv), ratio_of_means, n_boot=n_boot, level=level, seed=seed,
                          paired=False)
        between_est = bootstrap(bv, np.mean, n_boot=n_boot, level=level, seed=seed)
        within_est = bootstrap(wv, np.mean, n_boot=n_boot, level=level, seed=seed)
    else:
        require(b_pairs is not None and w_pairs is not None,
                "resample='points' needs sample pairs for both groups, not distance values",
                StatsError)
        rng = np.random.default_rng(seed)
        reps = np.empty((n_boot, 2))
        for r in range(n_boot):
            means = []
            for pairs in (b_pairs, w_pairs):
                ds = [dist_fn(x[rng.integers(0, x.size, x.size)],
                              y[rng.integers(0, y.size, y.size)]) for x, y in pairs]
                means.append(float(np.mean(ds)))
            reps[r] = means
        alpha = 1 - level
        with np.errstate(divide="ignore", invalid="ignore"):
            rr = reps[:, 0] / reps[:, 1]
        rr = rr[np.isfinite(rr)]
        lo, hi = np.quantile(rr, [alpha / 2, 1 - alpha / 2])
        ratio = Estimate(ratio_value, min(lo, ratio_value), max(hi, ratio_value), level,
                         "bootstrap over points", len(b_vals) + len(w_vals))
        blo, bhi = np.quantile(reps[:, 0], [alpha / 2, 1 - alpha / 2])
        wlo, whi = np.quantile(reps[:, 1], [alpha / 2, 1 - alpha / 2])
        between_est = Estimate(float(np.mean(b_vals)), blo, bhi, level, "bootstrap over points",
                               len(b_vals))
        within_est = Estimate(float(np.mean(w_vals)), wlo, whi, level, "bootstrap over points",
                              len(w_vals))
    ratio = Estimate(ratio_value, ratio.low, ratio.high, level,
                     f"bootstrap over {resample}", len(b_vals) + len(w_vals))
    return DistanceRatio(ratio, between_est, within_est, tuple(b_vals), tuple(w_vals),
                         dist_name, resample)


# --------------------------------------------------------------------------- rare events

_ALTERNATIVES = ("two-sided", "less", "greater")


def _wilson(k: int, n: int, level: float) -> tuple[float, float]:
    z = float(special.ndtri(0.5 + level / 2))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _clopper_pearson(k: int, n: int, level: float) -> tuple[float, float]:
    alpha = 1 - level
    low = float(sps.beta.ppf(alpha / 2, k, n - k + 1)) if k > 0 else 0.0
    high = float(sps.beta.ppf(1 - alpha / 2, k + 1, n - k)) if k < n else 1.0
    return low, high


def rate_ci(k: int, n: int, level: float = 0.95, method: str = "clopper-pearson") -> Estimate:
    """Rate ``k/n`` with an exact Clopper–Pearson (default) or a Wilson score interval.

    Clopper–Pearson inverts two one-sided binomial tests and covers the true rate with
    probability at least ``level`` for every rate; Wilson is shorter and covers close
    to ``level`` on average.
    """
    _check_level(level)
    k, n = _check_count(k, n)
    require(method in ("clopper-pearson", "wilson"),
            f"method={method!r} must be 'clopper-pearson' or 'wilson'", StatsError)
    lo, hi = _clopper_pearson(k, n, level) if method == "clopper-pearson" else _wilson(k, n, level)
    return Estimate(k / n, min(lo, k / n), max(hi, k / n), level, method, n)


def rate_upper_bound(k: int, n: int, level: float = 0.95) -> float:
    """One-sided Clopper–Pearson upper confidence bound on a rate after ``k`` of ``n``.

    The rate is below the bound with confidence ``level``. For ``k = 0`` it is
    ``1 − (1 − level)^(1/n)`` — the "rule of three" ≈ 3/n at 95 %.
    """
    _check_level(level)
    k, n = _check_count(k, n)
    if k == n:
        return 1.0
    if k == 0:
        return float(-math.expm1(math.log1p(-level) / n))
    return float(sps.beta.ppf(level, k + 1, n - k))


def _newcombe(k1: int, n1: int, k2: int, n2: int, level: float) -> Estimate:
    """Newcombe's hybrid score interval (method 10) for p1 − p2; sound at zero counts."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = _wilson(k1, n1, level)
    l2, u2 = _wilson(k2, n2, level)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Estimate(d, max(-1.0, low), min(1.0, high), level, "newcombe", n1 + n2)


@dataclass(frozen=True)
class RateTest:
    """An exact test of two rates k1/n1 against k2/n2.

    ``alternative`` is about rate1 versus rate2: ``'greater'`` means H1: rate1 > rate2.
    ``difference`` is rate1 − rate2 with Newcombe's hybrid score interval; ``rate1`` and
    ``rate2`` carry Clopper–Pearson intervals.
    """

    test: str
    p_value: float
    alternative: str
    difference: Estimate
    rate1: Estimate
    rate2: Estimate
    counts: tuple[int, int, int, int]

    @property
    def no_events(self) -> bool:
        """True when neither arm had an event (no test can then decide anything)."""
        return self.counts[0] == 0 and self.counts[2] == 0

    def to_dict(self) -> dict:
        return {"test": self.test, "p_value": self.p_value, "alternative": self.alternative,
                "difference": self.difference.to_dict(), "rate1": self.rate1.to_dict(),
                "rate2": self.rate2.to_dict(), "counts": list(self.counts)}


def _table(k1: int, n1: int, k2: int, n2: int) -> list[list[int]]:
    # Columns are the two samples (the layout scipy's boschloo_exact documents);
    # fisher_exact's odds ratio for it is > 1 exactly when rate1 > rate2.
    return [[k1, k2], [n1 - k1, n2 - k2]]


def _rate_test(name: str, k1: int, n1: int, k2: int, n2: int, alternative: str,
               level: float) -> RateTest:
    _check_level(level)
    k1, n1 = _check_count(k1, n1, "k1", "n1")
    k2, n2 = _check_count(k2, n2, "k2", "n2")
    require(alternative in _ALTERNATIVES,
            f"alternative={alternative!r} must be one of {_ALTERNATIVES}", StatsError)
    p = _pvalue(name, k1, n1, k2, n2, alternative)
    return RateTest(name, p, alternative, _newcombe(k1, n1, k2, n2, level),
                    rate_ci(k1, n1, level), rate_ci(k2, n2, level), (k1, n1, k2, n2))


def _pvalue(name: str, k1: int, n1: int, k2: int, n2: int, alternative: str) -> float:
    table = _table(k1, n1, k2, n2)
    if name == "fisher":
        return float(sps.fisher_exact(table, alternative=alternative).pvalue)
    if (k1 == 0 and k2 == 0) or (k1 == n1 and k2 == n2):
        return 1.0  # a table with an empty margin carries no evidence
    p = float(sps.boschloo_exact(table, alternative=alternative).pvalue)
    return min(1.0, p) if math.isfinite(p) else 1.0


def fisher_exact(k1: int, n1: int, k2: int, n2: int, alternative: str = "two-sided",
                 level: float = 0.95) -> RateTest:
    """Fisher's exact test of rate k1/n1 against k2/n2 (conditional on the margins).

    ``alternative='greater'`` tests H1: rate1 > rate2. Zero events in both arms give
    p = 1: such data can decide nothing.
    """
    return _rate_test("fisher", k1, n1, k2, n2, alternative, level)


def boschloo(k1: int, n1: int, k2: int, n2: int, alternative: str = "two-sided",
             level: float = 0.95) -> RateTest:
    """Boschloo's exact unconditional test (``scipy.stats.boschloo_exact``).

    Uniformly more powerful than Fisher's test. ``alternative='greater'`` tests
    H1: rate1 > rate2; the two-sided p-value is twice the smaller one-sided one.
    """
    return _rate_test("boschloo", k1, n1, k2, n2, alternative, level)


@functools.lru_cache(maxsize=64)
def _pvalue_grid(test: str, n1: int, n2: int, alternative: str) -> np.ndarray:
    grid = np.empty((n1 + 1, n2 + 1))
    for k1 in range(n1 + 1):
        for k2 in range(n2 + 1):
            grid[k1, k2] = _pvalue(test, k1, n1, k2, n2, alternative)
    grid.setflags(write=False)
    return grid


def power_two_rates(p1: float, p2: float, n1: int, n2: int, alpha: float = 0.05,
                    test: str = "fisher", alternative: str = "two-sided") -> float:
    """Exact power of ``test`` to reject rate1 = rate2 when the true rates are p1, p2.

    Sums the product of the two binomial probabilities over every outcome (k1, k2)
    whose p-value is ``<= alpha`` — no simulation. The p-values of all
    (n1 + 1)(n2 + 1) tables are computed once and cached; Boschloo costs a few
    milliseconds a table, so keep n1, n2 below ~60 for it. With p1 = p2 the result is
    the test's actual size (at most α for both tests).
    """
    for name, p in (("p1", p1), ("p2", p2)):
        require(isinstance(p, (int, float)) and 0.0 <= float(p) <= 1.0,
                f"{name}={p!r} must be a probability in [0, 1]", StatsError)
    require(isinstance(alpha, (int, float)) and 0.0 < alpha < 1.0,
            f"alpha={alpha!r} must lie in (0, 1)", StatsError)
    _check_count(0, n1, "k1", "n1")
    _check_count(0, n2, "k2", "n2")
    require(test in ("fisher", "boschloo"), f"test={test!r} must be 'fisher' or 'boschloo'",
            StatsError)
    require(alternative in _ALTERNATIVES,
            f"alternative={alternative!r} must be one of {_ALTERNATIVES}", StatsError)
    grid = _pvalue_grid(test, int(n1), int(n2), alternative)
    w1 = sps.binom.pmf(np.arange(n1 + 1), n1, p1)
    w2 = sps.binom.pmf(np.arange(n2 + 1), n2, p2)
    return float(np.clip(w1 @ (grid <= alpha).astype(float) @ w2, 0.0, 1.0))


# --------------------------------------------------------------------------- regression

def linear_fit(x: Any, y: Any, level: float = 0.95, groups: Any = None,
               n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Ordinary least squares y = intercept + slope · x with confidence intervals.

    Without ``groups``: exact t intervals (n − 2 degrees of freedom, homoscedastic
    normal errors). With ``groups`` (one label per point, e.g. the training seed or
    the run that produced several points): a cluster bootstrap that resamples whole
    groups, for points that are not independent within a group.
    Returns ``{"slope": Estimate, "intercept": Estimate, "r2": float, "n": int}``.
    """
    _check_level(level)
    xa = _as_1d(x, "x", min_n=3)
    ya = _as_1d(y, "y", min_n=3)
    require(xa.size == ya.size, f"x has {xa.size} values but y has {ya.size}; pass pairs",
            StatsError)
    require(np.unique(xa).size >= 2, "x is constant; a slope needs at least two distinct x",
            StatsError)
    n = xa.size

    def fit(xx: np.ndarray, yy: np.ndarray) -> tuple[float, float]:
        xm, ym = xx.mean(), yy.mean()
        sxx = float(np.sum((xx - xm) ** 2))
        if sxx == 0:
            return float("nan"), float("nan")
        b = float(np.sum((xx - xm) * (yy - ym))) / sxx
        return b, float(ym - b * xm)

    slope, intercept = fit(xa, ya)
    resid = ya - (intercept + slope * xa)
    sst = float(np.sum((ya - ya.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid ** 2)) / sst if sst > 0 else 1.0
    if groups is None:
        dof = n - 2
        s2 = float(np.sum(resid ** 2)) / dof
        sxx = float(np.sum((xa - xa.mean()) ** 2))
        se_b = math.sqrt(s2 / sxx)
        se_a = math.sqrt(s2 * (1.0 / n + xa.mean() ** 2 / sxx))
        tq = float(sps.t.ppf(0.5 + level / 2, dof))
        slope_e = Estimate(slope, slope - tq * se_b, slope + tq * se_b, level, "OLS t", n)
        icpt_e = Estimate(intercept, intercept - tq * se_a, intercept + tq * se_a, level,
                          "OLS t", n)
    else:
        g = np.asarray(groups)
        require(g.shape == (n,), f"groups has shape {g.shape}; pass one label per point ({n})",
                StatsError)
        labels, inv = np.unique(g, return_inverse=True)
        require(labels.size >= 3,
                f"groups has {labels.size} distinct labels; the cluster bootstrap needs >= 3",
                StatsError)
        members = [np.flatnonzero(inv == i) for i in range(labels.size)]
        rng = np.random.default_rng(seed)
        reps = np.full((n_boot, 2), np.nan)
        for r in range(n_boot):
            pick = rng.integers(0, labels.size, labels.size)
            idx = np.concatenate([members[i] for i in pick])
            reps[r] = fit(xa[idx], ya[idx])
        ok = reps[np.all(np.isfinite(reps), axis=1)]
        require(ok.shape[0] >= n_boot // 2,
                "most cluster-bootstrap resamples had constant x; add groups or x values",
                StatsError)
        alpha = 1 - level
        qs = np.quantile(ok, [alpha / 2, 1 - alpha / 2], axis=0)
        slope_e = Estimate(slope, min(qs[0, 0], slope), max(qs[1, 0], slope), level,
                           "OLS, cluster bootstrap", n)
        icpt_e = Estimate(intercept, min(qs[0, 1], intercept), max(qs[1, 1], intercept), level,
                          "OLS, cluster bootstrap", n)
    return {"slope": slope_e, "intercept": icpt_e, "r2": r2, "n": n}


def linear_slope(x: Any, y: Any, level: float = 0.95, groups: Any = None,
                 n_boot: int = 1000, seed: int = 0) -> Estimate:
    """OLS slope of y on x with its CI (t, or cluster bootstrap over ``groups``).

    Used for mean logvar against ln(fact) (expected ≈ 1) and for the log–log slope of
    the radius peak against z_dim (expected 0.5). See :func:`linear_fit`.
    """
    return linear_fit(x, y, level, groups, n_boot, seed)["slope"]


# --------------------------------------------------------------------------- verdicts

class Verdict(str, Enum):
    """The verdict on a claim."""

    SUPPORTED = "supported"
    REFUTED = "refuted"
    INCONCLUSIVE = "inconclusive"


def _verdict_of(passed: bool | None) -> Verdict:
    if passed is None:
        return Verdict.INCONCLUSIVE
    return Verdict.SUPPORTED if passed else Verdict.REFUTED


@dataclass
class Check:
    """One statistic held to one tolerance.

    ``passed`` is True (supported), False (refuted) or None (inconclusive: the CI
    straddles the tolerance, or the data cannot decide). ``posts`` is the posts' own
    figure, to stand beside ours in the report.
    """

    name: str
    estimate: Estimate
    tolerance: str
    passed: bool | None
    reason: str = ""
    posts: str | None = None

    @property
    def verdict(self) -> Verdict:
        return _verdict_of(self.passed)

    def to_dict(self) -> dict:
        return {"name": self.name, "estimate": self.estimate.to_dict(),
                "estimate_text": str(self.estimate), "tolerance": self.tolerance,
                "passed": self.passed, "verdict": self.verdict.value, "reason": self.reason,
                "posts": self.posts}


def combine(checks: Sequence[Check]) -> Verdict:
    """Any failed check → refuted; all passed → supported; otherwise (or none) inconclusive."""
    checks = list(checks)
    if any(c.passed is False for c in checks):
        return Verdict.REFUTED
    if checks and all(c.passed is True for c in checks):
        return Verdict.SUPPORTED
    return Verdict.INCONCLUSIVE


@dataclass
class ClaimResult:
    """A claim's verdict with the checks it rests on."""

    claim_id: str
    verdict: Verdict
    checks: list[Check] = field(default_factory=list)
    reason: str = ""

    @classmethod
    def from_checks(cls, claim_id: str, checks: Sequence[Check], reason: str = "") -> "ClaimResult":
        """The result whose verdict is :func:`combine` of ``checks``."""
        verdict = combine(checks)
        if not reason:
            failed = [c.name for c in checks if c.passed is False]
            open_ = [c.name for c in checks if c.passed is None]
            if failed:
                reason = "failed: " + ", ".join(failed)
            elif open_:
                reason = "undecided: " + ", ".join(open_)
            elif checks:
                reason = f"all {len(checks)} checks passed"
            else:
                reason = "no checks were run"
        return cls(claim_id, verdict, list(checks), reason)

    def to_dict(self) -> dict:
        return {"claim_id": self.claim_id, "verdict": Verdict(self.verdict).value,
                "checks": [c.to_dict() for c in self.checks], "reason": self.reason}


def _nan_check(name: str, est: Estimate, tolerance: str, posts: str | None) -> Check | None:
    if any(math.isnan(v) for v in (est.value, est.low, est.high)):
        return Check(name, est, tolerance, None, "the estimate is NaN", posts)
    return None


def check_within(name: str, est: Estimate, lo: float, hi: float, *,
                 tolerance: str | None = None, posts: str | None = None) -> Check:
    """Supported if the CI lies inside [lo, hi], refuted if entirely outside, else inconclusive."""
    require(lo <= hi, f"check {name!r}: lo={lo} exceeds hi={hi}; swap them", StatsError)
    tol = tolerance or f"CI inside [{lo:.4g}, {hi:.4g}]"
    bad = _nan_check(name, est, tol, posts)
    if bad:
        return bad
    if est.inside(lo, hi):
        return Check(name, est, tol, True, f"{est} lies inside [{lo:.4g}, {hi:.4g}]", posts)
    if est.outside(lo, hi):
        return Check(name, est, tol, False, f"{est} lies entirely outside [{lo:.4g}, {hi:.4g}]",
                     posts)
    return Check(name, est, tol, None, f"{est} straddles the edge of [{lo:.4g}, {hi:.4g}]",
                 posts)


def check_above(name: str, est: Estimate, threshold: float, *,
                tolerance: str | None = None, posts: str | None = None) -> Check:
    """Supported if the CI lies above ``threshold``, refuted if below, else inconclusive."""
    tol = tolerance or f"CI above {threshold:.4g}"
    bad = _nan_check(name, est, tol, posts)
    if bad:
        return bad
    if est.low > threshold:
        return Check(name, est, tol, True, f"{est} lies above {threshold:.4g}", posts)
    if est.high < threshold:
        return Check(name, est, tol, False, f"{est} lies entirely below {threshold:.4g}", posts)
    return Check(name, est, tol, None, f"{est} straddles {threshold:.4g}", posts)


def check_below(name: str, est: Estimate, threshold: float, *,
                tolerance: str | None = None, posts: str | None = None) -> Check:
    """Supported if the CI lies below ``threshold``, refuted if above, else inconclusive."""
    tol = tolerance or f"CI below {threshold:.4g}"
    bad = _nan_check(name, est, tol, posts)
    if bad:
        return bad
    if est.high < threshold:
        return Check(name, est, tol, True, f"{est} lies below {threshold:.4g}", posts)
    if est.low > threshold:
        return Check(name, est, tol, False, f"{est} lies entirely above {threshold:.4g}", posts)
    return Check(name, est, tol, None, f"{est} straddles {threshold:.4g}", posts)
