"""What a check can decide before any model trains: the minimum detectable margin.

A primary check on trained models takes one value per run and the t interval across its
n runs (:func:`vaebench.stats.across_runs`); :mod:`vaebench.stats.verdict` supports it when
its 1 − 2α interval lies inside the tolerance and refutes it when its 1 − α/m interval lies
outside. With a stated prior between-run standard deviation σ of the per-run statistic
(from earlier runs where there are any, else stated per check), the chance of each
decision is the power of a one-sided t test:

- support needs the truth at a distance δ *inside* the nearer edge: the one-sided test at
  level α (the 1 − 2α interval's bound) rejects "at or beyond the edge" with probability
  P(T'(n − 1, δ√n/σ) > t(1 − α, n − 1)), T' the noncentral t;
- refutation needs the truth δ *outside* the edge, at one-sided level α/(2m).

The *minimum detectable margin* is the δ at which that probability reaches ``power``
(0.8 by default), in units of the statistic (:func:`min_margin`). A check whose tolerance
leaves less room than that — a band of half-width h has at most h, with the truth at its
centre; a one-sided tolerance has the stated expected ``margin`` — "cannot decide at N
runs" and :func:`runs_needed` says how many it needs. For a band the support probability
is computed on the nearer edge only (the far edge h away adds at most the same again to
the failure chance), which is exact when h ≫ σ/√n and optimistic by at most a factor of 2
in the miss rate otherwise.

A primary check the model above does not fit — an exact count with no between-run spread
(decided by construction), a test over repeated measurements of one machine rather than
over runs, an exact binomial test whose power is a sum over tables — states what it can
decide in words instead (:class:`Stated`): its row in the table gives the kind and the
reason, never "no prior".
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from scipy import optimize
from scipy import stats as sps

from vaebench.errors import StatsError, require

__all__ = ["DesignRow", "min_margin", "decision_power", "runs_needed", "design_row", "Prior", "Stated", "design_table"]

#: the largest run count :func:`runs_needed` looks at
MAX_RUNS = 1000


def decision_power(delta: float, sd: float, n: int, one_sided_alpha: float) -> float:
    """P(a one-sided t test over ``n`` runs at ``one_sided_alpha`` decides) when the truth lies
    ``delta`` beyond the edge it must clear, the runs spread with SD ``sd``."""
    require(n >= 2, f"n={n!r}: a t interval across runs needs at least 2 runs", StatsError)
    require(sd > 0 and math.isfinite(sd), f"sd={sd!r} must be a positive between-run SD", StatsError)
    require(0 < one_sided_alpha < 0.5, f"one_sided_alpha={one_sided_alpha!r} must lie in (0, 0.5)", StatsError)
    crit = sps.t.ppf(1.0 - one_sided_alpha, n - 1)
    return float(sps.nct.sf(crit, n - 1, delta * math.sqrt(n) / sd))


def min_margin(sd: float, n: int, one_sided_alpha: float, power: float = 0.8) -> float:
    """The distance from the edge at which :func:`decision_power` reaches ``power``."""
    require(0 < power < 1, f"power={power!r} must lie in (0, 1)", StatsError)
    if decision_power(0.0, sd, n, one_sided_alpha) >= power:
        return 0.0
    hi = sd
    while decision_power(hi, sd, n, one_sided_alpha) < power:
        hi *= 2.0
    return float(optimize.brentq(lambda d: decision_power(d, sd, n, one_sided_alpha) - power, 0.0, hi,
                                 xtol=1e-12 * sd, rtol=1e-12))


def runs_needed(available: float, sd: float, one_sided_alpha: float, power: float = 0.8,
                max_runs: int = MAX_RUNS) -> int | None:
    """The fewest runs whose :func:`min_margin` fits in ``available`` (None: more than ``max_runs``)."""
    if not available > 0:
        return None
    for n in range(2, max_runs + 1):
        if decision_power(available, sd, n, one_sided_alpha) >= power:
            return n
    return None


@dataclass(frozen=True)
class DesignRow:
    """One primary check's line of a claim's design table."""

    check: str
    n_runs: int
    prior_sd: float
    available: float
    support_margin: float
    refute_margin: float
    support_runs: int | None
    refute_runs: int | None

    @property
    def can_support(self) -> bool:
        return self.support_margin <= self.available

    def text(self) -> str:
        head = (f"{self.check}: {self.n_runs} runs, prior SD {self.prior_sd:.3g}; detectable margin "
                f"{self.support_margin:.3g} to support, {self.refute_margin:.3g} to refute")
        if self.can_support:
            return head + f"; room {self.available:.3g}: can decide"
        needs = f"needs {self.support_runs}" if self.support_runs else f"needs more than {MAX_RUNS}"
        return head + f"; room {self.available:.3g}: cannot decide at {self.n_runs} runs; {needs}"

    def to_dict(self) -> dict:
        return {**self.__dict__, "can_support": self.can_support, "text": self.text()}


def design_row(check: str, n_runs: int, prior_sd: float, *, alpha: float = 0.05, m: int = 1,
               half_width: float | None = None, margin: float | None = None, power: float = 0.8) -> DesignRow:
    """The design line of a check: a band tolerance of ``half_width`` (room: the half-width,
    the truth at its centre) or a one-sided tolerance with an expected ``margin`` from its
    edge (room: that margin); support at one-sided α, refutation at one-sided α/(2m)."""
    require((half_width is None) != (margin is None), "give half_width (a band) or margin (one-sided), not both",
            StatsError)
    require(m >= 1, f"m={m!r} sub-claims: at least 1", StatsError)
    room = float(half_width if half_width is not None else margin)
    a_ref = alpha / (2 * m)
    return DesignRow(check, n_runs, float(prior_sd), room,
                     min_margin(prior_sd, n_runs, alpha, power), min_margin(prior_sd, n_runs, a_ref, power),
                     runs_needed(room, prior_sd, alpha, power), runs_needed(room, prior_sd, a_ref, power))


@dataclass(frozen=True)
class Prior:
    """What a claim module states, before any run, about one sub-claim's primary check:
    the prior between-run SD of its per-run statistic (in the statistic's units) and where
    it comes from, and the room its tolerance leaves: ``half_width`` of a band (the truth
    at its centre) or the expected ``margin`` from a one-sided edge."""

    sd: float
    source: str
    half_width: float | None = None
    margin: float | None = None

    def __post_init__(self) -> None:
        require(math.isfinite(self.sd) and self.sd > 0, f"sd={self.sd!r} must be a positive between-run SD",
                StatsError)
        require(bool(self.source.strip()), "source='' : say where the prior SD comes from", StatsError)
        require((self.half_width is None) != (self.margin is None),
                f"half_width={self.half_width!r}, margin={self.margin!r}: give one (a band or a one-sided edge)",
                StatsError)


@dataclass(frozen=True)
class Stated:
    """What a claim module states, before any run, about a primary check that a between-run
    SD does not describe: its ``kind`` (e.g. "exact: decided by construction", "rounds, not
    runs", "exact paired binomial") and the ``reason`` — what it can decide and why, with
    its numbers and their source. ``can_support``: True when it decides whatever the runs
    (an exact count), False when it cannot at any run count of the scales, None when it
    depends on what is measured."""

    kind: str
    reason: str
    can_support: bool | None = None

    def __post_init__(self) -> None:
        require(bool(self.kind.strip()), "kind='' : say what kind of check this is", StatsError)
        require(bool(self.reason.strip()), "reason='' : say what the check can decide and why", StatsError)


def design_table(subclaims: Sequence[tuple[str, str]], priors: Mapping[str, Prior | Stated], n_runs: int,
                 alpha: float = 0.05) -> list[dict]:
    """One row per ``(sub-claim id, primary check)``: :func:`design_row` from its stated
    :class:`Prior` at ``n_runs`` runs and m = len(subclaims), with the prior's source; a
    :class:`Stated` check gives its kind and reason (no margin: the normal model does not fit
    it); a sub-claim without either says so (nothing is known before training)."""
    m = len(subclaims)
    unknown = set(priors) - {sid for sid, _ in subclaims}
    require(not unknown, f"priors for {sorted(unknown)}: not sub-claims of this claim", StatsError)
    rows = []
    for sid, check in subclaims:
        p = priors.get(sid)
        if p is None:
            rows.append({"subclaim": sid, "check": check, "n_runs": n_runs, "can_support": None,
                         "text": f"{sid}: no prior between-run SD stated: what it can decide is unknown "
                                 "before training"})
            continue
        if isinstance(p, Stated):
            rows.append({"subclaim": sid, "check": check, "n_runs": n_runs, "can_support": p.can_support,
                         "kind": p.kind, "text": f"{sid}: {p.kind}: {p.reason}"})
            continue
        require(isinstance(p, Prior), f"{sid}: {p!r} is neither a Prior nor a Stated", StatsError)
        row = design_row(sid, n_runs, p.sd, alpha=alpha, m=m, half_width=p.half_width, margin=p.margin)
        rows.append({**row.to_dict(), "subclaim": sid, "check": check, "source": p.source})
    return rows
