"""Has the statistic that decides a check settled? Its predicted value at equilibrium.

A primary check on trained models is judged on the trajectory of *its own statistic*
over each run: its values ``y1, y2, y3`` after ``s1 < s2 < s3`` optimizer steps (for a
budget of E epochs, after ⌈E/3⌉, ⌈2E/3⌉ and E epochs: the steps per epoch are fixed, so
epochs measure steps up to one factor, which the rule does not depend on).

The rule, per run (:func:`run_equilibrium`), with the increments ``d1 = y2 − y1`` and
``d2 = y3 − y2`` over the spacings ``h1 = s2 − s1``, ``h2 = s3 − s2``:

- **plateau**: ``|d2| ≤ floor`` (the last third moved by no more than checkpoint noise):
  the remaining change is 0;
- **approach** (exponential): ``y(s) = a + b·q^s`` with ``0 < q < 1`` fits the three points
  exactly when ``0 ≤ R = d2/d1 < h2/h1`` (the increments shrink faster than the spacing
  grows). Then the remaining change to the asymptote is ``d2·q^h2/(1 − q^h2)``; for equal
  spacing ``q^h = R`` and this is Aitken's Δ², ``d2·R/(1 − R)``; for unequal spacing ``q``
  solves ``R = q^h1 (1 − q^h2)/(1 − q^h1)`` (monotone in q: one root);
- **oscillation** (damped): ``−1 < R < 0``: the increments alternate and shrink; their
  geometric continuation with ratio R (per interval, whatever the spacing) adds
  ``d2·R/(1 − R)``, of the opposite sign to d2 and smaller than |d2|/2;
- **not settling**: ``R ≥ h2/h1`` (no deceleration: linear or faster), ``R ≤ −1`` (a growing
  oscillation) or ``d1 = 0 < |d2| − floor``: the remaining change is unbounded — ``±inf``
  in the direction of d2, NaN (either way) for a growing oscillation. This is the
  conservative side: a run that does not decelerate cannot be said to have settled.

``floor`` (default 0) is a change of the last third that the caller states is flat.

Across runs (:func:`predict_final`), the runs are the unit:

1. **movement test**: the per-run change of the last third, ``d2 = y3 − y2``, is compared
   with 0 by its t interval across runs at :data:`MOVE_LEVEL` (95 %). When the interval
   holds 0 the statistic has not moved beyond its checkpoint noise at the end of the budget:
   every run is a **plateau** (remaining change 0). Under a true plateau (or an approach
   finished before the last third) with normal checkpoint noise the rule calls it still
   moving at most 5 % of the time, whatever the noise's size (tests/test_equilibrium.py);
2. when the middle third's change ``d1`` is not told apart from 0 by the same test, the
   statistic stood still and then moved: **not settling** in the direction of each run's
   ``d2`` (no swing to call a growing oscillation);
3. otherwise the relaxation rate is **pooled over the runs**: the rule above applied to the
   mean increments ``(mean d1, mean d2)`` gives the kind and the share ``g`` (remaining =
   ``d2 × g``), and each run's remaining change is its own ``d2_i × g``. Why pooled: a
   per-run ratio of two noisy increments is Cauchy-like (a plateau's |d2/d1| ≥ 1 half the
   time), while the relaxation rate belongs to the training set-up shared by the seeds.
   The ratio's uncertainty is Fieller's interval at :data:`MOVE_LEVEL`
   (:func:`ratio_interval`); the predictions at both of its ends (:attr:`Equilibrium.ends`)
   must give the check the same verdict as the point prediction, and an end that does not
   decelerate (or an unbounded interval: mean d1 not told from 0) leaves no bounded
   prediction — still moving.

The price of a movement test on 3 runs is power: a slow approach whose last third moves
by less than a few checkpoint-noise SDs is taken for a plateau (the issue's toy, 73-epoch
relaxation at 12 epochs, is called still moving in 99 % of studies with checkpoint noise
at 1/15 of its last third's change and in about 75 % at 1/5; tests/test_equilibrium.py).

**The drift rule**, where there is no bounded prediction (a run, or an end of the rate's
interval, does not decelerate; not a growing oscillation, which has no direction): each
run is continued at its last third's rate, ``y3 + d2·(k − 1)·s3/h2`` at k times the budget,
for k in :data:`DRIFT_HORIZONS` (2× … 64×, past the posts' own budget). A check whose
verdict is the same at every k has settled — its statistic drifts away from the
tolerance's edge, and any final value on that path gives the same verdict — and is
otherwise still moving at the first k that changes it
(:meth:`Equilibrium.drifts`; :func:`vaebench.stats.verdict.settle_all`). Its assumption,
stated with the verdict: the drift keeps its direction (an approach that slows down stops
on the same path; one that reverses is not covered). The horizon is a stated limit: a
slow drift that would need 64× the budget to reach an edge keeps the check still moving.

The predicted final value of each run is ``y3 + remaining``; its mean over runs carries the
t interval across runs (infinite on the side of any unbounded run). The decision (:func:`settling`) compares the
check's verdict on the current values with its verdict on the predicted final values (the
same check, the same levels): the statistic has **settled** when they agree, and is
**still moving** otherwise — the remaining change could move the interval across a
tolerance edge — so a decided check becomes inconclusive, "still moving: predicted final
X, now Y" (:class:`vaebench.stats.verdict.Check`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy import optimize
from scipy import stats as sps

from vaebench.errors import StatsError, require
from vaebench.stats.estimate import Estimate

__all__ = ["PLATEAU", "APPROACH", "OSCILLATION", "NOT_SETTLING", "MOVE_LEVEL", "DRIFT_HORIZONS", "RunEquilibrium",
           "run_equilibrium", "ratio_interval", "Equilibrium", "predict_final", "Settling", "settling", "budgets"]

PLATEAU, APPROACH, OSCILLATION, NOT_SETTLING = "plateau", "approach", "oscillation", "not settling"
#: the level of the movement test: a plateau is called moving at most 1 − MOVE_LEVEL of the time
MOVE_LEVEL = 0.95
#: the drift rule's horizons, in multiples of the budget: up to 64×, past the posts' own budget
#: (31,900 Adam steps, 28× the cpu scale's 1,128)
DRIFT_HORIZONS = (2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def budgets(epochs: int) -> tuple[int, int, int]:
    """The three budgets ⌈E/3⌉, ⌈2E/3⌉, E of a run of ``epochs`` epochs (E ≥ 3: three distinct)."""
    require(isinstance(epochs, (int, np.integer)) and epochs >= 3,
            f"epochs={epochs!r}: the equilibrium rule needs three distinct budgets, so at least 3 epochs",
            StatsError)
    return math.ceil(epochs / 3), math.ceil(2 * epochs / 3), int(epochs)


@dataclass(frozen=True)
class RunEquilibrium:
    """One run's trajectory judged: its kind, the ratio R = d2/d1 and the remaining change."""

    now: float
    remaining: float
    kind: str
    ratio: float
    last: float = math.nan

    @property
    def predicted(self) -> float:
        return self.now + self.remaining

    def to_dict(self) -> dict:
        return {"now": self.now, "remaining": self.remaining, "predicted": self.predicted, "kind": self.kind,
                "ratio": self.ratio, "last": self.last}


