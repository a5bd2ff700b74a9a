"""The pre-registered decision: sub-claims, primary checks, Bonferroni levels, preconditions."""
import numpy as np
import pytest

from vaebench.errors import StatsError
from vaebench.stats.estimate import Estimate
from vaebench.stats.verdict import (
    Check,
    Design,
    SubClaim,
    Verdict,
    check_above,
    check_below,
    check_within,
    combine,
    decide,
)

DESIGN = Design((SubClaim("Xa", "a is small", "a"), SubClaim("Xb", "b is large", "b")))


def _a(lo, hi, **kw):
    return check_below("a", Estimate((lo + hi) / 2, lo, hi, DESIGN.level), 1.0, role="primary", subclaim="Xa", **kw)


def _b(lo, hi, **kw):
    return check_above("b", Estimate((lo + hi) / 2, lo, hi, DESIGN.level), 1.0, role="primary", subclaim="Xb", **kw)


def test_design_level_is_bonferroni():
    assert DESIGN.m == 2 and DESIGN.level == pytest.approx(0.975)
    assert Design((SubClaim("Ya", "s", "p"),)).level == pytest.approx(0.95)


def test_supported_only_when_every_subclaim_is():
    assert decide("X", DESIGN, [_a(0.1, 0.5), _b(2, 3)]).verdict is Verdict.SUPPORTED
    res = decide("X", DESIGN, [_a(0.1, 0.5), _b(0.5, 3)])
    assert res.verdict is Verdict.INCONCLUSIVE and "Xb" in res.reason


def test_refuted_when_any_subclaim_is_refuted():
    res = decide("X", DESIGN, [_a(0.1, 0.5), _b(0.1, 0.5)])
    assert res.verdict is Verdict.REFUTED and res.reason == "refuted: Xb"
    assert [s.verdict for s in res.subclaims] == [Verdict.SUPPORTED, Verdict.REFUTED]


def test_secondary_checks_never_vote():
    secondary = check_within("side", Estimate(9, 8, 10), 0, 1)
    assert secondary.verdict is Verdict.REFUTED
    assert decide("X", DESIGN, [_a(0.1, 0.5), _b(2, 3), secondary]).verdict is Verdict.SUPPORTED


def test_a_failed_precondition_makes_the_check_inconclusive_with_its_reason():
    c = _b(0.1, 0.5, precondition="AE seed 1: not converged: loss changing -3% per epoch")
    assert c.passed is False and c.verdict is Verdict.INCONCLUSIVE
    res = decide("X", DESIGN, [_a(0.1, 0.5), c])
    assert res.verdict is Verdict.INCONCLUSIVE and "not converged" in res.reason
    assert c.to_dict()["precondition"] == {"ok": False, "reason": c.precondition}


def test_a_missing_primary_check_is_inconclusive():
    res = decide("X", DESIGN, [_a(0.1, 0.5)])
    assert res.verdict is Verdict.INCONCLUSIVE and "not run" in res.subclaims[1].reason
    assert decide("X", DESIGN, [_a(0.1, 0.5)], covered=["Xa"]).verdict is Verdict.SUPPORTED


@pytest.mark.parametrize("bad, message", [
    (lambda: check_below("a", Estimate(0.3, 0.1, 0.5, 0.95), 1.0, role="primary", subclaim="Xa"), "design asks"),
    (lambda: check_below("not a", Estimate(0.3, 0.1, 0.5, 0.975), 1.0, role="primary", subclaim="Xa"),
     "not the declared one"),
    (lambda: check_below("a", Estimate(0.3, 0.1, 0.5, 0.975), 1.0, role="primary", subclaim="Xz"), "not declared"),
])
def test_design_violations_are_errors(bad, message):
    with pytest.raises(StatsError, match=message):
        decide("X", DESIGN, [bad()])


def test_two_primaries_for_one_subclaim_is_an_error():
    with pytest.raises(StatsError, match="two primary checks"):
        decide("X", DESIGN, [_a(0.1, 0.5), _a(0.1, 0.4)])


def test_an_exact_value_needs_no_interval_level():
    exact = check_within("a", Estimate.exact(0.5), 0, 1, role="primary", subclaim="Xa")
    assert decide("X", DESIGN, [exact], covered=["Xa"]).verdict is Verdict.SUPPORTED


def test_check_metadata_is_validated():
    with pytest.raises(StatsError, match="needs subclaim"):
        Check("a", Estimate.exact(1), "t", True, role="primary")
    with pytest.raises(StatsError, match="role="):
        Check("a", Estimate.exact(1), "t", True, role="vote")
    with pytest.raises(StatsError, match="unit="):
        Check("a", Estimate.exact(1), "t", True, unit="seeds")


def test_design_declarations_are_validated():
    with pytest.raises(StatsError, match="repeat"):
        Design((SubClaim("a", "s", "p"), SubClaim("a", "t", "q")))
    with pytest.raises(StatsError, match="repeat"):
        Design((SubClaim("a", "s", "p"), SubClaim("b", "t", "p")))
    with pytest.raises(StatsError, match="at least one"):
        Design(())


def test_combine_without_design_lets_every_check_vote():
    ok, bad = check_below("x", Estimate(0, -1, 1), 2), check_below("y", Estimate(5, 4, 6), 2)
    assert combine([ok]) is Verdict.SUPPORTED and combine([ok, bad]) is Verdict.REFUTED
    assert combine([]) is Verdict.INCONCLUSIVE


@pytest.mark.slow
def test_familywise_false_refutation_rate_by_simulation():
    """Four true sub-claims at the edge of their tolerance, t intervals over 3 runs at the
    Bonferroni level: the claim is refuted in at most α of 2,000 simulated studies."""
    from vaebench.stats.inference import across_runs

    m = 4
    design = Design(tuple(SubClaim(f"S{i}", "mean <= 0", f"m{i}") for i in range(m)))
    rng = np.random.default_rng(0)
    refuted = 0
    n_rep = 2000
    for _ in range(n_rep):
        checks = [check_below(f"m{i}", across_runs(rng.normal(0.0, 1.0, 3), design.level), 0.0,
                              role="primary", subclaim=f"S{i}") for i in range(m)]
        refuted += decide("S", design, checks).verdict is Verdict.REFUTED
    assert refuted / n_rep <= 0.05
