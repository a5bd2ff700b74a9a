"""vaebench.claims.settled and ClaimRecorder.checks_at_equilibrium_measured on planted
trajectories: a claim comparing two models (the measured dict a C1-style ``decide`` takes),
with known asymptotes."""
import math

import numpy as np
import pytest

from vaebench.claims.record import Claim, ClaimRecorder
from vaebench.claims.settled import Contrast, flatten, take_runs, unflatten, with_contrasts
from vaebench.errors import StatsError
from vaebench.stats import SubClaim, Verdict, across_runs, check_below, check_within, ratio_across_runs

CLAIM = Claim("Y", "a toy comparison", "", "", subclaims=(
    SubClaim("Y1", "the VAE's loss equals the AE's", "loss ratio"),
    SubClaim("Y2", "the curve's last point stays low", "curve end")))
SEEDS = (0, 1, 2)


def _at(m, level):
    ratio = ratio_across_runs(np.asarray(m["loss"]["VAE"]), np.asarray(m["loss"]["AE"]), level)
    end = across_runs([c[-1] for c in m["curve"]], level)
    return [check_within("loss ratio", ratio, 0.8, 1.25, subclaim="Y1", role="primary", unit="runs", n_runs=6),
            check_below("curve end", end, 0.5, subclaim="Y2", role="primary", unit="runs", n_runs=3),
            check_below("drift (shown)", across_runs(m["drift"], level), 100.0, unit="runs", n_runs=3)]


def _measured(k: int, vae_final: float = 1.0, tau: float = 73.0, drift: bool = False) -> dict:
    """The AE's loss settled at 10 (+ seed spread); the VAE's relaxes from 20 towards
    10·vae_final with relaxation time ``tau`` epochs; a settled two-point curve per run; a
    secondary series that grows linearly when ``drift``."""
    vae = [10 * vae_final * (1 + 0.01 * s) + 10 * math.exp(-k / tau) for s in SEEDS]
    return {"loss": {"AE": [10.0 * (1 + 0.01 * s) for s in SEEDS], "VAE": vae},
            "curve": [[0.9, 0.2 + 0.01 * s] for s in SEEDS],
            "drift": [(5.0 * k if drift else 1.0) + s for s in SEEDS]}


def _run(epochs=12, **kw):
    claim = ClaimRecorder(CLAIM, "t")
    asked = []

    def earlier(k):
        asked.append(k)
        return _measured(k, **kw)

    checks = claim.checks_at_equilibrium_measured(
        _at, _measured(epochs, **kw), earlier, epochs, keys=("loss", "curve", "drift"),
        rests_on={"loss ratio": ["loss"], "curve end": [("curve",)]})
    return claim, {c.name: c for c in checks}, asked


def test_flatten_and_unflatten_are_inverse_on_nested_and_vector_series():
    m = _measured(12)
    flat = flatten(m, ("loss", "curve"))
    assert sorted(flat) == [("curve", 0), ("curve", 1), ("loss", "AE"), ("loss", "VAE")]
    assert np.allclose(flat["curve", 1], [0.2, 0.21, 0.22])
    back = unflatten(m, {p: v * 2 for p, v in flat.items()})
    assert back["loss"]["VAE"] == [2 * v for v in m["loss"]["VAE"]] and np.allclose(back["curve"][2], [1.8, 0.44])
    assert m["curve"][2] == [0.9, 0.22]                      # the input is left alone
    with pytest.raises(StatsError, match="'nosuch'"):
        flatten(m, ("nosuch",))
    nested = {"ae": {"void": [1.0, 2.0], "mle": [math.nan, 1.0]}, "vae": {"void": [3.0, 4.0]}}
    flat = flatten(nested, [("ae", "void"), ("vae", "void")])           # a path names one series of a model
    assert list(flat) == [("ae", "void"), ("vae", "void")]
    back = unflatten(nested, {("ae", "void"): [5.0, 6.0]})
    assert back["ae"] == {"void": [5.0, 6.0], "mle": nested["ae"]["mle"]} and back["vae"] == nested["vae"]


