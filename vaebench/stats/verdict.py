"""Verdicts: how a claim's statistics become supported, refuted or inconclusive.

A claim declares its verdict structure before any run (:class:`Design`): its
sub-claims, each with ONE primary check named in advance. Everything else a claim
module computes is secondary: shown in the report, never voting.

The decision (:func:`decide`), for a claim with m sub-claims at family-wise level α:

- every primary check carries two two-sided intervals of its statistic: the *support*
  interval at level ``1 − 2α`` (:attr:`Design.support_level`) and the *refutation*
  interval at level ``1 − α/m`` (:attr:`Design.refute_level`). A check is *supported*
  when its support interval lies inside its tolerance region, *refuted* when its
  refutation interval lies entirely outside, *inconclusive* otherwise. The first is an
  equivalence (or one-sided) test at level α, the second a test at level α/m;
- a claim module writes its checks as a function of the level, ``at(level)``, and
  :func:`both_levels` (``claim.design.checks(at)``) runs it at both levels and pairs
  each primary check's two intervals; a constructor also takes the two estimates
  directly (``check_within(name, support_est, lo, hi, refute=refute_est)``). A primary
  check with one interval at the refutation level (the rule before the two levels) still
  decides both ways — validly, and more strictly for support than needed;
- a sub-claim takes the verdict of its primary check; a primary check whose models fail
  the check's precondition (not converged, collapsed, too few finite runs) is
  inconclusive with that reason, whatever its intervals say; so is a primary check whose
  statistic is still moving (:mod:`vaebench.stats.equilibrium`: the same check on the
  predicted final values of its runs gives another verdict; :func:`settle`), with "still
  moving: predicted final X, now Y"; and a decided check whose runs fall into two groups
  (:func:`guard_apart`: runs at another minimum, counted as a secondary finding) where a
  group alone would decide it otherwise;
- the claim is **supported** when every sub-claim is: the claim is the conjunction of its
  sub-claims, so by intersection–union the claim's false-support rate is at most the
  largest sub-claim's, ≤ α; **refuted** when any sub-claim is: each false refutation has
  probability ≤ α/m, so by Bonferroni the family-wise rate is ≤ α; **inconclusive**
  otherwise. Since 1 − 2α < 1 − α/m, the support interval lies inside the refutation
  interval and no check is both.

A sub-claim refuted while another is supported gives "refuted": the claim as stated is
the conjunction of its sub-claims. The per-sub-claim verdicts are kept beside it.
vaebench's generalisations beyond the posts (a sweep, a scaling law) are claims of their
own and never refute the posts' statement.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from vaebench.errors import StatsError, require
from vaebench.stats.equilibrium import Settling, settling
from vaebench.stats.estimate import Estimate
from vaebench.stats.outliers import split_runs

__all__ = ["ALPHA", "Verdict", "SubClaim", "Design", "Check", "SubClaimResult", "ClaimResult", "decide",
           "combine", "check_within", "check_above", "check_below", "PRIMARY", "SECONDARY", "UNITS",
           "both_levels", "primary_named", "merge_levels", "claim_verdict", "settle", "settle_all", "guard_apart"]

#: the family-wise error level of every claim's decision
ALPHA = 0.05
PRIMARY, SECONDARY = "primary", "secondary"
#: what one observation behind a check's interval is
UNITS = ("runs", "pairs of runs", "rounds", "points", "images", "exact", "identity")


class Verdict(str, Enum):
    """The verdict on a check, a sub-claim or a claim."""

    SUPPORTED = "supported"
    REFUTED = "refuted"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class SubClaim:
    """One statement of a claim, with the name of the one check that decides it."""

    id: str
    statement: str
    primary: str
    posts: str = ""

    def to_dict(self) -> dict:
        return {"id": self.id, "statement": self.statement, "primary": self.primary, "posts": self.posts}


@dataclass(frozen=True)
class Design:
    """A claim's pre-registered verdict structure: its sub-claims and the level α."""

    subclaims: tuple[SubClaim, ...]
    alpha: float = ALPHA

    def __post_init__(self) -> None:
        object.__setattr__(self, "subclaims", tuple(self.subclaims))
        require(len(self.subclaims) > 0, "a Design needs at least one SubClaim", StatsError)
        ids = [s.id for s in self.subclaims]
        require(len(set(ids)) == len(ids), f"sub-claim ids {ids} repeat; give each its own id", StatsError)
        names = [s.primary for s in self.subclaims]
        require(len(set(names)) == len(names),
                f"primary check names {names} repeat; each sub-claim has its own primary check", StatsError)
        require(0.0 < self.alpha < 0.5, f"alpha={self.alpha!r} must lie in (0, 0.5)", StatsError)

    @property
    def m(self) -> int:
        return len(self.subclaims)

    @property
    def refute_level(self) -> float:
        """The two-sided level of a primary check's refutation interval, 1 − α/m (Bonferroni)."""
        return 1.0 - self.alpha / self.m

    @property
    def support_level(self) -> float:
        """The two-sided level of a primary check's support interval, 1 − 2α (intersection–union)."""
        return 1.0 - 2.0 * self.alpha

    @property
    def level(self) -> float:
        """The refutation level 1 − α/m, the wider of the two (secondary checks use it too)."""
        return self.refute_level

    def checks(self, at: Callable[[float], Sequence["Check"]]) -> list["Check"]:
        """``at(level)`` (a claim module's checks at one level) run at both levels, each
        primary check carrying its two intervals (:func:`both_levels`)."""
        return both_levels(self, at)

    def subclaim(self, sid: str) -> SubClaim:
        for s in self.subclaims:
            if s.id == sid:
                return s
        raise StatsError(f"sub-claim {sid!r} is not declared; declared: {[s.id for s in self.subclaims]}")

    def to_dict(self) -> dict:
        return {"alpha": self.alpha, "level": self.level, "support_level": self.support_level,
                "refute_level": self.refute_level, "subclaims": [s.to_dict() for s in self.subclaims]}


