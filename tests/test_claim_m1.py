"""M1's decision on planted per-seed statistics whose truth is known (no training).

Twins (the float32 and bfloat16 runs of one seed) share a seed effect and differ by a
precision effect plus their own divergence; per-run values are simulated log-normally for
the ratio statistics (loss above the floor, radius peak) and normally for mean logvar, at
the cpu scale's run count. Error-rate assertions allow ``claimsim.mc_slack`` (three
Monte-Carlo standard errors) above α = 0.05.
"""
import math

import claimsim
import numpy as np
import pytest
from claimsim import at, load_claim, mc_slack, result, verdict_rates

from vaebench import stats
from vaebench.claims import health as diagnostics
from vaebench.config import SCALES
from vaebench.errors import StatsError

M1 = load_claim("test_m1_mixed_precision_keeps_claim_statistics")
CLAIM = M1.CLAIM
BF16, F32 = M1.PRECISION, "float32"
N_RUNS = len(SCALES["cpu"].seeds)
ALPHA = 0.05
N_REP = 500
#: replicates at the edge, where each sub-claim's false-support rate is α itself: α + 3 Monte-Carlo SE
#: stays well below 2α, so a doubled rate fails
N_EDGE = 2000

CENTRE = {"excess": 40.0, "peak": 16.0, "logvar": -8.0}
#: between-seed spread (shared by twins) and twin divergence: log-scale sd for the ratios, nats for logvar
SEED_SD = {"excess": 0.05, "peak": 0.03, "logvar": 0.5}
TWIN_SD = {"excess": 0.03, "peak": 0.02, "logvar": 0.2}
TIGHT = {"excess": 0.003, "peak": 0.002, "logvar": 0.02}
TRUE = {"excess": 1.0, "peak": 1.0, "logvar": 0.0}
EDGE = {"excess": M1.LOSS_RATIO_MAX, "peak": M1.PEAK_RATIO_MAX, "logvar": M1.LOGVAR_MARGIN}


def simulate(rng, truth, twin_sd=TWIN_SD, n=N_RUNS):
    """One study's per-seed values; ``truth``: ratios bf16 / f32 (geometric) and the logvar shift."""
    m = {}
    for stat in ("excess", "peak", "logvar"):
        seed = rng.normal(0.0, SEED_SD[stat], n)
        f32 = seed + rng.normal(0.0, twin_sd[stat], n)
        bf16 = seed + rng.normal(0.0, twin_sd[stat], n)
        if stat == "logvar":
            m[stat] = {F32: CENTRE[stat] + f32, BF16: CENTRE[stat] + truth[stat] + bf16}
        else:
            m[stat] = {F32: CENTRE[stat] * np.exp(f32), BF16: CENTRE[stat] * truth[stat] * np.exp(bf16)}
    return m


def sub(res, sid):
    return next(s for s in res.subclaims if s.subclaim.id == sid)


def test_margins_are_half_of_the_claim_tolerances_they_protect():
    assert math.log(M1.LOSS_RATIO_MAX) == pytest.approx(math.log(M1.C1B_LOSS_RATIO_MAX) / 2)
    assert math.log(M1.PEAK_RATIO_MAX) == pytest.approx(math.log(M1.C1C_PEAK_RATIO_MAX) / 2)
    assert M1.LOGVAR_MARGIN == pytest.approx(M1.C2B_NATS_PER_LN_FACT / 2)
    c1 = load_claim("test_c1_tiny_kl_vae_behaves_like_ae")       # M1 restates C1's tolerances: keep them equal
    assert (M1.C1B_LOSS_RATIO_MAX, M1.C1C_PEAK_RATIO_MAX) == (c1.LOSS_RATIO_MAX, c1.PEAK_RATIO_MAX)
    assert M1.C1B_EXCESS_DRIFT_MAX == c1.EXCESS_DRIFT_MAX
    c2b = load_claim("test_c2b_logvar_tracks_ln_fact")              # the centre of C2b's slope band
    assert M1.C2B_NATS_PER_LN_FACT == pytest.approx(sum(c2b.SLOPE_RANGE) / 2)
    lo, hi = load_claim("test_c3_radius_peak_near_sqrt_zdim").PEAK_BAND  # C3a reads the peak too: C1c's is tighter
    assert min(math.log(hi), -math.log(lo)) >= math.log(M1.C1C_PEAK_RATIO_MAX)


def test_supported_when_twins_agree():
    res = result(CLAIM, at(M1.decide, simulate(np.random.default_rng(0), TRUE, twin_sd=TIGHT)))
    assert res.verdict.value == "supported", res.reason
    assert all(c.role == "primary" and c.unit == "runs" and c.n_runs == 2 * N_RUNS for c in res.checks)


def test_refuted_when_bf16_moves_the_radius_peak():
    planted = simulate(np.random.default_rng(1), TRUE, twin_sd=TIGHT)
    planted["peak"][BF16] = np.asarray(planted["peak"][F32]) * np.array([1.2, 1.22, 1.18])
    res = result(CLAIM, at(M1.decide, planted))
    assert sub(res, "M1b").verdict.value == "refuted" and res.verdict.value == "refuted"


