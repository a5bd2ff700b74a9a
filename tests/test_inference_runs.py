"""Run-level intervals and the permutation test over run labels (training runs as the unit)."""
import math

import numpy as np
import pytest
from scipy import stats as sps

from vaebench.errors import StatsError
from vaebench.stats.inference import across_runs, between_within_permutation, difference_across_runs, ratio_across_runs


def test_across_runs_is_the_t_interval():
    x = np.array([1.0, 2.0, 4.0])
    e = across_runs(x, 0.9)
    half = sps.t.ppf(0.95, 2) * x.std(ddof=1) / math.sqrt(3)
    assert e.value == pytest.approx(7 / 3) and e.low == pytest.approx(7 / 3 - half) and e.n == 3
    assert e.level == 0.9 and "runs" in e.method
    # runs that agree exactly: no certainty from three runs, the value itself from many
    few = across_runs([2.0, 2.0, 2.0], 0.99)
    assert few.value == 2.0 and few.low == -math.inf and few.high == math.inf and "no spread" in few.method
    one = across_runs([2.0], 0.95)
    assert math.isnan(one.value) and "1 run(s), 2 needed" in one.method
    many = across_runs([2.0] * 12, 0.99)
    assert many.low == many.high == 2.0


def test_difference_across_runs_welch_and_paired():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.4, 3.6])
    welch = difference_across_runs(a, b, 0.95)
    ref = sps.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (welch.low, welch.high) == pytest.approx((ref.low, ref.high))
    paired = difference_across_runs(a, b, 0.95, paired=True)
    assert paired.width < welch.width                  # the pairing removes the run-to-run spread
    assert paired.value == pytest.approx(np.mean(a - b))
    with pytest.raises(StatsError, match="paired runs"):
        difference_across_runs(a, b[:2], paired=True)


def test_ratio_across_runs_is_exp_of_the_log_difference():
    a, b = np.array([2.0, 2.4, 1.9]), np.array([1.0, 1.1, 1.0])
    r = ratio_across_runs(a, b, 0.95, paired=True)
    d = difference_across_runs(np.log(a), np.log(b), 0.95, paired=True)
    assert (r.value, r.low, r.high) == pytest.approx((math.exp(d.value), math.exp(d.low), math.exp(d.high)))
    assert r.contains(2.0)
    with pytest.raises(StatsError, match="positive"):
        ratio_across_runs([1.0, -1.0], [1.0, 2.0])


def test_t_interval_over_runs_covers_at_its_level():
    rng = np.random.default_rng(1)
    cover = np.mean([across_runs(rng.normal(3.0, 2.0, 3), 0.9).contains(3.0) for _ in range(2000)])
    assert abs(cover - 0.9) < 3 * math.sqrt(0.09 / 2000)


def test_permutation_finds_separated_models_and_states_its_resolution():
    x = np.r_[0.0, 0.1, 0.2, 5.0, 5.1, 5.2]
    res = between_within_permutation(np.abs(np.subtract.outer(x, x)), 3)
    assert res.ratio > 10 and res.p_value == pytest.approx(0.1) and res.n_permutations == 20
    x4 = np.r_[0.0, 0.1, 0.2, 0.3, 5.0, 5.1, 5.2, 5.3]
    assert between_within_permutation(np.abs(np.subtract.outer(x4, x4)), 4).p_value == pytest.approx(2 / 70)


@pytest.mark.slow
def test_permutation_holds_its_level_when_pairs_share_runs():
    """Exchangeable runs whose samples share a run effect: P(p <= 0.1) stays <= 0.1 though
    every distance pair shares runs with others (a bootstrap over pairs would not)."""
    rng = np.random.default_rng(2)
    hits, n_rep = 0, 500
    for _ in range(n_rep):
        runs = rng.normal(0.0, 1.0, (8, 1)) + rng.normal(0.0, 0.3, (8, 200))   # 8 runs of one model
        d = np.array([[sps.wasserstein_distance(runs[i], runs[j]) for j in range(8)] for i in range(8)])
        hits += between_within_permutation(d, 4).p_value <= 0.1
    assert hits / n_rep <= 0.1 + 3 * math.sqrt(0.09 / n_rep)


def test_permutation_rejects_bad_input():
    with pytest.raises(StatsError, match="square"):
        between_within_permutation(np.zeros((3, 4)), 2)
    with pytest.raises(StatsError, match="at least 2 runs"):
        between_within_permutation(np.zeros((3, 3)), 1)
