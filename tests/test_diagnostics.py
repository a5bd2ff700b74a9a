"""Model health on histories and codes whose answer is known."""
import numpy as np
import pytest

from vaebench.claims import health as dg
from vaebench.errors import StatsError


def test_drift_of_known_series():
    assert dg.drift([10, 10, 10, 10]) == pytest.approx(0.0, abs=1e-12)
    assert dg.drift([1, 2, 3, 4, 5, 6]) == pytest.approx(1 / 5)          # last 3: 4, 5, 6 -> slope 1 / mean 5
    assert dg.drift([0, -1, -2, -3], relative=False) == pytest.approx(-1.0)
    assert np.isnan(dg.drift([1, 2]))
    assert dg.window(8) == 3 and dg.window(24) == 8


def test_converged_model_passes_and_rising_radius_fails_with_its_rate():
    flat = {"loss": [700, 650, 646, 645.5, 645.4, 645.3], "probe_radius_mean": [14, 15, 15.5, 15.6, 15.6, 15.65]}
    h = dg.health("AE seed 0", flat)
    assert h.converged is True and h.flags == [] and dg.precondition([h], dg.CONVERGED) is None
    rising = dict(flat, probe_radius_mean=[11, 14, 17, 20, 23, 25])
    h = dg.health("VAE seed 0", rising)
    assert h.converged is False
    why = dg.precondition([h], dg.CONVERGED)
    assert why.startswith("VAE seed 0: not converged: probe radius rising") and "per epoch" in why


def test_falling_logvar_is_not_converged():
    hist = {"loss": [10] * 6, "probe_radius_mean": [5] * 6, "probe_logvar_mean": [-1, -2, -3, -4, -5, -6]}
    h = dg.health("VAE", hist)
    assert h.converged is False and "mean logvar falling 1.00 nat per epoch" in h.reasons[dg.CONVERGED]


def test_collapse_from_active_units():
    rng = np.random.default_rng(0)
    mu = np.zeros((500, 16))
    mu[:, :3] = rng.normal(0, 1, (500, 3))                                 # three informative axes
    logvar = np.zeros_like(mu)
    h = dg.health("VAE fact=5", {"loss": [5, 5, 5]}, codes={"mu": mu, "logvar": logvar})
    assert h.collapsed is True and "3 of 16 active units" in h.reasons[dg.NOT_COLLAPSED]
    mu[:, :8] = rng.normal(0, 1, (500, 8))
    assert dg.health("VAE", {"loss": [5, 5, 5]}, codes={"mu": mu, "logvar": logvar}).collapsed is False
    kl = dg.kl_per_axis(mu, logvar)
    assert kl[8:] == pytest.approx(0.0) and kl[0] == pytest.approx(0.5 * np.mean(mu[:, 0] ** 2))


def test_too_few_epochs_to_judge_fails_the_convergence_precondition():
    h = dg.health("VAE", {"loss": [5.0, 4.0]})
    assert h.converged is None and h.flags == ["convergence unknown"]
    assert "convergence unknown: only 2 epochs" in dg.precondition([h], dg.CONVERGED)


def test_a_stopped_run_fails_every_precondition():
    h = dg.health("VAE seed 3", {"loss": [5, float("nan")]}, stopped="non-finite loss nan at epoch 2")
    assert not h.finite and h.flags == ["non-finite"]
    assert "non-finite loss" in dg.precondition([h], dg.FINITE)


def test_min_ok_lets_a_check_drop_failed_runs():
    good = dg.health("a", {"loss": [1, 1, 1]})
    bad = dg.health("b", {"loss": [1.0]}, stopped="nan")
    assert dg.precondition([good, good, bad], dg.FINITE, min_ok=2) is None
    assert "1 of 2 runs pass" in dg.precondition([good, bad], dg.FINITE, min_ok=2)


def test_bad_input():
    with pytest.raises(StatsError, match="not a precondition"):
        dg.health("a", {"loss": [1, 1, 1]}).fails("happy")
    with pytest.raises(StatsError):
        dg.active_units(np.zeros(3))


def test_each_rate_is_its_own_precondition():
    """A reconstruction claim asks a settled loss only; a still-moving radius fails only RADIUS_SETTLED."""
    hist = {"loss": [700, 650, 646, 645.5, 645.4, 645.3], "probe_radius_mean": [11, 14, 17, 20, 23, 25],
            "probe_logvar_mean": [-3.0] * 6}
    h = dg.health("AE 2-d seed 0", hist)
    assert h.settled == {dg.LOSS_SETTLED: True, dg.RADIUS_SETTLED: False, dg.LOGVAR_SETTLED: True}
    assert dg.precondition([h], dg.LOSS_SETTLED) is None and dg.precondition([h], dg.LOGVAR_SETTLED) is None
    assert "probe radius rising" in dg.precondition([h], dg.RADIUS_SETTLED)
    assert "probe radius rising" in dg.precondition([h], dg.CONVERGED)
    falling = dict(hist, probe_radius_mean=[15.0] * 6, probe_logvar_mean=[-1, -2, -3, -4, -5, -6])
    h = dg.health("VAE", falling)
    assert dg.precondition([h], dg.LOSS_SETTLED, dg.RADIUS_SETTLED) is None
    assert "mean logvar falling" in dg.precondition([h], dg.LOGVAR_SETTLED)
    short = dg.health("VAE", {"loss": [5.0, 4.0]})
    assert "convergence unknown" in dg.precondition([short], dg.LOSS_SETTLED)


