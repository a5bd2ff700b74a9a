"""Runs at another minimum: a run that lies apart from the others (Dixon's Q test).

Post XIII reports one run of four "at another minimum" (its radius +21 %). Such a mixture
breaks the normal model behind a t interval across runs: the audit of issue 19 measured
false refutation 0.126 and false support 0.062 against nominal 0.010 and 0.005. The
robust rule (:func:`vaebench.stats.verdict.guard_apart`) does not widen any tolerance:
when one run lies apart from the others, the check it would decide is inconclusive, and
the run apart is counted as a finding of its own (a secondary check, shown, never voting)
— a run at another minimum says the training has two outcomes, which a mean over runs
hides.

Dixon's Q (Dean & Dixon 1951; the r10 statistic): with the values sorted, ``Q = gap / range``
where ``gap`` is the larger of the distances from the smallest value to the next and from
the largest to the one below it. Under normal runs Q exceeds :data:`DIXON_Q`'s critical
value with probability 1 − level (Rorabacher 1991, Anal. Chem. 63, 139; the 95 % values
are checked by simulation in tests/test_outliers.py). Its limits, measured there: at 3
runs it cannot tell which run is apart unless the other two nearly agree (Q > 0.970), and
at 4 runs it flags a run 21 % away with between-run SD 0.8 (4 SDs) in under a tenth of the
studies — the guard helps when the other minimum lies many between-run SDs away.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vaebench.errors import StatsError, require

__all__ = ["DIXON_Q", "Apart", "dixon_q", "apart"]

#: critical values of Dixon's Q (r10), two-sided, by level and run count (Rorabacher 1991)
DIXON_Q = {
    0.90: {3: 0.941, 4: 0.765, 5: 0.642, 6: 0.560, 7: 0.507, 8: 0.468, 9: 0.437, 10: 0.412},
    0.95: {3: 0.970, 4: 0.829, 5: 0.710, 6: 0.625, 7: 0.568, 8: 0.526, 9: 0.493, 10: 0.466},
    0.99: {3: 0.994, 4: 0.926, 5: 0.821, 6: 0.740, 7: 0.680, 8: 0.634, 9: 0.598, 10: 0.568},
}


@dataclass(frozen=True)
class Apart:
    """The run that lies apart: its index among the values, its value, Q and the critical value."""

    index: int
    value: float
    q: float
    critical: float
    level: float
    n: int

    @property
    def text(self) -> str:
        return (f"run {self.index} ({self.value:.4g}) lies apart from the other {self.n - 1} (Dixon's Q "
                f"{self.q:.3f} > {self.critical:.3f}, {self.level:.0%}): runs at another minimum")


def dixon_q(values: Any) -> tuple[float, int]:
    """Dixon's Q of ``values`` and the index of the run at the larger gap (Q = 0 without spread)."""
    x = np.asarray(values, dtype=np.float64)
    require(x.ndim == 1 and x.size >= 3 and bool(np.all(np.isfinite(x))),
            f"values={x.tolist()!r}: Dixon's Q needs at least 3 finite values, one per run", StatsError)
    order = np.argsort(x, kind="stable")
    s = x[order]
    rng = s[-1] - s[0]
    if rng == 0:
        return 0.0, int(order[-1])
    low, high = s[1] - s[0], s[-1] - s[-2]
    return (float(high / rng), int(order[-1])) if high >= low else (float(low / rng), int(order[0]))


def apart(values: Any, level: float = 0.95) -> Apart | None:
    """The run apart from the others at ``level`` (None: none, or a run count outside 3–10,
    where :data:`DIXON_Q` has no critical value and no run is flagged)."""
    require(level in DIXON_Q, f"level={level!r}: Dixon's Q has critical values at {sorted(DIXON_Q)}", StatsError)
    x = np.asarray(values, dtype=np.float64)
    critical = DIXON_Q[level].get(int(x.size))
    if critical is None:
        return None
    q, i = dixon_q(x)
    return Apart(i, float(x[i]), q, critical, level, int(x.size)) if q > critical else None
