"""vaebench.bench on the CPU: timing, memory figures (and, through fakes, the GPU paths of
TensorFlow, PyTorch and JAX, and nvidia-smi's utilisation figures), the ratio of means, the
loop overhead and the throughput of packs. Nothing here asserts on how many seconds
something took: only on the shape and sense of what comes back."""
from __future__ import annotations

import os
import stat
import sys
import time
import types

import numpy as np
import pytest

from vaebench import bench as vb
from vaebench.config import SCALES, ModelSpec
from vaebench.errors import SpecError, StatsError
from vaebench.stats import Estimate

TINY = ModelSpec(kind="vae", z_dim=4, filters=(4, 8), batchnorm=True, fact=1e-2)


@pytest.fixture(scope="module")
def tiny_model():
    return vb.compiled_model(TINY, 16, seed=0)


@pytest.mark.slow
def test_train_step_returns_a_float_and_time_rounds_one_value_per_round(tiny_model):
    calls = []
    step = vb.train_step(tiny_model, vb.make_batch(16, 8, seed=0))

    def counted():
        calls.append(1)
        return step()

    seconds = vb.time_rounds(counted, rounds=3, warmup_rounds=2)
    assert len(seconds) == 3 and all(s > 0 for s in seconds)
    assert len(calls) == 5                                     # warm-up rounds are run but not timed
    assert isinstance(step(), float) and np.isfinite(step())


def test_time_interleaved_rotates_the_order():
    order = []
    fns = {k: (lambda k=k: order.append(k)) for k in "abc"}
    times = vb.time_interleaved(fns, rounds=3, warmup_rounds=0)
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert order == list("abc" "bca" "cab")
    with pytest.raises(SpecError, match="rounds=0 must be an integer >= 1"):
        vb.time_rounds(lambda: None, 0)


def test_interleaved_round_starts_where_the_rounds_so_far_point():
    order = []
    fns = {k: (lambda k=k: order.append(k)) for k in "abc"}
    times: dict[str, list[float]] = {}
    for _ in range(4):
        vb.interleaved_round(fns, times)
    assert order == list("abc" "bca" "cab" "abc") and all(len(v) == 4 for v in times.values())
    # functions that time themselves: their return values are the seconds
    arms = {"bare": lambda: order.append("bare") or 1.5, "vaebench": lambda: order.append("vb") or 2.5}
    times = {"bare": [0.1], "vaebench": [0.2]}          # one round done: this one starts with the second
    order.clear()
    vb.interleaved_round(arms, times, returns_seconds=True)
    assert order == ["vb", "bare"] and times == {"bare": [0.1, 1.5], "vaebench": [0.2, 2.5]}
    ticks = iter([0.0, 1.0, 10.0, 13.0])                  # timed here with the given timer
    times = {}
    vb.interleaved_round({"x": lambda: None, "y": lambda: None}, times, timer=lambda: next(ticks))
    assert times == {"x": [1.0], "y": [3.0]}
    with pytest.raises(SpecError, match="names no function"):
        vb.interleaved_round({}, {})


def test_pedantic_rounds_without_pytest_benchmark_and_when_disabled():
    assert len(vb.pedantic_rounds(None, lambda: None, 4, 1)) == 4

    class Disabled:
        disabled = True
        calls = 0

        def pedantic(self, fn, rounds=1, iterations=1):
            Disabled.calls += 1
            return fn()

    n = []
    assert len(vb.pedantic_rounds(Disabled(), lambda: n.append(1), 4, 1)) == 4
    assert len(n) == 5 and Disabled.calls == 1


def test_ratio_of_means_known_answers():
    rng = np.random.default_rng(0)
    b = 1.0 + 0.05 * rng.standard_normal(30)
    a = 1.2 * b + 0.01 * rng.standard_normal(30)
    paired = vb.ratio_of_means(a, b, paired=True)
    welch = vb.ratio_of_means(a, b)
    assert isinstance(paired, Estimate) and paired.contains(1.2) and welch.contains(1.2)
    assert paired.width < welch.width                            # pairing removes the shared noise
    assert paired.value == pytest.approx(a.mean() / b.mean())
    unbounded = vb.ratio_of_means([1.0, 2.0], [0.01, 5.0])       # mean(b) not clearly above 0
    assert unbounded.high == float("inf")
    with pytest.raises(StatsError, match="at least 2 values"):
        vb.ratio_of_means([1.0], [1.0, 2.0])
    with pytest.raises(StatsError, match="different lengths"):
        vb.ratio_of_means([1.0, 2.0, 3.0], [1.0, 2.0], paired=True)


