"""``vaebench compare``: verdict flips, moved checks and slower benchmarks between two runs.

Test data (``tests/data/compare/``): two smoke-scale runs of the same code recorded on the
development machine (``benchmarks`` + claim C5, ``pytest --benchmark-json``), each kept
with ``vaebench history add`` (slim ``results.json`` + ``benchmark.json``); the machine's
load changed between them (its timings differ by 30–50 %, both ways). The planted
regressions are made here, from run A, so what is planted is visible in the test.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vaebench.cli import commands as cli
from vaebench.compare.comparison import compare_runs
from vaebench.compare.rules import REFERENCE, benchmark_change, holm_adjust, judge_benchmarks, min_exact_p, moved
from vaebench.compare.runio import CompareError, history_runs, load_run, slim_results
from vaebench.compare.trends import trends
from vaebench.report.compare_page import to_markdown
from vaebench.stats import Estimate

DATA = Path(__file__).parent / "data" / "compare"
RUN_A, RUN_B = DATA / "run_a", DATA / "run_b"
SLOWED = "benchmarks/test_step.py::test_train_step[VAE]"


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _edit_bench(run: Path, fn) -> None:
    data = _load(run / "benchmark.json")
    for b in data["benchmarks"]:
        fn(b)
    (run / "benchmark.json").write_text(json.dumps(data))


def _same_code_copy(src: Path, dst: Path, seed: int) -> Path:
    """Another run of the same code: every benchmark's rounds resampled with replacement and
    jittered by 5 % (log-normal) — a new sample from the same timing distribution."""
    _copy(src, dst)
    rng = np.random.default_rng(seed)

    def resample(b):
        x = np.asarray(b["stats"]["data"])
        b["stats"]["data"] = (rng.choice(x, x.size) * np.exp(rng.normal(0, 0.05, x.size))).tolist()
        rounds = b["extra_info"].get("round_seconds")
        if isinstance(rounds, dict):
            b["extra_info"]["round_seconds"] = {
                k: (rng.choice(v, len(v)) * np.exp(rng.normal(0, 0.05, len(v)))).tolist() for k, v in rounds.items()}
    _edit_bench(dst, resample)
    return dst


def _planted(tmp_path: Path) -> Path:
    """Run A with C5's verdict flipped (one check refuted) and a 20 % slower VAE step."""
    new = _copy(RUN_A, tmp_path / "planted")
    results = _load(new / "results.json")
    results["run"].update(name="planted", started="2099-01-01T00:00:00")
    for row in results["summary"]:
        if row["id"] == "C5":
            row["verdict"], row["reason"] = "refuted", "failed: planted"
    for record in results["records"]:
        if record["test"] == "test_c5_parameter_counts":
            record["verdict"] = "refuted"
            check = record["checks"][0]
            check.update(passed=False, verdict="refuted")
            check["estimate"].update(value=5_200_000, low=5_200_000, high=5_200_000)
            check["estimate_text"] = "5200000 [5200000, 5200000] (100% exact)"
    (new / "results.json").write_text(json.dumps(results))
    rng = np.random.default_rng(1)

    def slow(b):
        if b["fullname"] == SLOWED:
            x = np.asarray(b["stats"]["data"])
            b["stats"]["data"] = (x * 1.2 * np.exp(rng.normal(0, 0.02, x.size))).tolist()
    _edit_bench(new, slow)
    return new


def test_planted_flip_and_slowdown_are_regressions(tmp_path, capsys):
    new = _planted(tmp_path)
    code = cli.main(["compare", str(RUN_A), str(new), "--json", str(tmp_path / "f.json")])
    out = capsys.readouterr().out
    assert code == 1
    assert "verdict flipped supported → refuted" in out
    assert "slower: +" in out and SLOWED in out
    found = _load(tmp_path / "f.json")["findings"]
    regressions = {(f["kind"], f["key"]) for f in found if f["regression"]}
    assert ("verdict", "C5") in regressions
    assert ("benchmark", SLOWED) in regressions
    assert any(k == "check" and "encoder, z_dim 256" in key for k, key in regressions)
    # nothing else was planted, so nothing else may be a regression
    assert {k for k, _ in regressions} == {"verdict", "check", "benchmark"}


