"""Benchmarks of the posts' models: training-step time and memory, epoch throughput with the
input pipeline, and the overhead of vaebench's training loop over a bare ``model.fit``.

Benchmarks measure, tests check: nothing here asserts on seconds. Every result goes into
``benchmark.extra_info`` (backend, device, dtype, batch size, image size, model, memory
figures, per-round seconds) and so into ``--benchmark-json``, which ``vaebench compare``
reads.

    pytest benchmarks --benchmark-only --benchmark-json=bench.json                  # posts' sizes
    pytest benchmarks --benchmark-only --vaebench-scale smoke --benchmark-json=...  # seconds, for CI

Sizes (:func:`vaebench.benchmark.bench_config`): at the ``smoke`` scale the scale's own
(32×32, batch 64, z_dim 32, 20 step rounds); at every other scale the posts' 96×96 images
at batch 128 with z_dim 256 (5 step rounds after 2 warm-up rounds: about 0.4 s a step on a
2-core CPU). Models are built from seeded weights; the images are seeded random bytes (the
time of a step does not depend on what the pictures show).
"""
from __future__ import annotations

import numpy as np
import pytest

from vaebench import benchmark as vb

#: the posts' three models (post XII): AE, VAE, and the VAE with an extra Dense(256)
MODELS = {
    "AE": lambda scale, cfg: scale.ae(z_dim=cfg.z_dim),
    "VAE": lambda scale, cfg: scale.vae(z_dim=cfg.z_dim),
    "VAE+Dense(256)": lambda scale, cfg: scale.vae(z_dim=cfg.z_dim, dense=256),
}


@pytest.fixture(scope="module")
def cfg(scale):
    return vb.bench_config(scale)


def _model(scale, cfg, label):
    spec = MODELS[label](scale, cfg)
    return spec, vb.compiled_model(spec, cfg.image_size, seed=0, learning_rate=cfg.learning_rate)


@pytest.mark.parametrize("label", list(MODELS))
def test_train_step(benchmark, scale, cfg, label):
    """Seconds of one training step (``train_on_batch`` on a resident batch, waits for the device);
    then, untimed, the memory of one more step."""
    spec, model = _model(scale, cfg, label)
    step = vb.train_step(model, vb.make_batch(cfg.image_size, cfg.batch_size, seed=0))
    benchmark.group = f"train step {cfg.image_size}px batch {cfg.batch_size}"
    seconds = vb.pedantic_rounds(benchmark, step, cfg.step_rounds, cfg.step_warmup)
    _, memory = vb.measure_memory(step)
    state = vb.state_bytes(model)
    benchmark.extra_info.update(vb.benchmark_info(
        spec, cfg.image_size, cfg.batch_size, model, label=label, scale=cfg.scale,
        measure="one training step: train_on_batch on a resident batch, loss read back (waits for the device)",
        round_seconds=seconds, warmup_rounds=cfg.step_warmup,
        images_per_second_step=cfg.batch_size / float(np.median(seconds)),
        state_bytes=state["total"], weight_bytes=state["weights"], optimizer_bytes=state["optimizer"],
        **memory.to_info()))


@pytest.mark.parametrize("label", list(MODELS))
def test_epoch_throughput(benchmark, scale, cfg, label):
    """Images/s of whole ``model.fit`` epochs from uint8 arrays: the input pipeline is included."""
    spec, model = _model(scale, cfg, label)
    images = vb.make_batch(cfg.image_size, cfg.epoch_images, seed=1)
    benchmark.group = f"epoch of {cfg.epoch_images} images {cfg.image_size}px batch {cfg.batch_size}"
    seconds = vb.pedantic_rounds(benchmark, lambda: vb.fit_epoch(model, images, cfg.batch_size),
                                 cfg.epoch_rounds, cfg.epoch_warmup)
    rate = vb.throughput(len(images), seconds)
    benchmark.extra_info.update(vb.benchmark_info(
        spec, cfg.image_size, cfg.batch_size, model, label=label, scale=cfg.scale,
        measure="one model.fit epoch from a uint8 NumPy array (shuffle, batching, host-to-device copies)",
        warmup_rounds=cfg.epoch_warmup, **rate.to_info()))


def test_fit_overhead(benchmark, scale, cfg):
    """vaebench's loop (EpochRecorder: loss check every 20 batches, probe encoded per epoch) over
    a bare ``model.fit`` of the same VAE on the same data. One round = one epoch of each arm,
    in alternating order; the benchmark's time is the pair's."""
    spec, model = _model(scale, cfg, "VAE")
    images = vb.make_batch(cfg.image_size, cfg.epoch_images, seed=2)
    bare, loop = vb.overhead_arms(model, images, cfg.batch_size, cfg.probe_size)
    bare(), loop()  # warm-up: tracing of the train and predict functions, untimed
    times: dict[str, list[float]] = {"bare": [], "vaebench": []}

    def one_round():
        arms = [("bare", bare), ("vaebench", loop)]
        for name, arm in arms if len(times["bare"]) % 2 == 0 else arms[::-1]:
            times[name].append(arm())

    benchmark.group = "vaebench loop vs bare model.fit"
    vb.pedantic_rounds(benchmark, one_round, cfg.overhead_rounds, 0)
    overhead = vb.overhead_estimate(times["bare"], times["vaebench"], len(images), min(cfg.probe_size, len(images)))
    benchmark.extra_info.update(vb.benchmark_info(
        spec, cfg.image_size, cfg.batch_size, model, label="VAE", scale=cfg.scale,
        measure="one epoch of bare model.fit plus one epoch of vaebench's loop (EpochRecorder)",
        **overhead.to_info()))