def test_median_ratio_ignores_a_load_spike():
    rng = np.random.default_rng(1)
    b = 0.1 * np.exp(rng.normal(0, 0.05, 15))
    a = b * 1.1 * np.exp(rng.normal(0, 0.02, 15))
    a_spiked = a.copy()
    a_spiked[5] *= 12                                             # another process took the CPU for one step
    robust, clean = vb.median_ratio(a_spiked, b), vb.median_ratio(a, b)
    assert robust.contains(1.1) and robust.high < 1.25
    assert robust.value == pytest.approx(clean.value, rel=0.05)
    assert vb.ratio_of_means(a_spiked, b, paired=True).high > 1.5   # the mean is dragged by the spike
    with pytest.raises(StatsError, match="same length"):
        vb.median_ratio([1.0, 2.0], [1.0])


def test_peak_memory_figures_are_positive_bytes():
    assert vb.peak_rss_bytes() > 0 and vb.current_rss_bytes() > 0
    _, reading = vb.measure_memory(lambda: np.ones(6_000_000))    # 48 MB of NumPy
    assert reading.python_peak >= 48_000_000                      # tracemalloc sees NumPy buffers
    assert reading.rss_peak > 0
    if reading.rss_reset:                                         # Linux: the high-water mark was reset
        assert reading.rss_increment >= 30_000_000
    info = reading.to_info("x_")
    assert info["x_rss_peak_bytes"] == reading.rss_peak


def test_tensorflow_allocator_figures_on_cpu():
    """TensorFlow's CPU allocator counts large tensors (two 16 MB ones here; a tiny model's
    tensors come from elsewhere and read 0)."""
    if vb.backend.name() != "tensorflow":
        pytest.skip("the TensorFlow allocator path")
    import keras

    _, reading = vb.measure_memory(lambda: float(keras.ops.sum(keras.ops.ones((2048, 2048)) * 2.0)),
                                   trace_python=False)
    if reading.device_source is None:
        pytest.skip("this TensorFlow build keeps no CPU allocator statistics (get_memory_info('CPU:0') raises)")
    assert reading.device_source == "tf.config.experimental.get_memory_info('CPU:0')"
    assert reading.device_resettable and reading.device_increment >= 2048 * 2048 * 4


def test_parameters_count_every_weight(tiny_model):
    counts = vb.parameters(tiny_model)
    assert counts["params"] == sum(int(np.prod(w.shape)) for w in tiny_model.weights)
    assert counts["trainable_params"] == sum(int(np.prod(w.shape)) for w in tiny_model.trainable_weights)


def test_state_bytes_are_weights_plus_two_adam_moments(tiny_model):
    tiny_model.train_on_batch(vb.make_batch(16, 8, seed=0))
    state = vb.state_bytes(tiny_model)
    trainable = vb.parameters(tiny_model)["trainable_params"]
    # Adam: two float32 moments per trainable weight, plus its counters (iterations, learning rate)
    assert 0 <= state["optimizer"] - 2 * 4 * trainable <= 16
    assert vb.analytic_state_bytes(1000) == 12_000
    assert vb.analytic_state_bytes(-10) == -120                  # a difference may be negative


def _fake_module(monkeypatch, name, **attrs):
    module = types.ModuleType(name)
    for k, v in attrs.items():
        setattr(module, k, v)
    monkeypatch.setitem(sys.modules, name, module)
    return module


def test_torch_cuda_path(monkeypatch):
    resets = []
    cuda = types.SimpleNamespace(is_available=lambda: True, memory_allocated=lambda: 100,
                                 max_memory_allocated=lambda: 700, reset_peak_memory_stats=lambda: resets.append(1))
    _fake_module(monkeypatch, "torch", cuda=cuda)
    assert vb.device_memory("torch") == {"current": 100, "peak": 700, "resettable": True,
                                         "source": "torch.cuda.max_memory_allocated()"}
    assert vb.reset_device_peak("torch") and resets == [1]
    cuda.is_available = lambda: False                              # CPU-only PyTorch keeps no figures
    assert vb.device_memory("torch") is None and not vb.reset_device_peak("torch")