def test_same_code_runs_show_no_regression(tmp_path, capsys):
    new = _same_code_copy(RUN_A, tmp_path / "again", seed=7)
    code = cli.main(["compare", str(RUN_A), str(new)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "**0 regressions**" in out


def test_two_recorded_runs_agree_on_every_claim_statistic():
    """The claims of two real recordings: no verdict flip, no check moved (the step-time ratio
    is a timing, recorded under different machine load, and still did not move)."""
    a, b = load_run(RUN_A / "results.json"), load_run(RUN_B / "results.json")
    comparison = compare_runs(a, b)
    assert comparison.compared["checks"] >= 10
    assert not comparison.regressions, [f.to_dict() for f in comparison.regressions]


def test_false_alarm_rate_of_the_benchmark_rule_is_small():
    """40 simulated same-code reruns of run A's 11 benchmarks (rounds resampled, 5 % jitter):
    Holm at family α 0.05 allows about 2 reruns with any alarm; the 10 % floor leaves none."""
    base = load_run(RUN_A)
    families = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        pairs = {k: (np.asarray(b["timings"]), rng.choice(b["timings"], len(b["timings"])) *
                     np.exp(rng.normal(0, 0.05, len(b["timings"])))) for k, b in base.benchmarks.items()}
        families += any(c["verdict"] == "slower" for c in judge_benchmarks(pairs).values())
    assert families <= 2


def test_benchmark_rule_needs_both_significance_and_size():
    rng = np.random.default_rng(0)
    old = 0.1 * np.exp(rng.normal(0, 0.03, 20))
    assert benchmark_change(old, old * 1.2)["verdict"] == "slower"
    assert benchmark_change(old, old * 1.05)["verdict"] == "same"          # significant, but below 10 %
    assert benchmark_change(old, old / 1.2)["verdict"] == "faster"
    noisy = old * np.exp(rng.normal(0, 0.6, 20)) * 1.2                     # 20 % lost in noise
    assert benchmark_change(old, noisy)["verdict"] in ("same", "slower")
    assert benchmark_change(old[:2], old[:2] * 2)["verdict"] == "undecidable"   # 2 + 2 rounds: p >= 1/6
    assert min_exact_p(5, 5) == pytest.approx(1 / 252)
    assert benchmark_change(old[:3], old[:3] * 1.5)["verdict"] == "slower"      # 3 + 3: p = 1/20 at best


def test_holm_corrects_over_the_family():
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([]) == []
    rng = np.random.default_rng(1)
    old = 0.1 * np.exp(rng.normal(0, 0.03, 3))
    alone = judge_benchmarks({"a": (old, old * 1.5)})
    assert alone["a"]["verdict"] == "slower" and alone["a"]["holm_slower"] == pytest.approx(0.05)
    # the same 3 + 3 rounds beside a second benchmark: Holm doubles the smallest p, 0.1 > 0.05
    two = judge_benchmarks({"a": (old, old * 1.5), "b": (old, old * 1.5)})
    assert {c["verdict"] for c in two.values()} == {"same"} and two["a"]["family_size"] == 2
    # rounds that cannot reach the family level stay out of the family
    three = judge_benchmarks({"a": (old, old * 1.5), "b": (old[:2], old[:2] * 2)})
    assert three["a"]["verdict"] == "slower" and three["b"]["verdict"] == "undecidable"


def test_moved_needs_both_points_outside_the_other_interval():
    assert moved((1.0, 0.9, 1.1), (1.5, 1.4, 1.6), 0.1)
    assert not moved((1.0, 0.9, 1.1), (1.05, 0.95, 1.15), 0.1)       # overlapping
    assert not moved((1.0, 0.99, 1.01), (1.02, 1.015, 1.025), 0.1)     # apart, but only 2 %
    assert moved((5.0, 5.0, 5.0), (5.000001, 5.000001, 5.000001), 0.1)  # exact figures: any change
    assert moved(Estimate(1.0, 0.9, 1.1), Estimate(1.5, 1.4, 1.6), 0.1)
    assert not moved(Estimate(1.0, 0.9, 1.1), Estimate(1.1, 1.05, 1.15), 0.1)  # 1.1 is in the closed old CI
    assert moved(Estimate.exact(5.0), Estimate(float("nan"), float("nan"), float("nan")), 0.1)


def test_markdown_of_a_comparison():
    same = compare_runs(load_run(RUN_A / "results.json"), load_run(RUN_A / "results.json"))
    text = to_markdown(same)
    assert text.startswith("## vaebench compare: ") and "**0 regressions**" in text and "No differences." in text
    text = to_markdown(compare_runs(load_run(RUN_A), load_run(RUN_B), timing="seconds"))
    assert "| | kind | what | old | new | detail |" in text and "| REGRESSION | benchmark |" in text
    assert "Holm over 11 benchmarks at family α 0.05" in text and "seconds per round — same machine" in text


def test_slim_results_drop_only_the_figures():
    results = _load(RUN_A / "results.json")
    results["records"][0]["figures"] = [{"title": "t", "panels": []}]
    slim = slim_results(results)
    assert "figures" not in slim["records"][0] and "figures" in results["records"][0]
    assert list(slim) == list(results)
    slim["records"][1]["checks"].clear()                                  # a copy, not a view
    assert results["records"][1]["checks"] or not slim["records"][1]["checks"]
    assert slim["environment"] == results["environment"] and slim["environment"] is not results["environment"]


def test_unreadable_estimate_is_named(tmp_path):
    new = _copy(RUN_A, tmp_path / "broken")
    results = _load(new / "results.json")
    record = next(r for r in results["records"] if r["checks"])
    del record["checks"][0]["estimate"]["low"]
    (new / "results.json").write_text(json.dumps(results))
    with pytest.raises(CompareError, match="holds no readable estimate"):
        compare_runs(load_run(RUN_A), load_run(new))


@pytest.mark.slow
def test_history_is_read_only_when_used(tmp_path, capsys):
    history, planted = tmp_path / "history", str(_planted(tmp_path))        # planted: a regression, exit 1
    (history / "junk").mkdir(parents=True)                                 # a sub-folder that is no run
    assert cli.main(["compare", str(RUN_A), planted, "--history", str(history)]) == 1
    assert "skipping junk" not in capsys.readouterr().err
    assert cli.main(["compare", str(RUN_A), planted, "--history", str(history),
                     "--html", str(tmp_path / "r.html")]) == 1
    assert "skipping junk" in capsys.readouterr().err
    assert cli.main(["compare", str(RUN_A), planted, "--history", str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_different_scales_are_not_compared(tmp_path, capsys):
    other = _copy(RUN_A, tmp_path / "cpu")
    results = _load(other / "results.json")
    results["environment"]["scale"] = "cpu"
    (other / "results.json").write_text(json.dumps(results))
    (other / "benchmark.json").unlink()
    code = cli.main(["compare", str(RUN_A / "results.json"), str(other)])
    assert code == 2
    assert "different scales" in capsys.readouterr().out


def _other_machine(src: Path, dst: Path, factor, brand="Some Other CPU") -> Path:
    """``src`` as if recorded on another CPU: ``factor(key)`` scales each benchmark's rounds."""
    _copy(src, dst)
    data = _load(dst / "benchmark.json")
    data["machine_info"]["cpu"]["brand_raw"] = brand
    for b in data["benchmarks"]:
        f = factor(b["fullname"])
        b["stats"]["data"] = [x * f for x in b["stats"]["data"]]
        rounds = b["extra_info"].get("round_seconds")
        if isinstance(rounds, dict):
            b["extra_info"]["round_seconds"] = {k: [x * f for x in v] for k, v in rounds.items()}
    (dst / "benchmark.json").write_text(json.dumps(data))
    return dst


def test_benchmarks_from_another_machine_are_compared_as_ratios(tmp_path):
    half = _other_machine(RUN_A, tmp_path / "fast", lambda key: 0.5)             # a CPU twice as fast
    comparison = compare_runs(load_run(RUN_A), load_run(half))
    rule = comparison.timing
    assert (rule.mode, rule.same_machine, rule.reference, rule.min_change) == ("ratio", False, REFERENCE, 0.25)
    assert comparison.compared["benchmarks"] == 10 == rule.family_size        # 11 less the reference
    assert not comparison.regressions
    assert not [f for f in comparison.findings if f.kind == "memory"]          # RSS of another machine: not compared
    text = to_markdown(comparison)
    assert "divided by the median round of `benchmarks/test_step.py::test_train_step[AE]`" in text
    assert "different machines (AMD EPYC, 2 cores, Linux, x86_64 → Some Other CPU" in text
    # on a CPU twice as fast on which the VAE's step is relatively 40 % slower: found
    skewed = _other_machine(RUN_A, tmp_path / "skewed", lambda key: 0.5 * (1.4 if key == SLOWED else 1.0))
    found = compare_runs(load_run(RUN_A), load_run(skewed))
    assert [(f.kind, f.key) for f in found.regressions] == [("benchmark", SLOWED)]
    # the seconds of another machine are never compared
    forced = compare_runs(load_run(RUN_A), load_run(half), timing="seconds")
    assert forced.timing.mode == "none" and forced.compared["benchmarks"] == 0
    assert any(f.kind == "incomparable" and "only between runs of the same machine" in f.detail
               for f in forced.findings)
    with pytest.raises(CompareError, match="is not a benchmark timed in both runs"):
        compare_runs(load_run(RUN_A), load_run(half), reference="nosuch")


def test_planted_slowdown_is_found_under_both_timing_rules(tmp_path):
    new = _planted(tmp_path)
    for timing in ("seconds", "ratio"):
        comparison = compare_runs(load_run(RUN_A), load_run(new), timing=timing)
        assert ("benchmark", SLOWED) in {(f.kind, f.key) for f in comparison.regressions}, timing


@pytest.mark.slow
def test_history_add_and_trend(tmp_path, capsys):
    history = tmp_path / "history"
    for i, src in enumerate((RUN_A, RUN_B)):
        assert cli.main(["history", "add", str(src / "results.json"), "--bench", str(src / "benchmark.json"),
                         "--to", str(history), "--name", f"run{i}"]) == 0
    planted = _planted(tmp_path)
    assert cli.main(["history", "add", str(planted), "--to", str(history), "--name", "run2"]) == 0
    runs = history_runs(history)
    assert [r.label for r in runs][-1] == "planted"
    trend = trends(runs)
    assert trend["verdicts"]["C5"][-1] == "refuted"
    assert len(trend["benchmarks"][SLOWED]["y"]) == 3
    html = tmp_path / "trend.html"
    code = cli.main(["compare", "--history", str(history), "--html", str(html)])
    assert code == 1
    page = html.read_text()
    assert "regression" in page and page.count("<img") >= 1 and "planted" in page


def test_bad_inputs_name_the_value(tmp_path, capsys):
    with pytest.raises(CompareError, match="does not exist"):
        load_run(tmp_path / "nope")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(CompareError, match="neither a vaebench results.json nor a pytest-benchmark JSON"):
        load_run(bad)
    assert cli.main(["compare", str(RUN_A)]) == 2
    assert "pass both OLD and NEW" in capsys.readouterr().err


@pytest.mark.slow
def test_regression_page_layout(tmp_path):
    """The findings table has fixed column widths and breakable keys; trends run over whole run numbers."""
    from vaebench.report.compare_page import FINDINGS_COLUMNS, render_comparison_html

    planted = _planted(tmp_path)
    runs = [load_run(RUN_A), load_run(RUN_B), load_run(planted)]
    trend = trends(runs)
    assert all(s["x"] == [1, 2, 3] and all(type(x) is int for x in s["x"]) for s in trend["benchmarks"].values())
    page = render_comparison_html(compare_runs(runs[0], runs[2]), trend)
    assert sum(float(w.rstrip("%")) for _, w in FINDINGS_COLUMNS) == 100
    assert page.count("<col style=") == 6 and "table.findings{table-layout:fixed;width:100%}" in page
    assert "benchmarks/<wbr>test_step.py::<wbr>test_train_step<wbr>[VAE]" in page
    assert "<h3>Benchmarks: seconds per round</h3>" in page and "Holm over 10 benchmarks at family α 0.05" in page
