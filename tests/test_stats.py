"""Known-answer and property tests of vaebench.stats."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from threadpoolctl import threadpool_limits

from vaebench.errors import StatsError
from vaebench.stats import (
    Check,
    ClaimResult,
    Estimate,
    Verdict,
    bootstrap,
    boschloo,
    check_above,
    check_below,
    check_within,
    combine,
    distance_vs_seed_noise,
    fisher_exact,
    ks,
    linear_fit,
    linear_slope,
    mean_ci,
    percentile_estimate,
    power_two_rates,
    quantile_ci,
    rate_ci,
    rate_upper_bound,
    tost,
    wasserstein,
)

FAST = settings(max_examples=40, deadline=None)
finite_floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These problems are small: one BLAS/OpenMP thread is fastest, and it keeps the
    runtime stable when other processes share the (2-core) machine."""
    with threadpool_limits(1):
        yield


# --------------------------------------------------------------------------- Estimate

def test_estimate_interval_predicates_and_text():
    e = Estimate(16.4213, 16.1, 16.75, 0.95, "bootstrap", 100)
    assert e.contains(16.5) and not e.contains(17.0)
    assert e.inside(16, 17) and not e.inside(16.2, 17)
    assert e.outside(17, 20) and e.outside(0, 16) and not e.outside(16.5, 20)
    assert str(e) == "16.42 [16.10, 16.75] (95% bootstrap)"
    assert Estimate.from_dict(e.to_dict()) == e
    json.dumps(e.to_dict())
    neg = e.scale(-2)
    assert neg.low == pytest.approx(-33.5) and neg.high == pytest.approx(-32.2)
    assert Estimate.exact(3.0).width == 0


def test_estimate_rejects_inverted_interval():
    with pytest.raises(StatsError, match="low=2.0 exceeds high=1.0"):
        Estimate(1.5, 2.0, 1.0)


# --------------------------------------------------------------------------- bootstrap

def test_bootstrap_same_seed_identical_and_vectorised_equals_loop():
    x = np.random.default_rng(0).exponential(size=200)
    a = bootstrap(x, np.mean, n_boot=300, seed=3)
    b = bootstrap(x, np.mean, n_boot=300, seed=3)
    c = bootstrap(x, lambda v: v.mean(axis=-1), n_boot=300, seed=3, vectorized=True)
    assert a == b
    assert (a.low, a.high) == pytest.approx((c.low, c.high), rel=1e-12)
    assert bootstrap(x, np.mean, n_boot=300, seed=4) != a
    assert a.value == pytest.approx(x.mean()) and a.n == 200


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_bootstrap_mean_ci_covers_true_mean_at_nominal_rate(method):
    rng = np.random.default_rng(11)
    trials, hits = 300, 0
    for t in range(trials):
        x = rng.normal(2.0, 1.0, 60)
        est = bootstrap(x, lambda v: v.mean(axis=-1), n_boot=400, seed=t, method=method,
                        vectorized=True)
        hits += est.contains(2.0)
    # 95 % nominal; the percentile bootstrap runs slightly short at n = 60.
    assert 0.89 <= hits / trials <= 0.985


def test_bootstrap_rows_pairs_and_independent_samples():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(500, 3))
    est = bootstrap(z, lambda m: float(np.mean(np.sum(m ** 2, axis=1))), n_boot=200)
    assert est.contains(3.0)
    x = rng.uniform(0, 1, 300)
    y = 2.0 * x + rng.normal(0, 0.1, 300)
    slope = bootstrap((x, y), lambda a, b: np.polyfit(a, b, 1)[0], n_boot=200)
    assert slope.contains(2.0) and slope.width < 0.2
    a, b = rng.normal(0, 1, 400), rng.normal(0.5, 1, 250)
    diff = bootstrap((a, b), lambda p, q: p.mean() - q.mean(), n_boot=300, paired=False)
    assert diff.contains(-0.5) and diff.n == 650


def test_bootstrap_bca_skewed_statistic_has_finite_sane_interval():
    x = np.random.default_rng(5).lognormal(0, 1, 3000)  # > jackknife_groups: grouped jackknife
    est = bootstrap(x, np.var, n_boot=300, method="bca")
    assert est.low < est.value < est.high
    assert "BCa" in est.method