def test_then_adjusts_the_settled_checks_before_they_are_recorded():
    claim = ClaimRecorder(CLAIM, "t")
    got = claim.checks_at_equilibrium_measured(_at, _measured(12, tau=0.5), lambda k: _measured(k, tau=0.5), 12,
                                               keys=("loss", "curve"), then=lambda cs: cs[:1])
    assert [c.name for c in got] == [c.name for c in claim.checks] == ["loss ratio"]


def test_a_slow_approach_to_a_value_outside_the_band_is_still_moving():
    # now: VAE ≈ 10 + 10·e^(−12/73) ≈ 18.5 → ratio 1.85 (refuted now); final ratio 1.0 (inside)
    claim, checks, asked = _run(vae_final=1.0)
    assert asked == [4, 8]
    loss = checks["loss ratio"]
    assert loss.passed is False and loss.verdict is Verdict.INCONCLUSIVE and "still moving" in loss.why
    assert checks["curve end"].verdict is Verdict.SUPPORTED and checks["curve end"].equilibrium.settled
    assert abs(claim.equilibria["loss VAE"]["predicted"]["value"] - 10.1) < 1e-6
    # a vector's components are recorded (results.json) but not shown as statistics one by one
    assert "curve 1" in claim.equilibria and not any("curve" in s["name"] for s in claim.statistics)
    assert "drift" not in claim.equilibria                  # no primary check reads it


def test_a_settled_comparison_keeps_its_verdict_and_a_drifting_secondary_series_does_not_block_it():
    _, checks, _ = _run(vae_final=1.0, tau=0.5, drift=True)     # the VAE settled within the first epochs
    assert checks["loss ratio"].verdict is Verdict.SUPPORTED and checks["loss ratio"].equilibrium.settled
    assert checks["curve end"].verdict is Verdict.SUPPORTED


def test_without_rests_on_every_primary_check_is_judged_on_every_series_including_a_drifting_one():
    """A series growing linearly has no bounded prediction: without ``rests_on`` every primary
    check is judged on its drift too (the drift rule: continued to 64× the budget). The checks
    do not read it, so their verdicts hold there; with ``rests_on`` (the test above) it never
    enters."""
    claim = ClaimRecorder(CLAIM, "t")
    checks = claim.checks_at_equilibrium_measured(_at, _measured(12, tau=0.5, drift=True),
                                                  lambda k: _measured(k, tau=0.5, drift=True), 12,
                                                  keys=("loss", "curve", "drift"))
    primary = [c for c in checks if c.role == "primary"]
    assert all(c.equilibrium.horizon == 64 and c.verdict is Verdict.SUPPORTED for c in primary)
    assert "drifting away" in primary[0].why or primary[0].equilibrium.text.startswith("settled: drifting")
    _, own, _ = _run(vae_final=1.0, tau=0.5, drift=True)
    assert own["loss ratio"].equilibrium.horizon == 0


def test_a_settled_refutation_stays_refuted():
    _, checks, _ = _run(vae_final=2.0, tau=0.5)
    assert checks["loss ratio"].verdict is Verdict.REFUTED and checks["loss ratio"].equilibrium.settled


def test_too_few_epochs_or_runs_that_differ_between_budgets_are_inconclusive_with_the_reason():
    _, checks, asked = _run(epochs=2, tau=0.5)
    assert asked == [] and "at 2 epochs" in checks["loss ratio"].why
    claim = ClaimRecorder(CLAIM, "t")

    def fewer(k):
        m = _measured(k, tau=0.5)
        m["loss"]["VAE"] = m["loss"]["VAE"][:2]
        return m

    checks = claim.checks_at_equilibrium_measured(_at, _measured(12, tau=0.5), fewer, 12, keys=("loss", "curve"))
    assert all(c.verdict is Verdict.INCONCLUSIVE and "differ" in c.why for c in checks if c.role == "primary")