def test_inconclusive_when_twins_diverge_too_much_to_tell():
    planted = {"excess": {F32: [40.0, 42.0, 38.0], BF16: [44.0, 38.0, 41.0]},
               "peak": {F32: [16.0, 16.5, 15.5], BF16: [16.8, 15.6, 16.1]},
               "logvar": {F32: [-8.0, -7.5, -8.5], BF16: [-7.0, -8.6, -8.1]}}
    res = result(CLAIM, at(M1.decide, planted))
    assert res.verdict.value == "inconclusive"
    assert all(s.verdict.value == "inconclusive" for s in res.subclaims)


def test_radius_peak_ratio_truly_one_but_runs_not_converged_is_inconclusive_with_the_reason():
    planted = simulate(np.random.default_rng(2), TRUE, twin_sd=TIGHT)
    planted["peak"] = {F32: [16.0, 16.3, 15.8], BF16: [16.0 * 1.001, 16.3 * 0.999, 15.8]}   # ratio ≈ 1.0
    history = {"loss": [100.0] * 8, "probe_radius_mean": list(np.linspace(11.0, 25.0, 8)),
               "probe_logvar_mean": [-8.0] * 8}
    healths = [diagnostics.health(f"vae z=256 fact=1e-05 mixed_bfloat16 seed={s}", history) for s in range(N_RUNS)]
    pre = {BF16: diagnostics.precondition(healths, diagnostics.CONVERGED)}
    res = result(CLAIM, at(M1.decide, planted, after=(pre,)))
    m1b = sub(res, "M1b")
    assert m1b.check.passed is True                         # the interval alone would support it
    assert m1b.verdict.value == "inconclusive" and res.verdict.value == "inconclusive"
    assert "not converged" in m1b.reason and "probe radius rising" in m1b.reason


def test_loss_not_settled_makes_only_m1a_inconclusive():
    why = diagnostics.excess_loss_drift(
        "float32 seed 0",
        {"reconstruction_loss": [1000 + 40 * 0.8**e for e in range(8)]},
        1000.0,
        M1.C1B_EXCESS_DRIFT_MAX,
    )
    assert why and "loss above the entropy floor falling" in why
    res = result(CLAIM, at(M1.decide, simulate(np.random.default_rng(3), TRUE, twin_sd=TIGHT), after=({"loss": why},)))
    assert sub(res, "M1a").verdict.value == "inconclusive"
    assert sub(res, "M1b").verdict.value == sub(res, "M1c").verdict.value == "supported"


def test_unpaired_inputs_are_an_error_and_one_seed_is_inconclusive():
    planted = simulate(np.random.default_rng(4), TRUE)
    planted["peak"][BF16] = planted["peak"][BF16][:2]
    with pytest.raises(StatsError, match="twins of the same seeds"):
        M1.decide(planted, CLAIM.level)
    one = {k: {p: v[p][:1] for p in v} for k, v in simulate(np.random.default_rng(5), TRUE).items()}
    res = result(CLAIM, at(M1.decide, one, after=({BF16: "mixed_bfloat16 seed 1: training stopped: nan"},)))
    assert res.verdict.value == "inconclusive"


# --------------------------------------------------------------------------- error rates at the cpu run count


def edge_rates(truth, seed):
    return claimsim.edge_rates(CLAIM, lambda rng: at(M1.decide, simulate(rng, truth)), N_EDGE, seed)


@pytest.fixture(scope="module")
def at_the_edge():
    """Every precision effect exactly at its margin: each sub-claim still holds (the worst case
    for refutation) and is as close as it can be to false (the supremum of its false-support
    rate; the claim is supported only if every sub-claim is, so a sub-claim's support rate here
    bounds the claim's false-support rate when that sub-claim is false)."""
    return edge_rates(EDGE, seed=11)


@pytest.mark.slow
def test_false_refutation_rate_at_the_edge(at_the_edge):
    rates, _ = at_the_edge
    assert rates["refuted"] <= ALPHA + mc_slack(ALPHA, N_EDGE), rates


@pytest.mark.slow
def test_false_support_rate_at_the_edge(at_the_edge):
    """Each sub-claim's false support at the edge is its nominal α (a 1 − 2α interval inside the margin)."""
    _, supported = at_the_edge
    for sid, rate in supported.items():
        assert rate <= ALPHA + mc_slack(ALPHA, N_EDGE), (sid, supported)


def test_the_margins_can_be_met_when_twins_agree():
    rates = verdict_rates(
        CLAIM, lambda rng: at(M1.decide, simulate(rng, TRUE, twin_sd=TIGHT)), n_rep=200, seed=31
    )
    assert rates["supported"] >= 0.8 and rates["refuted"] <= ALPHA, rates


def test_secondary_permutation_p_errs_on_the_large_side_with_correlated_twins():
    """The W1 permutation test relabels all runs although twins are correlated; under H0 (no
    precision effect) its rejection rate at its smallest attainable p stays at or below that p."""
    rng = np.random.default_rng(41)
    n, hits, p_min = N_RUNS, 0, None
    for _ in range(N_REP):
        seed = rng.normal(0, 1.0, n)
        x = np.concatenate([seed + rng.normal(0, 0.3, n), seed + rng.normal(0, 0.3, n)])  # f32 runs, bf16 runs
        res = stats.between_within_permutation(np.abs(x[:, None] - x[None, :]), n)
        p_min = 2 / math.comb(2 * n, n) if p_min is None else p_min
        hits += res.p_value <= p_min + 1e-12
    assert hits / N_REP <= p_min + mc_slack(p_min, N_REP)
