"""Runs at another minimum: runs that fall into two groups apart from each other.

Post XIII reports one run of four "at another minimum" (its radius +21 %). Such a mixture
breaks the normal model behind a t interval across runs: the audit of issue 19 measured
false refutation 0.126 and false support 0.062 against nominal 0.010 and 0.005. The
robust rule (:func:`vaebench.stats.verdict.guard_apart`) does not widen any tolerance:
when the runs fall into two groups, the split is a finding of its own (a secondary check,
shown, never voting) — the training has two outcomes, which a mean over runs hides — and
the check keeps its verdict only where that verdict does not depend on which group is the
"main" minimum: decided on each group alone (a group of one run with the other group's
spread about it), it must come out the same as on all runs; else it is inconclusive.

The test: with the values sorted, ``Q = largest gap between neighbours / range``. At 3 runs
this is Dixon's r10 (Dean & Dixon 1951; Rorabacher 1991 gives 0.941 / 0.970 / 0.994); from
4 runs on it also sees a split in the middle (2 + 2, 3 + 2 runs), which Dixon's r10, looking
only at the extremes, misses. :data:`GAP_Q` holds its critical values under normal runs,
from 4·10⁶ simulated studies per run count (tests/test_outliers.py re-checks them).

Its limits, measured in tests/test_outliers.py (one sub-claim of m = 4 at its edge, a
quarter of the runs 21 % away, 17 between-run SDs): from 4 runs on, the guard holds false
support within α and false refutation within α/m. At 3 runs no rule can: in share³ of the
studies (1.6 %) every run sits at the other minimum, and nothing in the runs tells.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vaebench.errors import StatsError, require

__all__ = ["GAP_Q", "Split", "gap_q", "split_runs"]

#: critical values of the largest-gap statistic, by level and run count (simulated; at 3 runs Dixon's r10)
GAP_Q = {
    0.90: {3: 0.941, 4: 0.794, 5: 0.683, 6: 0.603, 7: 0.544, 8: 0.500, 9: 0.465, 10: 0.437},
    0.95: {3: 0.970, 4: 0.851, 5: 0.742, 6: 0.660, 7: 0.598, 8: 0.551, 9: 0.514, 10: 0.484},
    0.99: {3: 0.994, 4: 0.931, 5: 0.843, 6: 0.764, 7: 0.701, 8: 0.650, 9: 0.610, 10: 0.577},
}


@dataclass(frozen=True)
class Split:
    """Runs in two groups: ``apart`` (the smaller group; the upper one at a tie) and ``rest``
    (run indices, ascending), the per-run ``values``, Q and its critical value."""

    apart: tuple[int, ...]
    rest: tuple[int, ...]
    values: tuple[float, ...]
    q: float
    critical: float
    level: float

    @property
    def n(self) -> int:
        return len(self.values)

    def text(self, labels: Any = None) -> str:
        names = labels if labels is not None else [f"run {i}" for i in range(self.n)]

        def group(rows: tuple[int, ...]) -> str:
            return ", ".join(f"{names[i]} ({self.values[i]:.4g})" for i in rows)

        verb = "lies" if len(self.apart) == 1 else "lie"
        return (f"{group(self.apart)} {verb} apart from {group(self.rest)} (largest gap Q {self.q:.3f} > "
                f"{self.critical:.3f}, {self.level:.0%}): runs at another minimum")

    def groups(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each group as ``(rows, values)`` to decide a check on alone: a group of two or more
        runs is itself; a group of one run is the other group's rows with their deviations
        about their mean moved onto that run's value (one run has no spread of its own)."""
        x = np.asarray(self.values, dtype=np.float64)
        out = []
        for own, other in ((self.rest, self.apart), (self.apart, self.rest)):
            rows, others = np.asarray(own), np.asarray(other)
            if rows.size >= 2:
                out.append((rows, x[rows]))
            else:
                out.append((others, x[rows[0]] + x[others] - x[others].mean()))
        return out


def gap_q(values: Any) -> tuple[float, int]:
    """The largest gap between sorted neighbours over the range of ``values``, and the
    number of values below that gap (Q = 0 without spread)."""
    x = np.asarray(values, dtype=np.float64)
    require(x.ndim == 1 and x.size >= 3 and bool(np.all(np.isfinite(x))),
            f"values={x.tolist()!r}: the gap test needs at least 3 finite values, one per run", StatsError)
    s = np.sort(x, kind="stable")
    rng = s[-1] - s[0]
    if rng == 0:
        return 0.0, int(x.size)
    gaps = np.diff(s)
    j = gaps.size - 1 - int(np.argmax(gaps[::-1]))      # the upper gap at a tie
    return float(gaps[j] / rng), j + 1


def split_runs(values: Any, level: float = 0.95) -> Split | None:
    """The runs in two groups at ``level`` (None: one group, or a run count outside 3–10,
    where :data:`GAP_Q` has no critical value and no split is flagged)."""
    require(level in GAP_Q, f"level={level!r}: the gap test has critical values at {sorted(GAP_Q)}", StatsError)
    x = np.asarray(values, dtype=np.float64)
    critical = GAP_Q[level].get(int(x.size))
    if critical is None:
        return None
    q, below = gap_q(x)
    if q <= critical:
        return None
    order = np.argsort(x, kind="stable")
    low, high = sorted(order[:below].tolist()), sorted(order[below:].tolist())
    apart, rest = (high, low) if len(high) <= len(low) else (low, high)
    return Split(tuple(apart), tuple(rest), tuple(float(v) for v in x), q, critical, level)
