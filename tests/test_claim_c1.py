"""C1's decision on planted per-run statistics whose truth is known (no training).

Per-run statistics are simulated log-normally (a ratio of geometric means then has an exact
true value) with a between-run spread larger for the VAE than for the AE, at the cpu scale's
run count. Error-rate assertions allow ``claimsim.mc_slack`` (three Monte-Carlo standard
errors) above α = 0.05.
"""
import math

import claimsim
import numpy as np
import pytest
from claimsim import at, load_claim, mc_slack, result, verdict_rates

from vaebench.claims import evaluate as experiments
from vaebench.claims import health as diagnostics
from vaebench.config import SCALES

C1 = load_claim("test_c1_tiny_kl_vae_behaves_like_ae")
CLAIM = C1.CLAIM
N_RUNS = len(SCALES["cpu"].seeds)
ALPHA = 0.05
N_REP = 500

#: realistic between-run spreads (coefficient of variation) per statistic and model
CV = {"kl_share": {"VAE": 0.3}, "excess": {"AE": 0.05, "VAE": 0.10}, "width": {"AE": 0.03, "VAE": 0.05},
      "drop": {"AE": 0.05, "VAE": 0.08}}
TIGHT = {k: {m: 0.01 for m in v} for k, v in CV.items()}     # runs that agree to ~1 %
CENTRE = {"excess": 40.0, "width": 0.15, "drop": 0.2}
QUALITY_SD = 0.05
#: the claim true and comfortably inside every tolerance
TRUE = {"kl_share": 1e-4, "excess": 1.0, "width": 1.0, "drop": 1.0, "quality": (0.02, 0.02)}
#: every sub-claim exactly at the edge of its tolerance: the claim still holds (worst case for refutation)
EDGE = {"kl_share": C1.KL_EXCESS_SHARE_MAX, "excess": C1.LOSS_RATIO_MAX, "width": C1.WIDTH_RATIO_MAX,
        "drop": C1.DROP_RATIO_MAX, "quality": (C1.RANDOM_Z_QUALITY_MAX, C1.RANDOM_Z_QUALITY_MAX)}


def lognormal(rng, mean_of_logs, cv, n):
    sd = math.sqrt(math.log1p(cv ** 2))
    return np.exp(rng.normal(mean_of_logs, sd, n))


def simulate(rng, truth, n=N_RUNS, cv=CV, quality_sd=QUALITY_SD):
    """One study's per-run statistics at ``truth`` (ratios VAE / AE of geometric means; the KL
    share's geometric mean; the qualities' arithmetic means)."""
    m = {}
    m["kl_share"] = {"VAE": lognormal(rng, math.log(truth["kl_share"]), cv["kl_share"]["VAE"], n)}
    for stat in ("excess", "width", "drop"):
        m[stat] = {"AE": lognormal(rng, math.log(CENTRE[stat]), cv[stat]["AE"], n),
                   "VAE": lognormal(rng, math.log(CENTRE[stat] * truth[stat]), cv[stat]["VAE"], n)}
    sds = quality_sd if isinstance(quality_sd, dict) else {"AE": quality_sd, "VAE": quality_sd}
    m["quality"] = {mod: rng.normal(q, sds[mod], n) for mod, q in zip(("AE", "VAE"), truth["quality"])}
    return m


def checks_of(truth, **kw):
    return lambda rng: at(C1.decide, simulate(rng, truth, **kw))


def sub(res, sid):
    return next(s for s in res.subclaims if s.subclaim.id == sid)


def not_converged_vae(seed=0):
    """The diagnostics of a VAE whose probe radius still rises (≈ 11 → 25 over 8 epochs)."""
    history = {"loss": [100.0 - 0.01 * e for e in range(8)],
               "probe_radius_mean": list(np.linspace(11.0, 25.0, 8)),
               "probe_logvar_mean": [-6.0 - 0.1 * e for e in range(8)]}
    return diagnostics.health(f"vae z=256 fact=1e-05 seed={seed}", history)


# --------------------------------------------------------------------------- the three verdicts

def test_design_has_five_subclaims_at_the_bonferroni_level():
    assert [s.id for s in CLAIM.subclaims] == ["C1a", "C1b", "C1c", "C1d", "C1e"]
    assert CLAIM.level == pytest.approx(1 - 0.05 / 5)


