"""C2's decision on planted inputs: per-run statistics whose truth is known.

Simulated studies have the cpu scale's run count (``SCALES["cpu"].seeds``). Per-run values
spread normally between runs (mean logvar, sd 0.3 nat: the posts' two runs differ by 0.25)
or log-normally with a coefficient of variation of 0.3 (the positive fraction, at its mean;
the radius difference, which C2.3 judges on the log scale, at its geometric mean). Error
rates are asserted ≤ α = 0.05 plus ``claimsim.mc_slack`` (three Monte Carlo standard errors
over the replicates).
"""
import numpy as np
import pytest
from claimsim import at, load_claim, mc_slack, result, verdict_rates

from vaebench.claims import health as diagnostics
from vaebench.config import SCALES

C2 = load_claim("test_c2_tiny_kl_logvar_far_below_zero")
N_RUNS = len(SCALES["cpu"].seeds)
N_REP = 500
ALPHA = 0.05
KEYS = ("mean_logvar", "dz_fraction", "rel_radius")
EDGE = {"mean_logvar": C2.LOGVAR_MAX, "dz_fraction": C2.DZ_FRACTION_MAX, "rel_radius": C2.REL_RADIUS_MAX}
#: a model like the posts' (mean logvar −13.7, 1e-7 of components beyond 0.05, radius difference 6e-5), a bit worse
GOOD = {"mean_logvar": -10.0, "dz_fraction": 1e-3, "rel_radius": 1e-4}
LOGVAR_SD, CV = 0.3, 0.3


def simulate(truth: dict, n_runs: int = N_RUNS):
    """One simulated study: ``n_runs`` per-run values around the true means in ``truth``."""
    def study(rng):
        measured = {"mean_logvar": truth["mean_logvar"] + LOGVAR_SD * rng.standard_normal(n_runs)}
        s = np.sqrt(np.log1p(CV ** 2))          # log-normal with CV 0.3: the fraction's mean and the
        measured["dz_fraction"] = truth["dz_fraction"] * np.exp(s * rng.standard_normal(n_runs) - s ** 2 / 2)
        measured["rel_radius"] = truth["rel_radius"] * np.exp(s * rng.standard_normal(n_runs))  # geometric mean
        return at(C2.decide, measured)
    return study


def verdict(measured, precondition=None):
    return result(C2.CLAIM, at(C2.decide, measured, after=(precondition,)))


def test_the_design_has_three_subclaims_that_do_not_read_as_c2b():
    ids = [s.id for s in C2.CLAIM.subclaims]
    assert ids == ["C2.1", "C2.2", "C2.3"] and "C2b" not in ids
    assert C2.CLAIM.level == pytest.approx(1 - 0.05 / 3)
    assert not hasattr(C2, "test_c2_logvar_tracks_ln_fact")   # the sweep is claim C2b's


def test_run_statistics_on_planted_codes():
    rng = np.random.default_rng(1)
    n, d, lv = 2000, 64, -8.0
    mu = rng.standard_normal((n, d))
    eps = rng.standard_normal((n, d))
    z = mu + np.exp(lv / 2) * eps
    logvar = np.full((n, d), lv)
    logvar[0, 0] = -2.0                              # one outlier component: max and mean move
    z[0, 0] = mu[0, 0] + np.exp(-1.0) * eps[0, 0]
    st = C2.run_statistics({"mu": mu, "logvar": logvar, "z": z})
    assert st["mean_logvar"] == pytest.approx((lv * (n * d - 1) - 2.0) / (n * d))
    assert st["max"] == -2.0 and st["min"] == lv
    assert st["dz_fraction"] == pytest.approx(np.mean(np.abs(z - mu) > 0.05))
    # |z − mu| = e^-4 |eps| > 0.05  <=>  |eps| > 2.73: a two-sided normal tail of 0.63 %
    assert st["dz_fraction"] == pytest.approx(0.0063, abs=0.001)
    r_mu, r_z = np.linalg.norm(mu, axis=1), np.linalg.norm(z, axis=1)
    assert st["rel_radius"] == pytest.approx(np.mean(np.abs(r_z - r_mu) / r_mu))
    assert st["q01"].value == pytest.approx(lv) and st["q99"].value == pytest.approx(lv)


