"""Timing rounds and judging ratios of times (benchmarks measure, tests check: nothing here
asserts on seconds).

* :func:`ratio_of_means` — Fieller's confidence interval of a ratio of mean times
  (independent or paired rounds), exact for normal round times and honest with 5 rounds,
  where a bootstrap of 5 values is not. :func:`median_ratio` — the median of paired
  per-round ratios with an order-statistic interval: robust to load spikes on a shared
  machine (the statistic of claim C5).
* :func:`pedantic_rounds` — rounds through pytest-benchmark's ``benchmark.pedantic``
  (per-round seconds back), timed here instead when benchmarks are disabled.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from vaebench.errors import StatsError, require
from vaebench.stats.estimate import Estimate

#: the posts' configuration (post XII): 96x96 images, batch 128, z_dim 256
POSTS_IMAGE_SIZE, POSTS_BATCH_SIZE, POSTS_Z_DIM = 96, 128, 256
#: CelebA training images per epoch in the posts (for the projected overhead ratio)
POSTS_EPOCH_IMAGES = 170_000




# --------------------------------------------------------------------------- timing

def _check_rounds(rounds: int, warmup_rounds: int) -> None:
    require(isinstance(rounds, int) and rounds >= 1, f"rounds={rounds!r} must be an integer >= 1")
    require(isinstance(warmup_rounds, int) and warmup_rounds >= 0,
            f"warmup_rounds={warmup_rounds!r} must be an integer >= 0 (1 or 2 keep compilation out)")


def time_rounds(fn: Callable[[], Any], rounds: int, warmup_rounds: int = 1,
                timer: Callable[[], float] = time.perf_counter) -> list[float]:
    """Seconds of each of ``rounds`` calls of ``fn``, after ``warmup_rounds`` untimed calls.

    ``fn`` must wait for the device itself (as :func:`train_step` does).
    """
    _check_rounds(rounds, warmup_rounds)
    for _ in range(warmup_rounds):
        fn()
    out = []
    for _ in range(rounds):
        t0 = timer()
        fn()
        out.append(timer() - t0)
    return out


def time_interleaved(fns: Mapping[str, Callable[[], Any]], rounds: int, warmup_rounds: int = 1,
                     timer: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """Per-round seconds of several functions, run round by round in rotating order.

    Round ``r`` runs every function once, starting with the ``r``-th, so slow drifts of
    the machine's load affect all of them alike and round ``r`` of one pairs with round
    ``r`` of another (:func:`ratio_of_means` with ``paired=True``). Warm-up rounds run
    every function ``warmup_rounds`` times first, untimed.
    """
    _check_rounds(rounds, warmup_rounds)
    require(len(fns) > 0, "fns={} names no function to time; pass {'label': callable, ...}")
    for _ in range(warmup_rounds):
        for fn in fns.values():
            fn()
    out: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        interleaved_round(fns, out, timer=timer)
    return out


def interleaved_round(fns: Mapping[str, Callable[[], float | Any]], times: dict[str, list[float]],
                      returns_seconds: bool = False, timer: Callable[[], float] = time.perf_counter) -> None:
    """One round of :func:`time_interleaved`: every function of ``fns`` once, in rotating order.

    The round starts with the ``k``-th function of ``fns`` (in its order), ``k = len(times[first
    name]) % len(fns)``: the number of rounds already in ``times`` picks the start, so round
    ``r`` starts with the ``r``-th function and wraps around. Each function's seconds are
    appended to ``times[name]`` (created when missing): ``timer()`` around the call, or, with
    ``returns_seconds=True``, the call's own return value (functions that time themselves,
    such as the arms of :func:`overhead_arms`).
    """
    require(len(fns) > 0, "fns={} names no function to time; pass {'label': callable, ...}")
    names = list(fns)
    k = len(times.get(names[0], ())) % len(names)
    for name in names[k:] + names[:k]:
        if returns_seconds:
            seconds = fns[name]()
        else:
            t0 = timer()
            fns[name]()
            seconds = timer() - t0
        times.setdefault(name, []).append(seconds)


def ratio_of_means(a: Sequence[float], b: Sequence[float], level: float = 0.95, paired: bool = False) -> Estimate:
    """mean(a) / mean(b) with Fieller's confidence interval.

    The interval is the set of ratios ρ for which ``mean(a) − ρ·mean(b)`` is not
    significantly different from 0 by a t test: with independent samples its variance is
    ``s_a²/n_a + ρ² s_b²/n_b`` (Welch's degrees of freedom at ρ = the estimate); with
    ``paired=True`` (round i of ``a`` ran next to round i of ``b``) it is
    ``(s_a² − 2ρ s_ab + ρ² s_b²)/n`` with n − 1 degrees of freedom. When mean(b) is not
    significantly above 0 the set is unbounded and the upper bound is ``inf``. Needs at
    least 2 values in each sample, all finite, mean(b) > 0.
    """
    from scipy import stats as sps

    require(0 < level < 1, f"level={level!r} must lie strictly between 0 and 1, e.g. 0.95", StatsError)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    require(a.ndim == 1 and b.ndim == 1 and a.size >= 2 and b.size >= 2,
            f"ratio_of_means needs two 1-D samples of at least 2 values (got sizes {a.size} and {b.size}); "
            "time more rounds", StatsError)
    require(bool(np.all(np.isfinite(a)) and np.all(np.isfinite(b))),
            "ratio_of_means got non-finite values; drop failed rounds first", StatsError)
    ma, mb = float(a.mean()), float(b.mean())
    require(mb > 0, f"mean(b)={mb} must be > 0 for a ratio of means", StatsError)
    r = ma / mb
    if paired:
        require(a.size == b.size, f"paired samples have different lengths ({a.size}, {b.size}); "
                "use paired=False or pass equal-length rounds", StatsError)
        n = a.size
        cov = np.cov(a, b, ddof=1)
        vaa, vbb, vab = cov[0, 0] / n, cov[1, 1] / n, cov[0, 1] / n
        df = n - 1
    else:
        vaa, vbb, vab = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size, 0.0
        num = (vaa + r * r * vbb) ** 2
        den = (vaa ** 2 / (a.size - 1) if vaa > 0 else 0.0) + ((r * r * vbb) ** 2 / (b.size - 1) if vbb > 0 else 0.0)
        df = num / den if den > 0 else float(a.size + b.size - 2)
    t = float(sps.t.ppf(0.5 + level / 2, df))
    # (ma - ρ mb)^2 = t^2 (vaa - 2ρ vab + ρ^2 vbb)  ->  A ρ^2 - 2 B ρ + C = 0
    A = mb * mb - t * t * vbb
    B = ma * mb - t * t * vab
    C = ma * ma - t * t * vaa
    method = f"Fieller ({'paired' if paired else 'Welch'})"
    n_obs = a.size if paired else a.size + b.size
    if A <= 0:
        return Estimate(r, 0.0, math.inf, level, method + ", unbounded", n_obs)
    disc = max(B * B - A * C, 0.0)
    lo, hi = (B - math.sqrt(disc)) / A, (B + math.sqrt(disc)) / A
    return Estimate(r, min(lo, r), max(hi, r), level, method, n_obs)


def median_ratio(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Estimate:
    """Median of the paired per-round ratios ``a[i] / b[i]`` with its exact order-statistic CI.

    Round i of ``a`` ran next to round i of ``b`` (:func:`time_interleaved`), so a slow
    phase of the machine scales both and cancels in their ratio; a load spike that hits
    one step only makes one outlying ratio, which the median ignores (a ratio of means
    does not: one spike can make Fieller's interval unbounded). The interval
    (:func:`vaebench.stats.quantile_ci`) is distribution-free.
    """
    from vaebench.stats.estimate import quantile_ci

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    require(a.ndim == 1 and a.shape == b.shape and a.size >= 2,
            f"median_ratio needs two paired 1-D samples of the same length >= 2 (got {a.shape} and {b.shape})",
            StatsError)
    require(bool(np.all(b > 0) and np.all(np.isfinite(a))), "median_ratio needs finite times and b > 0", StatsError)
    est = quantile_ci(a / b, 0.5, level)
    return Estimate(est.value, est.low, est.high, est.level, "median of paired ratios, order statistics", est.n)




# --------------------------------------------------------------------------- dispatch

def dispatch_seconds(arguments: int, calls: int = 200, backend_name: str | None = None) -> float | None:
    """JAX only: seconds per call of Python dispatching a compiled function of ``arguments``
    small arrays (each plus one) ``calls`` times in a row, waiting once at the end: the host
    cost that Keras' JAX trainer pays per training step (its ``steps_per_execution`` loop
    calls the compiled step once per step from Python), with as many arguments as a step's
    state has variables. Compare it with the step's seconds: where it comes near, the
    pack's rate is bounded by Python, not by the chip. None on another backend."""
    from vaebench import backend

    require(arguments >= 1 and calls >= 1, f"arguments={arguments} and calls={calls} must be >= 1")
    if (backend_name or backend.name()) != "jax":
        return None
    import jax
    import jax.numpy as jnp

    step = jax.jit(lambda xs: [x + 1 for x in xs], donate_argnums=0)
    xs = [jnp.zeros((4,), jnp.float32) for _ in range(arguments)]
    xs = jax.block_until_ready(step(xs))  # compile
    t0 = time.perf_counter()
    for _ in range(calls):
        xs = step(xs)
    jax.block_until_ready(xs)
    return (time.perf_counter() - t0) / calls


def paired_log_ratio(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Estimate:
    """The geometric mean of the paired per-round ratios ``a[i] / b[i]`` with the t interval of
    their mean logarithm, exponentiated (:func:`vaebench.stats.estimate.mean_ci`): round i of
    ``a`` ran next to round i of ``b``, so a load that scales both cancels in the ratio, and a
    ratio of times is symmetric on the log scale (``a/b`` and ``b/a`` get reciprocal intervals)."""
    from vaebench.stats.estimate import mean_ci

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    require(a.ndim == 1 and a.shape == b.shape and a.size >= 2,
            f"paired_log_ratio needs two paired 1-D samples of the same length >= 2 (got {a.shape} and {b.shape})",
            StatsError)
    require(bool(np.all(a > 0) and np.all(b > 0) and np.all(np.isfinite(a)) and np.all(np.isfinite(b))),
            "paired_log_ratio needs finite times > 0", StatsError)
    est = mean_ci(np.log(a / b), level)
    return Estimate(math.exp(est.value), math.exp(est.low), math.exp(est.high), est.level,
                    "geometric mean of paired ratios, t interval of the log", est.n)
