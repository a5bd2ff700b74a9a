"""Estimates: a value with its confidence interval, the bootstrap and exact intervals.

Every statistic of vaebench comes back as an :class:`Estimate`; this module makes them
(:func:`bootstrap`, :func:`percentile_estimate`, :func:`mean_ci`, :func:`quantile_ci`). Nothing here renders.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np
from scipy import special
from scipy import stats as sps

from vaebench.errors import StatsError, require

__all__ = ["Estimate", "bootstrap", "mean_ci", "percentile_estimate", "quantile_ci"]

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
    if 0 < abs(value) < 1 and math.isfinite(value):        # keep two significant digits of a small value
        decimals = max(decimals, int(min(8, 1 - math.floor(math.log10(abs(value))))))
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
        tail = f"{round(self.level * 100, 2):g}%"
        if self.method:
            tail += f" {self.method}"
        return f"{v} [{lo}, {hi}] ({tail})"


# --------------------------------------------------------------------------- bootstrap

def _prepare_samples(data: Any, paired: bool) -> tuple[tuple[np.ndarray, ...], bool]:
    """The samples of ``data`` as arrays (``paired`` ones of one length), and whether it was a tuple."""
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
    lengths = [s.shape[0] for s in samples]
    if paired and len(samples) > 1:
        require(len(set(lengths)) == 1,
                f"paired samples have different lengths {lengths}; resample them "
                "independently with paired=False or pass equal-length arrays", StatsError)
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


def _point_value(call: Callable[[Sequence[np.ndarray]], np.ndarray], samples: tuple[np.ndarray, ...],
                 vectorized: bool) -> float:
    """The statistic on the original data (a batch of one when vectorised): one finite number."""
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
    return value


def _replicates(call: Callable[[Sequence[np.ndarray]], np.ndarray], samples: tuple[np.ndarray, ...],
                n_boot: int, paired: bool, vectorized: bool, rng: np.random.Generator) -> np.ndarray:
    """``n_boot`` bootstrap replicates of the statistic, resampled in chunks of at most
    ``_BOOT_CHUNK_ELEMENTS`` elements (the chunking does not change the replicates)."""
    lengths = [s.shape[0] for s in samples]
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
    return boots


def _bca_quantiles(finite: np.ndarray, value: float, alpha: float, acceleration: float) -> list[float]:
    """Efron's BCa-adjusted probabilities of the lower and upper bound among the replicates."""
    frac = (np.sum(finite < value) + 0.5 * np.sum(finite == value)) / finite.size
    frac = float(np.clip(frac, 1.0 / (2 * finite.size), 1 - 1.0 / (2 * finite.size)))
    z0 = special.ndtri(frac)
    qs = []
    for zq in (special.ndtri(alpha / 2), special.ndtri(1 - alpha / 2)):
        denom = 1.0 - acceleration * (z0 + zq)
        adj = special.ndtr(z0 + (z0 + zq) / denom) if denom > 0 else (0.0 if zq < 0 else 1.0)
        qs.append(float(np.clip(adj, 0.0, 1.0)))
    return qs


def _scalar_statistic(statistic: Callable[..., Any], vectorized: bool) -> Callable[..., float]:
    """``statistic`` as a function of the plain samples returning one number (for the jackknife)."""
    if not vectorized:
        return statistic

    def scalar_stat(*arrays: np.ndarray) -> float:
        return float(np.asarray(statistic(*[a[None, ...] for a in arrays])).reshape(-1)[0])
    return scalar_stat


def _check_bootstrap_args(n_boot: Any, level: float, method: str) -> None:
    require(isinstance(n_boot, (int, np.integer)) and n_boot >= 10,
            f"n_boot={n_boot!r} must be an integer of at least 10 (1000 is usual)", StatsError)
    _check_level(level)
    require(method in ("percentile", "bca"),
            f"method={method!r} is not a bootstrap method; use 'percentile' or 'bca'", StatsError)


# Not scipy.stats.bootstrap: it has no grouped jackknife (its BCa differs for n > 200), gives NaN
# bounds when some replicates are not finite, and differs in the last bits for BCa and two samples.
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
    _check_bootstrap_args(n_boot, level, method)
    samples, multi = _prepare_samples(data, paired)
    lengths = [s.shape[0] for s in samples]

    def call(arrays: Sequence[np.ndarray]) -> np.ndarray:
        return np.asarray(statistic(*arrays), dtype=np.float64)

    value = _point_value(call, samples, vectorized)
    boots = _replicates(call, samples, n_boot, paired, vectorized, np.random.default_rng(seed))
    finite = boots[np.isfinite(boots)]
    require(finite.size >= max(10, n_boot // 2),
            f"only {finite.size} of {n_boot} bootstrap replicates gave a finite statistic; "
            "the statistic is unstable on resampled data", StatsError)
    alpha = 1.0 - level
    if method == "percentile" or np.all(finite == finite[0]):
        lo, hi = np.quantile(finite, [alpha / 2, 1 - alpha / 2])
        label = "bootstrap"
    else:
        a = _bca_acceleration(samples, _scalar_statistic(statistic, vectorized), paired or len(samples) == 1,
                              jackknife_groups, np.random.default_rng([seed, 1]))
        lo, hi = np.quantile(finite, _bca_quantiles(finite, value, alpha, a))
        label = "bootstrap BCa"
    lo, hi = float(min(lo, hi)), float(max(lo, hi))
    n = lengths[0] if (paired or not multi) else int(sum(lengths))
    return Estimate(value, lo, hi, level, label, n)


def percentile_estimate(value: float, replicates: np.ndarray, level: float, method: str,
                        n: int | None) -> Estimate:
    """``value`` with the α/2 and 1−α/2 quantiles of its bootstrap ``replicates`` as the
    interval, widened where needed to contain ``value`` (for resampling schemes made by hand)."""
    alpha = 1 - level
    lo, hi = np.quantile(replicates, [alpha / 2, 1 - alpha / 2])
    return Estimate(value, min(lo, value), max(hi, value), level, method, n)


# --------------------------------------------------------------------------- exact CIs

def mean_ci(x: Any, level: float = 0.95) -> Estimate:
    """Mean with the exact Student-t interval ``mean ± t(n-1) · sd / √n``.

    Exact for normal data, asymptotically right for any finite-variance data.
    """
    _check_level(level)
    arr = _as_1d(x, "x", min_n=2)
    n = arr.size
    m = float(arr.mean())
    if np.ptp(arr) == 0.0:
        return Estimate(m, m, m, level, "t", n)
    ci = sps.ttest_1samp(arr, 0.0).confidence_interval(confidence_level=level)
    return Estimate(m, float(ci.low), float(ci.high), level, "t", n)


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
