"""Benchmarks of the posts' models: training-step time and memory, epoch throughput with the
input pipeline, the throughput of packs of models trained at once, and the overhead of
vaebench's training loop over a bare ``model.fit``.

Benchmarks measure, tests check: nothing here asserts on seconds. Every result goes into
``benchmark.extra_info`` (backend, device, dtype, compute precision, batch size, image
size, model, memory figures, GPU utilisation where ``nvidia-smi`` is there, per-round
seconds) and so into ``--benchmark-json``, which ``vaebench compare`` reads.

    pytest benchmarks --benchmark-only --benchmark-json=bench.json                  # posts' sizes
    pytest benchmarks --benchmark-only --vaebench-scale smoke --benchmark-json=...  # seconds, for CI

Sizes (:func:`vaebench.bench.bench_config`): at the ``smoke`` scale the scale's own
(32×32, batch 64, z_dim 32, 20 step rounds, packs of 1 and 2); at every other scale the
posts' 96×96 images at batch 128 with z_dim 256 (5 step rounds after 2 warm-up rounds:
about 0.4 s a step on a 2-core CPU; packs of 1, 2, 4 and 8). Models are built from seeded
weights; the images are seeded random bytes (the time of a step does not depend on what
the pictures show). "VAE bf16" is the VAE in ``mixed_bfloat16`` (bfloat16 convolutions,
float32 variables and heads): fast on GPUs with bfloat16 units, often slower on a CPU.
"""
from __future__ import annotations

import numpy as np
import pytest

from vaebench import bench as vb
from vaebench.pytest_plugin.options import scale_option

#: label -> (model spec of the scale and the bench config, compute precision): the posts'
#: three models (post XII: AE, VAE, the VAE with an extra Dense(256)) and the VAE in bfloat16
MODELS = {
    "AE": (lambda scale, cfg: scale.ae(z_dim=cfg.z_dim), "float32"),
    "VAE": (lambda scale, cfg: scale.vae(z_dim=cfg.z_dim), "float32"),
    "VAE+Dense(256)": (lambda scale, cfg: scale.vae(z_dim=cfg.z_dim, dense=256), "float32"),
    "VAE bf16": (lambda scale, cfg: scale.vae(z_dim=cfg.z_dim), "mixed_bfloat16"),
}


def pytest_generate_tests(metafunc):
    # the pack sizes depend on the scale, known from the option before any fixture runs
    if "pack" in metafunc.fixturenames:
        metafunc.parametrize("pack", vb.bench_pack_sizes(scale_option(metafunc.config)), ids=lambda k: f"pack{k}")


@pytest.fixture(scope="module")
def cfg(scale):
    return vb.bench_config(scale)


def _model(scale, cfg, label):
    spec_fn, precision = MODELS[label]
    spec = spec_fn(scale, cfg)
    return spec, precision, vb.compiled_model(spec, cfg.image_size, seed=0, learning_rate=cfg.learning_rate,
                                              precision=precision)


@pytest.mark.parametrize("label", list(MODELS))
def test_train_step(benchmark, scale, cfg, label):
    """Seconds of one training step (``train_on_batch`` on a resident batch, waits for the device);
    then, untimed, the memory of one more step."""
    spec, precision, model = _model(scale, cfg, label)
    step = vb.train_step(model, vb.make_batch(cfg.image_size, cfg.batch_size, seed=0))
    benchmark.group = f"train step {cfg.image_size}px batch {cfg.batch_size}"
    seconds = vb.pedantic_rounds(benchmark, step, cfg.step_rounds, cfg.step_warmup)
    _, memory = vb.measure_memory(step)
    state = vb.state_bytes(model)
    benchmark.extra_info.update(vb.benchmark_info(
        spec, cfg.image_size, cfg.batch_size, model, label=label, precision=precision, scale=cfg.scale,
        measure="one training step: train_on_batch on a resident batch, loss read back (waits for the device)",
        round_seconds=seconds, warmup_rounds=cfg.step_warmup,
        images_per_second_step=cfg.batch_size / float(np.median(seconds)),
        state_bytes=state["total"], weight_bytes=state["weights"], optimizer_bytes=state["optimizer"],
        **memory.to_info()))


