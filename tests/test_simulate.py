"""vaebench.claims.simulate: the claim simulator in the package (tests/claimsim.py re-exports it)."""
import pytest

from vaebench.claims import simulate
from vaebench.errors import SpecError

MODULE = '''
from vaebench import stats
from vaebench.claims.record import Claim
from vaebench.stats import SubClaim

CLAIM = Claim(id="Y1", title="t", quote="q", source="s", subclaims=(SubClaim("Y1a", "a", primary="ratio"),))


def decide(ratios, level):
    return [stats.check_below("ratio", stats.across_runs(ratios, level), 1.0, subclaim="Y1a", role="primary",
                              unit="runs", n_runs=len(ratios))]
'''


def test_a_users_claim_module_loads_by_path_and_its_rates_are_counted(tmp_path):
    path = tmp_path / "test_y1_mine.py"
    path.write_text(MODULE)
    y1 = simulate.load_claim(path)
    assert y1.CLAIM.id == "Y1" and simulate.load_claim(str(path)) is y1
    clear = simulate.verdict_rates(y1.CLAIM, lambda rng: simulate.at(y1.decide, rng.normal(0.5, 0.05, 3)), n_rep=50)
    assert clear == {"supported": 1.0, "refuted": 0.0, "inconclusive": 0.0}
    assert simulate.result(y1.CLAIM, simulate.at(y1.decide, [1.5, 1.5001, 1.4999])).verdict.value == "refuted"


def test_a_missing_claim_module_is_a_clear_error(tmp_path):
    with pytest.raises(SpecError, match="no file .*nosuch.py"):
        simulate.load_claim(tmp_path / "nosuch.py")


def test_the_old_name_still_works():
    import claimsim

    assert claimsim.verdict_rates is simulate.verdict_rates and claimsim.HYPOTHESES == simulate.HYPOTHESES
