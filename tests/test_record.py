"""ClaimRecorder.checks_at_equilibrium against a fake session (the interface of
``vaebench_session.at_epochs(run, k)``: the same run trained k epochs)."""
import math
from dataclasses import dataclass

import numpy as np

from vaebench.claims.record import Claim, ClaimRecorder
from vaebench.stats import SubClaim, Verdict, across_runs, check_within

CLAIM = Claim("X", "a toy claim", "", "", subclaims=(SubClaim("X1", "the slope lies near 1", "slope"),
                                                      SubClaim("X2", "the offset lies near 0", "offset")))


@dataclass(frozen=True)
class Run:
    seed: int
    epochs: int


class FakeSession:
    def __init__(self):
        self.asked = []

    def at_epochs(self, run: Run, k: int) -> Run:
        self.asked.append((run.seed, k))
        return Run(run.seed, k)


def _at(values, level):
    out = []
    for key, sub, lo, hi in (("slope", "X1", 0.75, 1.25), ("offset", "X2", -0.1, 0.1)):
        v = values[key]
        out.append(check_within(key, across_runs(v, level), lo, hi, subclaim=sub, role="primary", unit="runs",
                                n_runs=len(v)))
    return out


def _statistic(run: Run) -> dict:
    """The issue's toy: the slope relaxes to 1 + small per-seed offsets with a 73-epoch time;
    the offset is settled at 0.01 × seed."""
    a = 1.0 + 0.02 * (run.seed - 1)
    return {"slope": a * (1 - math.exp(-run.epochs / 73)), "offset": 0.01 * run.seed}


def test_the_helper_asks_the_earlier_budgets_and_settles_each_primary_check():
    claim, session = ClaimRecorder(CLAIM, "t"), FakeSession()
    runs = [Run(s, 12) for s in (0, 1, 2)]
    checks = claim.checks_at_equilibrium(_at, _statistic, runs, session, epochs=12)
    assert sorted(session.asked) == [(s, k) for s in (0, 1, 2) for k in (4, 8)]
    slope, offset = checks
    assert slope.passed is False and slope.verdict is Verdict.INCONCLUSIVE and "still moving" in slope.why
    assert offset.verdict is Verdict.SUPPORTED and offset.equilibrium.settled
    assert claim.decide().verdict is Verdict.INCONCLUSIVE
    assert "still moving: predicted final 1" in claim.failure_message()
    eq = claim.to_dict()["equilibria"]
    assert eq["slope"]["epochs"] == [4, 8, 12] and abs(eq["slope"]["predicted"]["value"] - 1.0) < 1e-6
    assert eq["offset"]["kinds"] == {"plateau": 3}


def test_a_single_statistic_and_too_few_epochs():
    claim = ClaimRecorder(Claim("Y", "one", "", "", subclaims=(SubClaim("Y1", "near 1", "slope"),)), "t")

    def at(values, level):
        return [check_within("slope", across_runs(values, level), 0.75, 1.25, subclaim="Y1", role="primary",
                             unit="runs", n_runs=len(values))]
    runs = [Run(s, 2) for s in (0, 1, 2)]
    [check] = claim.checks_at_equilibrium(at, lambda r: 1.0 + 0.01 * r.seed, runs, FakeSession(), epochs=2)
    assert check.passed is True and check.verdict is Verdict.INCONCLUSIVE
    assert "cannot be judged at 2 epochs" in check.why
    claim = ClaimRecorder(Claim("Y", "one", "", "", subclaims=(SubClaim("Y1", "near 1", "slope"),)), "t")
    [check] = claim.checks_at_equilibrium(at, lambda r: 1.0 + 0.01 * r.seed, [Run(s, 12) for s in (0, 1, 2)],
                                          FakeSession(), epochs=12)
    assert check.verdict is Verdict.SUPPORTED and check.equilibrium.kinds == (("plateau", 3),)


def test_a_run_at_another_minimum_is_its_own_finding():
    claim = ClaimRecorder(Claim("Y", "one", "", "", subclaims=(SubClaim("Y1", "near 1", "slope"),)), "t")

    def at(values, level):
        return [check_within("slope", across_runs(values, level), 0.75, 1.25, subclaim="Y1", role="primary",
                             unit="runs", n_runs=len(values))]
    values = {0: 1.0, 1: 1.01, 2: 1.005, 3: 1.2}                   # seed 3 at another minimum, inside too
    checks = claim.checks_at_equilibrium(at, lambda r: values[r.seed], [Run(s, 12) for s in values],
                                         FakeSession(), epochs=12)
    finding, check = checks
    assert finding.role == "secondary" and "run 3 (1.2) lies apart" in finding.reason
    assert check.verdict is Verdict.SUPPORTED and "each group alone" in finding.reason
    values[3] = 1.245                                              # alone (± the others' spread) not inside
    claim = ClaimRecorder(Claim("Y", "one", "", "", subclaims=(SubClaim("Y1", "near 1", "slope"),)), "t")
    finding, check = claim.checks_at_equilibrium(at, lambda r: values[r.seed], [Run(s, 12) for s in values],
                                                 FakeSession(), epochs=12)
    assert check.passed is True and check.verdict is Verdict.INCONCLUSIVE and "another minimum" in check.why


