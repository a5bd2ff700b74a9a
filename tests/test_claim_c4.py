"""C4's decision on planted inputs: twin runaway indicators whose truth is known.

A simulated study draws, for each of n seeds, the twin pair's cell (both ran away, only the
unclipped, only the clipped, neither) from the multinomial of ``C4.cells(p_U, p_C, rho)``:
Bernoulli runaway indicators with rates p_U, p_C and twin correlation rho. n is the run
count per arm of the cpu scale and of the full scale (``SCALES[...].runaway_runs``). Error
rates over 500 replicates are asserted ≤ α = 0.05 plus ``claimsim.mc_slack`` (three Monte
Carlo standard errors); the exact rates (every table of n pairs weighted by its probability)
are asserted ≤ α/2 = 0.025, the one-sided level of each direction, without slack.
"""
import itertools
import math

import numpy as np
import pytest
from claimsim import at, load_claim, mc_slack, result, verdict_rates

from vaebench.config import SCALES
from vaebench.errors import StatsError

C4 = load_claim("test_c4_eps_clipping_prevents_runaways")
N_CPU, N_FULL = SCALES["cpu"].runaway_runs, SCALES["full"].runaway_runs
N_REP = 500
ALPHA = 0.05
LEVEL = C4.CLAIM.level
LEVELS = (C4.CLAIM.design.support_level, C4.CLAIM.design.refute_level)
POSTS = (C4.P_UNCLIPPED_POSTS, C4.P_CLIPPED_POSTS)


def twins(cells, n, rng):
    """Runaway indicators (unclipped, clipped) of n twin pairs drawn from the cell probabilities."""
    cell = rng.choice(4, size=n, p=cells)
    return np.isin(cell, (0, 1)), np.isin(cell, (0, 2))


def simulate(p_u, p_c, rho, n):
    cells = C4.cells(p_u, p_c, rho)
    return lambda rng: at(C4.decide, *twins(cells, n, rng))


def verdict(unclipped, clipped, precondition=None):
    return result(C4.CLAIM, at(C4.decide, unclipped, clipped, after=(precondition,)))


def history(epochs=8, peak=16.0, mean=16.0, kl=100.0, loss=5000.0, eps_tail=3.0):
    """A steady run: the probe radius and kl grow slowly, as in a healthy tiny-KL VAE."""
    e = np.arange(epochs)
    return {"loss": list(loss - 10 * e), "kl": list(kl * (1 + 0.05 * e)), "probe_radius_peak": list(peak + 0.3 * e),
            "probe_radius_mean": list(mean + 0.3 * e), "eps_tail": [eps_tail] * epochs}


def test_the_design_has_one_subclaim_at_level_095():
    assert [s.id for s in C4.CLAIM.subclaims] == ["C4a"]
    assert LEVEL == pytest.approx(0.95)
    assert C4.CLAIM.subclaims[0].primary == C4.RATIO


def test_runaway_events_on_planted_histories():
    assert C4.runaway_events(history(), None) == []
    assert C4.runaway_events(history(), "non-finite loss at epoch 4")[0].startswith("(a) non-finite")
    h = history()
    h["kl"][5] = float("nan")
    assert C4.runaway_events(h, None)[0].startswith("(a)")
    jump = history()
    jump["probe_radius_peak"][6], jump["probe_radius_mean"][6] = 66.0, 40.0    # the posts' 16 → 66
    assert [e[:3] for e in C4.runaway_events(jump, None)] == ["(b)"]
    hop = history()
    hop["probe_radius_peak"][6] = 30.0             # the peak bin hops, the distribution does not move
    assert C4.runaway_events(hop, None) == []
    early = history()
    early["probe_radius_peak"][1], early["probe_radius_mean"][1] = 66.0, 40.0  # epoch 2: still set up
    assert C4.runaway_events(early, None) == []
    spike = history()
    spike["kl"][5] = 400.0                        # > 3 × the running median of the 3 epochs before
    assert [e[:3] for e in C4.runaway_events(spike, None)] == ["(c)"]
    # final mean radii 16.28, 16.29, 16.30 and the posts' second minimum 19.75 (+21 %)
    runs = {("unclipped", s): (history(mean=16.28 + 0.01 * s - 2.1), None) for s in range(3)}
    runs["unclipped", 3] = (history(mean=19.75 - 2.1), None)
    events, median = C4.classify(runs)
    assert median == pytest.approx(16.295)
    assert [k for k, ev in events.items() if ev] == [("unclipped", 3)] and events["unclipped", 3][0][:3] == "(d)"