def _verdict_of(passed: bool | None) -> Verdict:
    if passed is None:
        return Verdict.INCONCLUSIVE
    return Verdict.SUPPORTED if passed else Verdict.REFUTED


@dataclass
class Check:
    """One statistic held to one tolerance.

    ``passed`` is True (inside the tolerance), False (outside) or None (the interval
    straddles the edge, or the data cannot decide). ``precondition``, when set, is why
    the models behind the check are not what the claim is about: the check is then
    inconclusive whatever ``passed`` says. ``role`` is ``'primary'`` (decides its
    ``subclaim``) or ``'secondary'`` (shown, never voting); ``unit`` says what one
    observation behind the interval is (:data:`UNITS`: ``'runs'`` for intervals across
    training runs) and ``n_runs`` how many training runs it rests on. A primary check
    carries its support interval as ``estimate`` and its refutation interval as
    ``refute_estimate`` (None: one interval decides both ways, as for a secondary check
    or an exact value). ``equilibrium``, when set, says whether the statistic has settled
    (:func:`settle`): a check whose statistic is still moving is inconclusive.
    """

    name: str
    estimate: Estimate
    tolerance: str
    passed: bool | None
    reason: str = ""
    posts: str | None = None
    subclaim: str | None = None
    role: str = SECONDARY
    unit: str = ""
    n_runs: int | None = None
    precondition: str | None = None
    refute_estimate: Estimate | None = None
    equilibrium: Settling | None = None

    def __post_init__(self) -> None:
        require(self.role in (PRIMARY, SECONDARY), f"role={self.role!r}; use 'primary' or 'secondary'", StatsError)
        require(self.unit in UNITS or self.unit == "", f"unit={self.unit!r}; use one of {UNITS}", StatsError)
        require(self.role == SECONDARY or self.subclaim,
                f"primary check {self.name!r} needs subclaim= (the sub-claim it decides)", StatsError)

    @property
    def verdict(self) -> Verdict:
        if self.precondition or (self.equilibrium is not None and not self.equilibrium.settled):
            return Verdict.INCONCLUSIVE
        return _verdict_of(self.passed)

    @property
    def why(self) -> str:
        """The reason of the verdict, the precondition first when it failed."""
        if self.precondition:
            return f"precondition failed: {self.precondition} (the interval alone: {self.reason})"
        if self.equilibrium is not None and not self.equilibrium.settled:
            return f"{self.equilibrium.text} (the interval alone: {self.reason})"
        return self.reason

    def to_dict(self) -> dict:
        return {"name": self.name, "estimate": self.estimate.to_dict(), "estimate_text": str(self.estimate),
                "tolerance": self.tolerance, "passed": self.passed, "verdict": self.verdict.value,
                "reason": self.why, "posts": self.posts, "subclaim": self.subclaim, "role": self.role,
                "unit": self.unit, "n_runs": self.n_runs, "level": self.estimate.level,
                "refute_estimate": self.refute_estimate.to_dict() if self.refute_estimate else None,
                "precondition": {"ok": not self.precondition, "reason": self.precondition or ""},
                "equilibrium": self.equilibrium.to_dict() if self.equilibrium is not None else None}