def _check_steps(steps: Sequence[float]) -> tuple[float, float]:
    require(len(steps) == 3, f"steps={tuple(steps)!r}: give three budgets s1 < s2 < s3", StatsError)
    s1, s2, s3 = (float(s) for s in steps)
    require(all(math.isfinite(s) for s in (s1, s2, s3)) and s1 < s2 < s3,
            f"steps={tuple(steps)!r} must be finite and strictly increasing (s1 < s2 < s3)", StatsError)
    return s2 - s1, s3 - s2


def _approach_share(ratio: float, h1: float, h2: float) -> float:
    """``q^h2 / (1 − q^h2)`` for the q with ``ratio = q^h1 (1 − q^h2) / (1 − q^h1)``."""
    if ratio == 0.0:
        return 0.0
    if math.isclose(h1, h2, rel_tol=1e-12):
        return ratio / (1.0 - ratio)

    def gap(log_q: float) -> float:
        q = math.exp(log_q)
        return q ** h1 * (1.0 - q ** h2) / (1.0 - q ** h1) - ratio

    hi = -1e-9 / max(h1, h2)
    if gap(hi) <= 0:             # the ratio is h2/h1 within rounding: no deceleration to speak of
        return math.inf
    lo = -1.0
    while gap(lo) > 0:
        lo *= 2.0
    qh2 = math.exp(optimize.brentq(gap, lo, hi, xtol=1e-14) * h2)
    return qh2 / (1.0 - qh2)