def test_percentile_estimate_takes_quantiles_and_keeps_the_value_inside():
    reps = np.arange(101.0)                       # quantiles 2.5 % and 97.5 % are 2.5 and 97.5
    e = percentile_estimate(50.0, reps, 0.95, "m", 7)
    assert (e.value, e.level, e.method, e.n) == (50.0, 0.95, "m", 7)
    assert (e.low, e.high) == pytest.approx((2.5, 97.5), abs=1e-12)
    assert percentile_estimate(50.0, reps, 0.5, "m", 7).low == pytest.approx(25.0, abs=1e-12)
    outside = percentile_estimate(120.0, reps, 0.95, "m", None)   # a value beyond its replicates
    assert (outside.low, outside.high) == pytest.approx((2.5, 120.0), abs=1e-12)


def test_bootstrap_errors_name_the_bad_value():
    x = np.arange(10.0)
    with pytest.raises(StatsError, match="n_boot=5"):
        bootstrap(x, np.mean, n_boot=5)
    with pytest.raises(StatsError, match="method='basic'"):
        bootstrap(x, np.mean, method="basic")
    with pytest.raises(StatsError, match="1 observations"):
        bootstrap(np.array([1.0]), np.mean)
    with pytest.raises(StatsError, match="different lengths"):
        bootstrap((x, x[:5]), lambda a, b: 0.0)
    with pytest.raises(StatsError, match="level=1.5"):
        bootstrap(x, np.mean, level=1.5)
    with pytest.raises(StatsError, match="must be finite"):
        bootstrap(x, lambda v: np.nan)
    with pytest.raises(StatsError, match=r"returned shape \(2,\)"):
        bootstrap(x, lambda v: v[:2])


# --------------------------------------------------------------------------- exact CIs

def test_mean_ci_is_the_student_t_interval():
    x = np.random.default_rng(2).normal(5, 2, 40)
    est = mean_ci(x, 0.9)
    lo, hi = sps.t.interval(0.9, 39, loc=x.mean(), scale=sps.sem(x))
    assert (est.low, est.high) == pytest.approx((lo, hi))
    with pytest.raises(StatsError, match="1 values"):
        mean_ci([1.0])
    with pytest.raises(StatsError, match="shape"):
        mean_ci(np.ones((3, 3)))
    with pytest.raises(StatsError, match="NaN"):
        mean_ci([1.0, np.nan, 2.0])


@FAST
@given(st.lists(finite_floats, min_size=2, max_size=50))
def test_mean_ci_contains_its_mean(values):
    est = mean_ci(values)
    assert est.low <= est.value <= est.high


@FAST
@given(st.lists(finite_floats, min_size=1, max_size=80), st.floats(0.01, 0.99))
def test_quantile_ci_brackets_its_quantile(values, q):
    est = quantile_ci(values, q)
    assert est.low <= est.value <= est.high


def test_quantile_ci_exact_coverage():
    rng = np.random.default_rng(4)
    true_q90 = sps.expon.ppf(0.9)
    hits = sum(quantile_ci(rng.exponential(size=80), 0.9).contains(true_q90)
               for _ in range(400))
    assert hits / 400 >= 0.92  # exact method: coverage >= 95 % up to Monte-Carlo error
    small = quantile_ci(np.arange(10.0), 0.99)
    assert small.high == math.inf  # 10 points cannot bound the 99 % quantile
    with pytest.raises(StatsError, match="q=1"):
        quantile_ci([1.0, 2.0], 1)


# --------------------------------------------------------------------------- equivalence

def test_tost_false_positive_rate_at_the_margin_is_at_most_alpha():
    rng = np.random.default_rng(7)
    trials, margin, positives = 2000, 0.5, 0
    for _ in range(trials):
        a = rng.normal(margin, 1.0, 150)  # true difference exactly at the margin
        b = rng.normal(0.0, 1.5, 100)      # unequal variances and sizes: Welch
        positives += tost(a, b, margin).equivalent
    slack = 3 * math.sqrt(0.05 * 0.95 / trials)
    assert positives / trials <= 0.05 + slack
    assert positives / trials >= 0.02  # the design can declare equivalence: not vacuous


def test_tost_declares_equivalence_for_identical_distributions():
    rng = np.random.default_rng(8)
    eq = tost(rng.normal(0, 1, 300), rng.normal(0, 1, 300), margin=0.3)
    assert eq.equivalent and eq.p_value < 0.01
    assert eq.difference.inside(-0.3, 0.3) and eq.difference.level == pytest.approx(0.9)
    # the (1 - 2 alpha) interval is Welch's 90 % interval
    a, b = rng.normal(0, 1, 20), rng.normal(0.2, 2, 15)
    res = tost(a, b, margin=1.0)
    ci = sps.ttest_ind(a, b, equal_var=False).confidence_interval(0.90)
    assert (res.difference.low, res.difference.high) == pytest.approx((ci.low, ci.high))
    assert res.equivalent == (-1.0 < ci.low and ci.high < 1.0)
    json.dumps(res.to_dict())


