"""Hypothesis tests and two-sample comparisons: equivalence (TOST), distances against
seed-to-seed noise, rare-event rates (C4) and linear fits with their intervals.
"""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np
from scipy import stats as sps

from vaebench.errors import StatsError, require
from vaebench.stats.estimate import (
    Estimate,
    _as_1d,
    _check_alpha,
    _check_count,
    _check_level,
    bootstrap,
    percentile_estimate,
    quantile_ci,
)

__all__ = [
    "Equivalence", "tost",
    "wasserstein", "ks", "DistanceRatio", "distance_vs_seed_noise",
    "RateTest", "fisher_exact", "boschloo", "rate_ci", "rate_upper_bound",
    "power_two_rates",
    "linear_fit", "linear_slope",
    "across_runs", "difference_across_runs", "ratio_across_runs", "PermutationResult",
    "between_within_permutation", "distance_matrix",
]


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
    den = va ** 2 / (na - 1) + vb ** 2 / (nb - 1)
    # Welch-Satterthwaite; a variance so small that its square underflows takes the pooled df
    df = (va + vb) ** 2 / den if den > 0 else float(na + nb - 2)
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
    return _two_sample_distance(a, b, _w1_stat, n_boot, seed, level)


def ks(a: Any, b: Any, n_boot: int = 200, seed: int = 0, level: float = 0.95) -> Estimate:
    """Two-sample Kolmogorov–Smirnov statistic sup|F_a − F_b|, bootstrap CI.

    Same caveat as :func:`wasserstein`: for two samples of one distribution the
    statistic is of order 1/√n, not 0.
    """
    return _two_sample_distance(a, b, _ks_stat, n_boot, seed, level)


def _two_sample_distance(a: Any, b: Any, statistic: Callable[[np.ndarray, np.ndarray], float], n_boot: int,
                         seed: int, level: float) -> Estimate:
    """A distance between two 1-D samples with a bootstrap CI resampling each sample independently."""
    x = _as_1d(a, "a", min_n=2)
    y = _as_1d(b, "b", min_n=2)
    est = bootstrap((x, y), statistic, n_boot=n_boot, level=level, seed=seed, paired=False)
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


def _distance_function(distance: str | Callable) -> tuple[Callable, str]:
    """The distance function and its name for ``distance`` (a name in ``_DISTANCES`` or a callable)."""
    if callable(distance):
        return distance, getattr(distance, "__name__", "custom")
    require(distance in _DISTANCES,
            f"distance={distance!r} is unknown; use one of {sorted(_DISTANCES)} or a callable",
            StatsError)
    return _DISTANCES[distance], distance


def _ratio_over_values(b_vals: list[float], w_vals: list[float], n_boot: int, level: float,
                       seed: int) -> tuple[Estimate, Estimate, Estimate]:
    """Ratio, between and within CIs from resampling the distance values of each group."""
    require(min(len(b_vals), len(w_vals)) >= 2,
            f"resample='values' needs at least 2 distances per group, got "
            f"{len(b_vals)} between and {len(w_vals)} within; pass sample pairs and "
            "resample='points'", StatsError)
    bv, wv = np.asarray(b_vals), np.asarray(w_vals)

    def ratio_of_means(x: np.ndarray, y: np.ndarray) -> float:
        return float(x.mean() / y.mean()) if y.mean() > 0 else float("nan")

    ratio = bootstrap((bv, wv), ratio_of_means, n_boot=n_boot, level=level, seed=seed, paired=False)
    between_est = bootstrap(bv, np.mean, n_boot=n_boot, level=level, seed=seed)
    within_est = bootstrap(wv, np.mean, n_boot=n_boot, level=level, seed=seed)
    return ratio, between_est, within_est