def test_a_run_at_another_minimum_in_a_series_a_check_rests_on_is_its_own_finding():
    def apart(k):
        m = _measured(k, tau=0.5)
        m["loss"]["VAE"] = [10.0, 10.01, 13.0]
        return m

    claim = ClaimRecorder(CLAIM, "t")
    checks = claim.checks_at_equilibrium_measured(_at, apart(12), apart, 12, keys=("loss", "curve"),
                                                  rests_on={"loss ratio": ["loss"], "curve end": ["curve"]})
    [finding] = [c for c in checks if "apart" in c.name]
    assert finding.role == "secondary" and finding.name.endswith("(loss VAE)")
    assert {c.name: c for c in checks}["loss ratio"].verdict is Verdict.INCONCLUSIVE


def test_a_run_apart_that_each_group_would_decide_alike_keeps_the_verdict():
    def apart(k):
        m = _measured(k, tau=0.5)
        m["loss"]["VAE"] = [10.0, 10.01, 10.6]                     # seed 2 apart, but its ratio is still ~1.05
        return m

    claim = ClaimRecorder(CLAIM, "t")
    checks = claim.checks_at_equilibrium_measured(_at, apart(12), apart, 12, keys=("loss", "curve"),
                                                  rests_on={"loss ratio": ["loss"], "curve end": ["curve"]})
    [finding] = [c for c in checks if "apart" in c.name]
    assert "run 2 (10.6) lies apart" in finding.reason and "each group alone" in finding.reason
    assert {c.name: c for c in checks}["loss ratio"].verdict is Verdict.SUPPORTED


def test_take_runs_cuts_every_per_run_list_of_that_length():
    m = {"a": {"VAE": [1, 2, 3], "AE": [4, 5]}, "curve": [[0, 1], [2, 3], [4, 5]], "name": "x"}
    assert take_runs(m, 3, [2, 0]) == {"a": {"VAE": [3, 1], "AE": [4, 5]}, "curve": [[4, 5], [0, 1]], "name": "x"}


def _twins(k: int, start: float = 0.5, slow: float = 40.0) -> dict:
    """Twins of each seed (bf16 against f32, say) that share a fast relaxation (10·(1 − e^(−k/2)),
    seeds ±1 %) while their difference decays slowly from ``start`` to 0.05 (relaxation time
    ``slow`` epochs; seeds ±0.01)."""
    shared = [10.0 * (1.0 - math.exp(-k / 2.0)) * (1 + 0.01 * s) for s in SEEDS]
    diff = [0.05 + 0.01 * (s - 1) + (start - 0.05) * math.exp(-k / slow) for s in SEEDS]
    return {"x": {"a": [v + d for v, d in zip(shared, diff)], "b": shared}}


def _paired(m, level):
    diff = np.asarray(m["x"]["a"]) - np.asarray(m["x"]["b"])
    return [check_within("paired difference", across_runs(diff, level), -0.1, 0.1, subclaim="Y1", role="primary",
                         unit="runs", n_runs=6)]


@pytest.mark.parametrize("on, moving", [(["x"], False), ([Contrast(("x", "a"), ("x", "b"))], True)],
                         ids=["each twin apart", "their contrast"])
def test_a_paired_check_is_settled_on_the_contrast_of_the_twins(on, moving):
    """At 12 epochs the difference is 0.38 (outside ±0.1) and still falling to 0.05; each twin,
    led by the shared fast relaxation, decelerates. Settled on each twin apart the check reads
    refuted and settled (the failure); on their contrast, still moving."""
    claim = ClaimRecorder(CLAIM, "t")
    [check] = claim.checks_at_equilibrium_measured(_paired, _twins(12), _twins, 12, keys=("x",),
                                                   rests_on={"paired difference": on})
    assert check.estimate.value == pytest.approx(0.05 + 0.45 * math.exp(-12 / 40), abs=1e-9)
    assert check.passed is False and (check.verdict == Verdict.INCONCLUSIVE) is moving
    if moving:
        assert check.why.startswith("still moving") and "x a − x b" in claim.equilibria
    [late] = ClaimRecorder(CLAIM, "t").checks_at_equilibrium_measured(
        _paired, _twins(400), _twins, 400, keys=("x",),
        rests_on={"paired difference": on})
    assert late.verdict == Verdict.SUPPORTED and late.equilibrium.settled


