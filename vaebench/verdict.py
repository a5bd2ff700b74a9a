"""Verdicts: how a claim's statistics become supported, refuted or inconclusive."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Sequence


from .errors import StatsError, require
from .estimate import Estimate

__all__ = ["Verdict", "Check", "ClaimResult", "combine", "check_within", "check_above", "check_below"]


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
