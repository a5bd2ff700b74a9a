"""The equilibrium rule (vaebench/stats/equilibrium.py) on exact trajectories and by simulation."""
import math

import numpy as np
import pytest

from vaebench.errors import StatsError
from vaebench.stats import (
    Design,
    SubClaim,
    Verdict,
    across_runs,
    check_above,
    check_below,
    check_within,
    settle,
    settle_all,
)
from vaebench.stats.equilibrium import (
    APPROACH,
    DRIFT_HORIZONS,
    MOVE_LEVEL,
    NOT_SETTLING,
    OSCILLATION,
    PLATEAU,
    budgets,
    predict_final,
    ratio_interval,
    run_equilibrium,
)

STEPS = (4, 8, 12)        # ⌈E/3⌉, ⌈2E/3⌉, E epochs at the cpu scale's E = 12
DESIGN = Design((SubClaim("X1", "the statistic lies in the band", "x"),))


def _slack(p: float, n_rep: int) -> float:
    return 3.0 * math.sqrt(p * (1 - p) / n_rep)


# --------------------------------------------------------------------------- one run, exact inputs

def test_budgets_are_the_thirds_of_the_run():
    assert budgets(12) == (4, 8, 12) and budgets(24) == (8, 16, 24) and budgets(11) == (4, 8, 11)
    with pytest.raises(StatsError, match="epochs=2"):
        budgets(2)


def test_equal_spacing_is_aitkens_delta_squared():
    r = run_equilibrium(STEPS, (0.0, 0.5, 0.75))
    assert (r.kind, r.ratio, r.remaining, r.predicted) == (APPROACH, 0.5, 0.25, 1.0)


def test_unequal_spacing_recovers_the_exponentials_asymptote():
    y = [2.0 - 3.0 * 0.9 ** s for s in (4, 8, 11)]
    r = run_equilibrium((4, 8, 11), y)
    assert r.kind == APPROACH and r.predicted == pytest.approx(2.0, abs=1e-9)


def test_a_ratio_at_the_spacings_ratio_within_rounding_is_not_settling():
    r = run_equilibrium((4, 8, 11), (0.0, 1.0, 1.75 - 1e-13))     # R = 0.75 = h2/h1 − 1e-13
    assert r.kind == NOT_SETTLING and r.remaining == math.inf


def test_a_damped_oscillation_continues_geometrically():
    r = run_equilibrium(STEPS, (0.0, 1.0, 0.5))         # 2/3 + (−2/3)(−1/2)^k
    assert r.kind == OSCILLATION and r.predicted == pytest.approx(2 / 3, abs=1e-12)


@pytest.mark.parametrize("values, remaining", [((0.0, 1.0, 2.0), math.inf), ((0.0, -1.0, -3.0), -math.inf),
                                               ((1.0, 1.0, 1.5), math.inf), ((0.0, 1.0, -1.0), math.nan)])
def test_no_deceleration_is_not_settling_and_unbounded(values, remaining):
    r = run_equilibrium(STEPS, values)
    assert r.kind == NOT_SETTLING
    assert (math.isnan(r.remaining) if math.isnan(remaining) else r.remaining == remaining)


def test_a_change_within_the_floor_is_a_plateau():
    assert run_equilibrium(STEPS, (0.0, 0.1, 0.2), floor=0.1).kind == PLATEAU
    assert run_equilibrium(STEPS, (0.0, 0.1, 0.2)).kind == NOT_SETTLING


@pytest.mark.parametrize("steps, values, message", [((4, 4, 12), (0, 1, 2), "strictly increasing"),
                                                    ((4, 8), (0, 1, 2), "three budgets"),
                                                    ((4, 8, 12), (0, 1), "three budgets"),
                                                    ((4, 8, 12), (0, math.nan, 2), "must be finite")])
def test_bad_inputs_are_named(steps, values, message):
    with pytest.raises(StatsError, match=message):
        run_equilibrium(steps, values)
    with pytest.raises(StatsError, match="floor=-1"):
        run_equilibrium(STEPS, (0, 1, 2), floor=-1)
    with pytest.raises(StatsError, match=r"shape \(3,\)"):
        predict_final(STEPS, [0, 1, 2])