@dataclass
class SubClaimResult:
    subclaim: SubClaim
    verdict: Verdict
    reason: str
    check: Check | None = None

    def to_dict(self) -> dict:
        return {**self.subclaim.to_dict(), "verdict": self.verdict.value, "reason": self.reason,
                "check": self.check.name if self.check else None}


@dataclass
class ClaimResult:
    """A claim's verdict, per sub-claim, with the checks it rests on."""

    claim_id: str
    verdict: Verdict
    checks: list[Check] = field(default_factory=list)
    reason: str = ""
    subclaims: list[SubClaimResult] = field(default_factory=list)

    @classmethod
    def from_checks(cls, claim_id: str, checks: Sequence[Check], reason: str = "",
                    design: Design | None = None, covered: Iterable[str] | None = None) -> "ClaimResult":
        """The result of ``checks``: :func:`decide` under ``design``; without a design,
        :func:`combine` (every check votes: for ad-hoc use, not for claims)."""
        if design is not None:
            result = decide(claim_id, design, checks, covered)
            if reason:
                result.reason = reason
            return result
        verdict = combine(checks)
        if not reason:
            failed = [c.name for c in checks if c.verdict is Verdict.REFUTED]
            open_ = [c.name for c in checks if c.verdict is Verdict.INCONCLUSIVE]
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
                "checks": [c.to_dict() for c in self.checks], "reason": self.reason,
                "subclaims": [s.to_dict() for s in self.subclaims]}


def combine(checks: Sequence[Check]) -> Verdict:
    """Every check votes: any refuted → refuted; all supported → supported; else inconclusive."""
    verdicts = [c.verdict for c in checks]
    if Verdict.REFUTED in verdicts:
        return Verdict.REFUTED
    if verdicts and all(v is Verdict.SUPPORTED for v in verdicts):
        return Verdict.SUPPORTED
    return Verdict.INCONCLUSIVE


def _exact(est: Estimate) -> bool:
    return est.low == est.high  # an exact value needs no interval


def _level_error(check: Check, design: Design) -> str | None:
    """Why ``check``'s intervals do not have the design's levels (None when they do)."""
    est, ref = check.estimate, check.refute_estimate
    if ref is None:  # one interval decides both ways: valid (and stricter for support) at the refutation level
        if _exact(est) or est.level >= design.refute_level - 1e-9:
            return None
        return (f"has a {est.level:.4g} interval; the design asks {design.refute_level:.4g} (1 − α/m with "
                f"m = {design.m}) for a single interval, or a support interval at {design.support_level:.4g} "
                f"(1 − 2α) with a refutation interval at {design.refute_level:.4g}: build it with "
                "stats.both_levels(claim.claim.design, at) or refute=")
    if not (_exact(est) or est.level >= design.support_level - 1e-9):
        return f"has a {est.level:.4g} support interval; the design asks {design.support_level:.4g} (1 − 2α)"
    if not (_exact(ref) or ref.level >= design.refute_level - 1e-9):
        return (f"has a {ref.level:.4g} refutation interval; the design asks {design.refute_level:.4g} "
                f"(1 − α/m with m = {design.m})")
    return None