def test_supported_refuted_and_inconclusive_cases():
    good = {"mean_logvar": [-11.2, -10.9, -11.5], "dz_fraction": [2e-4, 3e-4, 1e-4],
            "rel_radius": [6e-5, 7e-5, 5e-5]}
    assert verdict(good).verdict.value == "supported"
    # logvar near 0: the noise moves z far from mu
    bad = {"mean_logvar": [-1.2, -0.9, -1.4], "dz_fraction": [0.8, 0.85, 0.82], "rel_radius": [0.05, 0.06, 0.04]}
    res = verdict(bad)
    assert res.verdict.value == "refuted"
    assert {s.subclaim.id: s.verdict.value for s in res.subclaims} == {"C2.1": "refuted", "C2.2": "refuted",
                                                                       "C2.3": "refuted"}
    # one sub-claim refuted while the others hold: the claim as stated is refuted
    tail = dict(good, dz_fraction=[0.05, 0.054, 0.06])
    assert verdict(tail).verdict.value == "refuted"
    # the interval straddles −5: undecided
    res = verdict(dict(good, mean_logvar=[-4.0, -6.0, -5.5]))
    assert res.verdict.value == "inconclusive" and "C2.1" in res.reason
    # one usable run: no interval across runs
    res = verdict({k: v[:1] for k, v in good.items()})
    assert res.verdict.value == "inconclusive" and "only 1 usable run" in res.reason


def test_a_logvar_still_falling_makes_even_a_refuting_interval_inconclusive():
    """The cpu finding: the tiny-KL VAE's logvar is still falling at the last epoch."""
    falling = diagnostics.health("VAE fact 1e-5 seed 0", {"loss": [100.0] * 8,
                                                          "probe_logvar_mean": [-1.0 - 0.6 * e for e in range(8)]})
    steady = diagnostics.health("VAE fact 1e-5 seed 1", {"loss": [100.0] * 8, "probe_logvar_mean": [-9.0] * 8})
    pre = diagnostics.precondition([falling, steady], diagnostics.CONVERGED, diagnostics.NOT_COLLAPSED)
    assert pre and "mean logvar falling" in pre
    res = verdict({"mean_logvar": [-1.2, -0.9, -1.4], "dz_fraction": [0.8, 0.85, 0.82],
                   "rel_radius": [0.05, 0.06, 0.04]}, pre)
    assert res.verdict.value == "inconclusive"
    assert all("not converged" in s.reason for s in res.subclaims)
    assert diagnostics.precondition([steady], diagnostics.CONVERGED, diagnostics.NOT_COLLAPSED) is None


def test_false_refutation_rate_at_the_edge():
    """Truth: every sub-claim holds at the edge of its tolerance (the worst case for refutation)."""
    rates = verdict_rates(C2.CLAIM, simulate(EDGE), N_REP, seed=11)
    assert rates["refuted"] <= ALPHA + mc_slack(ALPHA, N_REP)


@pytest.mark.parametrize("key", KEYS)
def test_false_support_rate_at_the_edge(key):
    """Truth: one sub-claim fails, at the edge of its tolerance; the others hold comfortably."""
    rates = verdict_rates(C2.CLAIM, simulate(dict(GOOD, **{key: EDGE[key]})), N_REP, seed=12)
    assert rates["supported"] <= ALPHA + mc_slack(ALPHA, N_REP)


def test_the_tolerances_can_be_met():
    """A converged model like the posts' (a bit worse) is supported most of the time at the cpu run count."""
    assert verdict_rates(C2.CLAIM, simulate(GOOD), N_REP, seed=13)["supported"] >= 0.8