def test_supported_when_every_subclaim_holds_with_tight_runs():
    planted = {"kl_share": {"VAE": [4e-5, 5e-5, 6e-5]},
               "excess": {"AE": [40.0, 40.4, 39.6], "VAE": [40.2, 39.8, 40.5]},
               "width": {"AE": [0.150, 0.151, 0.149], "VAE": [0.152, 0.150, 0.151]},
               "drop": {"AE": [0.20, 0.201, 0.199], "VAE": [0.202, 0.198, 0.2]},
               "quality": {"AE": [0.01, 0.02, 0.015], "VAE": [0.02, 0.01, 0.012]}}
    res = result(CLAIM, at(C1.decide, planted))
    assert res.verdict.value == "supported", res.reason
    assert all(c.role == "primary" and c.unit == "runs" and c.refute_estimate.level >= CLAIM.level - 1e-12
               for c in res.checks)


def test_refuted_when_the_vae_radius_sits_at_another_minimum():
    planted = simulate(np.random.default_rng(1), TRUE)
    planted["width"]["VAE"] = [0.30, 0.31, 0.29]           # twice the AE's relative width
    res = result(CLAIM, at(C1.decide, planted))
    assert res.verdict.value == "refuted"
    assert sub(res, "C1c").verdict.value == "refuted"


def test_refuted_when_the_kl_term_is_a_real_one():
    planted = simulate(np.random.default_rng(2), TRUE)
    planted["kl_share"]["VAE"] = [0.30, 0.32, 0.31]        # a working KL term (fact = 5)
    res = result(CLAIM, at(C1.decide, planted))
    assert res.verdict.value == "refuted" and sub(res, "C1a").verdict.value == "refuted"


def test_refuted_when_one_model_decodes_random_z_to_faces():
    planted = simulate(np.random.default_rng(3), TRUE)
    planted["quality"]["VAE"] = [0.9, 0.95, 0.85]
    res = result(CLAIM, at(C1.decide, planted))
    assert sub(res, "C1e").verdict.value == "refuted" and res.verdict.value == "refuted"


def test_inconclusive_when_runs_disagree_too_much_to_tell():
    planted = simulate(np.random.default_rng(4), TRUE)
    planted["excess"] = {"AE": [30.0, 40.0, 50.0], "VAE": [35.0, 50.0, 42.0]}
    res = result(CLAIM, at(C1.decide, planted))
    assert sub(res, "C1b").verdict.value == "inconclusive"
    assert res.verdict.value == "inconclusive"


