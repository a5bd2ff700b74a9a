"""The pytest plugin, driven through pytester on a toy claim module."""
import json
import re

# import what the inner runs import, so that pytester's in-process runs do not import
# C extensions (numpy.fft, via scipy) a second time after it restores sys.modules
import matplotlib.pyplot  # noqa: F401
import pytest

import vaebench.claims.record  # noqa: F401
import vaebench.claims.session  # noqa: F401  (kept imported for pytester runs)
import vaebench.report.claim_page  # noqa: F401

TOY = '''
"""A toy claim: numbers whose answers are known."""
import pytest
from vaebench.claims.record import Claim
from vaebench.stats import Estimate, SubClaim, check_within

CLAIM = Claim(id="T1", title="toy claim", quote="two plus two is four", source="a textbook",
              posts={"sum": "4"}, subclaims=(SubClaim("T1a", "two plus two is four", "sum"),))
P = dict(role="primary", subclaim="T1a", unit="runs", n_runs=3)


def test_supported(claim):
    claim.check(check_within("sum", Estimate(4.0, 3.9, 4.1), 3.5, 4.5, posts="4", **P))
    claim.plot("a histogram", {"type": "hist", "title": "h", "series": [{"label": "a", "edges": [0, 1, 2],
                                                                          "counts": [3, 5]}]})


def test_refuted(claim):
    claim.check(check_within("sum", Estimate(5.0, 4.8, 5.2, method="bootstrap"), 3.5, 4.5, posts="4", **P))


def test_inconclusive(claim):
    claim.check(check_within("sum", Estimate(4.4, 4.2, 4.6), 3.5, 4.5, posts="4", **P))
'''

TWO = '''
from vaebench.claims.record import Claim
from vaebench.stats import Estimate, SubClaim, check_above, check_within

CLAIM = Claim(id="T2", title="two sub-claims", quote="q", source="s",
              subclaims=(SubClaim("T2a", "a is four", "a"), SubClaim("T2b", "b is positive", "b")))


def test_a(claim):
    claim.covers("T2a")
    claim.check(check_within("a", Estimate(4.0, 3.9, 4.1, level=0.975), 3.5, 4.5, role="primary", subclaim="T2a"))
    claim.check(check_within("a side statistic", Estimate(9.0, 8.9, 9.1), 3.5, 4.5))   # secondary: no vote


def test_b(claim):
    claim.covers("T2b")
    claim.check(check_above("b", Estimate(-1.0, -2.0, -0.5, level=0.975), 0.0, role="primary", subclaim="T2b",
                            precondition="model X: not converged: loss changing -3.0% per epoch"))
'''


@pytest.fixture
def toy(pytester):
    pytester.makepyfile(test_toy=TOY)
    return pytester