RECORD_CLAIM = Claim(id="X1", title="t", quote="q", source="s", subclaims=(SubClaim("X1a", "a", primary="p"),))


def test_a_float_is_a_value_without_interval_and_a_count_is_exact():
    """A statistic given as a plain number is exact only when it is."""
    rec = ClaimRecorder(RECORD_CLAIM)
    rec.statistic("mean over runs", 0.29)
    rec.statistic("images", 1437)
    rec.statistic("images (numpy)", np.int64(12))
    rec.statistic("an exact ratio", 0.5, exact=True)
    methods = {s["name"]: s["estimate"]["method"] for s in rec.statistics}
    assert methods == {"mean over runs": "no interval", "images": "exact", "images (numpy)": "exact",
                       "an exact ratio": "exact"}
    assert rec.statistics[0]["estimate_text"] == "0.29 [0.29, 0.29] (100% no interval)"


def test_a_check_on_one_key_is_settled_on_that_keys_trajectory_alone():
    """A dict statistic whose 'slope' grows linearly (not settling: no finite prediction) and
    whose 'offset' is settled: with ``apart`` naming each check's key, the offset check is
    decided on its own trajectory; without it, every primary check is judged on the slope's
    drift too (the drift rule), which the offset check does not read."""
    def statistic(run: Run) -> dict:
        return {"slope": 0.9 + 0.01 * run.epochs + 0.001 * run.seed, "offset": 0.01 * run.seed}

    runs = [Run(s, 12) for s in (0, 1, 2)]
    own = ClaimRecorder(CLAIM, "t").checks_at_equilibrium(_at, statistic, runs, FakeSession(), epochs=12,
                                                          apart={"slope": "slope", "offset": "offset"})
    slope, offset = [c for c in own if c.role == "primary"]
    assert "still moving" in slope.why and slope.verdict is Verdict.INCONCLUSIVE
    assert offset.verdict is Verdict.SUPPORTED and offset.equilibrium.settled
    joint = ClaimRecorder(CLAIM, "t").checks_at_equilibrium(_at, statistic, runs, FakeSession(), epochs=12)
    slope, offset = [c for c in joint if c.role == "primary"]
    assert slope.verdict is Verdict.INCONCLUSIVE and slope.equilibrium.horizon == 4    # 1.02 → 1.38 at 4×
    assert offset.verdict is Verdict.SUPPORTED and offset.equilibrium.horizon == 64


def test_statistics_computed_already_are_reused_and_one_run_is_decided_as_it_is():
    from types import SimpleNamespace

    class Session(FakeSession):
        def at_epochs(self, run, k):
            self.asked.append((run.seed, k))
            return SimpleNamespace(seed=run.seed, epochs=k, entry=SimpleNamespace(train=SimpleNamespace(epochs=k)))

    def run(seed):
        return SimpleNamespace(seed=seed, epochs=12, entry=SimpleNamespace(train=SimpleNamespace(epochs=12)))

    runs, computed = [run(s) for s in (0, 1, 2)], []

    def statistic(r):
        computed.append((r.seed, r.epochs))
        return {**_statistic(Run(r.seed, r.epochs)), "unused": 1.0}

    now = [_statistic(Run(r.seed, 12)) for r in runs]
    session = Session()
    checks = ClaimRecorder(CLAIM, "t").checks_at_equilibrium_of(_at, statistic, runs, now, ["slope", "offset"],
                                                                session, apart={"slope": "slope", "offset": "offset"})
    assert sorted(computed) == [(s, k) for s in (0, 1, 2) for k in (4, 8)]     # E itself: not recomputed
    assert "still moving" in checks[0].why and checks[1].verdict is Verdict.SUPPORTED
    one = ClaimRecorder(CLAIM, "t").checks_at_equilibrium_of(_at, statistic, runs[:1], now[:1], ["slope", "offset"],
                                                             Session())
    assert [c.equilibrium for c in one] == [None, None] and all(c.verdict is Verdict.INCONCLUSIVE for c in one)
