"""vaebench.bench.devicecheck: the budget, the benchmark file, the plan's order by value, the
estimates from measured compiles, the plan on a simulated clock with modelled H200 costs and,
in a subprocess on the JAX backend, the whole check at tiny size through device_check.sh (and
stopped by a small budget, and a posts-size start without a GPU, and a missing keras)."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vaebench.bench import devicecheck as dc
from vaebench.bench.devicefiles import report_files
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


POSTS_ORDER = ["a VAE f32 pack1", "a VAE f32 pack4", "a VAE bf16 pack4", "b one epoch of 170,000 images, VAE pack4",
               "c claim C5 (-k 'not quality')"]


def test_the_plan_orders_by_value(tmp_path):
    check = dc.DeviceCheck(tmp_path, 450, dc.SIZES["posts"], tmp_path / "store", ROOT / "hypotheses")
    names = [s.name for s in dc.plan(check)]
    assert names[:5] == POSTS_ORDER
    rest = names[5:]
    assert rest[:5] == ["a VAE f32 pack2", "a VAE f32 pack8", "a VAE bf16 pack1", "a VAE bf16 pack2",
                        "a VAE bf16 pack8"]
    assert rest.index("a AE f32 pack1") < rest.index("a VAE f32 pack4 host-fed") < rest.index("a AE f32 pack4")
    assert names[-2:] == ["c claim C1", "c claim M1"]
    assert len(names) == len(set(names)) == 5 + 5 + 4 + 1 + 4 + 2      # every pack benchmark costs a compile
    # nothing measured yet: a first step costs the default, a training claim cannot be estimated
    steps = {s.name: s for s in dc.plan(check)}
    assert steps["a VAE f32 pack1"].estimate() == dc.SIZES["posts"].first_estimate_s
    assert steps["c claim C1"].estimate() == float("inf")
    tiny = [s.name for s in dc.plan(dc.DeviceCheck(tmp_path, 60, dc.SIZES["tiny"], tmp_path, None))]
    assert tiny == ["a VAE f32 pack1", "a VAE f32 pack2", "b one epoch of 512 images, VAE pack2",
                    "c claim C5 (-k 'parameter_counts')", "a AE f32 pack1", "a VAE+Dense(8) f32 pack1",
                    "a VAE f32 pack2 host-fed"]


def _measured(pack, precision="float32", compile_s=30.0, epoch_s=2.0, setup_s=4.0, per_model=10_000.0):
    return {"pack": pack, "precision": precision, "compile_seconds": compile_s, "round_seconds": [epoch_s, epoch_s],
            "setup_seconds": setup_s, "images_per_second_per_model": per_model}


def test_estimates_take_the_measured_compile_into_account(tmp_path):
    check = dc.DeviceCheck(tmp_path, 450, dc.SIZES["posts"], tmp_path / "store", None)
    rounds = dc.SIZES["posts"].rounds
    check.measured["VAE float32 1"] = _measured(1, compile_s=30.0, epoch_s=2.0)
    # a pack of 4 from a pack of 1: four times the graph to compile and the model-images to train
    assert check._pack_estimate(4) == pytest.approx(4.0 + dc.MARGIN * 4 * (30.0 + (rounds + 1) * 2.0))
    check.measured["VAE float32 4"] = _measured(4, compile_s=50.0, epoch_s=5.0, per_model=34_000.0)
    assert check._pack_estimate(8) == pytest.approx(4.0 + dc.MARGIN * 2 * (50.0 + (rounds + 1) * 5.0))
    assert check._pack_estimate(1) == pytest.approx(4.0 + dc.MARGIN * (30.0 + (rounds + 1) * 2.0))
    # bf16 is estimated from a measured bf16 step once there is one
    check.measured["VAE mixed_bfloat16 4"] = _measured(4, "mixed_bfloat16", compile_s=60.0, epoch_s=3.0)
    assert check._pack_estimate(2, "mixed_bfloat16") == pytest.approx(4.0 + dc.MARGIN * 0.5 * (60.0 + 3 * 3.0))
    assert check._epoch_estimate(4) == pytest.approx(dc.MARGIN * (50.0 + 2 * 170_000 / 34_000) + dc.EPOCH_SETUP_S)
    # C1 at the full scale: 8 models x 24 epochs x 170,000 images at 34,000 images/s per model
    assert check._claim_estimate(8) == pytest.approx(90 + 180 + dc.MARGIN * 8 * 24 * 170_000 / 34_000)
    assert check._claim_estimate(0) == 90


#: modelled H200 costs (seconds; images/s per model), a middle case: a compile of 30 s plus
#: 10 s per member, 12,000 images/s per model alone and 9,000 in a pack of 4, bfloat16 1.6 times
#: faster, C5 two minutes (its own estimate is 90 s)
H200 = {"compile": (30.0, 10.0), "rate": {1: 12_000.0, 2: 10_000.0, 4: 9_000.0, 8: 8_000.0}, "bf16": 1.6,
        "setup": 5.0, "C5": 120.0}


def modelled_cost(size: dc.CheckSize, model: dict = H200):
    def cost(step: dc.Step) -> tuple[float, dict]:
        meta = step.meta
        if step.kind == "claim":
            return (model.get(meta["claim"], 10_000.0), {"claim": meta["claim"], "exit": 0, "verdicts": {}})
        pack = meta["pack"]
        compile_s = model["compile"][0] + model["compile"][1] * pack
        per_model = model["rate"][pack] * (model["bf16"] if meta.get("precision") == "mixed_bfloat16" else 1.0)
        if step.kind == "epoch":
            return model["setup"] + compile_s + 2 * size.epoch_images / per_model, {"images_per_second": per_model}
        epoch = size.epoch_batches * size.batch_size / per_model
        result = {"pack": pack, "precision": meta["precision"], "compile_seconds": compile_s, "feed": "device",
                  "round_seconds": [epoch] * size.rounds, "setup_seconds": model["setup"],
                  "warmup_seconds": compile_s + epoch, "images_per_second": pack * per_model,
                  "images_per_second_per_model": per_model}
        return model["setup"] + compile_s + (size.rounds + 1) * epoch, result
    return cost


def test_a_simulated_h200_reaches_the_epoch_and_c5_within_the_budget(tmp_path):
    size = dc.SIZES["posts"]
    check = dc.DeviceCheck(tmp_path, 450, size, tmp_path / "store", ROOT / "hypotheses")
    summary = dc.simulate(check, modelled_cost(size))
    steps = summary["steps"]
    assert [s["name"] for s in steps][:5] == POSTS_ORDER
    assert [s["status"] for s in steps[:5]] == ["done"] * 5
    assert summary["elapsed_s"] <= 450
    done = [s for s in steps if s["status"] == "done"]
    assert sum(s["seconds"] for s in done) == pytest.approx(summary["elapsed_s"], abs=0.5)
    # C1 and M1 train 8 models x 24 epochs each: far beyond what is left
    assert {s["name"]: s["status"] for s in steps}["c claim C1"] == "not run"
    # the same costs 1.5 times higher: bf16 at the lead pack gives way to the epoch, which still runs
    slow = dict(H200, compile=(45.0, 15.0), rate={k: v / 1.5 for k, v in H200["rate"].items()})
    check = dc.DeviceCheck(tmp_path / "slow", 450, size, tmp_path / "store", ROOT / "hypotheses")
    steps = dc.simulate(check, modelled_cost(size, slow))["steps"]
    ran = [s["name"] for s in steps if s["status"] == "done"]
    assert ran[:3] == [POSTS_ORDER[0], POSTS_ORDER[1], POSTS_ORDER[3]]
    names = [s["name"] for s in steps]
    assert names.index("a VAE bf16 pack4") > names.index(POSTS_ORDER[3])


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
    proc = _check(out, "420", "--size", "tiny", "--store", str(tmp_path / "store"), timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["size"] == "tiny" and summary["environment"]["backend"] == "jax"
    assert "float32_arithmetic" in summary["environment"]
    names = [s["name"] for s in summary["steps"]]
    assert names[:4] == ["a VAE f32 pack1", "a VAE f32 pack2", "b one epoch of 512 images, VAE pack2",
                         "c claim C5 (-k 'parameter_counts')"]
    # the steps of most value run within the budget; on a busy CPU the remaining packs may not fit
    statuses = [s["status"] for s in summary["steps"]]
    assert statuses[:4] == ["done"] * 4 and set(statuses) <= {"done", "not run"}, summary["not_run"]
    assert all("budget left" in s["reason"] for s in summary["steps"] if s["status"] == "not run")
    benches = [s["result"] for s in summary["steps"] if s["kind"] == "benchmark" and s["status"] == "done"]
    assert {r["feed"] for r in benches} <= {"device", "host"} and benches[0]["feed"] == "device"  # the GPU's path
    # the memory of one compiled step, from XLA's analysis: weights, optimizer and batch in, temporaries
    assert all(r["step_memory_bytes"] > r["step_memory_increment_bytes"] > 0 for r in benches)
    assert all(r["compile_seconds"] >= 0 and r["setup_seconds"] >= 0 for r in benches)
    assert all(0 < r["dispatch_seconds_per_call"] < 1 and r["seconds_per_step"] > 0 for r in benches)
    epoch = next(s["result"] for s in summary["steps"] if s["kind"] == "epoch")
    assert epoch["epoch_images"] == 512 and len(epoch["epoch_seconds"]) == 2 and epoch["feed"] == "device"
    run = load_run(out / "benchmark.json")
    assert len(run.benchmarks) == len(benches)
    claim = next(s["result"] for s in summary["steps"] if s["kind"] == "claim")
    assert claim["exit"] == 0 and claim["verdicts"]["C5a"] == "supported"
    assert (out / claim["report"] / "index.html").is_file() and (out / claim["report"] / "results.json").is_file()
    assert not (out / "store").exists()                                     # the store stays out of the folder
    files = report_files(out)                                               # what a machine's $OUT hands back
    assert len(files) <= 8 and all(f.count("/") <= 2 for f in files), files
    assert all((out / f).is_file() and not (out / f).is_symlink() and not f.endswith(".tmp") for f in files), files


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
def test_the_posts_size_without_a_gpu_writes_why_and_fails(tmp_path):
    proc = _check(tmp_path / "out", "5")
    assert proc.returncode == dc.NO_GPU_EXIT and "no GPU is visible to the jax backend" in proc.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "no GPU" and "no GPU is visible" in summary["reason"]
    assert summary["devices"] == ["cpu:cpu"] and summary["nvidia_smi"]           # JAX_PLATFORMS=cpu
    assert summary["environment_variables"]["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert report_files(tmp_path / "out") == ["summary.json"]


def test_a_missing_keras_without_wheels_stops_at_once_naming_the_fetch(tmp_path):
    root = tmp_path / "checkout"
    (root / "benchmarks").mkdir(parents=True)
    (root / "benchmarks" / "device_check.sh").write_text(SCRIPT.read_text())
    python = tmp_path / "python-without-keras"
    python.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'keras'\" >&2\nexit 1\n")
    python.chmod(0o755)
    proc = subprocess.run(["bash", str(root / "benchmarks" / "device_check.sh"), str(tmp_path / "out")],
                          capture_output=True, text=True, env={**os.environ, "PYTHON": str(python)}, timeout=60)
    assert proc.returncode == 4 and "benchmarks/fetch_device_wheels.sh" in proc.stderr
    assert "ModuleNotFoundError" not in proc.stderr and not (tmp_path / "out").exists()