@pytest.mark.parametrize("label", list(MODELS))
def test_epoch_throughput(benchmark, scale, cfg, label):
    """Images/s of whole ``model.fit`` epochs from uint8 arrays: the input pipeline is included.
    GPU utilisation is sampled during the timed epochs (warm-up epochs run before, untimed)."""
    spec, precision, model = _model(scale, cfg, label)
    images = vb.make_batch(cfg.image_size, cfg.epoch_images, seed=1)
    benchmark.group = f"epoch of {cfg.epoch_images} images {cfg.image_size}px batch {cfg.batch_size}"

    def epoch():
        return vb.fit_epoch(model, images, cfg.batch_size)

    for _ in range(cfg.epoch_warmup):  # tracing stays out of the timing and of the GPU samples
        epoch()
    with vb.GpuUtilisation() as gpu:
        seconds = vb.pedantic_rounds(benchmark, epoch, cfg.epoch_rounds, 0)
    rate = vb.throughput(len(images), seconds)
    benchmark.extra_info.update(vb.benchmark_info(
        spec, cfg.image_size, cfg.batch_size, model, label=label, precision=precision, scale=cfg.scale,
        measure="one model.fit epoch from a uint8 NumPy array (shuffle, batching, host-to-device copies)",
        warmup_rounds=cfg.epoch_warmup, **rate.to_info(), **gpu.to_info()))


def test_pack_throughput(benchmark, scale, cfg, pack):
    """Model-images/s of ``pack`` VAEs (seeds 0..pack-1) trained at once as one Keras model
    (``PackTrainer.fit_epoch``: every member one epoch over the images, each in its own
    order): pack × images per epoch over its seconds. GPU utilisation sampled meanwhile."""
    spec, precision = MODELS["VAE"][0](scale, cfg), scale.train.precision
    images = vb.make_batch(cfg.image_size, cfg.epoch_images, seed=3)
    trainer = vb.pack_trainer(spec, cfg.image_size, images, cfg.batch_size, pack=pack,
                              learning_rate=cfg.learning_rate, precision=precision, probe_size=cfg.probe_size)
    benchmark.group = (f"pack of K models, epoch of {cfg.epoch_images} images {cfg.image_size}px "
                       f"batch {cfg.batch_size}")
    for _ in range(cfg.epoch_warmup):
        trainer.fit_epoch()
    with vb.GpuUtilisation() as gpu:
        seconds = vb.pedantic_rounds(benchmark, trainer.fit_epoch, cfg.epoch_rounds, 0)
    rate = vb.throughput(pack * len(images), seconds)
    benchmark.extra_info.update(vb.benchmark_info(
        spec, cfg.image_size, cfg.batch_size, trainer.members[0].model, label=f"VAE pack of {pack}",
        precision=precision, scale=cfg.scale, pack=pack, images_per_model=len(images), feed=trainer.feed,
        params_count="per member (the device feed's image variable of the pack is not counted)",
        images_per_second_per_model=rate.images_per_second.value / pack,
        measure="one PackTrainer.fit_epoch: every member of the pack one epoch (tf.data batches on TensorFlow, "
                "a PyDataset elsewhere; no per-batch callback); images counted once per model",
        warmup_rounds=cfg.epoch_warmup, **rate.to_info(), **gpu.to_info()))


def test_fit_overhead(benchmark, scale, cfg):
    """vaebench's training path (``PackTrainer.run_epoch`` of a pack of one: its batches through
    tf.data on TensorFlow or a PyDataset elsewhere, no per-batch callback, the loss checked,
    the probe encoded and the history recorded at the end of the epoch) over a bare
    ``model.fit`` of the same VAE (same seed) on the same data. One round = one epoch of each
    arm, in alternating order; the benchmark's time is the pair's."""
    spec = MODELS["VAE"][0](scale, cfg)
    images = vb.make_batch(cfg.image_size, cfg.epoch_images, seed=2)
    arms = vb.overhead_arms(spec, cfg.image_size, images, cfg.batch_size, cfg.probe_size, seed=0,
                            learning_rate=cfg.learning_rate)
    bare, loop = arms
    bare(), loop()  # warm-up: tracing of the train and predict functions, untimed
    times: dict[str, list[float]] = {"bare": [], "vaebench": []}

    def one_round():  # each arm returns its own epoch's seconds
        vb.interleaved_round({"bare": bare, "vaebench": loop}, times, returns_seconds=True)

    benchmark.group = "vaebench loop vs bare model.fit"
    vb.pedantic_rounds(benchmark, one_round, cfg.overhead_rounds, 0)
    overhead = vb.overhead_estimate(times["bare"], times["vaebench"], len(images), min(cfg.probe_size, len(images)))
    benchmark.extra_info.update(vb.benchmark_info(
        spec, cfg.image_size, cfg.batch_size, arms.model, label="VAE", scale=cfg.scale,
        measure="one epoch of bare model.fit plus one epoch of vaebench's training path "
                "(PackTrainer.run_epoch, a pack of one)",
        **overhead.to_info()))