@pytest.mark.parametrize("z_dim, active, collapsed", [
    (2, 2, False), (2, 1, False), (2, 0, True),          # a 2-d VAE with both axes in use is healthy
    (4, 2, False), (4, 1, True),
    (16, 5, False), (16, 4, True), (256, 5, False), (256, 4, True)])
def test_collapse_is_relative_to_z_dim(z_dim, active, collapsed):
    rng = np.random.default_rng(z_dim + active)
    mu = np.zeros((400, z_dim))
    mu[:, :active] = rng.normal(0, 1, (400, active))
    h = dg.health("VAE", {"loss": [5, 5, 5]}, codes={"mu": mu, "logvar": np.zeros_like(mu)})
    assert h.collapsed is collapsed
    assert dg.min_active_units(z_dim) == min(5, -(-z_dim // 2))


def test_default_precondition_from_the_models_a_test_loaded():
    ok = dg.health("AE seed 0", {"loss": [5.0] * 6})
    moving = dg.health("VAE seed 1", {"loss": [900.0, 850, 800, 750, 700, 650]})
    stopped = dg.health("VAE seed 2", {"loss": [5, float("nan")]}, stopped="non-finite loss nan at epoch 2")
    assert dg.default_precondition([ok]) is None and dg.default_precondition([ok.to_dict()]) is None
    why = dg.default_precondition([ok, moving, stopped.to_dict()])
    assert why.startswith("VAE seed 1: not converged (") and "loss changing" in why
    assert "VAE seed 2: non-finite" in why and "AE seed 0" not in why


def test_the_recorder_applies_the_default_precondition_unless_waived():
    from vaebench.claims.record import Claim, ClaimRecorder
    from vaebench.stats import Estimate, SubClaim, check_below

    claim = Claim(id="X", title="t", quote="q", source="s",
                  subclaims=(SubClaim("Xa", "a is small", "a"), SubClaim("Xb", "b is small", "b")))
    est = Estimate(0.3, 0.1, 0.5, claim.design.support_level)
    wide = Estimate(0.3, 0.05, 0.55, claim.design.refute_level)

    def recorder(*waive):
        rec = ClaimRecorder(claim)
        rec.model_health(dg.health("VAE seed 0", {"loss": [900.0, 850, 800, 750, 700, 650]}))
        for sid in waive:
            rec.waive_health(sid, "the event counted is a failed model")
        for name, sid in (("a", "Xa"), ("b", "Xb")):
            rec.check(check_below(name, est, 1.0, refute=wide, role="primary", subclaim=sid, unit="runs"))
        return rec

    res = recorder().decide()
    assert res.verdict.value == "inconclusive"
    assert all("the models this test loaded: VAE seed 0: not converged" in s.reason for s in res.subclaims)
    rec = recorder("Xa")
    res = rec.decide()
    assert [s.verdict.value for s in res.subclaims] == ["supported", "inconclusive"]
    assert any("Xa: model health waived" in n for n in rec.notes)


def test_group_preconditions_name_each_groups_failing_runs():
    from types import SimpleNamespace

    settled = {"loss": [5.0] * 6, "reconstruction_loss": [700.0] * 6}
    below = {"loss": [5.0] * 6, "reconstruction_loss": [600.0] * 6}
    drifting = {"loss": [5.0] * 6, "reconstruction_loss": [900.0, 850, 800, 750, 700, 650.0]}
    hist = {("A", 0): settled, ("A", 1): below, ("B", 0): settled, ("B", 1): settled, ("C", 0): drifting}
    runs = {k: SimpleNamespace(history=h) for k, h in hist.items()}
    healths = {k: dg.health(f"{k[0]} seed {k[1]}", {"loss": h["loss"]}) for k, h in hist.items()}
    needs = {"A": (dg.CONVERGED,), "B": (dg.CONVERGED,), "C": (dg.CONVERGED,)}
    pre = dg.group_preconditions(runs, healths, {"A": [0, 1], "B": [0], "C": [0]}, 641.0, needs, 0.04)
    assert pre["A"] == dg.below_floor("A seed 1", 600.0, 641.0) and "did not train on them" in pre["A"]
    assert pre["B"] == "B seed 1: non-finite latent codes" and pre["C"] is None
    assert pre["loss"].startswith("C seed 0: not converged: loss above the entropy floor falling")  # only C drifts
    paired = dg.group_preconditions(runs, healths, {"A": [0], "B": [0], "C": [0]}, 641.0, needs, 0.04,
                                    coded={"A": [0, 1], "B": [0, 1], "C": [0]})
    assert paired["A"] is None and paired["B"] is None