def _ratio_over_points(b_pairs: list[tuple[np.ndarray, np.ndarray]], w_pairs: list[tuple[np.ndarray, np.ndarray]],
                       b_vals: list[float], w_vals: list[float], dist_fn: Callable, n_boot: int, level: float,
                       seed: int) -> tuple[Estimate, Estimate, Estimate]:
    """Ratio, between and within CIs from resampling the points of every sample and
    recomputing all distances (finite-sample noise only)."""
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
    method = "bootstrap over points"
    ratio = percentile_estimate(float(np.mean(b_vals) / np.mean(w_vals)), rr[np.isfinite(rr)], level, method,
                                len(b_vals) + len(w_vals))
    ests = []
    for column, values in ((0, b_vals), (1, w_vals)):
        low, high = np.quantile(reps[:, column], [alpha / 2, 1 - alpha / 2])
        ests.append(Estimate(float(np.mean(values)), low, high, level, method, len(values)))
    return ratio, ests[0], ests[1]


def _pair_distances(pairs: list[tuple[np.ndarray, np.ndarray]], dist_fn: Callable) -> list[float]:
    return [float(dist_fn(x, y)) for x, y in pairs]


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
    dist_fn, dist_name = _distance_function(distance)
    b_pairs, b_vals = _parse_group(between, "between")
    w_pairs, w_vals = _parse_group(within, "within")
    if b_vals is None:
        b_vals = _pair_distances(b_pairs, dist_fn)  # type: ignore[arg-type]
    if w_vals is None:
        w_vals = _pair_distances(w_pairs, dist_fn)  # type: ignore[arg-type]
    require(resample in ("auto", "values", "points"),
            f"resample={resample!r} must be 'auto', 'values' or 'points'", StatsError)
    if resample == "auto":
        resample = "values" if min(len(b_vals), len(w_vals)) >= 3 else "points"
    require(float(np.mean(w_vals)) > 0,
            "the within (seed-to-seed) distances are all 0; the ratio is undefined", StatsError)
    ratio_value = float(np.mean(b_vals) / np.mean(w_vals))
    if resample == "values":
        ratio, between_est, within_est = _ratio_over_values(b_vals, w_vals, n_boot, level, seed)
    else:
        require(b_pairs is not None and w_pairs is not None,
                "resample='points' needs sample pairs for both groups, not distance values",
                StatsError)
        ratio, between_est, within_est = _ratio_over_points(b_pairs, w_pairs, b_vals, w_vals,  # type: ignore
                                                            dist_fn, n_boot, level, seed)
    ratio = Estimate(ratio_value, ratio.low, ratio.high, level,
                     f"bootstrap over {resample}", len(b_vals) + len(w_vals))
    return DistanceRatio(ratio, between_est, within_est, tuple(b_vals), tuple(w_vals),
                         dist_name, resample)


# --------------------------------------------------------------------------- rare events

_ALTERNATIVES = ("two-sided", "less", "greater")


def _wilson(k: int, n: int, level: float) -> tuple[float, float]:
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


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
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=level,
                                           method="exact" if method == "clopper-pearson" else "wilson")
    return Estimate(k / n, min(ci.low, k / n), max(ci.high, k / n), level, method, n)


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

def _ols(xx: np.ndarray, yy: np.ndarray) -> tuple[float, float]:
    """OLS (slope, intercept) of yy on xx; NaNs when xx is constant."""
    xm, ym = xx.mean(), yy.mean()
    sxx = float(np.sum((xx - xm) ** 2))
    if sxx == 0:
        return float("nan"), float("nan")
    b = float(np.sum((xx - xm) * (yy - ym))) / sxx
    return b, float(ym - b * xm)


def _ols_t_intervals(xa: np.ndarray, ya: np.ndarray, slope: float, intercept: float,
                     level: float) -> tuple[Estimate, Estimate]:
    """Exact t intervals (n − 2 degrees of freedom) of the slope and the intercept."""
    n = xa.size
    fitted = sps.linregress(xa, ya)                      # scipy's OLS and standard errors
    se_b, se_a = float(fitted.stderr), float(fitted.intercept_stderr)
    tq = float(sps.t.ppf(0.5 + level / 2, n - 2))
    slope_e = Estimate(slope, slope - tq * se_b, slope + tq * se_b, level, "OLS t", n)
    icpt_e = Estimate(intercept, intercept - tq * se_a, intercept + tq * se_a, level, "OLS t", n)
    return slope_e, icpt_e