def test_tost_relative_margin_and_errors():
    rng = np.random.default_rng(9)
    ae = rng.normal(4515, 3, 4)
    vae = rng.normal(4554, 1, 4)
    rel = tost(vae, ae, margin=0.02, relative=True)  # within 2 % of the AE loss
    assert rel.margin == pytest.approx(0.02 * abs(ae.mean()))
    assert rel.equivalent and rel.relative_margin == 0.02
    assert not tost(vae, ae, margin=0.001, relative=True).equivalent  # 0.85 % > 0.1 %
    with pytest.raises(StatsError, match="margin=-1"):
        tost(ae, vae, margin=-1)
    with pytest.raises(StatsError, match="alpha=0.7"):
        tost(ae, vae, margin=1, alpha=0.7)
    with pytest.raises(StatsError, match="a has 1 values"):
        tost([1.0], vae, margin=1)


@FAST
@given(st.lists(st.floats(-100, 100), min_size=2, max_size=20),
       st.lists(st.floats(-100, 100), min_size=2, max_size=20))
def test_tost_is_antisymmetric(a, b):
    ab, ba = tost(a, b, 5.0), tost(b, a, 5.0)
    assert ab.difference.value == pytest.approx(-ba.difference.value, abs=1e-9)
    assert ab.p_value == pytest.approx(ba.p_value, abs=1e-9)


# --------------------------------------------------------------------------- distances

def test_wasserstein_of_unit_shift_is_one_and_matches_scipy():
    rng = np.random.default_rng(10)
    a, b = rng.normal(0, 1, 2000), rng.normal(1, 1, 2000)
    est = wasserstein(a, b, n_boot=200)
    assert est.value == pytest.approx(sps.wasserstein_distance(a, b))
    assert est.inside(0.9, 1.1)


def test_ks_small_for_identical_distributions_and_matches_scipy():
    rng = np.random.default_rng(12)
    a, b = rng.normal(size=2000), rng.normal(size=2000)
    est = ks(a, b, n_boot=200)
    assert est.value == pytest.approx(sps.ks_2samp(a, b).statistic)
    assert est.value < 0.05
    assert ks(a, a + 3, n_boot=50).value > 0.8


def test_distance_vs_seed_noise_reads_one_for_seed_like_models_and_large_for_shifts():
    rng = np.random.default_rng(13)
    runs = [rng.normal(16, 0.7, 600) for _ in range(4)]  # four "seeds" of one model
    same = [rng.normal(16, 0.7, 600) for _ in range(4)]  # another model, same distribution
    shifted = [rng.normal(16.6, 0.7, 600) for _ in range(4)]
    within = [(runs[i], runs[j]) for i in range(4) for j in range(i + 1, 4)]
    r_same = distance_vs_seed_noise([(runs[i], same[i]) for i in range(4)], within, n_boot=500)
    r_shift = distance_vs_seed_noise([(runs[i], shifted[i]) for i in range(4)], within,
                                     n_boot=500)
    assert r_same.resample == "values" and r_same.ratio.contains(1.0)
    assert r_shift.ratio.low > 3
    pts = distance_vs_seed_noise([(runs[0], shifted[0])], [(runs[0], runs[1])], distance="ks",
                                 n_boot=100)
    assert pts.resample == "points" and pts.ratio.value > 1
    vals = distance_vs_seed_noise([0.5, 0.6, 0.55], [0.1, 0.12, 0.09], n_boot=200)
    assert vals.ratio.value == pytest.approx(0.55 / (0.31 / 3))
    json.dumps(vals.to_dict())
    with pytest.raises(StatsError, match="all 0"):
        distance_vs_seed_noise([0.5, 0.6], [0.0, 0.0])
    with pytest.raises(StatsError, match="distance='energy'"):
        distance_vs_seed_noise([0.5, 0.6], [0.1, 0.2], distance="energy")


# --------------------------------------------------------------------------- rare events

