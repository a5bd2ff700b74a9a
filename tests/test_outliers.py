"""Runs at another minimum (vaebench/stats/outliers.py) and the guard of a check against them."""
import numpy as np
import pytest

from vaebench.errors import StatsError
from vaebench.stats import Design, SubClaim, Verdict, across_runs, check_below, decide, guard_apart
from vaebench.stats.outliers import DIXON_Q, apart, dixon_q


def test_dixons_q_on_exact_values():
    assert dixon_q([1.0, 2.0, 10.0]) == (8 / 9, 2)
    assert dixon_q([10.0, 1.0, 1.5, 1.2]) == (8.5 / 9, 0)
    assert dixon_q([0.0, 9.0, 10.0]) == (0.9, 0) and dixon_q([3.0, 3.0, 3.0]) == (0.0, 2)
    with pytest.raises(StatsError, match="at least 3 finite"):
        dixon_q([1.0, 2.0])


def test_a_run_apart_at_three_runs_needs_the_other_two_to_nearly_agree():
    assert apart([1.0, 2.0, 10.0]) is None                       # Q 0.889 < 0.970
    found = apart([1.0, 1.1, 10.0])                              # Q 0.989
    assert found.index == 2 and "run 2 (10) lies apart" in found.text
    assert apart(np.arange(12.0)) is None                         # no critical value beyond 10 runs
    with pytest.raises(StatsError, match="level=0.8"):
        apart([1.0, 2.0, 3.0], level=0.8)


@pytest.mark.parametrize("n", [3, 4, 5, 8])
def test_the_critical_values_hold_their_level_by_simulation(n):
    rng = np.random.default_rng(n)
    x = np.sort(rng.normal(size=(200_000, n)), axis=1)
    q = np.maximum(x[:, 1] - x[:, 0], x[:, -1] - x[:, -2]) / (x[:, -1] - x[:, 0])
    assert np.mean(q > DIXON_Q[0.95][n]) == pytest.approx(0.05, abs=0.003)


def _check(values, level=0.975):
    return check_below("peak", across_runs(values, level), 16.0, subclaim="S0", role="primary", unit="runs",
                       n_runs=len(values))


def test_the_guard_makes_a_decided_check_inconclusive_and_counts_the_run_apart():
    values = [15.0, 15.02, 15.01, 14.0]                           # supported; seed 3 at another minimum
    check, finding = guard_apart(_check(values), values, labels=["seed 0", "seed 1", "seed 2", "seed 3"])
    assert check.passed is True and check.verdict is Verdict.INCONCLUSIVE
    assert "seed 3 (14) lies apart" in check.why and finding.role == "secondary" and finding.passed is False
    values = [16.5, 16.6, 16.55, 16.7]
    assert guard_apart(_check(values), values) == (_check(values), None)


def _rates(shift: float, n_rep: int, guard: bool, n: int = 4, m: int = 4, sd: float = 0.2, seed: int = 0):
    """One sub-claim "mean peak ≤ 16" of m, its main minimum at the edge (true at 16, false just
    above), each of n runs at another minimum (× ``shift``) with probability 1/4."""
    design = Design(tuple(SubClaim(f"S{i}", "peak <= 16", "peak" if i == 0 else f"p{i}") for i in range(m)))
    rng = np.random.default_rng(seed)
    sup = ref = 0
    for _ in range(n_rep):
        v = rng.normal(16.0, sd, n)
        v = np.where(rng.random(n) < 0.25, v * shift, v)
        check = check_below("peak", across_runs(v, design.support_level), 16.0, subclaim="S0", role="primary",
                            refute=across_runs(v, design.refute_level), unit="runs", n_runs=n)
        if guard:
            check, _ = guard_apart(check, v)
        verdict = decide("S", design, [check], covered=["S0"]).subclaims[0].verdict
        sup += verdict is Verdict.SUPPORTED
        ref += verdict is Verdict.REFUTED
    return sup / n_rep, ref / n_rep


def _bound(p: float, n_rep: int) -> float:
    bound = p + 3.0 * float(np.sqrt(p * (1 - p) / n_rep))
    assert bound < 2 * p, f"{n_rep} replicates cannot detect a doubling of {p}"
    return bound


@pytest.mark.slow
def test_with_the_guard_a_mixture_keeps_each_subclaims_nominal_rates():
    """Four runs (the full scale), m = 4, a quarter of the runs at another minimum 21 % away
    (17 between-run SDs): without the guard false support is 0.066 against its nominal
    α = 0.05 (measured over 2·10⁵ studies); with it, false support ≤ α and false refutation ≤
    α/m, each asserted with 1000 replicates, enough to detect a doubling."""
    n_rep, alpha, m = 1000, 0.05, 4
    sup, _ = _rates(1 / 1.21, n_rep, guard=True, seed=1)
    _, ref = _rates(1.21, n_rep, guard=True, seed=2)
    assert sup <= _bound(alpha, n_rep) and ref <= _bound(alpha / m, n_rep), (sup, ref)
    base, _ = _rates(1 / 1.21, n_rep, guard=False, seed=1)
    assert base > sup                                              # the guard is what keeps it
