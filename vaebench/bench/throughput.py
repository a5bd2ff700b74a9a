"""Epoch throughput and the overhead of vaebench's training loop over a bare ``model.fit``
(nothing here asserts on seconds).

* :func:`train_step` — one optimiser step of a compiled model on a fixed batch that is
  already a backend tensor (no input pipeline in it). The function returns the loss as a
  Python float, which waits for the device (TensorFlow/PyTorch/JAX dispatch
  asynchronously; converting the result to a host number blocks until the step is done).
* the timed rounds (the first call traces and compiles the step:
  seconds on CPU, more with XLA). ``time_interleaved`` rotates several functions round by
  round so that drifting machine load (other jobs, thermal state) hits all of them alike;
  :func:`interleaved_round` runs one such round (for a pytest-benchmark round, or for
  functions that return their own seconds, like :func:`overhead_arms`).
* :func:`epoch_throughput` — images/s of whole ``model.fit`` epochs from uint8 NumPy
  arrays, i.e. *including* vaebench's input pipeline (Keras' array adapter: shuffling,
  batching, host-to-device copies; the uint8→float conversion runs in the model).
* :func:`fit_overhead` — the time of an epoch as :func:`vaebench.train.trainer.train` runs it
  (a :class:`vaebench.train.trainer.PackTrainer` of one job, :meth:`~vaebench.train.trainer.PackTrainer.run_epoch`:
  its batches from a ``PyDataset`` in the member's own epoch order, a loss check every 20
  batches, which waits for the device, and the probe batch encoded after the epoch) over
  the time of a bare ``model.fit`` epoch of the same architecture, seed and data (uint8
  array, ``shuffle=True``), as an :class:`~vaebench.stats.Estimate`. The per-epoch cost of
  the probe is fixed, so the ratio depends on the epoch's size: :class:`Overhead` also
  gives the extra seconds per epoch and the ratio projected to an epoch of the posts'
  170,000 images. :func:`overhead_arms` gives the two arms as functions and
  :func:`overhead_estimate` judges their paired rounds, so a pytest-benchmark test can
  time the rounds itself.
* :func:`pack_throughput` — model-images/s of a pack of K models trained at once as one
  Keras model (:class:`vaebench.train.trainer.PackTrainer`, :meth:`~vaebench.train.trainer.PackTrainer.fit_epoch`):
  K × images per epoch over the epoch's seconds. Where one small model leaves a GPU idle,
  the figure grows with K until the device is full; on a CPU, where one model already
  keeps the cores busy, it need not grow at all.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from vaebench.bench.setup import compiled_model
from vaebench.bench.timing import _check_rounds, interleaved_round, ratio_of_means, time_rounds
from vaebench.config import ModelSpec
from vaebench.errors import StatsError, require
from vaebench.stats.estimate import Estimate, mean_ci

#: the posts' configuration (post XII): 96x96 images, batch 128, z_dim 256
POSTS_IMAGE_SIZE, POSTS_BATCH_SIZE, POSTS_Z_DIM = 96, 128, 256
#: CelebA training images per epoch in the posts (for the projected overhead ratio)
POSTS_EPOCH_IMAGES = 170_000


# --------------------------------------------------------------------------- epochs

def fit_epoch(model, images: np.ndarray, batch_size: int, callbacks: list | None = None) -> float:
    """Seconds of one ``model.fit`` epoch over ``images`` (shuffled, silent), input pipeline included."""
    t0 = time.perf_counter()
    model.fit(images, batch_size=batch_size, epochs=1, shuffle=True, verbose=0, callbacks=callbacks)
    return time.perf_counter() - t0


@dataclass
class Throughput:
    """Images per second of whole epochs; ``round_seconds`` per timed epoch."""

    images_per_second: Estimate
    round_seconds: list[float]
    images: int

    def to_info(self) -> dict:
        return {"images_per_second": self.images_per_second.value,
                "images_per_second_ci": [self.images_per_second.low, self.images_per_second.high],
                "epoch_images": self.images, "round_seconds": self.round_seconds}


def throughput(images: int, seconds: Sequence[float]) -> Throughput:
    """Images/s of epochs of ``images`` images that took ``seconds`` each.

    The value is ``images / mean(seconds)`` (all images over all time); its interval is
    the t interval of the mean epoch time, inverted (an upper bound of ``inf`` when that
    interval reaches 0).
    """
    require(len(seconds) >= 1 and all(s > 0 for s in seconds),
            f"seconds={list(seconds)!r} must hold at least one positive epoch time", StatsError)
    value = images / float(np.mean(seconds))
    if len(seconds) < 2:
        return Throughput(Estimate(value, 0.0, math.inf, 0.95, "one round", 1), list(seconds), images)
    t = mean_ci(seconds)
    high = images / t.low if t.low > 0 else math.inf
    est = Estimate(value, images / t.high, high, t.level, "images / mean epoch time, t interval", t.n)
    return Throughput(est, list(seconds), images)


def epoch_throughput(model, images: np.ndarray, batch_size: int, rounds: int = 3, warmup_rounds: int = 1) -> Throughput:
    """Images/s of ``model.fit`` epochs over uint8 ``images`` (input pipeline included).

    The first ``warmup_rounds`` epochs (tracing, the data adapter's first use) are not
    timed. The estimate is the mean of the rounds' images/s with a t interval.
    """
    _check_rounds(rounds, warmup_rounds)
    images = _check_images(images, batch_size)
    for _ in range(warmup_rounds):
        fit_epoch(model, images, batch_size)
    return throughput(len(images), [fit_epoch(model, images, batch_size) for _ in range(rounds)])


@dataclass
class Overhead:
    """vaebench's training loop against a bare ``model.fit`` on the same model and data.

    ``ratio``: mean vaebench epoch / mean bare epoch (Fieller, paired rounds);
    ``extra_seconds``: the difference per epoch (paired t); ``projected_ratio``: the ratio
    for an epoch of ``projected_images`` images, assuming the extra time is per epoch and
    the bare time per image (an extrapolation, not a measurement).
    """

    ratio: Estimate
    extra_seconds: Estimate
    projected_ratio: float
    projected_images: int
    bare_seconds: list[float]
    vaebench_seconds: list[float]
    images: int
    probe_size: int

    def to_info(self) -> dict:
        return {"overhead_ratio": self.ratio.value, "overhead_ratio_ci": [self.ratio.low, self.ratio.high],
                "overhead_extra_seconds_per_epoch": self.extra_seconds.value,
                "overhead_extra_seconds_ci": [self.extra_seconds.low, self.extra_seconds.high],
                "overhead_projected_ratio": self.projected_ratio,
                "overhead_projected_images": self.projected_images,
                "bare_round_seconds": self.bare_seconds, "vaebench_round_seconds": self.vaebench_seconds,
                "epoch_images": self.images, "probe_size": self.probe_size}


def _check_images(images, batch_size: int) -> np.ndarray:
    images = np.asarray(images)
    require(images.dtype == np.uint8 and images.ndim == 4 and len(images) >= batch_size,
            f"images of dtype {images.dtype} and shape {images.shape} must be uint8 (N, S, S, 3) with "
            f"N >= batch_size={batch_size}; make them with vaebench.bench.make_batch")
    return images


def pack_trainer(spec: ModelSpec, image_size: int, images: np.ndarray, batch_size: int, pack: int = 1,
                 learning_rate: float = 5e-4, precision: str = "float32", probe_size: int = 512,
                 seeds: Sequence[int] | None = None, feed: str | None = None):
    """A :class:`vaebench.train.trainer.PackTrainer` (progress output off) of ``pack`` jobs of
    ``spec`` with seeds ``0 .. pack-1`` (or ``seeds``) on the uint8 ``images``: the path
    :func:`vaebench.train.trainer.train_many` trains on. The probe is the first ``probe_size``
    images, as in training; ``feed`` as in training (default
    :func:`vaebench.train.trainer.default_feed`)."""
    return _pack_trainer(spec, image_size, _check_images(images, batch_size), batch_size, pack, learning_rate,
                         precision, probe_size, seeds, feed)


def _pack_trainer(spec: ModelSpec, image_size: int, images: np.ndarray, batch_size: int, pack: int,
                  learning_rate: float, precision: str, probe_size: int, seeds: Sequence[int] | None,
                  feed: str | None = None):
    """:func:`pack_trainer` on ``images`` that :func:`_check_images` has already checked."""
    from vaebench.config import DataSpec, TrainSpec
    from vaebench.train import Job, PackTrainer

    require(isinstance(pack, int) and pack >= 1, f"pack={pack!r} must be an integer >= 1 (models trained at once)")
    seeds = list(range(pack)) if seeds is None else [int(s) for s in seeds]
    require(len(seeds) == pack, f"seeds={seeds} must name {pack} seeds, one per model of the pack")
    require(images.shape[1] == image_size, f"images of shape {images.shape} are not {image_size}px")
    data = DataSpec(image_size=image_size, n_train=len(images), n_test=max(1, min(probe_size, len(images))))
    jobs = [Job(spec, TrainSpec(epochs=1, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
                                probe_size=probe_size, precision=precision)) for seed in seeds]
    return PackTrainer(data, jobs, images, progress=False, feed=feed)


def pack_step_memory(trainer) -> dict | None:
    """:func:`vaebench.bench.memory.compiled_step_memory` of one step of ``trainer``'s pack
    (a :class:`vaebench.train.PackTrainer` that has trained at least one step), on a batch of
    its feed's shape: K int32 index batches (device feed) or K uint8 image batches (host)."""
    from vaebench.bench.memory import compiled_step_memory

    b, k = trainer.spec.batch_size, len(trainer.members)
    if trainer.feed == "device":
        x = tuple(np.zeros((b,), np.int32) for _ in range(k))
    else:
        x = tuple(np.zeros((b,) + tuple(trainer.images.shape[1:]), np.uint8) for _ in range(k))
    return compiled_step_memory(trainer.pack, (x,))


@dataclass
class OverheadArms:
    """The two arms of :func:`fit_overhead`; unpacks as ``bare, vaebench_loop = arms``.

    ``bare()`` / ``vaebench()`` each run one epoch and return its seconds; ``model`` is the
    bare arm's compiled model, ``trainer`` the vaebench arm's :class:`~vaebench.train.trainer.PackTrainer`.
    """

    bare: Callable[[], float]
    vaebench: Callable[[], float]
    model: Any
    trainer: Any

    def __iter__(self):
        return iter((self.bare, self.vaebench))


def overhead_arms(spec: ModelSpec, image_size: int, images: np.ndarray, batch_size: int, probe_size: int = 512,
                  seed: int = 0, learning_rate: float = 5e-4, precision: str = "float32") -> OverheadArms:
    """``(bare, vaebench_loop)``: each trains one epoch of ``spec`` on ``images`` and returns its seconds.

    ``bare`` is ``model.fit`` (uint8 array, ``shuffle=True``, no callback) of a model from
    :func:`compiled_model`; ``vaebench_loop`` is :meth:`vaebench.train.trainer.PackTrainer.run_epoch`
    of a pack of one job with the same spec, seed, precision, batch size and learning rate
    (:func:`pack_trainer`): its own batch order from a ``PyDataset``, a loss check every 20
    batches, the first ``probe_size`` images encoded after the epoch and the history
    records, exactly what :func:`vaebench.train.trainer.train` does per epoch. Both start from
    the same initial weights (same seed) and each goes on training its own copy.
    """
    images = _check_images(images, batch_size)
    model = compiled_model(spec, image_size, seed=seed, learning_rate=learning_rate, precision=precision)
    trainer = _pack_trainer(spec, image_size, images, batch_size, pack=1, learning_rate=learning_rate,
                            precision=precision, probe_size=probe_size, seeds=[seed])

    def bare() -> float:
        return fit_epoch(model, images, batch_size)

    def vaebench_loop() -> float:
        t0 = time.perf_counter()
        trainer.run_epoch()
        return time.perf_counter() - t0

    return OverheadArms(bare, vaebench_loop, model, trainer)


def overhead_estimate(bare_seconds: Sequence[float], vaebench_seconds: Sequence[float], images: int,
                      probe_size: int, projected_images: int = POSTS_EPOCH_IMAGES) -> Overhead:
    """The :class:`Overhead` of paired rounds (round i of one arm ran next to round i of the other)."""
    require(len(bare_seconds) == len(vaebench_seconds) and len(bare_seconds) >= 2,
            f"need the same number (>= 2) of bare and vaebench rounds; got {len(bare_seconds)} and "
            f"{len(vaebench_seconds)}", StatsError)
    ratio = ratio_of_means(vaebench_seconds, bare_seconds, paired=True)
    extra = mean_ci(np.subtract(vaebench_seconds, bare_seconds))
    per_image = float(np.mean(bare_seconds)) / images
    projected = (per_image * projected_images + extra.value) / (per_image * projected_images)
    return Overhead(ratio, Estimate(extra.value, extra.low, extra.high, extra.level, "paired t", extra.n),
                    float(projected), int(projected_images), list(bare_seconds), list(vaebench_seconds),
                    int(images), int(probe_size))


def fit_overhead(spec: ModelSpec, image_size: int, images: np.ndarray, batch_size: int, rounds: int = 3,
                 warmup_rounds: int = 1, probe_size: int = 512, seed: int = 0, learning_rate: float = 5e-4,
                 precision: str = "float32", projected_images: int = POSTS_EPOCH_IMAGES) -> Overhead:
    """Time of an epoch as :func:`vaebench.train.trainer.train` runs it over a bare ``model.fit`` epoch.

    Both arms (:func:`overhead_arms`) train ``spec`` (same seed, same precision) for one
    epoch on the same uint8 ``images`` with the same batch size. Rounds alternate the
    order of the arms; ``warmup_rounds`` run both arms untimed first (tracing).
    """
    _check_rounds(rounds, warmup_rounds)
    require(rounds >= 2, f"rounds={rounds} must be >= 2 for a confidence interval of the overhead")
    bare, vaebench_loop = overhead_arms(spec, image_size, images, batch_size, probe_size, seed=seed,
                                        learning_rate=learning_rate, precision=precision)
    for _ in range(warmup_rounds):
        bare()
        vaebench_loop()
    arms = {"bare": bare, "vaebench": vaebench_loop}
    times: dict[str, list[float]] = {"bare": [], "vaebench": []}
    for _ in range(rounds):
        interleaved_round(arms, times, returns_seconds=True)
    return overhead_estimate(times["bare"], times["vaebench"], len(images), min(probe_size, len(images)),
                             projected_images)


def pack_throughput(spec: ModelSpec, image_size: int, images: np.ndarray, batch_size: int, pack: int = 2,
                    rounds: int = 3, warmup_rounds: int = 1, learning_rate: float = 5e-4,
                    precision: str = "float32") -> Throughput:
    """Model-images/s of a pack of ``pack`` models of ``spec`` (seeds 0 .. pack-1) trained at once.

    Times :meth:`vaebench.train.trainer.PackTrainer.fit_epoch` (every member one epoch over
    ``images``; no probe, no records) after ``warmup_rounds`` untimed epochs (tracing). The
    :class:`Throughput` counts ``pack × len(images)`` images per epoch: each model sees
    every image once. Divide by ``pack`` for one model's images/s.
    """
    _check_rounds(rounds, warmup_rounds)
    trainer = pack_trainer(spec, image_size, images, batch_size, pack=pack, learning_rate=learning_rate,
                           precision=precision)
    for _ in range(warmup_rounds):
        trainer.fit_epoch()
    seconds = [trainer.fit_epoch() for _ in range(rounds)]
    return throughput(pack * trainer.n_images, seconds)


def pedantic_rounds(benchmark: Any, fn: Callable[[], Any], rounds: int, warmup_rounds: int = 0) -> list[float]:
    """Run ``fn`` through pytest-benchmark's ``benchmark.pedantic`` and return its per-round seconds.

    When benchmarks are disabled (``--benchmark-disable``, or under pytest-xdist, where
    pytest-benchmark turns itself off) or ``benchmark`` is None, the rounds are timed
    here instead, so a test gets its timings either way.
    """
    _check_rounds(rounds, warmup_rounds)
    if benchmark is None:
        return time_rounds(fn, rounds, warmup_rounds)
    if getattr(benchmark, "disabled", False):
        for _ in range(warmup_rounds):
            fn()
        t0 = time.perf_counter()
        benchmark.pedantic(fn, rounds=1, iterations=1)  # disabled: pytest-benchmark just calls fn once
        first = time.perf_counter() - t0
        return [first] + (time_rounds(fn, rounds - 1, 0) if rounds > 1 else [])
    benchmark.pedantic(fn, rounds=rounds, warmup_rounds=warmup_rounds, iterations=1)
    return [float(x) for x in benchmark.stats.stats.data]