def decide(claim_id: str, design: Design, checks: Sequence[Check],
           covered: Iterable[str] | None = None) -> ClaimResult:
    """The pre-registered decision (module docstring) over ``design``'s sub-claims.

    ``covered``: the sub-claims to decide (default: all); a test that checks only some
    of a claim's sub-claims decides those, and the run's summary merges its tests.
    A primary check computed at a level below :attr:`Design.level`, a primary check of an
    undeclared sub-claim, a second primary check for one sub-claim or a primary check
    under another name than the declared one is an error of the claim module.
    """
    checks = list(checks)
    wanted = [design.subclaim(s) for s in covered] if covered is not None else list(design.subclaims)
    primaries: dict[str, Check] = {}
    for c in checks:
        if c.role != PRIMARY:
            continue
        sub = design.subclaim(c.subclaim)
        require(c.name == sub.primary,
                f"{claim_id}: primary check {c.name!r} of {sub.id} is not the declared one ({sub.primary!r}); "
                "a sub-claim's primary check is fixed before any run", StatsError)
        require(sub.id not in primaries, f"{claim_id}: sub-claim {sub.id} has two primary checks", StatsError)
        why = _level_error(c, design)
        require(why is None, f"{claim_id}: primary check {c.name!r} {why}", StatsError)
        primaries[sub.id] = c
    results = []
    for sub in wanted:
        c = primaries.get(sub.id)
        if c is None:
            results.append(SubClaimResult(sub, Verdict.INCONCLUSIVE, "its primary check was not run"))
        else:
            results.append(SubClaimResult(sub, c.verdict, c.why, c))
    verdict = claim_verdict(r.verdict for r in results)
    if verdict is Verdict.SUPPORTED:
        reason = f"all {len(results)} sub-claims supported"
    elif verdict is Verdict.REFUTED:
        reason = "refuted: " + ", ".join(r.subclaim.id for r in results if r.verdict is Verdict.REFUTED)
    else:
        reason = "undecided: " + "; ".join(f"{r.subclaim.id} ({r.reason})" for r in results
                                            if r.verdict is Verdict.INCONCLUSIVE) if results else "no sub-claim"
    return ClaimResult(claim_id, verdict, checks, reason, results)


# --------------------------------------------------------------------------- check constructors

def _make(name: str, est: Estimate, tol: str, passed: bool | None, reason: str, posts: str | None,
          meta: dict) -> Check:
    return Check(name, est, tol, passed, reason, posts, **meta)


def _nan(est: Estimate) -> bool:
    return any(math.isnan(v) for v in (est.value, est.low, est.high))


def check_within(name: str, est: Estimate, lo: float, hi: float, *, tolerance: str | None = None,
                 posts: str | None = None, refute: Estimate | None = None, **meta) -> Check:
    """Supported if the CI lies inside [lo, hi], refuted if entirely outside, else inconclusive.

    ``refute``: the refutation interval when ``est`` is the support interval (module
    docstring); without it ``est`` decides both ways. ``meta``: ``subclaim``, ``role``,
    ``unit``, ``n_runs``, ``precondition`` (see :class:`Check`).
    """
    if refute is not None:
        return merge_levels(check_within(name, est, lo, hi, tolerance=tolerance, posts=posts, **meta),
                            check_within(name, refute, lo, hi, tolerance=tolerance, posts=posts, **meta))
    require(lo <= hi, f"check {name!r}: lo={lo} exceeds hi={hi}; swap them", StatsError)
    tol = tolerance or f"CI inside [{lo:.4g}, {hi:.4g}]"
    if _nan(est):
        return _make(name, est, tol, None, "the estimate is NaN", posts, meta)
    if est.inside(lo, hi):
        return _make(name, est, tol, True, f"{est} lies inside [{lo:.4g}, {hi:.4g}]", posts, meta)
    if est.outside(lo, hi):
        return _make(name, est, tol, False, f"{est} lies entirely outside [{lo:.4g}, {hi:.4g}]", posts, meta)
    return _make(name, est, tol, None, f"{est} straddles the edge of [{lo:.4g}, {hi:.4g}]", posts, meta)