def test_a_contrast_writes_its_prediction_back_into_its_first_series():
    flat = {("x", "a"): np.array([2.0, 6.0]), ("x", "b"): np.array([1.0, 2.0])}
    ratio, diff = Contrast(("x", "a"), ("x", "b"), ratio=True), Contrast(("x", "a"), ("x", "b"))
    got = with_contrasts(flat, {"r": [ratio], "d": [diff, "y"]})
    assert np.allclose(got[(ratio,)], [2.0, 3.0]) and np.allclose(got[(diff,)], [1.0, 4.0])
    assert str(ratio) == "x a / x b" and str(diff) == "x a − x b"
    assert ratio.back([1.0, 2.0], [5.0, 5.0]) == [5.0, 10.0] and diff.back([1.0, 2.0], [5.0, 5.0]) == [6.0, 7.0]
    root = Contrast(("x", "a"), ("x", "b"), ratio=True, power=0.5)
    assert str(root) == "x a / (x b)^0.5" and np.allclose(root.of({**flat, ("x", "b"): np.array([4.0, 9.0])}),
                                                         [1.0, 2.0])
    assert np.allclose(root.back([4.0, 9.0], [1.0, 2.0]), [2.0, 6.0])
    half = Contrast(("x", "a"), ("x", "b"), power=0.5)
    assert np.allclose(half.of(flat), [1.5, 5.0]) and np.allclose(half.back([1.0, 2.0], [1.5, 5.0]), [2.0, 6.0])
    with pytest.raises(StatsError, match=r"no series \['x b'\] among the keys"):
        diff.of({("x", "a"): np.array([1.0])})
    with pytest.raises(StatsError, match="a contrast pairs run i"):
        diff.of({("x", "a"): np.array([1.0]), ("x", "b"): np.array([1.0, 2.0])})


def test_a_contrast_among_the_keys_stands_for_its_two_series():
    c = Contrast(("x", "a"), ("x", "b"))
    assert sorted(flatten(_twins(12), [c])) == [("x", "a"), ("x", "b")]


@pytest.mark.parametrize("last, verdict", [(0.08, Verdict.SUPPORTED), (0.105, Verdict.INCONCLUSIVE)])
def test_a_pair_apart_in_a_contrast_is_judged_on_each_group_of_pairs(last, verdict):
    """Four twins settled at differences 0.05, 0.0505, 0.051 and ``last``; on all four the
    difference lies inside ±0.1 (supported) and the last pair lies apart. At 0.08 it lies
    inside alone too (with the others' spread about it), so the verdict stands; at 0.105 it
    lies outside alone, so the split is material and the check inconclusive."""
    def pairs(k):
        b = [1.0, 1.1, 1.2, 1.3]
        return {"x": {"a": [v + d for v, d in zip(b, (0.05, 0.0505, 0.051, last))], "b": b}}

    c = Contrast(("x", "a"), ("x", "b"))
    checks = ClaimRecorder(CLAIM, "t").checks_at_equilibrium_measured(_paired, pairs(12), pairs, 12, keys=("x",),
                                                                      rests_on={"paired difference": [c]})
    [finding] = [x for x in checks if "apart" in x.name]
    check = {x.name: x for x in checks}["paired difference"]
    assert finding.name.endswith("(x a − x b)") and "run 3" in finding.reason
    assert check.passed is True and check.verdict is verdict