def _ols_cluster_intervals(xa: np.ndarray, ya: np.ndarray, slope: float, intercept: float, groups: Any,
                           level: float, n_boot: int, seed: int) -> tuple[Estimate, Estimate]:
    """Cluster-bootstrap intervals of the slope and the intercept, resampling whole ``groups``."""
    n = xa.size
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
        reps[r] = _ols(xa[idx], ya[idx])
    ok = reps[np.all(np.isfinite(reps), axis=1)]
    require(ok.shape[0] >= n_boot // 2,
            "most cluster-bootstrap resamples had constant x; add groups or x values",
            StatsError)
    return (percentile_estimate(slope, ok[:, 0], level, "OLS, cluster bootstrap", n),
            percentile_estimate(intercept, ok[:, 1], level, "OLS, cluster bootstrap", n))


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
    slope, intercept = _ols(xa, ya)
    resid = ya - (intercept + slope * xa)
    sst = float(np.sum((ya - ya.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid ** 2)) / sst if sst > 0 else 1.0
    if groups is None:
        slope_e, icpt_e = _ols_t_intervals(xa, ya, slope, intercept, level)
    else:
        slope_e, icpt_e = _ols_cluster_intervals(xa, ya, slope, intercept, groups, level, n_boot, seed)
    return {"slope": slope_e, "intercept": icpt_e, "r2": r2, "n": xa.size}


def linear_slope(x: Any, y: Any, level: float = 0.95, groups: Any = None,
                 n_boot: int = 1000, seed: int = 0) -> Estimate:
    """OLS slope of y on x with its CI (t, or cluster bootstrap over ``groups``).

    Used for mean logvar against ln(fact) (expected ≈ 1) and for the log–log slope of
    the radius peak against z_dim (expected 0.5). See :func:`linear_fit`.
    """
    return linear_fit(x, y, level, groups, n_boot, seed)["slope"]


# --------------------------------------------------------------------------- training runs as the unit

def _runs(x: Any, name: str, min_n: int = 2) -> np.ndarray:
    return _as_1d(x, name, min_n=min_n)


def _no_spread(value: float, n: int, level: float, what: str) -> Estimate:
    """The interval when every run gave the same value (a discrete statistic, a saturated
    fraction): the t interval would be a point and decide with certainty on three runs.
    Instead, the distribution-free interval of the median from order statistics
    (:func:`vaebench.stats.estimate.quantile_ci`), which is the value itself only when there
    are enough runs (8 at level 0.99), else unbounded."""
    q = quantile_ci(np.full(n, value), 0.5, level)
    return Estimate(value, q.low, q.high, level, f"{what} (no spread: distribution-free median)", n)


def across_runs(values: Any, level: float = 0.95) -> Estimate:
    """Mean of one statistic per training run with scipy's t interval across the runs
    (``ttest_1samp(...).confidence_interval``): the runs, not the points of one model,
    are the observations. Fewer than 2 runs give a NaN estimate (an inconclusive check)."""
    _check_level(level)
    arr = _runs(values, "values (one per run)", min_n=0)
    if arr.size < 2:        # no interval across runs: a NaN estimate, so the check is inconclusive
        return Estimate(math.nan, math.nan, math.nan, level, f"t over runs: {arr.size} run(s), 2 needed", arr.size)
    if np.ptp(arr) == 0.0:
        return _no_spread(float(arr[0]), arr.size, level, "runs")
    ci = sps.ttest_1samp(arr, 0.0).confidence_interval(confidence_level=level)
    return Estimate(float(arr.mean()), float(ci.low), float(ci.high), level, "t over runs", arr.size)


def difference_across_runs(a: Any, b: Any, level: float = 0.95, paired: bool = False) -> Estimate:
    """``mean(a) − mean(b)`` over runs: Welch's t interval (``ttest_ind(equal_var=False)``),
    or with ``paired=True`` (run i of ``a`` and of ``b`` share a seed) the t interval of the
    paired differences (``ttest_rel``)."""
    _check_level(level)
    a, b = _runs(a, "a (one value per run)"), _runs(b, "b (one value per run)")
    if paired:
        require(a.size == b.size, f"paired runs need as many values in a ({a.size}) as in b ({b.size})",
                StatsError)
        d = a - b
        if np.ptp(d) == 0.0:
            return _no_spread(float(d[0]), a.size, level, "paired runs")
        ci = sps.ttest_rel(a, b).confidence_interval(confidence_level=level)
        return Estimate(float(d.mean()), float(ci.low), float(ci.high), level, "paired t over runs", a.size)
    value = float(a.mean() - b.mean())
    if np.ptp(a) == 0.0 and np.ptp(b) == 0.0:
        return _no_spread(value, min(a.size, b.size), level, "runs of each model")
    ci = sps.ttest_ind(a, b, equal_var=False).confidence_interval(confidence_level=level)
    return Estimate(value, float(ci.low), float(ci.high), level, "Welch t over runs", a.size + b.size)


def ratio_across_runs(a: Any, b: Any, level: float = 0.95, paired: bool = False) -> Estimate:
    """Ratio of the geometric means of positive per-run values, ``gm(a) / gm(b)``: the
    interval of :func:`difference_across_runs` on the logs, exponentiated."""
    a, b = _runs(a, "a (one value per run)"), _runs(b, "b (one value per run)")
    require(bool(np.all(a > 0) and np.all(b > 0)), "ratio_across_runs needs positive values", StatsError)
    d = difference_across_runs(np.log(a), np.log(b), level, paired)
    return Estimate(math.exp(d.value), math.exp(d.low), math.exp(d.high), level,
                    "geometric-mean ratio, " + d.method, d.n)


@dataclass(frozen=True)
class PermutationResult:
    """Between-model over seed-to-seed distance of run-level summaries, with the exact
    permutation p-value over run labels (H0: the two models' runs are exchangeable)."""

    ratio: float
    p_value: float
    n_permutations: int
    n_a: int
    n_b: int

    def to_dict(self) -> dict:
        return {"ratio": self.ratio, "p_value": self.p_value, "n_permutations": self.n_permutations,
                "n_a": self.n_a, "n_b": self.n_b}


def distance_matrix(items: Sequence, distance: Callable[[Any, Any], float]) -> np.ndarray:
    """The symmetric matrix of ``distance(a, b)`` over ``items`` (runs), zero on the diagonal."""
    d = np.zeros((len(items), len(items)))
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            d[i, j] = d[j, i] = float(distance(items[i], items[j]))
    return d


def between_within_permutation(distances: Any, n_a: int) -> PermutationResult:
    """Is the distance between two models' runs larger than between runs of one model?

    ``distances`` is the symmetric matrix of distances between all ``n_a + n_b`` runs (the
    first ``n_a`` of model A). The statistic is mean between-model distance over mean
    within-model distance; its p-value is exact over every relabelling of the runs into
    groups of ``n_a`` and ``n_b`` (one-sided, large ratios). Pairs that share a run are
    never treated as independent: the runs are what is permuted, so the test keeps its
    level whatever the dependence between pairs. The smallest attainable p is
    1 / C(n_a + n_b, n_a), and twice that when ``n_a == n_b`` (a relabelling and its mirror
    give the same ratio): 0.1 at 3 + 3 runs, 0.029 at 4 + 4.
    """
    from itertools import combinations

    d = np.asarray(distances, dtype=np.float64)
    require(d.ndim == 2 and d.shape[0] == d.shape[1], f"distances has shape {d.shape}; pass a square matrix",
            StatsError)
    n = d.shape[0]
    require(isinstance(n_a, int) and 2 <= n_a <= n - 2,
            f"n_a={n_a!r}: each model needs at least 2 runs (of {n})", StatsError)
    require(bool(np.all(np.isfinite(d))), "distances hold NaN/inf", StatsError)

    iu = np.triu_indices(n, 1)

    def ratio(mask: np.ndarray) -> float:
        same = mask[iu[0]] == mask[iu[1]]
        w = float(d[iu][same].mean())
        b = float(d[iu][~same].mean())
        return b / w if w > 0 else (math.inf if b > 0 else 1.0)

    labels = np.zeros(n, bool)
    labels[:n_a] = True
    observed = ratio(labels)
    stats_ = []
    for group in combinations(range(n), n_a):
        m = np.zeros(n, bool)
        m[list(group)] = True
        stats_.append(ratio(m))
    stats_ = np.asarray(stats_)
    p = float(np.mean(stats_ >= observed - 1e-12))
    return PermutationResult(observed, p, len(stats_), n_a, n - n_a)