def test_c1c_decides_on_shape_and_shows_location():
    """A VAE whose radius distribution has the AE's shape at another scale (peak 21 % farther
    out, the posts' "another minimum"): C1c is decided on the relative width, the peak ratio is
    a secondary check that says where the distribution sits and never votes."""
    planted = simulate(np.random.default_rng(9), TRUE, cv=TIGHT, quality_sd=0.01)
    planted["peak"] = {"AE": [16.0, 16.1, 15.9], "VAE": [19.4, 19.3, 19.5]}
    res = result(CLAIM, at(C1.decide, planted))
    assert sub(res, "C1c").verdict.value == "supported", res.reason
    peak = next(c for c in res.checks if c.name == C1.NAMES["peak"])
    assert peak.role == "secondary" and peak.verdict.value == "refuted"
    assert C1.relative_width([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2.0 / 3.0)


def test_radius_width_ratio_truly_one_but_vae_not_converged_is_inconclusive_with_the_reason():
    planted = simulate(np.random.default_rng(5), TRUE)
    planted["width"] = {"AE": [0.15, 0.1502, 0.1498], "VAE": [0.1501, 0.1499, 0.15]}  # ratio 1.0, tight
    healths = [not_converged_vae(s) for s in range(N_RUNS)]
    pre = {"VAE": diagnostics.precondition(healths, diagnostics.CONVERGED)}
    res = result(CLAIM, at(C1.decide, planted, after=(pre,)))
    c1c = sub(res, "C1c")
    assert c1c.check.passed is True                         # the interval alone would support it
    assert c1c.verdict.value == "inconclusive"
    assert "not converged" in c1c.reason and "probe radius rising" in c1c.reason
    assert res.verdict.value == "inconclusive"
    # the AE-only preconditions leave C1a (a VAE-only statistic) alone, and vice versa
    res_ae = result(CLAIM, at(C1.decide, planted, after=({"AE": "AE seed 0: not converged: x"},)))
    assert sub(res_ae, "C1a").verdict.value == "supported"
    assert sub(res_ae, "C1c").verdict.value == "inconclusive"


def test_loss_not_settled_makes_only_c1b_inconclusive():
    history = {"reconstruction_loss": [1000.0 + 40.0 * 0.8 ** e for e in range(8)]}   # excess falls 20 %/epoch
    why = diagnostics.excess_loss_drift("VAE seed 0", history, 1000.0, C1.EXCESS_DRIFT_MAX)
    assert why is not None and "not converged" in why and "falling" in why
    flat = {"reconstruction_loss": [1040.0] * 8}
    assert diagnostics.excess_loss_drift("AE seed 0", flat, 1000.0, C1.EXCESS_DRIFT_MAX) is None
    assert (
        diagnostics.excess_loss_drift(
            "AE seed 0", {"reconstruction_loss": [1040.0, 1039.0]}, 1000.0, C1.EXCESS_DRIFT_MAX
        )
        is None
    )  # too short
    planted = simulate(np.random.default_rng(6), TRUE, cv=TIGHT, quality_sd=0.005)
    res = result(CLAIM, at(C1.decide, planted, after=({"loss": why},)))
    assert sub(res, "C1b").verdict.value == "inconclusive" and "loss above the entropy floor" in sub(res, "C1b").reason
    assert all(sub(res, s).verdict.value == "supported" for s in ("C1a", "C1c", "C1d", "C1e"))


def test_fewer_than_two_usable_runs_is_inconclusive_not_an_error():
    planted = simulate(np.random.default_rng(7), TRUE)
    planted["width"]["VAE"] = planted["width"]["VAE"][:1]
    res = result(CLAIM, at(C1.decide, planted, after=({"VAE": "VAE seed 1: training stopped: non-finite loss"},)))
    assert sub(res, "C1c").verdict.value == "inconclusive"


def test_entropy_floor_of_known_images():
    grey = np.full((4, 32, 32, 3), 255 // 2 + 1, np.uint8)  # 128 / 255 ≈ 0.502
    x = 128 / 255
    assert experiments.entropy_floor(grey) == pytest.approx(32 * 32 * -(x * math.log(x) + (1 - x) * math.log(1 - x)))
    assert experiments.entropy_floor(np.zeros((2, 16, 16, 3), np.uint8)) < 1e-3  # a binary image has no entropy
    assert diagnostics.below_floor("VAE seed 0", 700.0, 641.0) is None
    assert "did not train on them" in diagnostics.below_floor("VAE seed 0", 620.0, 641.0)


# --------------------------------------------------------------------------- error rates at the cpu run count


def edge_rates(truth, seed):
    return claimsim.edge_rates(CLAIM, lambda rng: at(C1.decide, simulate(rng, truth)), N_REP, seed)


@pytest.mark.slow
def test_false_refutation_rate_at_the_edge_of_every_tolerance():
    """Every sub-claim true but exactly at its tolerance edge (both models' random-z quality at
    0.3): the worst case for a false refutation of the claim."""
    rates, _ = edge_rates(EDGE, seed=11)
    assert rates["refuted"] <= ALPHA + mc_slack(ALPHA, N_REP), rates


@pytest.mark.slow
def test_false_support_rate_at_the_edge_of_each_tolerance():
    """A sub-claim at its edge is the supremum of its false-support rate over the region where it
    is false, and the claim is supported only if that sub-claim is: so P(claim supported | only X
    false) <= P(X supported), whatever the other sub-claims do. Each sub-claim's support rate at
    its edge is therefore the claim's false-support rate bound. C1e's worst case is one model at
    the edge and the other far below it (then only that model's interval decides)."""
    truth = {**EDGE, "quality": (C1.RANDOM_Z_QUALITY_MAX, TRUE["quality"][1])}
    _, supported = edge_rates(truth, seed=23)
    for sid, rate in supported.items():
        assert rate <= ALPHA + mc_slack(ALPHA, N_REP), (sid, supported)


def test_the_tolerances_can_be_met_with_runs_that_agree():
    """Power: with runs agreeing to ~1 % and the truth at the claim's centre, the claim is
    supported in most simulated studies at the cpu run count (the tolerances can be met)."""
    rates = verdict_rates(CLAIM, checks_of(TRUE, cv=TIGHT, quality_sd=0.01), n_rep=200, seed=31)
    assert rates["supported"] >= 0.8, rates
    assert rates["refuted"] <= ALPHA, rates


def test_the_ratios_settle_on_the_per_seed_ratio_only_where_the_runs_pair_up():
    from vaebench.claims.settled import Contrast

    paired = C1.settled_on({"AE": [0, 1, 2], "VAE": [0, 1, 2]})
    assert paired[C1.NAMES["excess"]] == [Contrast(("excess", "VAE"), ("excess", "AE"), ratio=True)]
    assert paired[C1.NAMES["kl"]] == ["kl_share"] and paired[C1.NAMES["quality"]] == ["quality"]
    apart = C1.settled_on({"AE": [0, 1, 2], "VAE": [0, 2]})          # VAE seed 1 unusable: no pairs
    assert apart[C1.NAMES["width"]] == ["width"] and apart[C1.NAMES["drop"]] == ["drop"]