def _one_sided(name: str, est: Estimate, threshold: float, above: bool, tolerance: str | None,
               posts: str | None, meta: dict) -> Check:
    side, other = ("above", "below") if above else ("below", "above")
    tol = tolerance or f"CI {side} {threshold:.4g}"
    if _nan(est):
        return _make(name, est, tol, None, "the estimate is NaN", posts, meta)
    if (est.low > threshold) if above else (est.high < threshold):
        return _make(name, est, tol, True, f"{est} lies {side} {threshold:.4g}", posts, meta)
    if (est.high < threshold) if above else (est.low > threshold):
        return _make(name, est, tol, False, f"{est} lies entirely {other} {threshold:.4g}", posts, meta)
    return _make(name, est, tol, None, f"{est} straddles {threshold:.4g}", posts, meta)


def check_above(name: str, est: Estimate, threshold: float, *, tolerance: str | None = None,
                posts: str | None = None, refute: Estimate | None = None, **meta) -> Check:
    """Supported if the CI lies above ``threshold``, refuted if below, else inconclusive
    (``refute``: as in :func:`check_within`)."""
    if refute is not None:
        return merge_levels(_one_sided(name, est, threshold, True, tolerance, posts, meta),
                            _one_sided(name, refute, threshold, True, tolerance, posts, meta))
    return _one_sided(name, est, threshold, True, tolerance, posts, meta)


def check_below(name: str, est: Estimate, threshold: float, *, tolerance: str | None = None,
                posts: str | None = None, refute: Estimate | None = None, **meta) -> Check:
    """Supported if the CI lies below ``threshold``, refuted if above, else inconclusive
    (``refute``: as in :func:`check_within`)."""
    if refute is not None:
        return merge_levels(_one_sided(name, est, threshold, False, tolerance, posts, meta),
                            _one_sided(name, refute, threshold, False, tolerance, posts, meta))
    return _one_sided(name, est, threshold, False, tolerance, posts, meta)


def claim_verdict(subclaim_verdicts: Iterable[Verdict | str]) -> Verdict:
    """A claim's verdict from its sub-claims' verdicts, the rule of :func:`decide`: every
    sub-claim supported -> supported; any refuted -> refuted; otherwise (or none) inconclusive."""
    verdicts = [Verdict(v) for v in subclaim_verdicts]
    if verdicts and all(v is Verdict.SUPPORTED for v in verdicts):
        return Verdict.SUPPORTED
    return Verdict.REFUTED if Verdict.REFUTED in verdicts else Verdict.INCONCLUSIVE


# --------------------------------------------------------------------------- two levels

def merge_levels(support: Check, refute: Check) -> Check:
    """One check from the same check at the support level and at the refutation level:
    supported when ``support`` passed, refuted when ``refute`` failed, else inconclusive."""
    require(support.name == refute.name and support.role == refute.role and support.subclaim == refute.subclaim,
            f"cannot pair check {support.name!r} ({support.subclaim}) with {refute.name!r} ({refute.subclaim}); "
            "at(level) must return the same checks at every level", StatsError)
    s_est, r_est = support.estimate, refute.estimate
    if support.passed is True and refute.passed is False:  # intervals not nested (e.g. a bootstrap)
        passed, reason = None, f"the {_pct(s_est)} and {_pct(r_est)} intervals disagree: {support.reason}; " \
                               f"{refute.reason}"
    elif support.passed is True:
        passed, reason = True, f"supported at {_pct(s_est)}: {support.reason}"
    elif refute.passed is False:
        passed, reason = False, f"refuted at {_pct(r_est)}: {refute.reason}"
    elif _nan(s_est) or _nan(r_est):
        passed, reason = None, support.reason if _nan(s_est) else refute.reason
    else:
        passed, reason = None, (f"neither inside at {_pct(s_est)} ({support.reason}) nor outside at "
                                f"{_pct(r_est)} ({refute.reason})")
    return replace(support, passed=passed, reason=reason, refute_estimate=r_est,
                   precondition=support.precondition or refute.precondition)


