"""vaebench.bench.devicecheck: the budget, the benchmark file, the plan's order and, in a
subprocess on the JAX backend, the whole check at tiny size (and stopped by a small budget)."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vaebench.bench import devicecheck as dc
from vaebench.compare.runio import load_run
from vaebench.errors import SpecError

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "device_check.sh"


def test_budget_counts_from_its_start():
    now = [100.0]
    budget = dc.Budget(60.0, start=100.0, clock=lambda: now[0])
    assert budget.fits(60.0) and not budget.fits(60.5)
    now[0] = 130.0
    assert budget.elapsed() == 30.0 and budget.left() == 30.0
    assert budget.fits(30.0) and not budget.fits(31.0)


def test_benchmark_entries_read_as_a_run(tmp_path):
    entry = dc.bench_entry("a_VAE_f32_pack2", "device check", [2.0, 4.0, 3.0], {"pack": 2, "images_per_second": 9.0})
    stats = entry["stats"]
    assert (stats["min"], stats["max"], stats["mean"], stats["median"], stats["rounds"]) == (2.0, 4.0, 3.0, 3.0, 3)
    assert stats["data"] == [2.0, 4.0, 3.0] and stats["total"] == 9.0 and stats["stddev"] == 1.0
    path = tmp_path / "benchmark.json"
    dc.write_json(path, {"machine_info": dc.machine_info(), "commit_info": {}, "benchmarks": [entry],
                         "datetime": "2026-12-01T00:00:00", "version": "x"})
    assert not (tmp_path / "benchmark.json.tmp").exists()
    run = load_run(path)
    bench = run.benchmarks["vaebench/devicecheck.py::a_VAE_f32_pack2"]
    assert bench["timings"] == [2.0, 4.0, 3.0] and bench["extra_info"]["pack"] == 2


def test_the_plan_runs_the_training_path_first_and_the_claims_last(tmp_path):
    check = dc.DeviceCheck(tmp_path, 450, dc.SIZES["posts"], tmp_path / "store", ROOT / "hypotheses")
    names = [s.name for s in dc.plan(check)]
    assert names[:8] == [f"a VAE {p} pack{k}" for p in ("f32", "bf16") for k in (1, 2, 4, 8)]
    epoch = names.index("b one epoch of 170,000 images, VAE pack4")
    c5 = names.index("c claim C5 (-k 'not quality')")
    assert names.index("a VAE f32 pack4 host-fed") < epoch < c5 < names.index("a AE f32 pack2")
    assert [n for n in names if n.startswith("c ")] == ["c claim C5 (-k 'not quality')", "c claim C1", "c claim M1"]
    assert names[-2:] == ["c claim C1", "c claim M1"]
    assert len(names) == 8 + 4 + 1 + 1 + 12 + 3
    # nothing measured yet: a first step costs the default, a training claim cannot be estimated
    steps = {s.name: s for s in dc.plan(check)}
    assert steps["a VAE f32 pack1"].estimate() == dc.SIZES["posts"].first_estimate_s
    assert steps["c claim C1"].estimate() == float("inf")
    tiny = [s.name for s in dc.plan(dc.DeviceCheck(tmp_path, 60, dc.SIZES["tiny"], tmp_path, None))]
    assert tiny[-1] == "c claim C5 (-k 'parameter_counts')" and "a VAE f32 pack2 host-fed" in tiny


def test_estimates_follow_what_was_measured(tmp_path):
    check = dc.DeviceCheck(tmp_path, 450, dc.SIZES["posts"], tmp_path / "store", None)
    check.measured["VAE float32 4"] = {"pack": 4, "step_seconds": 20.0, "images_per_second_per_model": 34_000.0,
                                       "warmup_seconds": 10.0}
    assert check._pack_estimate(8) == 40.0 and check._pack_estimate(2) == 20.0
    assert check._epoch_estimate(4) == pytest.approx(1.3 * (20 + 2 * 170_000 / 34_000) + 15)
    # C1 at the full scale: 8 models x 24 epochs x 170,000 images at 34,000 images/s per model
    assert check._claim_estimate(8) == pytest.approx(90 + 180 + 1.3 * 8 * 24 * 170_000 / 34_000)
    assert check._claim_estimate(0) == 90


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(SpecError, match="size='huge'"):
        dc.main(str(tmp_path), 10, size="huge")
    with pytest.raises(SpecError, match="must be > 0"):
        dc.main(str(tmp_path), 0, size="tiny")
    with pytest.raises(SpecError, match="must be among"):
        dc.main(str(tmp_path), 10, size="tiny", claims=("C9",))


def _check(out: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    if importlib.util.find_spec("jax") is None:
        pytest.skip("the device check's CPU run needs jax (pip install jax)")
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHON": sys.executable, "JAX_PLATFORMS": "cpu"}
    return subprocess.run(["bash", str(SCRIPT), str(out), *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=str(ROOT))


@pytest.mark.slow
def test_the_tiny_check_runs_end_to_end_on_jax(tmp_path):
    out = tmp_path / "out"
    proc = _check(out, "300", "--size", "tiny", "--store", str(tmp_path / "store"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["size"] == "tiny" and summary["environment"]["backend"] == "jax"
    assert {s["status"] for s in summary["steps"]} == {"done"}, [s.get("reason") for s in summary["steps"]]
    benches = [s["result"] for s in summary["steps"] if s["kind"] == "benchmark"]
    assert {r["feed"] for r in benches} == {"device", "host"}               # the GPU's path, and the host's
    epoch = next(s["result"] for s in summary["steps"] if s["kind"] == "epoch")
    assert epoch["epoch_images"] == 512 and len(epoch["epoch_seconds"]) == 2 and epoch["feed"] == "device"
    run = load_run(out / "benchmark.json")
    assert len(run.benchmarks) == len(benches)
    claim = next(s["result"] for s in summary["steps"] if s["kind"] == "claim")
    assert claim["exit"] == 0 and claim["verdicts"]["C5a"] == "supported"
    assert (out / claim["report"] / "index.html").is_file() and (out / claim["report"] / "results.json").is_file()
    assert not (out / "store").exists()                                     # the store stays out of the folder


@pytest.mark.slow
def test_a_small_budget_stops_cleanly_and_lists_what_did_not_run(tmp_path):
    out = tmp_path / "out"
    proc = _check(out, "1", "--size", "tiny", "--store", str(tmp_path / "store"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] and {s["status"] for s in summary["steps"]} == {"not run"}
    assert len(summary["not_run"]) == len(summary["steps"]) and "budget left" in summary["not_run"][0]
    assert json.loads((out / "benchmark.json").read_text())["benchmarks"] == []
    assert "not run" in proc.stdout


@pytest.mark.slow
def test_the_posts_size_without_a_gpu_says_why(tmp_path):
    proc = _check(tmp_path / "out", "5")
    assert proc.returncode == 0 and "no GPU is visible to the jax backend" in proc.stdout
    assert not (tmp_path / "out").exists()
