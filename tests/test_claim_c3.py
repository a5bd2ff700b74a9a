"""C3's per-run statistics and decision on planted inputs whose answer is known."""
import math

import numpy as np
import pytest
from claimsim import at, checks_of, load_claim, mc_slack, result, verdict_rates

from vaebench.config import SCALES

C3 = load_claim("test_c3_radius_peak_near_sqrt_zdim")
CLAIM = C3.CLAIM
N_RUNS = len(SCALES["cpu"].seeds)          # the cpu scale's runs per model
N_REP = 500
ALPHA = 0.05
PRE = "ae z=256 seed=1: not converged: probe radius rising 4.0% per epoch (limit 2%) over the last 3 epochs"
#: plausible values well inside every tolerance, and between-run sds of a few per cent (assumed, not observed)
INSIDE = {"peak_ratio": 1.03, "M_ratio": 1.06, "narrow": 0.70}
SPREAD = {"peak_ratio": 0.02, "M_ratio": 0.04, "narrow": 0.03}


def runs(**values):
    return {k: list(np.atleast_1d(v)) for k, v in values.items()}


def verdicts(res):
    return {s.subclaim.id: s.verdict.value for s in res.subclaims}


# --------------------------------------------------------------------------- per-run statistics

def test_run_statistics_of_a_standard_gaussian_are_a_chi():
    d = 256
    z = np.random.default_rng(0).standard_normal((10_000, d))
    st = C3.run_statistics(z, seed=0)
    assert st["peak_ratio"] == pytest.approx(math.sqrt(d - 1) / math.sqrt(d), abs=0.01)   # chi mode √(d−1)
    assert st["M_ratio"] == pytest.approx(1.0, abs=0.01)
    assert st["narrow"] > 0.99 and st["wide"] > 0.999        # a chi_256 sits in 14 ≤ R ≤ 19
    assert st["standard"] == 1.0 and st["broad"] == []
    assert st["r_sd"] == pytest.approx(1 / math.sqrt(2), abs=0.03)
    assert st["peak"].contains(math.sqrt(d - 1)) or abs(st["peak"].value - math.sqrt(d - 1)) < 0.05


def test_run_statistics_see_a_halved_scale_and_planted_broad_axes():
    rng = np.random.default_rng(1)
    d = 64
    z = 0.5 * rng.standard_normal((8000, d))
    st = C3.run_statistics(z, seed=1)
    assert st["peak_ratio"] == pytest.approx(0.5 * math.sqrt(d - 1) / math.sqrt(d), abs=0.01)
    assert st["M_ratio"] == pytest.approx(0.25, abs=0.01)
    assert st["narrow"] < 0.01 and st["standard"] == 0.0     # sd 0.5 < 2/3: no axis is standard
    z = rng.standard_normal((8000, d))
    z[:, 3] += 3.0                                           # off-centre
    z[:, 7] *= 2.5                                           # broad
    st = C3.run_statistics(z, seed=2)
    assert st["broad"] == [3, 7]
    assert st["standard"] == pytest.approx(62 / 64)
    assert st["M_ratio"] == pytest.approx((64 + 9 + 2.5 ** 2 - 1) / 64, abs=0.02)


# --------------------------------------------------------------------------- the decision

def test_supported_refuted_and_inconclusive_cases():
    good = runs(peak_ratio=[1.02, 1.04, 1.03], M_ratio=[1.05, 1.08, 1.06], narrow=[0.70, 0.72, 0.71])
    res = result(CLAIM, at(C3.decide, good))
    assert res.verdict.value == "supported"
    assert verdicts(res) == {"C3a": "supported", "C3c": "supported", "C3d": "supported"}

    halved = {**good, "peak_ratio": [0.70, 0.71, 0.69], "M_ratio": [0.49, 0.50, 0.48]}   # E[z_j²] = 0.5
    res = result(CLAIM, at(C3.decide, halved))
    assert res.verdict.value == "refuted" and verdicts(res)["C3a"] == "refuted" and verdicts(res)["C3c"] == "refuted"

    wide_shell = {**good, "narrow": [0.30, 0.32, 0.31]}     # peak at √d, but the shell far wider than the posts'
    res = result(CLAIM, at(C3.decide, wide_shell))
    assert res.verdict.value == "refuted"
    assert verdicts(res) == {"C3a": "supported", "C3c": "supported", "C3d": "refuted"}

    straddles = {**good, "peak_ratio": [0.80, 0.90, 1.00]}
    res = result(CLAIM, at(C3.decide, straddles))
    assert res.verdict.value == "inconclusive" and verdicts(res)["C3a"] == "inconclusive"

    # a refuting interval on models still moving is inconclusive, with the reason
    res = result(CLAIM, at(C3.decide, halved, precondition=PRE))
    assert res.verdict.value == "inconclusive"
    assert all(v == "inconclusive" for v in verdicts(res).values())
    assert "not converged" in res.subclaims[0].reason

    one_run = runs(peak_ratio=1.03, M_ratio=1.06, narrow=0.7)
    assert result(CLAIM, at(C3.decide, one_run)).verdict.value == "inconclusive"