def _continuation(d1: float, d2: float, h1: float, h2: float) -> tuple[str, float, float]:
    """``(kind, ratio, share)`` of increments ``d1, d2``: the remaining change is ``d2 × share``
    (``inf`` for a run not settling; NaN share for a growing oscillation)."""
    if d1 == 0.0:
        return NOT_SETTLING, math.inf, math.inf
    ratio = d2 / d1
    if 0.0 <= ratio < h2 / h1:
        share = _approach_share(ratio, h1, h2)
        return (APPROACH if math.isfinite(share) else NOT_SETTLING), ratio, share
    if -1.0 < ratio < 0.0:
        return OSCILLATION, ratio, ratio / (1.0 - ratio)
    return NOT_SETTLING, ratio, (math.nan if ratio <= -1.0 else math.inf)


def _times(d2: float, share: float) -> float:
    if d2 == 0.0:
        return 0.0
    return math.nan if math.isnan(share) else (d2 * share if math.isfinite(share) else math.copysign(math.inf, d2))


def _check_run(values: Sequence[float], floor: float) -> tuple[float, float, float]:
    require(len(values) == 3, f"values={tuple(values)!r}: give the statistic at the three budgets", StatsError)
    y = tuple(float(v) for v in values)
    require(all(math.isfinite(v) for v in y), f"values={y!r} must be finite", StatsError)
    require(floor >= 0 and math.isfinite(floor), f"floor={floor!r} must be a finite change >= 0", StatsError)
    return y


def run_equilibrium(steps: Sequence[float], values: Sequence[float], floor: float = 0.0) -> RunEquilibrium:
    """The remaining change of one run's statistic after ``values`` at ``steps`` (module docstring);
    ``floor``: the change of the last third that counts as flat."""
    h1, h2 = _check_steps(steps)
    y1, y2, y3 = _check_run(values, floor)
    d1, d2 = y2 - y1, y3 - y2
    if abs(d2) <= floor:
        return RunEquilibrium(y3, 0.0, PLATEAU, math.nan if d1 == 0 else d2 / d1, d2)
    kind, ratio, share = _continuation(d1, d2, h1, h2)
    return RunEquilibrium(y3, _times(d2, share), kind, ratio, d2)