def test_precondition_on_planted_histories():
    ok = {(a, s): history() for a in ("unclipped", "clipped") for s in range(3)}
    assert C4.precondition(ok) is None
    never = {**ok, **{("clipped", s): history(eps_tail=0.0) for s in range(3)}}
    assert "clip never fired" in C4.precondition(never)
    partial = {**ok, ("clipped", 0): history(eps_tail=0.0)}   # fired in the other clipped runs
    assert C4.precondition(partial) is None
    gap = dict(ok)
    gap["unclipped", 1] = {k: v for k, v in history().items() if k != "probe_radius_peak"}
    assert "unclipped seed 1" in C4.precondition(gap)


def test_supported_refuted_and_inconclusive_cases():
    n = N_FULL
    half = np.arange(n) < n // 2
    none = np.zeros(n, bool)
    # the posts' picture: half of the unclipped runs ran away, no clipped one
    res = verdict(half, none)
    assert res.verdict.value == "supported"
    assert res.subclaims[0].check.estimate.high <= 1.0 and res.subclaims[0].check.n_runs == 2 * n
    # clipping changed nothing: every twin of a runaway ran away too
    res = verdict(half, half)
    assert res.verdict.value == "refuted" and res.subclaims[0].check.estimate.low >= C4.LAMBDA
    # a real reduction smaller than half reads as refuted: the clip does not prevent most runaways
    most = np.arange(n) < n - 1
    assert verdict(np.ones(n, bool), most).verdict.value == "refuted"
    # too few events to tell: 3 vs 1 of n
    res = verdict(np.arange(n) < 3, np.arange(n) == 0)
    assert res.verdict.value == "inconclusive" and "cannot decide" in res.reason
    # zero events in both arms: nothing to prevent, whatever the interval
    res = verdict(none, none)
    assert res.verdict.value == "inconclusive" and "nothing for the clip to prevent" in res.reason
    # a supporting table whose clip never fired: inconclusive with the reason
    pre = C4.precondition({("clipped", 0): history(eps_tail=0.0), ("unclipped", 0): history()})
    res = verdict(half, none, pre)
    assert res.verdict.value == "inconclusive" and "clip never fired" in res.reason
    # the cpu scale's pairs: even the most extreme table decides nothing
    assert verdict(np.ones(N_CPU, bool), np.zeros(N_CPU, bool)).verdict.value == "inconclusive"
    with pytest.raises(StatsError, match="one value per seed"):
        C4.decide([True, False], [True], LEVEL)


def test_power_at_the_full_scale_is_at_least_080():
    """The exact power of C4a's rule at the posts' rates with the full scale's twin pairs."""
    pw = C4.power(N_FULL, *POSTS)
    assert pw["supported"] >= 0.8
    assert pw["refuted"] <= ALPHA / 2
    # the cpu scale's pairs cannot decide anything (stated in the module docstring)
    assert C4.power(N_CPU, *POSTS)["supported"] == 0.0


def test_power_is_the_exact_probability_of_the_rule():
    """power() against brute force: every sequence of 6 twin pairs, through decide()."""
    n, cells = 6, C4.cells(0.6, 0.2, 0.3)
    probs = {"supported": 0.0, "refuted": 0.0, "inconclusive": 0.0}
    for seq in itertools.product(range(4), repeat=n):
        seq = np.array(seq)
        v = result(C4.CLAIM, at(C4.decide, np.isin(seq, (0, 1)), np.isin(seq, (0, 2)))).verdict.value
        probs[v] += float(np.prod(cells[seq]))
    pw = C4.power(n, 0.6, 0.2, 0.3)
    assert probs["supported"] > 0
    for v, prob in probs.items():
        assert pw[v] == pytest.approx(prob, abs=1e-12)