def test_jax_path(monkeypatch):
    gpu = types.SimpleNamespace(platform="gpu", memory_stats=lambda: {"bytes_in_use": 5, "peak_bytes_in_use": 9})
    fake = _fake_module(monkeypatch, "jax", local_devices=lambda: [gpu])
    figures = vb.device_memory("jax")
    assert figures["peak"] == 9 and figures["current"] == 5 and figures["resettable"] is False
    assert not vb.reset_device_peak("jax")
    fake.local_devices = lambda: [types.SimpleNamespace(platform="cpu", memory_stats=lambda: None)]
    assert vb.device_memory("jax") is None


def test_tensorflow_gpu_path(monkeypatch):
    tf = pytest.importorskip("tensorflow")
    asked = []
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["gpu0"] if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "get_memory_info",
                        lambda dev: asked.append(dev) or {"current": 1, "peak": 2})
    monkeypatch.setattr(tf.config.experimental, "reset_memory_stats", lambda dev: asked.append("reset " + dev))
    assert vb.device_memory("tensorflow")["peak"] == 2
    assert vb.reset_device_peak("tensorflow")
    assert asked == ["GPU:0", "reset GPU:0"]


@pytest.mark.slow
def test_throughput_and_overhead_on_a_tiny_model(tiny_model):
    images = vb.make_batch(16, 64, seed=1)
    rate = vb.epoch_throughput(tiny_model, images, batch_size=16, rounds=2, warmup_rounds=1)
    assert rate.images_per_second.value > 0 and len(rate.round_seconds) == 2
    over = vb.fit_overhead(TINY, 16, images, batch_size=16, rounds=2, warmup_rounds=1, probe_size=16)
    assert isinstance(over.ratio, Estimate) and over.ratio.value > 0 and over.ratio.low <= over.ratio.high
    assert len(over.bare_seconds) == len(over.vaebench_seconds) == 2
    info = over.to_info()
    assert info["epoch_images"] == 64 and info["probe_size"] == 16 and "overhead_ratio_ci" in info


@pytest.mark.slow
def test_overhead_arms_run_the_training_path():
    """The vaebench arm is PackTrainer.run_epoch (history records, probe statistics); the bare
    arm a model.fit of the same architecture from the same initial weights."""
    images = vb.make_batch(16, 32, seed=4)
    arms = vb.overhead_arms(TINY, 16, images, batch_size=16, probe_size=8, seed=3)
    member = arms.trainer.members[0]
    assert len(arms.trainer.members) == 1 and member.job.train.seed == 3
    assert len(arms.trainer.probe) == 8
    for a, b in zip(arms.model.get_weights(), member.model.get_weights()):   # same seed, same start
        np.testing.assert_array_equal(a, b)
    bare, loop = arms
    assert bare() > 0 and loop() > 0
    assert member.history["loss"] and "probe_radius_peak" in member.history and arms.trainer.epoch == 1


@pytest.mark.slow
def test_pack_throughput_counts_every_model_image():
    images = vb.make_batch(16, 64, seed=1)
    rate = vb.pack_throughput(TINY, 16, images, batch_size=16, pack=2, rounds=2, warmup_rounds=1)
    assert isinstance(rate, vb.Throughput) and rate.images_per_second.value > 0
    assert rate.images == 2 * 64 and len(rate.round_seconds) == 2
    assert rate.images_per_second.value == pytest.approx(128 / np.mean(rate.round_seconds))
    info = rate.to_info()
    assert info["epoch_images"] == 128
    trainer = vb.pack_trainer(TINY, 16, images, batch_size=16, pack=3)
    assert [m.job.train.seed for m in trainer.members] == [0, 1, 2]
    with pytest.raises(SpecError, match="pack=0"):
        vb.pack_trainer(TINY, 16, images, batch_size=16, pack=0)