def _across(values: np.ndarray, level: float, what: str) -> Estimate:
    """Mean with the t interval across runs; infinite on the side of an unbounded run."""
    n = values.size
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, level, f"{what}: no runs", 0)
    if not np.all(np.isfinite(values)):
        nan = bool(np.any(np.isnan(values)))
        lo = -math.inf if nan or np.any(values == -math.inf) else float(np.min(values))
        hi = math.inf if nan or np.any(values == math.inf) else float(np.max(values))
        with np.errstate(invalid="ignore"):
            value = float(np.mean(values))
        return Estimate(value, lo, hi, level, f"{what}: a run is not settling", n)
    mean = float(values.mean())
    if n < 2 or np.ptp(values) == 0.0:
        return Estimate(mean, mean if n >= 2 else math.nan, mean if n >= 2 else math.nan, level, what, n)
    half = float(sps.t.ppf(0.5 + level / 2, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return Estimate(mean, mean - half, mean + half, level, what, n)


@dataclass(frozen=True)
class Equilibrium:
    """A check's statistic judged over every run: now, the remaining change and the predicted final value."""

    runs: tuple[RunEquilibrium, ...]
    now: Estimate
    remaining: Estimate
    predicted: Estimate
    floor: float
    ratio_interval: tuple[float, float] = (0.0, 0.0)
    ends: tuple[tuple[float, ...], ...] = ()
    steps: tuple[float, float, float] = ()

    @property
    def unbounded(self) -> bool:
        """Whether some alternative final value is infinite (a run, or an end of the rate's
        interval, not decelerating), none NaN (no growing oscillation): the drift rule applies."""
        values = np.array(self.alternatives, dtype=np.float64)
        return bool(np.any(np.isinf(values)) and not np.any(np.isnan(values)))

    def drifts(self, horizons: Sequence[float] | None = None) -> list[list[float]]:
        """Each run continued at its last third's rate to k times the budget, for k in
        ``horizons`` (default :data:`DRIFT_HORIZONS`): ``now + last × (k − 1)·s3 / (s3 − s2)``
        (module docstring, the drift rule); a bounded prediction gives its point values at every k."""
        horizons = DRIFT_HORIZONS if horizons is None else horizons
        if not self.unbounded:
            return [self.predicted_values for _ in horizons]
        _, s2, s3 = self.steps
        return [[r.now + r.last * (k - 1) * s3 / (s3 - s2) for r in self.runs] for k in horizons]

    @property
    def alternatives(self) -> list[list[float]]:
        """The runs' predicted final values at the pooled ratio, then at each end of its
        interval (a plateau: its values thrice): the check must give one verdict on all of them to
        have settled."""
        ends = [list(e) for e in self.ends] or [self.predicted_values, self.predicted_values]
        return [self.predicted_values, *ends]

    @property
    def kinds(self) -> dict[str, int]:
        return {k: sum(r.kind == k for r in self.runs) for k in (PLATEAU, APPROACH, OSCILLATION, NOT_SETTLING)
                if any(r.kind == k for r in self.runs)}

    @property
    def predicted_values(self) -> list[float]:
        return [r.predicted for r in self.runs]

    def to_dict(self) -> dict:
        return {"runs": [r.to_dict() for r in self.runs], "now": self.now.to_dict(),
                "remaining": self.remaining.to_dict(), "predicted": self.predicted.to_dict(), "floor": self.floor,
                "kinds": self.kinds, "ratio_interval": list(self.ratio_interval), "ends": [list(e) for e in self.ends]}


def _moved(change: np.ndarray, level: float) -> bool:
    """Whether the runs' change over the last two thirds is told apart from 0: the t interval
    across runs at ``level`` excludes 0 (with no spread between runs: any change)."""
    if change.size < 2 or np.ptp(change) == 0.0:
        return bool(np.any(change != 0.0))
    half = float(sps.t.ppf(0.5 + level / 2, change.size - 1) * change.std(ddof=1) / math.sqrt(change.size))
    return bool(abs(change.mean()) > half)


def ratio_interval(d1: np.ndarray, d2: np.ndarray, level: float) -> tuple[float, float]:
    """Fieller's interval at ``level`` for the ratio ``R = E[d2] / E[d1]`` of the runs' paired
    increments: the R for which the t test of ``d2 − R·d1`` across runs does not reject 0.
    ``(-inf, inf)`` when the interval is unbounded (mean d1 not told apart from 0)."""
    n = d1.size
    m1, m2 = float(d1.mean()), float(d2.mean())
    if n < 2:
        return (m2 / m1, m2 / m1) if m1 != 0 else (-math.inf, math.inf)
    cov = np.cov(np.vstack([d1, d2]), ddof=1)
    k = float(sps.t.ppf(0.5 + level / 2, n - 1)) ** 2 / n
    a, b, c = m1 * m1 - k * cov[0, 0], -2.0 * (m1 * m2 - k * cov[0, 1]), m2 * m2 - k * cov[1, 1]
    if a <= 0:
        return -math.inf, math.inf
    root = math.sqrt(max(b * b - 4 * a * c, 0.0))
    return (-b - root) / (2 * a), (-b + root) / (2 * a)


def _predicted_at(ratio: float, arr: np.ndarray, h1: float, h2: float) -> tuple[float, ...]:
    """Each run's predicted final value when the pooled ratio is ``ratio``."""
    if not math.isfinite(ratio):
        share = math.nan if ratio < 0 else math.inf
    else:
        share = _continuation(1.0, ratio, h1, h2)[2]
    return tuple(float(y3 + _times(float(y3 - y2), share)) for y2, y3 in arr[:, 1:])


def _runs_of(arr: np.ndarray, h1: float, h2: float, move_level: float, floor: float) -> tuple:
    """The runs' :class:`RunEquilibrium` and the pooled ratio's interval (module docstring)."""
    d1, d2 = arr[:, 1] - arr[:, 0], arr[:, 2] - arr[:, 1]
    if not _moved(d2, move_level) or np.all(np.abs(d2) <= floor):
        return tuple(RunEquilibrium(float(y), 0.0, PLATEAU, math.nan, float(d))
                     for y, d in zip(arr[:, 2], d2)), (0.0, 0.0)
    if not _moved(d1, move_level):      # still, then moving: no deceleration, and no swing to call an oscillation
        return tuple(RunEquilibrium(float(y), _times(float(d), math.inf), NOT_SETTLING, math.inf, float(d))
                     for y, d in zip(arr[:, 2], d2)), (math.inf, math.inf)
    kind, ratio, share = _continuation(float(d1.mean()), float(d2.mean()), h1, h2)
    runs = tuple(RunEquilibrium(float(y), _times(float(d), share), kind, ratio, float(d))
                 for y, d in zip(arr[:, 2], d2))
    return runs, ratio_interval(d1, d2, move_level)


def predict_final(steps: Sequence[float], values: Any, level: float = 0.95, move_level: float = MOVE_LEVEL,
                  floor: float = 0.0) -> Equilibrium:
    """Every run's predicted final value from ``values`` (runs × 3: the statistic at ``steps``)
    and the means across runs with t intervals at ``level`` (module docstring: the movement
    test at ``move_level``, then the relaxation rate pooled over the runs, with its interval)."""
    h1, h2 = _check_steps(steps)
    arr = np.asarray(values, dtype=np.float64)
    require(arr.ndim == 2 and arr.shape[1] == 3 and arr.shape[0] >= 1,
            f"values has shape {arr.shape}; pass one row of three values (the three budgets) per run", StatsError)
    for row in arr:
        _check_run(row, floor)
    require(0.0 < level < 1.0 and 0.0 < move_level < 1.0,
            f"level={level!r} and move_level={move_level!r} must lie in (0, 1)", StatsError)
    runs, (r_lo, r_hi) = _runs_of(arr, h1, h2, move_level, floor)
    plateau = runs[0].kind == PLATEAU
    ends = () if plateau else (_predicted_at(r_lo, arr, h1, h2), _predicted_at(r_hi, arr, h1, h2))
    rem = np.array([r.remaining for r in runs])
    return Equilibrium(runs, _across(arr[:, 2], level, "t over runs"), _across(rem, level, "remaining change"),
                       _across(np.array([r.predicted for r in runs]), level, "predicted final, t over runs"),
                       float(floor), (r_lo, r_hi), ends, tuple(float(x) for x in steps))


@dataclass(frozen=True)
class Settling:
    """Whether a check's verdict survives its statistic's remaining change.

    ``verdict_now`` is the check's verdict on the current values, ``verdict_predicted`` the
    same check's verdict on the predicted final values; the statistic has settled when they
    agree."""

    verdict_now: str
    verdict_predicted: str
    now: Estimate
    predicted: Estimate
    kinds: tuple[tuple[str, int], ...] = ()
    horizon: float = 0.0

    @property
    def settled(self) -> bool:
        return self.verdict_now == self.verdict_predicted

    @property
    def text(self) -> str:
        head = "settled" if self.settled else "still moving"
        runs = ", ".join(f"{k}: {n}" for k, n in self.kinds)
        runs = f"; runs: {runs}" if runs else ""
        if math.isnan(self.predicted.value):        # no prediction: say so, never "settled at nan"
            head = "still moving" if not self.settled else f"{self.verdict_now} already"
            return f"{head}: no predicted final value ({self.predicted.method}); now {self.now}{runs}"
        if self.horizon:                            # judged by the drift rule
            if self.settled:
                return (f"settled: drifting away from the tolerance's edge, {self.verdict_now} along every run's "
                        f"drift continued to {self.horizon:g}× the budget (there {self.predicted}), now "
                        f"{self.now}{runs}")
            return (f"still moving: every run's drift continued to {self.horizon:g}× the budget gives "
                    f"{self.predicted} ({self.verdict_predicted}), now {self.now} ({self.verdict_now}){runs}")
        return (f"{head}: predicted final {self.predicted}, now {self.now} ({self.verdict_predicted} at the "
                f"predicted final values, {self.verdict_now} now{runs})")

    def to_dict(self) -> dict:
        return {"settled": self.settled, "verdict_now": self.verdict_now, "verdict_predicted": self.verdict_predicted,
                "now": self.now.to_dict(), "predicted": self.predicted.to_dict(), "kinds": dict(self.kinds),
                "horizon": self.horizon, "text": self.text}


def settling(verdict_now: str, verdict_predicted: str, now: Estimate, predicted: Estimate,
             kinds: dict[str, int] | None = None, horizon: float = 0.0) -> Settling:
    """The judgement of :class:`Settling` from the two verdicts (strings or ``Verdict``)."""
    allowed = ("supported", "refuted", "inconclusive")
    v_now, v_pred = (getattr(v, "value", v) for v in (verdict_now, verdict_predicted))
    require(v_now in allowed and v_pred in allowed,
            f"verdicts {verdict_now!r}, {verdict_predicted!r} must be one of {allowed}", StatsError)
    return Settling(v_now, v_pred, now, predicted, tuple(sorted((kinds or {}).items())), float(horizon))