# --------------------------------------------------------------------------- across runs, known asymptotes

ASYMPTOTES = np.array([0.9, 1.0, 1.1])


def _approach(tau: float, start: float = 0.0) -> np.ndarray:
    """Runs × budgets of a + (start − a)·exp(−s/τ), one asymptote a per run."""
    s = np.array(STEPS, dtype=float)
    return ASYMPTOTES[:, None] + (start - ASYMPTOTES[:, None]) * np.exp(-s / tau)


@pytest.mark.parametrize("tau", [73.0, 6.0, 1.0])    # slow (the issue's toy), moderate, fast
def test_an_exponential_approach_is_predicted_to_its_asymptote(tau):
    eq = predict_final(STEPS, _approach(tau))
    assert eq.kinds == {APPROACH: 3}
    assert eq.predicted_values == pytest.approx(list(ASYMPTOTES), abs=1e-9)


def test_the_issues_toy_is_fifteen_percent_of_the_way():
    eq = predict_final(STEPS, _approach(73.0))
    assert eq.now.value == pytest.approx(0.1516, abs=1e-4)          # 1 − exp(−12/73) of the way to 1.0
    assert eq.predicted.value == pytest.approx(1.0, abs=1e-9) and eq.remaining.value == pytest.approx(0.848, abs=1e-3)


def test_a_damped_oscillation_across_runs():
    s = np.array(STEPS, dtype=float)
    y = ASYMPTOTES[:, None] + 0.5 * np.cos(np.pi * s / 4) * np.exp(-s / 8)   # alternates, ratio −e^(−1/2)
    eq = predict_final(STEPS, y)
    assert eq.kinds == {OSCILLATION: 3} and eq.predicted_values == pytest.approx(list(ASYMPTOTES), abs=1e-12)


def test_a_plateau_stays_where_it_is():
    eq = predict_final(STEPS, np.repeat(ASYMPTOTES[:, None], 3, axis=1))
    assert eq.kinds == {PLATEAU: 3} and eq.remaining.value == 0.0 and eq.predicted.value == pytest.approx(1.0)


def test_a_change_within_checkpoint_noise_is_a_plateau():
    y = ASYMPTOTES[:, None] + np.array([[0.0, 0.01, -0.01], [0.0, -0.01, 0.02], [0.0, 0.0, -0.015]])
    assert predict_final(STEPS, y).kinds == {PLATEAU: 3}        # y3 − y1: −0.01, 0.02, −0.015: not told from 0


def test_the_ratios_interval_is_fiellers():
    d1, d2 = np.array([1.0, 1.0, 1.0]), np.array([0.5, 0.5, 0.5])
    assert ratio_interval(d1, d2, 0.95) == (0.5, 0.5)                  # no spread: the ratio itself
    lo, hi = ratio_interval(np.array([1.0, 1.2, 0.8]), np.array([0.5, 0.7, 0.3]), 0.95)
    assert lo < 0.5 < hi and math.isfinite(hi)
    assert ratio_interval(np.array([1.0, -1.0, 0.1]), np.array([0.5, 0.5, 0.5]), 0.95) == (-math.inf, math.inf)


def test_a_run_not_settling_makes_the_prediction_unbounded():
    y = np.array([[0.0, 1.0, 2.0], [0.0, 1.1, 2.2], [0.0, 0.9, 1.8]])
    eq = predict_final(STEPS, y)
    assert eq.kinds == {NOT_SETTLING: 3} and eq.predicted.high == math.inf


# --------------------------------------------------------------------------- the decision

def _band(values, level):
    return [check_within("x", across_runs(values, level), 0.75, 1.25, subclaim="X1", role="primary", unit="runs",
                         n_runs=len(values))]


def _settled(y: np.ndarray, at=_band, drift: bool = True):
    eq = predict_final(STEPS, y)
    drifts = list(zip(DRIFT_HORIZONS, eq.drifts())) if drift and eq.unbounded else []
    return settle_all(DESIGN, at, list(y[:, 2]), eq.predicted_values, eq.kinds, eq.ends, drifts)[0]