@FAST
@given(st.integers(1, 5000))
def test_rate_upper_bound_for_zero_events_is_the_rule_of_three(n):
    ub = rate_upper_bound(0, n)
    assert ub == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-12)
    if n >= 100:
        assert ub == pytest.approx(3 / n, rel=0.02)


def test_rate_upper_bound_is_one_sided_clopper_pearson():
    assert rate_upper_bound(3, 20) == pytest.approx(sps.beta.ppf(0.95, 4, 17))
    assert rate_upper_bound(20, 20) == 1.0
    bounds = [rate_upper_bound(k, 20) for k in range(21)]
    assert all(np.diff(bounds) > 0)
    with pytest.raises(StatsError, match="k=5 must lie between 0 and n=4"):
        rate_upper_bound(5, 4)


@pytest.mark.parametrize("n", [5, 12, 30])
def test_clopper_pearson_exact_coverage_never_below_level(n):
    intervals = [rate_ci(k, n) for k in range(n + 1)]
    for p in np.linspace(0.001, 0.999, 200):
        pmf = sps.binom.pmf(np.arange(n + 1), n, p)
        coverage = sum(w for w, e in zip(pmf, intervals) if e.low <= p <= e.high)
        assert coverage >= 0.95 - 1e-9


def test_rate_ci_wilson_and_errors():
    e = rate_ci(0, 20, method="wilson")
    assert e.value == 0 and e.low == 0 and 0.1 < e.high < 0.2
    with pytest.raises(StatsError, match="method='exact'"):
        rate_ci(1, 2, method="exact")
    with pytest.raises(StatsError, match="n=0"):
        rate_ci(0, 0)


def test_fisher_and_boschloo_direction_and_zero_events():
    f = fisher_exact(8, 20, 1, 20, alternative="greater")
    assert f.p_value == pytest.approx(
        sps.fisher_exact([[8, 1], [12, 19]], alternative="greater").pvalue)
    assert f.p_value < 0.05 and fisher_exact(8, 20, 1, 20, alternative="less").p_value > 0.5
    b = boschloo(8, 20, 1, 20, alternative="greater")
    assert b.p_value <= f.p_value  # Boschloo is uniformly more powerful
    assert f.difference.contains(0.35) and f.difference.low > 0
    none = boschloo(0, 4, 0, 4)
    assert none.p_value == 1.0 and none.no_events
    assert fisher_exact(0, 4, 0, 4).p_value == 1.0
    json.dumps(b.to_dict())
    with pytest.raises(StatsError, match="alternative='bigger'"):
        fisher_exact(1, 4, 0, 4, alternative="bigger")


def _simulated_power(test, p1, p2, n1, n2, trials, seed, alternative="two-sided"):
    rng = np.random.default_rng(seed)
    k1s, k2s = rng.binomial(n1, p1, trials), rng.binomial(n2, p2, trials)
    cache = {}
    rejections = 0
    for k1, k2 in zip(k1s, k2s):
        key = (int(k1), int(k2))
        if key not in cache:
            table = [[k1, k2], [n1 - k1, n2 - k2]]
            if test == "fisher":
                cache[key] = sps.fisher_exact(table, alternative=alternative).pvalue
            elif k1 + k2 == 0 or k1 + k2 == n1 + n2:
                cache[key] = 1.0
            else:
                cache[key] = sps.boschloo_exact(table, alternative=alternative).pvalue
        rejections += cache[key] <= 0.05
    return rejections / trials


@pytest.mark.parametrize("test,p1,p2,n,trials", [
    ("fisher", 0.45, 0.05, 20, 4000),
    ("boschloo", 0.6, 0.1, 10, 1500),
])
def test_exact_power_matches_seeded_simulation(test, p1, p2, n, trials):
    exact = power_two_rates(p1, p2, n, n, test=test)
    sim = _simulated_power(test, p1, p2, n, n, trials, seed=21)
    se = math.sqrt(exact * (1 - exact) / trials)
    assert abs(exact - sim) < 4 * se + 1e-3
    assert 0.3 < exact < 0.99


def test_power_size_is_at_most_alpha_and_grows_with_n():
    assert power_two_rates(0.2, 0.2, 15, 15) <= 0.05
    assert power_two_rates(0.3, 0.3, 10, 10, test="boschloo", alternative="greater") <= 0.05
    powers = [power_two_rates(0.5, 0.05, n, n) for n in (5, 10, 20)]
    assert powers == sorted(powers) and powers[-1] > 0.8
    with pytest.raises(StatsError, match="p1=1.5"):
        power_two_rates(1.5, 0.1, 10, 10)
    with pytest.raises(StatsError, match="test='barnard'"):
        power_two_rates(0.5, 0.1, 10, 10, test="barnard")