def _pct(est: Estimate) -> str:
    return "the exact value" if _exact(est) else f"{est.level:.4g}"


def both_levels(design: Design, at: Callable[[float], Sequence[Check]]) -> list[Check]:
    """The checks ``at(level)`` gives, run at :attr:`Design.support_level` and at
    :attr:`Design.refute_level`: each primary check paired with its namesake
    (:func:`merge_levels`); secondary checks as at the refutation level. ``at`` must be a
    pure function of the level over the same data (a claim module's ``decide``)."""
    support = {c.name: c for c in at(design.support_level) if c.role == PRIMARY}
    out = []
    for c in at(design.refute_level):
        if c.role != PRIMARY:
            out.append(c)
            continue
        require(c.name in support, f"primary check {c.name!r} is missing at the support level; at(level) must "
                "return the same checks at every level", StatsError)
        out.append(merge_levels(support.pop(c.name), c))
    require(not support, f"primary checks {sorted(support)} are missing at the refutation level", StatsError)
    return out


def primary_named(design: Design, at: Callable[[float], Sequence[Check]], name: str) -> Check:
    """The primary check ``name`` of :func:`both_levels` ``(design, at)``."""
    found = [c for c in both_levels(design, at) if c.role == PRIMARY and c.name == name]
    require(len(found) == 1, f"at(level) gives {len(found)} primary checks named {name!r}; give it exactly one",
            StatsError)
    return found[0]


# --------------------------------------------------------------------------- equilibrium

def settle(check: Check, at_predicted: Check | None, kinds: dict[str, int] | None = None,
           why_not: str = "", verdict: Verdict | None = None, horizon: float = 0.0) -> Check:
    """``check`` (on the current per-run values) with its :class:`Settling`: compared with
    ``at_predicted``, the same check on the runs' predicted final values
    (:mod:`vaebench.stats.equilibrium`), or with ``verdict`` when given (the verdict over
    every plausible prediction). ``at_predicted=None`` (the prediction could not be made: a
    run not settling; ``why_not`` says why) counts as an inconclusive prediction. ``horizon``:
    ``at_predicted`` is the runs' drift continued to that multiple of the budget (the drift rule)."""
    if at_predicted is not None:
        require(at_predicted.name == check.name, f"cannot settle check {check.name!r} with the prediction of "
                f"{at_predicted.name!r}; pass the same check on the predicted final values", StatsError)
        v_pred, pred = verdict or _verdict_of(at_predicted.passed), at_predicted.estimate
    else:
        v_pred = Verdict.INCONCLUSIVE
        pred = Estimate(math.nan, -math.inf, math.inf, check.estimate.level, why_not or "no prediction",
                        check.n_runs)
    return replace(check, equilibrium=settling(_verdict_of(check.passed), v_pred, check.estimate, pred, kinds,
                                               horizon))


def _finite(values: Any) -> bool:
    if isinstance(values, dict):
        return all(_finite(v) for v in values.values())
    return bool(np.all(np.isfinite(np.asarray(values, dtype=np.float64))))