def test_the_issues_toy_is_still_moving():
    """Relaxation time 73 epochs, 15 % of the way at 12 epochs: the slope now (0.15) lies far
    outside the band around its equilibrium (1.0), which the check alone would refute."""
    check = _settled(_approach(73.0))
    assert check.passed is False and check.verdict is Verdict.INCONCLUSIVE
    assert check.why.startswith("still moving: predicted final 1") and "now 0.15" in check.why
    assert check.to_dict()["equilibrium"]["verdict_predicted"] == "supported"


def test_a_settled_statistic_keeps_its_verdict():
    check = _settled(_approach(1.0))                              # fast: settled long before E/3
    assert check.verdict is Verdict.SUPPORTED and check.equilibrium.settled
    check = _settled(_approach(1.0) + 1.0)                        # settled outside the band
    assert check.verdict is Verdict.REFUTED


def test_a_run_not_settling_leaves_no_prediction_but_its_drift():
    y = np.array([[0.9, 0.95, 1.0], [0.9, 0.96, 1.02], [0.9, 0.94, 0.98]])
    check = _settled(y, drift=False)
    assert check.passed is True and check.verdict is Verdict.INCONCLUSIVE
    assert "no predicted final value" in check.why
    check = _settled(y)                                           # in the band at 2× (1.15), out at 4× (1.45)
    assert check.verdict is Verdict.INCONCLUSIVE and check.equilibrium.horizon == 4
    assert check.why.startswith("still moving: every run's drift continued to 4× the budget gives 1.45")


def test_the_drift_of_each_run_is_continued_linearly():
    eq = predict_final(STEPS, np.array([[0.0, 1.0, 2.0], [0.0, 1.0, 3.0], [0.0, 1.5, 3.5]]))
    assert eq.unbounded                                           # + d2·(k − 1)·12/4 at k = 2 and 4:
    assert np.allclose(eq.drifts((2.0, 4.0)), [[5.0, 9.0, 9.5], [11.0, 21.0, 21.5]])
    settled = predict_final(STEPS, _approach(1.0))
    assert not settled.unbounded and settled.drifts((2.0, 4.0)) == [settled.predicted_values] * 2
    growing = predict_final(STEPS, np.array([[0.0, 1.0, -1.0], [0.0, 1.1, -1.1], [0.0, 0.9, -0.95]]))
    assert not growing.unbounded                                  # a growing oscillation has no direction


def _share(values, level):                                        # C7a's lower edge alone: above 1 %
    return [check_above("x", across_runs(values, level), 0.01, subclaim="X1", role="primary", unit="runs",
                        n_runs=len(values))]


def test_a_drift_away_from_the_edge_keeps_the_verdict_and_one_towards_it_is_still_moving():
    """Shaped like C7a at 4× (0.0125 → 0.0132, not decelerating), held to its lower edge alone:
    every run's drift carries it further from 1 %, so "supported" holds along its continuation
    to 64× the budget; the same drift downwards crosses the edge and is still moving. (C7a's
    own band also has an upper edge, 10 %, which the 64× continuation reaches: still moving.)"""
    up = np.array([[0.0125, 0.0129, 0.0133], [0.0120, 0.0124, 0.0129], [0.0124, 0.0128, 0.0132]])
    check = _settled(up, at=_share)
    assert check.verdict is Verdict.SUPPORTED and check.equilibrium.horizon == 64
    assert check.equilibrium.text.startswith("settled: drifting away from the tolerance's edge, supported")
    down = up[:, ::-1] - 0.0005
    check = _settled(down, at=_share)
    assert check.passed is True and check.verdict is Verdict.INCONCLUSIVE and check.equilibrium.horizon == 4


def test_settle_pairs_the_same_check():
    a = _band([1.0, 1.1, 0.9], 0.9)[0]
    b = check_below("y", across_runs([1.0, 1.1, 0.9], 0.9), 2.0)
    with pytest.raises(StatsError, match="cannot settle check 'x'"):
        settle(a, b)


# --------------------------------------------------------------------------- error rates by simulation