def test_primary_checks_are_run_level_at_the_design_level_and_secondaries_do_not_vote():
    good = runs(peak_ratio=[1.02, 1.04, 1.03], M_ratio=[1.05, 1.08, 1.06], narrow=[0.70, 0.72, 0.71],
                wide=[0.5, 0.52, 0.51], standard=[0.1, 0.12, 0.11], peak_over_sqrtM=[0.7, 0.71, 0.72])
    checks = checks_of(CLAIM, at(C3.decide, good))
    primaries = [c for c in checks if c.role == "primary"]
    assert [c.subclaim for c in primaries] == ["C3a", "C3c", "C3d"]
    assert all(c.unit == "runs" and c.n_runs == 3 and c.estimate.level == pytest.approx(0.90)
               and c.refute_estimate.level == pytest.approx(1 - 0.05 / 3)
               for c in primaries)
    secondary = [c for c in checks if c.role == "secondary"]
    assert len(secondary) == 3 and all(c.verdict.value == "refuted" for c in secondary)
    assert result(CLAIM, checks).verdict.value == "supported"


def test_decide_names_what_is_missing():
    with pytest.raises(Exception, match="runs needs"):
        C3.decide({"peak_ratio": [1.0, 1.0]}, CLAIM.level)
    with pytest.raises(Exception, match="one value per run"):
        C3.decide(runs(peak_ratio=[1, 1, 1], M_ratio=[1, 1], narrow=[0.7, 0.7, 0.7]), CLAIM.level)


# --------------------------------------------------------------------------- error rates at the cpu run count

def simulator(means, sds=SPREAD):
    """One simulated study: N_RUNS runs, each statistic normal between runs."""
    def simulate(rng):
        return at(C3.decide, {k: rng.normal(means[k], sds[k], N_RUNS) for k in means})
    return simulate


EDGES_LOW = {"peak_ratio": C3.PEAK_BAND[0], "M_ratio": C3.M_BAND[0], "narrow": C3.MORE_THAN_HALF}
EDGES_HIGH = {"peak_ratio": C3.PEAK_BAND[1], "M_ratio": C3.M_BAND[1], "narrow": C3.MORE_THAN_HALF}


@pytest.mark.parametrize("truth", [EDGES_LOW, EDGES_HIGH], ids=["lower edges", "upper edges"])
def test_false_refutation_rate_at_the_tolerance_edges(truth):
    # the claim holds, every sub-claim at the edge of its tolerance at once: the worst case
    rates = verdict_rates(CLAIM, simulator(truth), N_REP, seed=1)
    assert rates["refuted"] <= ALPHA + mc_slack(ALPHA, N_REP)   # three Monte-Carlo s.e. allowed


@pytest.mark.parametrize("edge", [("peak_ratio", 0), ("peak_ratio", 1), ("M_ratio", 0), ("M_ratio", 1),
                                  ("narrow", 0)], ids=lambda e: f"{e[0]}@{e[1]}")
def test_false_support_rate_with_one_sub_claim_false_at_its_edge(edge):
    # one sub-claim false at its edge, the others surely true (tiny spread): the worst case
    key, side = edge
    truth = {**INSIDE, key: EDGES_HIGH[key] if side else EDGES_LOW[key]}
    sds = {k: (SPREAD[k] if k == key else SPREAD[k] / 10) for k in SPREAD}
    rates = verdict_rates(CLAIM, simulator(truth, sds), N_REP, seed=2)
    assert rates["supported"] <= ALPHA + mc_slack(ALPHA, N_REP)


def test_the_tolerances_can_be_met_at_plausible_values():
    rates = verdict_rates(CLAIM, simulator(INSIDE), N_REP, seed=3)
    assert rates["supported"] >= 0.7 and rates["refuted"] == 0.0