def settle_all(design: Design, at: Callable[[Any, float], Sequence[Check]], now: Any, predicted: Any,
               kinds: dict[str, int] | None = None, ends: Sequence[Any] = (),
               drifts: Sequence[tuple[float, Any]] = ()) -> list[Check]:
    """A claim's checks ``at(values, level)`` on the current per-run values ``now``, each
    primary check settled (:func:`settle`) against the same check on the ``predicted`` final
    values and on each of ``ends`` (the predictions at the ends of the relaxation rate's
    interval, :attr:`vaebench.stats.equilibrium.Equilibrium.ends`): the predicted verdict is
    theirs when they all agree, else inconclusive. ``now`` and each prediction are what ``at``
    takes (a list of per-run values, or a dict of such lists). A non-finite predicted value (a
    run, or an end of the rate's interval, not settling) leaves no bounded prediction: each
    primary check is then judged by the drift rule on ``drifts``, ``(k, values)`` with every
    run's drift continued to k times the budget
    (:meth:`vaebench.stats.equilibrium.Equilibrium.drifts`): settled when its verdict is the
    same at every k, else still moving at the first k that changes it; without ``drifts`` it
    is still moving (unless inconclusive already)."""
    current = both_levels(design, lambda level: at(now, level))

    def primaries(values: Any) -> dict[str, Check]:
        return {c.name: c for c in both_levels(design, lambda level: at(values, level)) if c.role == PRIMARY}

    options = [predicted, *ends]
    afters = [primaries(p) for p in options] if all(_finite(p) for p in options) else []
    far = []
    if not afters and drifts and all(_finite(p) for _, p in drifts):
        far = [(k, primaries(p)) for k, p in drifts]
    out = []
    for c in current:
        if c.role != PRIMARY:
            out.append(c)
        elif afters:
            verdicts = {_verdict_of(a[c.name].passed) for a in afters}
            out.append(settle(c, afters[0][c.name], kinds,
                              verdict=verdicts.pop() if len(verdicts) == 1 else Verdict.INCONCLUSIVE))
        elif far:
            changed = [(k, a[c.name]) for k, a in far if a[c.name].passed is not c.passed]
            k, at_k = changed[0] if changed else (far[-1][0], far[-1][1][c.name])
            out.append(settle(c, at_k, kinds, horizon=k))
        else:
            out.append(settle(c, None, kinds, "a run is not settling (or may not be): no predicted final value"))
    return out


# --------------------------------------------------------------------------- runs at another minimum

def guard_apart(check: Check, values: Any, level: float = 0.95, labels: Sequence[str] | None = None,
                decide_on: Callable[[np.ndarray, np.ndarray], Check] | None = None) -> tuple[Check, Check | None]:
    """``check`` (decided from the per-run ``values``) and, when the runs fall into two groups
    (:func:`vaebench.stats.outliers.split_runs`: runs at another minimum), that finding as a
    secondary check of its own. A decided ``check`` keeps its verdict only where the split is
    immaterial: ``decide_on(rows, values)``, the same check decided on the runs ``rows`` with
    this series at ``values``, gives the same verdict for each group
    (:meth:`vaebench.stats.outliers.Split.groups`). Otherwise (or without ``decide_on``) it is
    inconclusive with the reason: its interval across runs assumes one population of runs."""
    found = split_runs(values, level)
    if found is None:
        return check, None
    text = found.text(labels)
    finding = Check(f"{check.name}: runs apart from the others", Estimate.exact(found.q, "largest gap Q", found.n),
                    f"largest gap Q ≤ {found.critical:.3f} ({found.level:.0%})", False, text, check.posts,
                    subclaim=check.subclaim, role=SECONDARY, unit="runs", n_runs=found.n)
    if check.passed is None:
        return check, finding
    if decide_on is not None and all(decide_on(rows, v).passed == check.passed for rows, v in found.groups()):
        return check, replace(finding, reason=f"{text}; each group alone gives the check's verdict too")
    why = f"{text}; the check's interval assumes one population of runs" + (
        "" if decide_on is None else ", and a group alone decides otherwise")
    return replace(check, precondition="; ".join(p for p in (check.precondition, why) if p)), finding