# --------------------------------------------------------------------------- regression

def test_linear_slope_t_interval_matches_linregress_and_covers():
    rng = np.random.default_rng(14)
    x = np.log([1e-6, 1e-5, 1e-4, 1e-3] * 5)
    y = -1.0 * x + 0.5 + rng.normal(0, 0.3, x.size)
    est = linear_slope(x, y)
    ref = sps.linregress(x, y)
    tq = sps.t.ppf(0.975, x.size - 2)
    assert est.value == pytest.approx(ref.slope)
    assert (est.low, est.high) == pytest.approx((ref.slope - tq * ref.stderr,
                                                 ref.slope + tq * ref.stderr))
    assert est.contains(-1.0)
    fit = linear_fit(x, y)
    assert fit["intercept"].value == pytest.approx(ref.intercept)
    assert fit["r2"] == pytest.approx(ref.rvalue ** 2)


def test_linear_slope_cluster_bootstrap_over_groups():
    rng = np.random.default_rng(15)
    zdim = np.array([64, 128, 256, 512] * 6, dtype=float)
    seed = np.repeat(np.arange(6), 4)
    peak = np.sqrt(zdim) * np.exp(rng.normal(0, 0.02, zdim.size))
    est = linear_slope(np.log(zdim), np.log(peak), groups=seed, n_boot=300)
    assert est.contains(0.5) and est.inside(0.45, 0.55)
    assert "cluster" in est.method


def test_linear_slope_errors():
    with pytest.raises(StatsError, match="x is constant"):
        linear_slope([1, 1, 1], [1, 2, 3])
    with pytest.raises(StatsError, match="2 values"):
        linear_slope([1, 2], [1, 2])
    with pytest.raises(StatsError, match="x has 3 values but y has 4"):
        linear_slope([1, 2, 3], [1, 2, 3, 4])
    with pytest.raises(StatsError, match="distinct labels"):
        linear_slope([1, 2, 3, 4], [1, 2, 3, 4], groups=[0, 0, 1, 1])


# --------------------------------------------------------------------------- verdicts

def test_check_within_above_below():
    est = Estimate(16.4, 16.1, 16.8)
    assert check_within("peak", est, 15, 17).passed is True
    assert check_within("peak", est, 17, 18).passed is False
    assert check_within("peak", est, 16.5, 18).passed is None
    assert check_above("peak", est, 16).passed is True
    assert check_above("peak", est, 17).passed is False
    assert check_above("peak", est, 16.5).passed is None
    assert check_below("peak", est, 17).passed is True
    assert check_below("peak", est, 16).passed is False
    assert check_below("peak", est, 16.5).passed is None
    nan = check_within("x", Estimate(float("nan"), float("nan"), float("nan")), 0, 1)
    assert nan.passed is None and "NaN" in nan.reason
    c = check_within("peak", est, 15, 17, posts="16.75")
    assert c.verdict is Verdict.SUPPORTED and c.posts == "16.75" and "inside" in c.reason
    with pytest.raises(StatsError, match="lo=2 exceeds hi=1"):
        check_within("x", est, 2, 1)


@FAST
@given(st.lists(st.sampled_from([True, False, None]), max_size=6))
def test_combine_rules(outcomes):
    checks = [Check(f"c{i}", Estimate(0, 0, 0), "", p) for i, p in enumerate(outcomes)]
    verdict = combine(checks)
    if False in outcomes:
        assert verdict is Verdict.REFUTED
    elif outcomes and all(p is True for p in outcomes):
        assert verdict is Verdict.SUPPORTED
    else:
        assert verdict is Verdict.INCONCLUSIVE


def test_claim_result_round_trips_to_json():
    checks = [check_within("peak", Estimate(16.4, 16.1, 16.8), 15, 17),
              check_above("ratio", Estimate(2.0, 0.5, 3.0), 1.0)]
    res = ClaimResult.from_checks("C3", checks)
    assert res.verdict is Verdict.INCONCLUSIVE and "ratio" in res.reason
    data = json.loads(json.dumps(res.to_dict()))
    assert data["verdict"] == "inconclusive" and len(data["checks"]) == 2
    assert data["checks"][0]["passed"] is True
    assert Verdict("supported") is Verdict.SUPPORTED and Verdict.REFUTED == "refuted"