def test_outcomes_and_report(toy):
    result = toy.runpytest("--vaebench-report", "reports", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1
    assert outcomes.get("failed") == 1
    assert outcomes.get("inconclusive") == 1
    assert "skipped" not in outcomes
    text = result.stdout.str()
    # the failure message lists the statistic, its CI and its tolerance
    assert "T1 REFUTED" in text and "5.00 [4.80, 5.20]" in text and "CI inside [3.5, 4.5]" in text
    # the terminal summary ends with the verdict table and the report's path
    assert "vaebench verdicts" in text and "T1" in text and "REFUTED" in text
    assert "report: " in text
    latest = toy.path / "reports" / "latest"
    results = json.loads((latest / "results.json").read_text())
    verdicts = {r["test"]: r["verdict"] for r in results["records"]}
    assert verdicts == {"test_supported": "supported", "test_refuted": "refuted",
                        "test_inconclusive": "inconclusive"}
    assert results["summary"][0]["verdict"] == "refuted"
    page = (latest / "index.html").read_text()
    for needle in ("two plus two is four", "test_supported", "test_refuted", "test_inconclusive",
                   "5.00 [4.80, 5.20]"):
        assert needle in page
    assert re.search(r'<img alt="[^"]*" src="data:image/(png|webp);base64,', page)    # the figure, embedded
    assert "http://" not in page and "https://" not in page  # opens offline


def test_subclaims_merge_over_tests_and_preconditions_make_inconclusive(pytester):
    pytester.makepyfile(test_two=TWO)
    result = pytester.runpytest("--vaebench-report", "reports", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    # the secondary check outside its tolerance does not refute T2a; T2b's refuting interval
    # rests on a model that has not converged, so it is inconclusive with that reason
    assert outcomes.get("passed") == 1 and outcomes.get("inconclusive") == 1 and "failed" not in outcomes
    results = json.loads((pytester.path / "reports" / "latest" / "results.json").read_text())
    (row,) = results["summary"]
    assert row["verdict"] == "inconclusive"
    subs = {s["id"]: s for s in row["subclaims"]}
    assert subs["T2a"]["verdict"] == "supported" and subs["T2b"]["verdict"] == "inconclusive"
    assert "not converged" in subs["T2b"]["reason"]
    checks = [c for r in results["records"] for c in r["checks"]]
    for c in checks:
        for key in ("claim", "subclaim", "role", "n_runs", "unit", "level", "precondition"):
            assert key in c
    b = next(c for c in checks if c["name"] == "b")
    assert b["precondition"] == {"ok": False, "reason": "model X: not converged: loss changing -3.0% per epoch"}
    assert b["level"] == 0.975 and b["role"] == "primary"
    result.stdout.fnmatch_lines(["*T2a*supported*", "*T2b*inconclusive*not converged*"])


def test_the_design_table_is_shown_before_the_tests_run_and_recorded(pytester):
    pytester.makepyfile(test_two=TWO.replace("from vaebench.stats import", "from vaebench.stats.design import Prior\n"
                                             "from vaebench.stats import").replace(
        "\n\ndef test_a(claim):",
        "\nPRIORS = {'T2a': Prior(0.1, 'stated for the test', half_width=0.5)}\n\n\ndef test_a(claim):"))
    result = pytester.runpytest("--vaebench-report", "reports", "--vaebench-scale", "smoke", "-p", "no:cacheprovider")
    text = result.stdout.str()
    assert text.index("vaebench design") < text.index("test_two.py")          # before any test runs
    result.stdout.fnmatch_lines(["*T2a: 2 runs, prior SD 0.1*cannot decide at 2 runs*prior: stated for the test*",
                                 "*T2b: no prior between-run SD stated*"])
    results = json.loads((pytester.path / "reports" / "latest" / "results.json").read_text())
    (table,) = results["design"]
    assert table["claim"] == "T2" and table["n_runs"] == 2 and table["rows"][0]["support_runs"] > 2
    page = (pytester.path / "reports" / "latest" / "index.html").read_text()
    assert "What each check can decide" in page and "stated for the test" in page


def test_a_primary_check_below_the_design_level_is_an_error(pytester):
    pytester.makepyfile(test_two=TWO.replace("level=0.975), 3.5", "level=0.95), 3.5"))
    result = pytester.runpytest("-k", "test_a", "--vaebench-report", "none")
    result.stdout.fnmatch_lines(["*has a 0.95 interval; the design asks 0.975*"])


def test_inconclusive_is_shown_with_letter_I(toy):
    result = toy.runpytest("-k", "inconclusive", "--vaebench-report", "none")
    result.stdout.fnmatch_lines(["*test_toy.py I*"])
    assert result.ret == 0
    assert not (toy.path / "reports").exists()


def test_module_without_claim_is_an_error(pytester):
    pytester.makepyfile(test_bad="def test_x(claim):\n    pass\n")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*has no CLAIM = vaebench.claims.record.Claim*"])


@pytest.mark.parametrize("options, message", [
    (["--vaebench-seeds", "a,b"], "--vaebench-seeds='a,b' must be comma-separated integers, e.g. 0,1,2"),
    (["--vaebench-seeds", "0,0"], "--vaebench-seeds='0,0' repeats seed 0: each seed is one independent run"),
    (["--vaebench-seeds", "1,4294967296"], "seed 4294967296 is outside [0, 2**32 - 1]"),
    (["--vaebench-seeds", "-1"], "seed -1 is outside [0, 2**32 - 1]"),
    (["--vaebench-pack", "0"], "--vaebench-pack=0 must be an integer >= 1"),
    (["--vaebench-epochs", "0"], "--vaebench-epochs='0' must be a whole number >= 1 (e.g. --vaebench-epochs 48)"),
    (["--vaebench-epochs", "1.5"], "--vaebench-epochs='1.5' must be a whole number >= 1"),
    (["--vaebench-runs", "-2"], "--vaebench-runs='-2' must be a whole number >= 1"),
    (["--vaebench-runs", "3", "--vaebench-seeds", "0,1"], "--vaebench-runs=3 with --vaebench-seeds naming 2 seeds"),
    (["--vaebench-workers", "two"], "--vaebench-workers='two' must be a whole number >= 1 (worker processes"),
    (["--vaebench-workers", "0"], "--vaebench-workers='0' must be a whole number >= 1"),
    (["--vaebench-data", "folder:{root}/nowhere"], "{root}/nowhere does not exist; pass the folder that holds"),
    (["--vaebench-data", "celeba:{root}/afile"], "{root}/afile is a file, not a folder"),
    (["--vaebench-data", "{root}/images"], "is not a data source; use synthetic, celeba:PATH or folder:PATH; for a "
                                           "folder of images use folder:{root}/images"),
    (["--vaebench-report", "{root}/afile/reports"], "--vaebench-report='{root}/afile/reports' cannot be written: "
                                                    "{root}/afile is a file, so nothing can be written below it"),
    (["--vaebench-report", "{root}/afile"], "{root}/afile is a file, not a folder"),
    (["--vaebench-store", "{root}/afile/store"], "--vaebench-store='{root}/afile/store' cannot be written: "
                                                 "{root}/afile is a file, so nothing can be written below it"),
])
def test_bad_options_are_one_usage_error_before_anything_runs(pytester, options, message):
    pytester.makepyfile(test_s="def test_x(scale):\n    raise AssertionError('ran')\n")
    (pytester.path / "afile").write_text("a file")
    root = str(pytester.path)
    result = pytester.runpytest(*[o.format(root=root) for o in options], "--vaebench-plan", "plan.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message.format(root=root) in result.stderr.str()
    assert "ran" not in result.stdout.str() and not (pytester.path / "plan.json").exists()   # no empty plan


@pytest.mark.parametrize("plan, message", [
    ("{root}/afile/plan.json", "{root}/afile is a file, so nothing can be written below it"),
    ("{root}", "{root} is a folder; give a file name, e.g. {root}/plan.json"),
])
def test_a_plan_location_that_cannot_be_written_is_a_usage_error(pytester, plan, message):
    pytester.makepyfile(test_s="def test_x(scale):\n    pass\n")
    (pytester.path / "afile").write_text("a file")
    root = str(pytester.path)
    result = pytester.runpytest("--vaebench-plan", plan.format(root=root))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"--vaebench-plan='{plan.format(root=root)}' cannot be written: {message.format(root=root)}" \
        in result.stderr.str()


def test_a_read_only_report_folder_is_a_usage_error(pytester, monkeypatch):
    import os

    pytester.makepyfile(test_s="def test_x(scale):\n    pass\n")
    (pytester.path / "ro").mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **k: False if str(p).endswith("ro") else real(p, mode, **k))
    result = pytester.runpytest("--vaebench-report", "ro/reports")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"{pytester.path / 'ro'} is not writable here (read-only, or another user's)" in result.stderr.str()


def test_seeds_option_overrides_the_scale(pytester):
    pytester.makepyfile(test_s="def test_x(scale):\n    assert scale.seeds == (5, 6)\n"
                               "    assert scale.name == 'smoke'\n")
    result = pytester.runpytest("--vaebench-seeds", "5,6", "--vaebench-scale", "smoke")
    result.assert_outcomes(passed=1)


def test_budget_options_override_the_scale_for_every_claim(pytester):
    pytester.makepyfile(test_s="def test_x(scale, vaebench_session):\n"
                               "    assert scale.train.epochs == 5 and scale.seeds == (0, 1, 2, 3)\n"
                               "    assert scale.runaway_runs == 4 and scale.training(2).epochs == 5\n"
                               "    assert vaebench_session.workers == 2\n"
                               "    budget = vaebench_session.environment()['budget']\n"
                               "    assert budget['epochs_from'] == '--vaebench-epochs'\n")
    result = pytester.runpytest("--vaebench-epochs", "5", "--vaebench-runs", "4", "--vaebench-workers", "2",
                                "--vaebench-scale", "smoke")
    result.assert_outcomes(passed=1)


def test_help_documents_the_options(pytester):
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        ["*--vaebench-scale*", "*--vaebench-store*", "*--vaebench-report*", "*--vaebench-seeds*",
         "*--vaebench-epochs*", "*--vaebench-runs*", "*--vaebench-workers*"]
    )


def test_record_mode_keeps_verdicts_out_of_outcomes(toy):
    result = toy.runpytest("--vaebench-verdicts", "record", "--vaebench-report", "reports")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*vaebench verdicts*", "T1 * REFUTED*"])
    results = json.loads((toy.path / "reports" / "latest" / "results.json").read_text())
    assert {r["verdict"] for r in results["records"]} == {"supported", "refuted", "inconclusive"}


def test_smoke_scale_defaults_to_record_mode(toy):
    result = toy.runpytest("--vaebench-scale", "smoke", "--vaebench-report", "none")
    result.assert_outcomes(passed=3)
    strict = toy.runpytest("--vaebench-scale", "smoke", "--vaebench-verdicts", "outcome", "--vaebench-report", "none")
    assert strict.parseoutcomes().get("failed") == 1


def test_a_claim_test_that_raises_fails_in_record_mode(pytester):
    pytester.makepyfile(
        test_boom=TOY.split("def test_supported")[0] + "def test_boom(claim):\n    raise RuntimeError('bug')\n"
    )
    result = pytester.runpytest("--vaebench-verdicts", "record", "--vaebench-report", "reports")
    result.assert_outcomes(failed=1)
    results = json.loads((pytester.path / "reports" / "latest" / "results.json").read_text())
    assert results["records"][0]["verdict"] == "error"


def test_scale_option_prefers_the_option_over_the_environment(monkeypatch):
    import types

    from vaebench.pytest_plugin import scale_option, verdicts_decide_outcome

    def config(**options):
        return types.SimpleNamespace(getoption=lambda name: options.get(name))

    monkeypatch.delenv("VAEBENCH_SCALE", raising=False)
    assert scale_option(config()) is None
    assert scale_option(config(**{"--vaebench-scale": "cpu"})) == "cpu"
    monkeypatch.setenv("VAEBENCH_SCALE", "smoke")
    assert scale_option(config()) == "smoke"
    assert scale_option(config(**{"--vaebench-scale": "cpu"})) == "cpu"
    assert not verdicts_decide_outcome(config())  # smoke: record mode
    assert verdicts_decide_outcome(config(**{"--vaebench-scale": "cpu"}))


@pytest.mark.parametrize(
    "options, message",
    [
        (
            ["--vaebench-data", "celeb:/x"],
            "--vaebench-data: data='celeb:/x' is not a data source; use synthetic, celeba:PATH or folder:PATH",
        ),
        (["--vaebench-data", "celeba"], "--vaebench-data: data='celeba' names no folder"),
        (["--vaebench-scale", "nosuch"], "--vaebench-scale='nosuch' is not a scale"),
    ],
)
def test_bad_scale_or_data_is_a_usage_error(pytester, options, message):
    pytester.makepyfile(test_s="def test_x(scale):\n    pass\n")
    result = pytester.runpytest(*options)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_data_option_chooses_the_source(pytester, tmp_path, monkeypatch):
    monkeypatch.delenv("VAEBENCH_DATA", raising=False)
    pytester.makepyfile(
        test_s=f"""
def test_x(scale):
    assert (scale.data.source, scale.data.path) == ("folder", {str(tmp_path)!r})
    assert (scale.data.image_size, scale.data.n_train) == (32, 512)      # the smoke scale's
"""
    )
    pytester.runpytest("--vaebench-data", f"folder:{tmp_path}", "--vaebench-scale", "smoke").assert_outcomes(passed=1)
    monkeypatch.setenv("VAEBENCH_DATA", f"folder:{tmp_path}")
    pytester.runpytest("--vaebench-scale", "smoke").assert_outcomes(passed=1)


# ---------------------------------------------------------------------------- claim-author mistakes

GOOD = TOY.split("def test_refuted")[0]
TYPO = TOY.split("def test_supported")[0].replace('"T1"', '"T3"').replace('"T1a"', '"T3a"') + '''
def test_typo(claim):
    claim.check(check_within("summ", Estimate(4.0, 3.9, 4.1), 3.5, 4.5, role="primary", subclaim="T3a"))
'''
LEVEL = TOY.split("def test_supported")[0].replace('"T1"', '"T4"').replace('"T1a"', '"T4a"') + '''
def test_level(claim):
    claim.check(check_within("sum", Estimate(4.0, 3.9, 4.1, level=0.9), 3.5, 4.5, role="primary", subclaim="T4a"))
'''


@pytest.mark.parametrize("mode", ["outcome", "record"])
def test_a_claim_module_mistake_fails_its_own_test_and_the_session_completes(pytester, mode):
    pytester.makepyfile(test_good=GOOD, test_typo=TYPO, test_level=LEVEL)
    result = pytester.runpytest("--vaebench-report", "reports", "--vaebench-verdicts", mode, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED           # not INTERNALERROR
    result.assert_outcomes(passed=1, failed=2)
    text = result.stdout.str()
    assert "INTERNALERROR" not in text
    assert ("T3: the checks of test_typo cannot be decided: T3: primary check 'summ' of T3a is not the declared "
            "one ('sum')") in text
    assert "T4: the checks of test_level cannot be decided: T4: primary check 'sum' has a 0.9 interval; the " \
           "design asks 0.95" in text
    results = json.loads((pytester.path / "reports" / "latest" / "results.json").read_text())
    assert {r["claim"]["id"]: r["verdict"] for r in results["records"]} == {"T1": "supported", "T3": "error",
                                                                             "T4": "error"}
    rows = {row["id"]: row for row in results["summary"]}
    assert rows["T1"]["verdict"] == "supported" and rows["T3"]["verdict"] == rows["T4"]["verdict"] == "error"
    assert "is not the declared one" in rows["T3"]["subclaims"][0]["reason"]
    assert (pytester.path / "reports" / "latest" / "index.html").is_file()
    result.stdout.fnmatch_lines(["*vaebench verdicts*", "T1 * SUPPORTED*", "T3 * ERROR*", "T4 * ERROR*"])


NO_SIGMOID = TOY.split("def test_supported")[0].replace('"T1"', '"T5"').replace('"T1a"', '"T5a"') + '''
def test_linear(claim, scale, trained):
    trained.many([(scale.ae(architecture="linear", z_dim=4), 0)])
    claim.check(check_within("sum", Estimate(4.0, 3.9, 4.1), 3.5, 4.5, role="primary", subclaim="T5a"))
'''


@pytest.mark.slow
def test_a_decoder_without_sigmoid_fails_its_own_claim_and_the_session_completes(pytester, tmp_path):
    """A user architecture whose decoder is not bounded to [0, 1] passes the shape contract;
    the architecture check before its models train fails that claim alone, naming it."""
    from user_code import TINY_BUILDERS

    pytester.makepyfile(linear_builders=TINY_BUILDERS.replace('activation="sigmoid", ', ""))
    pytester.makeconftest("import linear_builders\nfrom vaebench.models import register_architecture\n"
                          "register_architecture('linear', encoder=linear_builders.encoder, "
                          "decoder=linear_builders.decoder)\n")
    pytester.makepyfile(test_good=GOOD, test_linear=NO_SIGMOID)
    result = pytester.runpytest("--vaebench-scale", "smoke", "--vaebench-store", str(tmp_path / "store"),
                                "--vaebench-report", "reports", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    text = result.stdout.str()
    assert "INTERNALERROR" not in text and "architecture 'linear': the decoder must give images in [0, 1]" in text
    assert not list((tmp_path / "store").glob("models/*linear*"))                      # nothing trained
    assert (pytester.path / "reports" / "latest" / "index.html").is_file()
    result.stdout.fnmatch_lines(["*vaebench verdicts*", "T1 * SUPPORTED*", "T5 * ERROR*"])


# ---------------------------------------------------------------------------- nothing lost at the end

def test_a_report_that_cannot_be_written_keeps_the_table_and_the_results(toy, monkeypatch, tmp_path):
    import errno
    import tempfile

    import vaebench.report.claim_page as claim_page

    def disk_full(results, run_dir, latest=True):
        (run_dir / "results.json.tmp").write_text('{"half": ')          # what a full disk leaves
        raise OSError(errno.ENOSPC, "No space left on device", str(run_dir / "results.json.tmp"))

    monkeypatch.setattr(claim_page, "write_report", disk_full)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = toy.runpytest("--vaebench-report", "reports", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED        # the refuted test; the end of the run did not crash
    result.stdout.fnmatch_lines(["*vaebench verdicts*", "T1 * REFUTED*", "*report: NOT WRITTEN to *"])
    (saved,) = (tmp_path / "vaebench-results").glob("*/results.json")
    err = result.stderr.str()
    assert f"vaebench: the report could not be written to {toy.path / 'reports'} (OSError: [Errno 28] No space " \
           f"left on device" in err and f"results.json was written to {saved} instead" in err
    assert len(json.loads(saved.read_text())["records"]) == 3
    assert not list((toy.path / "reports").rglob("*.tmp")) and not list(tmp_path.rglob("*.tmp"))


def test_runs_of_the_same_second_get_folders_of_their_own(tmp_path):
    from vaebench.pytest_plugin.results import new_run_dir, write_fallback

    first, second = new_run_dir(tmp_path, "20260101-000000-cpu"), new_run_dir(tmp_path, "20260101-000000-cpu")
    assert (first.name, second.name) == ("20260101-000000-cpu", "20260101-000000-cpu-2")
    results = {"run": {"name": "20260101-000000-cpu"}, "records": []}
    a, b = write_fallback(results, tmp_path / "fb"), write_fallback(results, tmp_path / "fb")
    assert a != b and json.loads(a.read_text()) == json.loads(b.read_text()) == results
    assert sorted(p.name for p in (tmp_path / "fb").rglob("*")) == sorted(
        ["20260101-000000-cpu", "20260101-000000-cpu-2", "results.json", "results.json"])


def test_known_third_party_deprecations_are_quiet_in_a_users_folder(pytester):
    pytester.makepyfile(test_w="""
import warnings


def test_keras_noise():
    warnings.warn("__array__ implementation doesn't accept a copy keyword, so passing copy=False failed.",
                  DeprecationWarning)


def test_other():
    warnings.warn("a deprecation of the user's own", DeprecationWarning)
""")
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, warnings=1)          # only the user's own
    assert "a deprecation of the user's own" in result.stdout.str() and "__array__" not in result.stdout.str()


@pytest.mark.parametrize("a, b", [(a, b) for a in ("supported", "refuted", "inconclusive")
                                  for b in ("supported", "refuted", "inconclusive")])
def test_the_summary_decides_a_claim_split_over_tests_as_verdict_decide_does(a, b):
    from vaebench.claims.record import Claim, ClaimRecorder
    from vaebench.pytest_plugin.summary import summarise
    from vaebench.stats import Estimate, SubClaim, check_within
    from vaebench.stats.verdict import decide

    claim = Claim(id="X1", title="t", quote="q", source="s",
                  subclaims=(SubClaim("X1a", "a", "ca"), SubClaim("X1b", "b", "cb")))
    planted = {"supported": (4.0, 3.9, 4.1), "refuted": (9.0, 8.9, 9.1), "inconclusive": (4.5, 4.0, 5.0)}
    checks = {sid: check_within(name, Estimate(*planted[v], level=claim.level), 3.5, 4.6, role="primary",
                                subclaim=sid) for sid, name, v in (("X1a", "ca", a), ("X1b", "cb", b))}
    assert [c.verdict.value for c in checks.values()] == [a, b]
    records = []
    for sid, check in checks.items():            # one test per sub-claim; the summary merges them
        recorder = ClaimRecorder(claim, test=f"test_{sid}")
        recorder.covers(sid)
        recorder.check(check)
        records.append(recorder.to_dict())
    (row,) = summarise(records)
    assert row["verdict"] == decide("X1", claim.design, list(checks.values())).verdict.value
    assert [s["verdict"] for s in row["subclaims"]] == [a, b]
