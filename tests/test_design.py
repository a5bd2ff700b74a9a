"""The design table's minimum detectable margins against known normal-theory answers."""
import math
from pathlib import Path

import numpy as np
import pytest
from claimsim import load_claim
from scipy import stats as sps

from vaebench.errors import StatsError
from vaebench.stats.design import Prior, Stated, decision_power, design_row, design_table, min_margin, runs_needed


def test_at_the_edge_the_decision_rate_is_the_level():
    for n in (2, 3, 10):
        assert decision_power(0.0, 1.0, n, 0.05) == pytest.approx(0.05, abs=1e-12)


def test_many_runs_give_the_normal_formula():
    """n → ∞: δ = (z(1 − α) + z(power)) σ / √n."""
    z = sps.norm.ppf(0.95) + sps.norm.ppf(0.8)
    assert min_margin(2.0, 10_000, 0.05) == pytest.approx(2.0 * z / 100, rel=1e-3)


def test_the_audits_numbers_at_three_runs():
    """Issue 19's audit: at 3 runs a check needs its truth 3.3 (m = 1, one-sided 0.025) to 7.3
    (m = 5, one-sided 0.005) between-run SDs from its edge to decide with probability 0.8."""
    assert round(min_margin(1.0, 3, 0.025), 1) == 3.3 and round(min_margin(1.0, 3, 0.005), 1) == 7.3
    assert min_margin(0.5, 3, 0.025) == pytest.approx(0.5 * min_margin(1.0, 3, 0.025))   # in units of σ


def test_the_margin_has_its_power_by_simulation():
    rng = np.random.default_rng(0)
    n, sd, a = 4, 1.0, 0.05
    delta = min_margin(sd, n, a)
    x = rng.normal(-delta, sd, (20_000, n))                       # truth δ below the edge 0
    upper = x.mean(axis=1) + sps.t.ppf(1 - a, n - 1) * x.std(axis=1, ddof=1) / math.sqrt(n)
    assert np.mean(upper < 0) == pytest.approx(0.8, abs=0.015)


def test_runs_needed_is_the_first_run_count_that_fits():
    room, sd = 0.1, 0.05
    n = runs_needed(room, sd, 0.05)
    assert min_margin(sd, n, 0.05) <= room < min_margin(sd, n - 1, 0.05)
    assert runs_needed(0.0, sd, 0.05) is None and runs_needed(1e-6, sd, 0.05, max_runs=20) is None


def test_design_row_says_what_cannot_be_decided():
    row = design_row("C1e", 3, 0.05, half_width=0.1, m=5)
    assert not row.can_support and "cannot decide at 3 runs; needs 4" in row.text()
    assert row.refute_margin > row.support_margin                     # α/(2m) is stricter than α
    ok = design_row("C1a", 3, 0.01, margin=0.5)
    assert ok.can_support and ok.text().endswith("can decide") and ok.to_dict()["can_support"]
    with pytest.raises(StatsError, match="not both"):
        design_row("x", 3, 1.0, half_width=1.0, margin=1.0)
    with pytest.raises(StatsError, match="at least 2 runs"):
        decision_power(1.0, 1.0, 1, 0.05)


def test_a_prior_states_its_sd_source_and_room():
    p = Prior(0.3, "the posts' two runs", margin=8.0)
    assert p.margin == 8.0
    with pytest.raises(StatsError, match="sd=0"):
        Prior(0.0, "x", margin=1.0)
    with pytest.raises(StatsError, match="say where"):
        Prior(1.0, " ", margin=1.0)
    with pytest.raises(StatsError, match="give one"):
        Prior(1.0, "x")


def test_the_design_table_has_a_row_per_subclaim_with_m_from_the_claim():
    subs = [("C1e", "quality"), ("C1a", "kl"), ("C1b", "loss")]
    rows = design_table(subs, {"C1e": Prior(0.05, "stated", half_width=0.1)}, 3)
    assert [r["subclaim"] for r in rows] == ["C1e", "C1a", "C1b"]
    row = design_row("C1e", 3, 0.05, half_width=0.1, m=3)
    assert rows[0]["refute_margin"] == row.refute_margin and rows[0]["source"] == "stated"
    assert rows[0]["text"].startswith("C1e: 3 runs") and "cannot decide at 3 runs" in rows[0]["text"]
    assert rows[1]["can_support"] is None and "no prior between-run SD stated" in rows[1]["text"]
    with pytest.raises(StatsError, match=r"priors for \['C9'\]"):
        design_table(subs, {"C9": Prior(1.0, "x", margin=1.0)}, 3)


def test_a_stated_check_gives_its_kind_and_reason_instead_of_a_margin():
    subs = [("C5a", "counts"), ("C5d", "quality")]
    rows = design_table(subs, {"C5a": Stated("exact: decided by construction", "three counts", can_support=True),
                               "C5d": Prior(0.05, "stated", half_width=0.2)}, 3)
    assert rows[0] == {"subclaim": "C5a", "check": "counts", "n_runs": 3, "can_support": True,
                       "kind": "exact: decided by construction",
                       "text": "C5a: exact: decided by construction: three counts"}
    assert rows[1]["refute_margin"] == design_row("C5d", 3, 0.05, half_width=0.2, m=2).refute_margin   # m counts both
    assert Stated("rounds", "why").can_support is None
    with pytest.raises(StatsError, match="kind=''"):
        Stated(" ", "why")
    with pytest.raises(StatsError, match="reason=''"):
        Stated("exact", "")
    with pytest.raises(StatsError, match="neither a Prior nor a Stated"):
        design_table(subs, {"C5a": 0.05}, 3)


HYPOTHESES = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "hypotheses").glob("test_*.py"))


@pytest.mark.parametrize("stem", HYPOTHESES)
def test_every_primary_check_states_a_prior_or_a_reason(stem):
    """No claim module leaves a sub-claim's design row at "no prior stated": each primary check has a
    :class:`Prior` (a between-run SD with its source) or a :class:`Stated` reason, and its table computes."""
    module = load_claim(stem)
    subs = [(s.id, s.primary) for s in module.CLAIM.subclaims]
    priors = getattr(module, "PRIORS", {})
    assert {sid for sid, _ in subs} == set(priors), f"{stem}: priors for {sorted(priors)}, sub-claims {subs}"
    assert all(isinstance(p, (Prior, Stated)) for p in priors.values())
    for n in (3, 4):
        rows = design_table(subs, priors, n, module.CLAIM.alpha)
        assert not any("no prior" in r["text"] for r in rows)


@pytest.mark.parametrize("scale", ["cpu", "full"])
def test_the_readme_names_the_checks_that_cannot_decide_by_design(scale):
    """README's list of undecidable checks per scale is the design tables' (not a stale copy)."""
    import re

    from vaebench.config import get_scale

    n = len(get_scale(scale).seeds)
    cannot = []
    for stem in HYPOTHESES:
        module = load_claim(stem)
        subs = [(s.id, s.primary) for s in module.CLAIM.subclaims]
        cannot += [r["subclaim"] for r in design_table(subs, module.PRIORS, n, module.CLAIM.alpha)
                   if r.get("can_support") is False]
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    listed = re.search(rf"<!-- design:{scale} -->(.*?)<!-- /design -->", readme).group(1)
    assert ([] if listed == "none" else listed.split(", ")) == sorted(cannot)