@pytest.mark.parametrize("n", [N_CPU, N_FULL])
def test_exact_error_rates_over_the_null_regions(n):
    """Over a grid of every twin-pair distribution (any twin dependence): P(supported) where the
    clip does not lower the rate (p_C ≥ p_U) stays ≤ α (support: one-sided at the 1 − 2α interval)
    and P(refuted) where it prevents at least half of the runaways (p_C ≤ p_U / 2) ≤ α/2
    (refutation: one-sided at the 1 − α/m interval, m = 1), exactly (the grid is finer than the
    tests' own)."""
    g = np.linspace(0.0, 1.0, 41)
    a, b, c = (x.ravel() for x in np.meshgrid(g, g, g, indexing="ij"))
    pi = np.stack([a, b, c, 1.0 - a - b - c], axis=1)
    pi = pi[pi[:, 3] >= -1e-12].clip(0.0, 1.0)
    p_u, p_c = pi[:, 0] + pi[:, 1], pi[:, 0] + pi[:, 2]
    w = np.exp(C4._log_pmf(n, pi))                          # tables × distributions
    sup, ref = C4._verdicts(n, LEVELS)
    assert (sup @ w[:, p_c >= p_u - 1e-12]).max() <= ALPHA
    assert (ref @ w[:, p_c <= C4.LAMBDA * p_u + 1e-12]).max() <= ALPHA / 2


@pytest.mark.parametrize("n", [N_CPU, N_FULL])
@pytest.mark.parametrize("p, rho", [(0.5, 0.0), (0.5, 0.5), (0.2, 0.9)])
def test_false_support_rate_without_an_effect(n, p, rho):
    """Truth: clipping changes nothing (p_C = p_U), twins independent to strongly correlated."""
    rates = verdict_rates(C4.CLAIM, simulate(p, p, rho, n), N_REP, seed=41)
    assert rates["supported"] <= ALPHA + mc_slack(ALPHA, N_REP)


@pytest.mark.parametrize("n", [N_CPU, N_FULL])
@pytest.mark.parametrize("p_u, p_c, rho", [(*POSTS, 0.0), (0.5, 0.25, 0.0), (0.5, 0.25, 0.577)])
def test_false_refutation_rate_with_the_effect(n, p_u, p_c, rho):
    """Truth: the posts' rates, and the edge of the tolerance (the clip prevents exactly half:
    p_C = p_U / 2) with independent and with maximally correlated twins."""
    rates = verdict_rates(C4.CLAIM, simulate(p_u, p_c, rho, n), N_REP, seed=42)
    assert rates["refuted"] <= ALPHA + mc_slack(ALPHA, N_REP)


def test_the_tolerances_can_be_met_and_can_fail_at_the_full_scale():
    """At the posts' rates the full scale supports C4 most of the time; when the clip changes
    nothing and twins run away together, it refutes C4 most of the time."""
    assert verdict_rates(C4.CLAIM, simulate(*POSTS, 0.0, N_FULL), N_REP, seed=43)["supported"] >= 0.8
    assert verdict_rates(C4.CLAIM, simulate(0.5, 0.5, 0.9, N_FULL), N_REP, seed=44)["refuted"] >= 0.5


def test_the_paired_interval_on_planted_tables():
    n = N_FULL
    est = C4.ratio_interval((0, 7, 0, n - 7), LEVEL)
    assert est.value == 0.0 and est.low == 0.0 and est.high < 1.0 and est.level == LEVEL
    est = C4.ratio_interval((7, 0, 0, n - 7), LEVEL)
    assert est.value == 1.0 and C4.LAMBDA <= est.low < 1.0 < est.high
    est = C4.ratio_interval((0, 0, 7, n - 7), LEVEL)       # runaways only when clipped
    assert math.isinf(est.value) and est.low > 1.0 and math.isinf(est.high)
    est = C4.ratio_interval((0, 0, 0, n), LEVEL)
    assert math.isnan(est.value) and est.low == 0.0 and math.isinf(est.high)


def test_the_design_rows_power_is_the_modules_own():
    """C4a's design-table row (``PRIORS``) states the power of :func:`power` at the full scale's pairs over
    the plausible unclipped rates, and that the cpu scale's pairs cannot support at all."""
    assert (N_CPU, N_FULL) == (3, 14)                                   # the numbers the row's text names
    for p_u, stated in C4.POWER_FULL.items():
        assert C4.power(N_FULL, p_u)["supported"] == pytest.approx(stated, abs=0.005)
    assert C4.power(N_CPU, 0.75)["supported"] == 0.0
    row = C4.PRIORS["C4a"]
    assert "0.97" in row.reason and "cannot decide" in row.reason and row.can_support is None