def _rate_still_moving(draw, n_rep: int, seed: int) -> tuple[float, int]:
    """Among simulated studies whose check on the current values decides, the share called still moving."""
    rng = np.random.default_rng(seed)
    moving = decided = 0
    for _ in range(n_rep):
        check = _settled(draw(rng))
        if check.equilibrium.verdict_now != "inconclusive":
            decided += 1
            moving += not check.equilibrium.settled
    return moving / decided, decided


def _plateau(noise: float):
    return lambda rng: rng.normal(1.0, 0.05, (3, 1)) + rng.normal(0.0, noise, (3, 3))


def _fast(noise: float):
    return lambda rng: _approach(1.0) * rng.normal(1.0, 0.05, (3, 1)) + rng.normal(0.0, noise, (3, 3))


@pytest.mark.slow
@pytest.mark.parametrize("draw", [_plateau(0.005), _plateau(0.05), _fast(0.01)], ids=["plateau, small noise",
                                                                                       "plateau, large noise",
                                                                                       "fast approach"])
def test_a_settled_statistic_is_rarely_called_still_moving(draw):
    """A truly settled statistic (a plateau, or an approach with a 1-epoch relaxation time, done
    long before E/3): the movement test on the last third calls it moving at most
    1 − MOVE_LEVEL = 5 % of the time whatever the checkpoint noise (measured 1.5-6 % at
    n = 1000); the bound is that 5 % plus three Monte-Carlo SEs (6.8 %): a doubled rate fails."""
    rate, decided = _rate_still_moving(draw, 1000, seed=1)
    assert decided > 750
    assert rate <= (1 - MOVE_LEVEL) + _slack(1 - MOVE_LEVEL, decided)


@pytest.mark.slow
@pytest.mark.parametrize("noise, least", [(0.003, 0.95), (0.01, 0.6)])
def test_a_slow_approach_under_noise_is_called_still_moving(noise, least):
    """The issue's toy with checkpoint noise (SD 0.003 and 0.01: 1/15 and 1/5 of the last third's
    change 0.046) and a 5 % spread of the asymptotes between runs: the check on the current
    values refutes in every study; the rule says "still moving" in nearly every one at the
    small noise (measured 99 %) and, its power falling with the noise, in most at the larger
    (measured 74 %)."""
    def draw(rng):
        return _approach(73.0) * rng.normal(1.0, 0.05, (3, 1)) + rng.normal(0.0, noise, (3, 3))
    rate, decided = _rate_still_moving(draw, 300, seed=2)
    assert decided == 300 and rate >= least


def test_a_check_without_a_prediction_never_reads_settled_at_nan():
    from vaebench.stats.equilibrium import settling
    from vaebench.stats.estimate import Estimate

    now = Estimate(1.2, 1.1, 1.3, 0.9, "t over runs", 3)
    none = Estimate(math.nan, -math.inf, math.inf, 0.9, "a run is not settling", 3)
    already = settling("inconclusive", "inconclusive", now, none)
    assert already.settled and already.text.startswith("inconclusive already: no predicted final value")
    moving = settling("supported", "inconclusive", now, none)
    assert not moving.settled and moving.text.startswith("still moving: no predicted final value (a run is not")
    assert "nan" not in already.text + moving.text


def test_still_then_moving_is_not_settling_in_the_direction_of_the_last_third():
    """C7a's KL share at 4× (16 → 32 → 48 epochs): the middle third's change is not told
    apart from 0 (−0.00001 on average), the last third rose in every run (+0.0004): not
    settling upwards, so the drift rule applies; a middle third that swung the other way in
    every run is a growing oscillation, with no direction."""
    still = np.array([[0.01325, 0.01289, 0.01328], [0.01313, 0.01271, 0.01312], [0.01280, 0.01273, 0.01327]])
    eq = predict_final(STEPS, still)
    assert eq.kinds == {NOT_SETTLING: 3} and eq.unbounded and eq.predicted.high == math.inf
    check = _settled(still, at=_share)
    assert check.verdict is Verdict.SUPPORTED and check.equilibrium.horizon == 64
    swung = np.array([[0.0133, 0.0130, 0.0134], [0.0131, 0.0128, 0.0133], [0.0132, 0.0129, 0.0134]])
    assert not predict_final(STEPS, swung).unbounded
    assert _settled(swung, at=_share).verdict is Verdict.INCONCLUSIVE