def _fake_nvidia_smi(tmp_path, monkeypatch, lines: list[str]):
    """A fake ``nvidia-smi`` first on PATH: it records its arguments and prints ``lines``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "nvidia-smi"
    body = "".join(f"echo '{line}'\n" for line in lines)
    script.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path / 'args'}\n{body}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return tmp_path / "args"


def test_gpu_utilisation_from_nvidia_smi(tmp_path, monkeypatch):
    args = _fake_nvidia_smi(tmp_path, monkeypatch, ["37, 1000", "63, 1200"])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    with vb.GpuUtilisation() as gpu:
        deadline = time.monotonic() + 10
        while len(gpu.samples) < 2 and time.monotonic() < deadline:   # the work: until both lines are read
            time.sleep(0.01)
    info = gpu.to_info()
    assert info["gpu_utilisation"] == pytest.approx(50.0) and info["gpu_utilisation_max"] == 63.0
    assert info["gpu_memory_used_max_mib"] == 1200.0 and info["gpu_utilisation_samples"] == 2
    assert info["gpu_utilisation_note"] is None
    called = args.read_text().split()
    assert "--query-gpu=utilization.gpu,memory.used" in called and "--format=csv,noheader,nounits" in called
    assert called[called.index("-i") + 1] == "2" and called[called.index("-lms") + 1] == "100"


def test_gpu_utilisation_without_figures(tmp_path, monkeypatch):
    _fake_nvidia_smi(tmp_path, monkeypatch, ["[N/A], [N/A]"])
    with vb.GpuUtilisation() as gpu:
        pass
    assert gpu.mean is None and "no utilisation figures" in gpu.to_info()["gpu_utilisation_note"]


def test_gpu_utilisation_without_nvidia_smi(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))                     # an empty folder: no nvidia-smi
    with vb.GpuUtilisation() as gpu:
        x = sum(range(1000))
    assert x == 499500
    info = gpu.to_info()
    assert info["gpu_utilisation"] is None and info["gpu_utilisation_max"] is None
    assert info["gpu_memory_used_max_mib"] is None and info["gpu_utilisation_note"] == "no nvidia-smi"


def test_bench_config_and_info():
    smoke, cpu = vb.bench_config(SCALES["smoke"]), vb.bench_config(SCALES["cpu"])
    assert (smoke.image_size, smoke.batch_size) == (32, 64)
    assert (cpu.image_size, cpu.batch_size, cpu.z_dim) == (96, 128, 256)     # the posts' configuration
    assert smoke.pack_sizes == (1, 2) and cpu.pack_sizes == (1, 2, 4, 8)
    assert smoke.pack_sizes == vb.bench_pack_sizes("smoke") and cpu.to_dict()["pack_sizes"] == (1, 2, 4, 8)
    assert list(smoke.to_dict())[-1] == "pack_sizes" and smoke.to_dict()["scale"] == "smoke"
    info = vb.benchmark_info(TINY, 16, 8, label="tiny")
    for key in ("backend", "device", "dtype", "precision", "batch_size", "image_size", "model", "kind"):
        assert key in info
    assert info["precision"] == "float32"
    assert vb.benchmark_info(TINY, 16, 8, precision="mixed_bfloat16")["precision"] == "mixed_bfloat16"


@pytest.mark.slow
def test_compiled_model_in_bfloat16():
    model = vb.compiled_model(TINY, 16, seed=0, precision="mixed_bfloat16")
    loss = vb.train_step(model, vb.make_batch(16, 8, seed=0))()
    assert np.isfinite(loss)
    assert any(w.dtype == "float32" for w in model.weights)             # variables stay float32


def test_training_flops_count_every_multiply_add():
    from vaebench.bench import peers

    # 16px, filters (4, 8), z 4: conv 8*8*9*3*4 + 4*4*9*4*8, mu and logvar 128*4 each, dense 4*128,
    # deconv 4*4*9*8*4 + 8*8*9*4*3 = 24,576 multiply-adds forward; x 2 x 3 for a training step
    assert peers.training_flops(TINY, 16) == 6 * 24_576
    posts = SCALES["full"].vae()
    assert 0.44e9 < peers.training_flops(posts, 96) < 0.46e9       # the 0.45 GFLOP per image


def test_sgemm_rate():
    from vaebench.bench import peers

    assert peers.sgemm_rate(64, threads=1, repeats=2) > 0


@pytest.mark.slow
def test_each_arm_this_backend_builds_trains_one_epoch():
    """:func:`peers.arm_epoch` in this process (the benchmark runs each in a process of its own)."""
    from vaebench.bench import peers

    images = vb.make_batch(16, 32, seed=4)
    arms = ["vaebench", "vaebench host feed", "vaebench device feed"]
    arms += ["keras fit + tf.data"] if vb.backend.name() == "tensorflow" else []
    arms += ["torch eager"] if peers.torch_available() else []
    for arm in arms:
        epoch = peers.arm_epoch(arm, TINY, 16, images, batch_size=16, threads=1)
        epoch()
    with pytest.raises(Exception, match="is not a peer arm"):
        peers.arm_epoch("sklearn", TINY, 16, images, batch_size=16, threads=1)
    if peers.torch_available():
        import torch

        loss = peers.torch_vae(TINY, 16)(torch.rand(4, 3, 16, 16))
        assert loss.ndim == 0 and float(loss.detach()) > 0


COMPILED_MEMORY = """
import json, sys
import numpy as np
from vaebench import bench as vb
from vaebench.config import ModelSpec
model = vb.compiled_model(ModelSpec(kind="ae", z_dim=4, filters=(4, 8), batchnorm=False, fact=0.0), 16)
out = {}
for n in (8, 32):
    batch = vb.make_batch(16, n, seed=0)
    step = vb.train_step(model, batch)
    step()
    _, reading = vb.measure_memory(step, trace_python=False)
    figure = step.compiled_memory()
    state = sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in
                model.trainable_variables + model.non_trainable_variables + model.optimizer.variables
                + model.metrics_variables)
    out[n] = {"figure": figure, "increment": reading.device_increment, "state": state, "batch": batch.nbytes,
              "resettable": reading.device_resettable}
out["dispatch"] = [vb.dispatch_seconds(1, 50), vb.dispatch_seconds(200, 50)]
json.dump(out, sys.stdout)
"""


@pytest.mark.slow
def test_a_jax_step_has_its_compiled_memory(tmp_path):
    """JAX: the memory of one compiled step (XLA's analysis) stands in for the peak JAX cannot
    reset: its arguments are exactly the state and the batch; its temporaries grow with the batch."""
    import importlib.util
    import json
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("jax") is None:
        pytest.skip("needs jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", COMPILED_MEMORY], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    for n in ("8", "32"):
        figure = out[n]["figure"]
        assert figure["arguments"] == out[n]["state"] + out[n]["batch"]
        f = figure
        assert f["step_peak"] == f["arguments"] + f["outputs"] - f["aliased"] + f["temporaries"]
        assert out[n]["resettable"] and out[n]["increment"] == f["increment"] == f["step_peak"] - f["arguments"]
    assert out["32"]["figure"]["temporaries"] > out["8"]["figure"]["temporaries"]
    assert 0 < out["dispatch"][0] < 1 and 0 < out["dispatch"][1] < 1      # seconds per dispatched call


def test_dispatch_is_measured_on_jax_only():
    from vaebench import backend

    if backend.name() == "jax":
        pytest.skip("measured in the JAX subprocess")
    assert vb.dispatch_seconds(3, 5) is None
    with pytest.raises(Exception, match="must be >= 1"):
        vb.dispatch_seconds(0)


def test_compiled_step_memory_is_none_off_jax(tiny_model):
    from vaebench import backend
    from vaebench.bench.memory import compiled_step_memory

    if backend.name() == "jax":
        pytest.skip("the JAX figure is tested in a subprocess")
    assert compiled_step_memory(tiny_model, (np.zeros((2, 16, 16, 3), np.uint8),)) is None


@pytest.mark.slow
def test_sgemm_peak_runs_without_the_blas_overrides_and_names_its_kernel(monkeypatch):
    from vaebench.bench import peers

    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "262144")
    peak = peers.sgemm_peak(64, threads=1, repeats=2)
    assert peak["gflops"] > 0 and peak["threads"] == 1 and peak["overrides_there"] == []
    assert peak["unset"] == {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "262144"}
    assert peak["env"] == {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    assert peak["blas"] and all(lib["num_threads"] == 1 for lib in peak["blas"] if "num_threads" in lib)
    import os

    assert os.environ["OPENBLAS_CORETYPE"] == "Haswell"          # unset there only
