"""Measuring functions: training-step time, epoch throughput, memory, and the overhead of
vaebench's training loop over a bare ``model.fit``.

Benchmarks measure, tests check: nothing here asserts on seconds. The pytest-benchmark
tests (``benchmarks/``, claim C5) call these functions and put their results into
``benchmark.extra_info`` with :func:`benchmark_info` (backend, device, dtype, batch size,
image size, model).

Time
----
* :func:`train_step` — one optimiser step of a compiled model on a fixed batch that is
  already a backend tensor (no input pipeline in it). The function returns the loss as a
  Python float, which waits for the device (TensorFlow/PyTorch/JAX dispatch
  asynchronously; converting the result to a host number blocks until the step is done).
* :func:`time_rounds` / :func:`time_interleaved` — per-round wall-clock seconds with
  warm-up rounds *outside* the timed rounds (the first call traces and compiles the step:
  seconds on CPU, more with XLA). ``time_interleaved`` rotates several functions round by
  round so that drifting machine load (other jobs, thermal state) hits all of them alike;
  :func:`interleaved_round` runs one such round (for a pytest-benchmark round, or for
  functions that return their own seconds, like :func:`overhead_arms`).
* :func:`epoch_throughput` — images/s of whole ``model.fit`` epochs from uint8 NumPy
  arrays, i.e. *including* vaebench's input pipeline (Keras' array adapter: shuffling,
  batching, host-to-device copies; the uint8→float conversion runs in the model).
* :func:`fit_overhead` — the time of an epoch as :func:`vaebench.training.train` runs it
  (a :class:`vaebench.training.PackTrainer` of one job, :meth:`~vaebench.training.PackTrainer.run_epoch`:
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
  Keras model (:class:`vaebench.training.PackTrainer`, :meth:`~vaebench.training.PackTrainer.fit_epoch`):
  K × images per epoch over the epoch's seconds. Where one small model leaves a GPU idle,
  the figure grows with K until the device is full; on a CPU, where one model already
  keeps the cores busy, it need not grow at all.
* :class:`GpuUtilisation` — mean and peak GPU utilisation (%) and peak memory in use
  (MiB) sampled by ``nvidia-smi`` every 0.1 s while the timed work runs; None figures,
  with the reason, where there is no ``nvidia-smi``.
* :func:`ratio_of_means` — Fieller's confidence interval of a ratio of mean times
  (independent or paired rounds), exact for normal round times and honest with 5 rounds,
  where a bootstrap of 5 values is not. :func:`median_ratio` — the median of paired
  per-round ratios with an order-statistic interval: robust to load spikes on a shared
  machine (the statistic of claim C5).
* :func:`pedantic_rounds` — rounds through pytest-benchmark's ``benchmark.pedantic``
  (per-round seconds back), timed here instead when benchmarks are disabled.

Memory (what each figure measures, and its limits)
--------------------------------------------------
* :func:`device_memory` — bytes held by the backend's allocator, ``current`` and ``peak``:

  - TensorFlow: ``tf.config.experimental.get_memory_info('GPU:0')`` on a GPU and
    ``'CPU:0'`` otherwise, reset by ``tf.config.experimental.reset_memory_stats``. It
    counts tensors of TensorFlow's allocator (weights, optimiser state, activations,
    gradients). On CPU it sees the large tensors only: scratch memory that oneDNN/Eigen
    allocate themselves, small tensors (a tiny model reads 0) and the memory of the Python
    process are not in it.
  - PyTorch: ``torch.cuda.memory_allocated()`` / ``torch.cuda.max_memory_allocated()``,
    reset by ``torch.cuda.reset_peak_memory_stats()``: tensors of the CUDA caching
    allocator (not its cache, not the CUDA context). PyTorch keeps no CPU figures: None.
  - JAX: ``device.memory_stats()['bytes_in_use' / 'peak_bytes_in_use']`` of the first
    local device. JAX cannot reset its peak, so the peak is a high-water mark of the
    whole process (a step's own peak is only known when it exceeds everything before).
    The CPU client gives no statistics: None.

* :func:`peak_rss_bytes` — the peak resident set size of the *whole process*
  (``VmHWM`` from ``/proc/self/status``, else ``resource.getrusage``'s ``ru_maxrss``).
  It is a high-water mark: it includes the interpreter, the libraries, every model and
  array alive and every allocator's cache, and only rises. Compare it only within one
  process and only as increments (:attr:`MemoryReading.rss_increment_bytes`). On Linux
  :func:`reset_peak_rss` lowers the mark to the current RSS (``/proc/self/clear_refs``,
  value 5), so the increment is the peak of the measured call over the RSS before it;
  elsewhere the mark cannot be reset and an increment of 0 only says the call did not
  exceed the earlier peak. Memory an allocator caches from an earlier call is reused
  without raising the RSS, so the first call of a kind shows more than later ones.
* ``tracemalloc`` (:func:`measure_memory` with ``trace_python=True``) — the peak of
  allocations made through Python's allocator during the call, which includes NumPy
  arrays (NumPy reports its buffers to tracemalloc) but not backend tensors. It sees the
  NumPy side of the input pipeline, nothing of the model.
* :func:`state_bytes` / :func:`analytic_state_bytes` — the bytes of the weights and the
  optimiser's state, from the variables' shapes and dtypes (Adam: two moments per
  trainable weight): what a parameter count costs in memory, before any activation.
"""
from __future__ import annotations

import math
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import keras

from . import backend
from .config import ModelSpec, Scale
from .errors import SpecError, StatsError, require
from .estimate import Estimate, mean_ci

#: the posts' configuration (post XII): 96x96 images, batch 128, z_dim 256
POSTS_IMAGE_SIZE, POSTS_BATCH_SIZE, POSTS_Z_DIM = 96, 128, 256
#: CelebA training images per epoch in the posts (for the projected overhead ratio)
POSTS_EPOCH_IMAGES = 170_000


# --------------------------------------------------------------------------- configuration

@dataclass(frozen=True)
class BenchConfig:
    """Sizes and round counts of the benchmarks at one scale.

    ``smoke`` uses the scale's own small sizes (the machinery in seconds, numbers mean
    nothing); every other scale uses the posts' configuration, 96x96 images at batch 128
    with z_dim 256, whatever the scale trains on (a benchmark needs no trained weights).
    ``claim_rounds``: the interleaved rounds of claim C5's step-time ratio (more than a
    plain benchmark's, since a verdict rests on their confidence interval).
    :attr:`pack_sizes`: how many models the pack-throughput benchmark trains at once
    (:func:`bench_pack_sizes` of ``scale``).
    """

    scale: str
    image_size: int
    batch_size: int
    z_dim: int
    step_rounds: int
    step_warmup: int
    epoch_batches: int
    epoch_rounds: int
    epoch_warmup: int
    overhead_rounds: int
    probe_size: int
    claim_rounds: int = 15
    learning_rate: float = 5e-4

    @property
    def pack_sizes(self) -> tuple[int, ...]:
        return bench_pack_sizes(self.scale)

    @property
    def epoch_images(self) -> int:
        return self.epoch_batches * self.batch_size

    def to_dict(self) -> dict:
        return {**asdict(self), "pack_sizes": self.pack_sizes}


def bench_pack_sizes(scale_name: str | None) -> tuple[int, ...]:
    """Pack sizes of the pack-throughput benchmark at the scale called ``scale_name``:
    (1, 2) at ``smoke``, (1, 2, 4, 8) at every other scale (and when the name is not known
    yet, e.g. ``auto`` at collection time)."""
    return (1, 2) if scale_name == "smoke" else (1, 2, 4, 8)


def bench_config(scale: Scale) -> BenchConfig:
    """The :class:`BenchConfig` for ``scale`` (see there).

    An epoch round holds 4 batches on a CPU (seconds each) and 200 batches (25,600 images)
    where the backend sees an accelerator, so that a round lasts long enough on a GPU for
    the per-epoch fixed costs (starting ``fit``, the first batch's transfer) not to swamp it.
    """
    if scale.name == "smoke":
        sizes = dict(image_size=scale.data.image_size, batch_size=scale.train.batch_size, z_dim=scale.z_dim,
                     step_rounds=20, epoch_batches=8, epoch_rounds=5, overhead_rounds=5)
    else:
        sizes = dict(image_size=POSTS_IMAGE_SIZE, batch_size=POSTS_BATCH_SIZE, z_dim=POSTS_Z_DIM, step_rounds=5,
                     epoch_batches=200 if backend.accelerator_visible() else 4, epoch_rounds=3, overhead_rounds=3)
    return BenchConfig(scale=scale.name, step_warmup=2, epoch_warmup=1, probe_size=scale.train.probe_size,
                       claim_rounds=15, learning_rate=scale.train.learning_rate, **sizes)


# --------------------------------------------------------------------------- models and data

def make_batch(image_size: int, batch_size: int, seed: int = 0) -> np.ndarray:
    """``batch_size`` seeded random uint8 images (speed does not depend on their content)."""
    require(isinstance(batch_size, int) and batch_size > 0, f"batch_size={batch_size!r} must be a positive integer")
    require(isinstance(image_size, int) and image_size > 0, f"image_size={image_size!r} must be a positive integer")
    return np.random.default_rng(seed).integers(0, 256, (batch_size, image_size, image_size, 3), dtype=np.uint8)


def compiled_model(spec: ModelSpec, image_size: int, seed: int = 0, learning_rate: float = 5e-4,
                   precision: str = "float32"):
    """The model of ``spec``, seeded, built in ``precision`` and compiled with Adam as
    :func:`vaebench.training.train` builds its members (the same initial weights)."""
    from .models import build_model

    backend.seed_everything(seed)
    model = build_model(spec, image_size, seed=seed, precision=precision)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate))
    return model


def train_step(model, batch: np.ndarray) -> Callable[[], float]:
    """A function running one training step of ``model`` on ``batch`` and returning the loss.

    The batch becomes a backend tensor once, here, so the step holds no input pipeline.
    Returning ``float(loss)`` waits for the device, so timing the call times the step.
    """
    x = keras.ops.convert_to_tensor(np.asarray(batch))

    def step() -> float:
        logs = model.train_on_batch(x, return_dict=True)
        return float(logs["loss"])

    return step


def parameters(model) -> dict[str, int]:
    """``{'params': all weights, 'trainable_params': trainable weights}`` (:func:`vaebench.models.count_params`)."""
    from .models import count_params

    return {"params": count_params(model), "trainable_params": count_params(model, trainable_only=True)}


def environment() -> dict:
    """Backend, device, float dtype and whether an accelerator is visible."""
    return {"backend": backend.name(), "device": backend.device(), "dtype": keras.config.floatx(),
            "dtype_policy": keras.config.dtype_policy().name, "accelerator": backend.accelerator_visible(),
            "python": platform.python_version(), "keras": keras.__version__}


def benchmark_info(spec: ModelSpec, image_size: int, batch_size: int, model: Any = None, label: str | None = None,
                   precision: str = "float32", **extra: Any) -> dict:
    """What a benchmark ran: environment, model, compute precision and sizes, for ``benchmark.extra_info``."""
    info = {**environment(), "model": label or model_label(spec), "kind": spec.kind, "z_dim": spec.z_dim,
            "dense": spec.dense, "batchnorm": spec.batchnorm, "precision": precision,
            "image_size": int(image_size), "batch_size": int(batch_size)}
    if model is not None:
        info.update(parameters(model))
    info.update(extra)
    return info


def model_label(spec: ModelSpec) -> str:
    label = spec.kind.upper()
    if spec.dense is not None:
        label += f"+Dense({spec.dense})"
    return label


# --------------------------------------------------------------------------- timing

def _check_rounds(rounds: int, warmup_rounds: int) -> None:
    require(isinstance(rounds, int) and rounds >= 1, f"rounds={rounds!r} must be an integer >= 1")
    require(isinstance(warmup_rounds, int) and warmup_rounds >= 0,
            f"warmup_rounds={warmup_rounds!r} must be an integer >= 0 (1 or 2 keep compilation out)")


def time_rounds(fn: Callable[[], Any], rounds: int, warmup_rounds: int = 1,
                timer: Callable[[], float] = time.perf_counter) -> list[float]:
    """Seconds of each of ``rounds`` calls of ``fn``, after ``warmup_rounds`` untimed calls.

    ``fn`` must wait for the device itself (as :func:`train_step` does).
    """
    _check_rounds(rounds, warmup_rounds)
    for _ in range(warmup_rounds):
        fn()
    out = []
    for _ in range(rounds):
        t0 = timer()
        fn()
        out.append(timer() - t0)
    return out


def time_interleaved(fns: Mapping[str, Callable[[], Any]], rounds: int, warmup_rounds: int = 1,
                     timer: Callable[[], float] = time.perf_counter) -> dict[str, list[float]]:
    """Per-round seconds of several functions, run round by round in rotating order.

    Round ``r`` runs every function once, starting with the ``r``-th, so slow drifts of
    the machine's load affect all of them alike and round ``r`` of one pairs with round
    ``r`` of another (:func:`ratio_of_means` with ``paired=True``). Warm-up rounds run
    every function ``warmup_rounds`` times first, untimed.
    """
    _check_rounds(rounds, warmup_rounds)
    require(len(fns) > 0, "fns={} names no function to time; pass {'label': callable, ...}")
    for _ in range(warmup_rounds):
        for fn in fns.values():
            fn()
    out: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        interleaved_round(fns, out, timer=timer)
    return out


def interleaved_round(fns: Mapping[str, Callable[[], float | Any]], times: dict[str, list[float]],
                      returns_seconds: bool = False, timer: Callable[[], float] = time.perf_counter) -> None:
    """One round of :func:`time_interleaved`: every function of ``fns`` once, in rotating order.

    The round starts with the ``k``-th function of ``fns`` (in its order), ``k = len(times[first
    name]) % len(fns)``: the number of rounds already in ``times`` picks the start, so round
    ``r`` starts with the ``r``-th function and wraps around. Each function's seconds are
    appended to ``times[name]`` (created when missing): ``timer()`` around the call, or, with
    ``returns_seconds=True``, the call's own return value (functions that time themselves,
    such as the arms of :func:`overhead_arms`).
    """
    require(len(fns) > 0, "fns={} names no function to time; pass {'label': callable, ...}")
    names = list(fns)
    k = len(times.get(names[0], ())) % len(names)
    for name in names[k:] + names[:k]:
        if returns_seconds:
            seconds = fns[name]()
        else:
            t0 = timer()
            fns[name]()
            seconds = timer() - t0
        times.setdefault(name, []).append(seconds)


def ratio_of_means(a: Sequence[float], b: Sequence[float], level: float = 0.95, paired: bool = False) -> Estimate:
    """mean(a) / mean(b) with Fieller's confidence interval.

    The interval is the set of ratios ρ for which ``mean(a) − ρ·mean(b)`` is not
    significantly different from 0 by a t test: with independent samples its variance is
    ``s_a²/n_a + ρ² s_b²/n_b`` (Welch's degrees of freedom at ρ = the estimate); with
    ``paired=True`` (round i of ``a`` ran next to round i of ``b``) it is
    ``(s_a² − 2ρ s_ab + ρ² s_b²)/n`` with n − 1 degrees of freedom. When mean(b) is not
    significantly above 0 the set is unbounded and the upper bound is ``inf``. Needs at
    least 2 values in each sample, all finite, mean(b) > 0.
    """
    from scipy import stats as sps

    require(0 < level < 1, f"level={level!r} must lie strictly between 0 and 1, e.g. 0.95", StatsError)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    require(a.ndim == 1 and b.ndim == 1 and a.size >= 2 and b.size >= 2,
            f"ratio_of_means needs two 1-D samples of at least 2 values (got sizes {a.size} and {b.size}); "
            "time more rounds", StatsError)
    require(bool(np.all(np.isfinite(a)) and np.all(np.isfinite(b))),
            "ratio_of_means got non-finite values; drop failed rounds first", StatsError)
    ma, mb = float(a.mean()), float(b.mean())
    require(mb > 0, f"mean(b)={mb} must be > 0 for a ratio of means", StatsError)
    r = ma / mb
    if paired:
        require(a.size == b.size, f"paired samples have different lengths ({a.size}, {b.size}); "
                "use paired=False or pass equal-length rounds", StatsError)
        n = a.size
        cov = np.cov(a, b, ddof=1)
        vaa, vbb, vab = cov[0, 0] / n, cov[1, 1] / n, cov[0, 1] / n
        df = n - 1
    else:
        vaa, vbb, vab = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size, 0.0
        num = (vaa + r * r * vbb) ** 2
        den = (vaa ** 2 / (a.size - 1) if vaa > 0 else 0.0) + ((r * r * vbb) ** 2 / (b.size - 1) if vbb > 0 else 0.0)
        df = num / den if den > 0 else float(a.size + b.size - 2)
    t = float(sps.t.ppf(0.5 + level / 2, df))
    # (ma - ρ mb)^2 = t^2 (vaa - 2ρ vab + ρ^2 vbb)  ->  A ρ^2 - 2 B ρ + C = 0
    A = mb * mb - t * t * vbb
    B = ma * mb - t * t * vab
    C = ma * ma - t * t * vaa
    method = f"Fieller ({'paired' if paired else 'Welch'})"
    n_obs = a.size if paired else a.size + b.size
    if A <= 0:
        return Estimate(r, 0.0, math.inf, level, method + ", unbounded", n_obs)
    disc = max(B * B - A * C, 0.0)
    lo, hi = (B - math.sqrt(disc)) / A, (B + math.sqrt(disc)) / A
    return Estimate(r, min(lo, r), max(hi, r), level, method, n_obs)


def median_ratio(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Estimate:
    """Median of the paired per-round ratios ``a[i] / b[i]`` with its exact order-statistic CI.

    Round i of ``a`` ran next to round i of ``b`` (:func:`time_interleaved`), so a slow
    phase of the machine scales both and cancels in their ratio; a load spike that hits
    one step only makes one outlying ratio, which the median ignores (a ratio of means
    does not: one spike can make Fieller's interval unbounded). The interval
    (:func:`vaebench.stats.quantile_ci`) is distribution-free.
    """
    from .estimate import quantile_ci

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    require(a.ndim == 1 and a.shape == b.shape and a.size >= 2,
            f"median_ratio needs two paired 1-D samples of the same length >= 2 (got {a.shape} and {b.shape})",
            StatsError)
    require(bool(np.all(b > 0) and np.all(np.isfinite(a))), "median_ratio needs finite times and b > 0", StatsError)
    est = quantile_ci(a / b, 0.5, level)
    return Estimate(est.value, est.low, est.high, est.level, "median of paired ratios, order statistics", est.n)


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
            f"N >= batch_size={batch_size}; make them with vaebench.benchmark.make_batch")
    return images


def pack_trainer(spec: ModelSpec, image_size: int, images: np.ndarray, batch_size: int, pack: int = 1,
                 learning_rate: float = 5e-4, precision: str = "float32", probe_size: int = 512,
                 seeds: Sequence[int] | None = None):
    """A :class:`vaebench.training.PackTrainer` (progress output off) of ``pack`` jobs of
    ``spec`` with seeds ``0 .. pack-1`` (or ``seeds``) on the uint8 ``images``: the path
    :func:`vaebench.training.train_many` trains on. The probe is the first ``probe_size``
    images, as in training."""
    return _pack_trainer(spec, image_size, _check_images(images, batch_size), batch_size, pack, learning_rate,
                         precision, probe_size, seeds)


def _pack_trainer(spec: ModelSpec, image_size: int, images: np.ndarray, batch_size: int, pack: int,
                  learning_rate: float, precision: str, probe_size: int, seeds: Sequence[int] | None):
    """:func:`pack_trainer` on ``images`` that :func:`_check_images` has already checked."""
    from .config import DataSpec, TrainSpec
    from .training import Job, PackTrainer

    require(isinstance(pack, int) and pack >= 1, f"pack={pack!r} must be an integer >= 1 (models trained at once)")
    seeds = list(range(pack)) if seeds is None else [int(s) for s in seeds]
    require(len(seeds) == pack, f"seeds={seeds} must name {pack} seeds, one per model of the pack")
    require(images.shape[1] == image_size, f"images of shape {images.shape} are not {image_size}px")
    data = DataSpec(image_size=image_size, n_train=len(images), n_test=max(1, min(probe_size, len(images))))
    jobs = [Job(spec, TrainSpec(epochs=1, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
                                probe_size=probe_size, precision=precision)) for seed in seeds]
    return PackTrainer(data, jobs, images, progress=False)


@dataclass
class OverheadArms:
    """The two arms of :func:`fit_overhead`; unpacks as ``bare, vaebench_loop = arms``.

    ``bare()`` / ``vaebench()`` each run one epoch and return its seconds; ``model`` is the
    bare arm's compiled model, ``trainer`` the vaebench arm's :class:`~vaebench.training.PackTrainer`.
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
    :func:`compiled_model`; ``vaebench_loop`` is :meth:`vaebench.training.PackTrainer.run_epoch`
    of a pack of one job with the same spec, seed, precision, batch size and learning rate
    (:func:`pack_trainer`): its own batch order from a ``PyDataset``, a loss check every 20
    batches, the first ``probe_size`` images encoded after the epoch and the history
    records, exactly what :func:`vaebench.training.train` does per epoch. Both start from
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
    """Time of an epoch as :func:`vaebench.training.train` runs it over a bare ``model.fit`` epoch.

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

    Times :meth:`vaebench.training.PackTrainer.fit_epoch` (every member one epoch over
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


# --------------------------------------------------------------------------- GPU utilisation

#: what :class:`GpuUtilisation` asks ``nvidia-smi`` for (one line per sample)
NVIDIA_SMI_QUERY = ("--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits")


def _visible_gpu() -> str:
    """The GPU the backend computes on, as ``nvidia-smi -i`` names it: the first entry of
    ``CUDA_VISIBLE_DEVICES`` (an index or a UUID; nvidia-smi ignores that variable), else 0."""
    first = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    return first if first and not first.startswith("-") else "0"


class GpuUtilisation:
    """Samples GPU utilisation while a ``with`` block runs: ``nvidia-smi`` every ``interval_ms``.

    ::

        with GpuUtilisation() as gpu:
            seconds = time_rounds(step, 5)
        gpu.to_info()  # {'gpu_utilisation': 87.5, 'gpu_utilisation_max': 99.0, ...}

    ``utilisation.gpu`` is the share of the sample period in which a kernel ran on the
    GPU (not how much of the GPU it used: one small kernel at a time reads 100 %), so a
    low figure shows a device starved by the host (input pipeline, Python, launches), a
    high one only that it was kept busy. ``memory.used`` (MiB) is the whole GPU's,
    every process and TensorFlow's pre-allocated pool included.

    Without ``nvidia-smi`` on PATH (CPU, AMD, Apple) every figure is None and
    ``note`` says why; so too where it gives no numbers (``[N/A]``, e.g. under MIG) or no
    line within ``first_line_timeout`` seconds (the block's end waits that long at most
    for the first sample). ``gpu``: the ``nvidia-smi -i`` index or UUID (default: the first
    of ``CUDA_VISIBLE_DEVICES``, else 0).
    """

    def __init__(self, interval_ms: int = 100, gpu: str | int | None = None, executable: str = "nvidia-smi",
                 first_line_timeout: float = 2.0):
        require(isinstance(interval_ms, int) and interval_ms > 0,
                f"interval_ms={interval_ms!r} must be a positive integer")
        self.interval_ms, self.executable, self.first_line_timeout = interval_ms, executable, first_line_timeout
        self.gpu = str(gpu) if gpu is not None else _visible_gpu()
        self.samples: list[tuple[float, float | None]] = []
        self.note: str | None = None
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._unparsed = 0
        self._first_line = threading.Event()

    def command(self, path: str) -> list[str]:
        return [path, *NVIDIA_SMI_QUERY, "-i", self.gpu, "-lms", str(self.interval_ms)]

    def _read(self, stream) -> None:
        try:
            for line in stream:
                parts = [p.strip() for p in line.split(",")]
                try:
                    util = float(parts[0])
                    memory = float(parts[1]) if len(parts) > 1 else None
                except (ValueError, IndexError):
                    self._unparsed += 1
                else:
                    self.samples.append((util, memory))
                self._first_line.set()
        finally:
            self._first_line.set()  # end of output: nothing more to wait for

    def __enter__(self) -> "GpuUtilisation":
        self.samples, self.note, self._unparsed = [], None, 0
        self._first_line.clear()
        path = shutil.which(self.executable)
        if path is None:
            self.note = f"no {self.executable}"
            return self
        try:
            self._proc = subprocess.Popen(self.command(path), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                          text=True, bufsize=1)
        except OSError as err:
            self.note = f"{self.executable} did not start: {err}"
            return self
        self._reader = threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True)
        self._reader.start()
        return self

    def __exit__(self, *exc) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        # a block shorter than nvidia-smi's start-up still gets its first sample (utilization.gpu
        # averages over the past sample period, so that sample still covers the block's end)
        self._first_line.wait(self.first_line_timeout)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        if not self.samples:
            self.note = (f"{self.executable} gave no utilisation figures ({self._unparsed} lines unread, "
                         "e.g. [N/A] under MIG)" if self._unparsed else
                         f"no sample: the work ended before {self.executable}'s first line")

    @property
    def mean(self) -> float | None:
        """Mean utilisation (%) over the samples, None without samples."""
        return float(np.mean([u for u, _ in self.samples])) if self.samples else None

    @property
    def max(self) -> float | None:
        return float(max(u for u, _ in self.samples)) if self.samples else None

    @property
    def memory_max_mib(self) -> float | None:
        used = [m for _, m in self.samples if m is not None]
        return float(max(used)) if used else None

    def to_info(self) -> dict:
        return {"gpu_utilisation": self.mean, "gpu_utilisation_max": self.max,
                "gpu_memory_used_max_mib": self.memory_max_mib, "gpu_utilisation_samples": len(self.samples),
                "gpu_utilisation_interval_ms": self.interval_ms, "gpu_utilisation_note": self.note}


# --------------------------------------------------------------------------- memory

def _tf_device() -> str:
    import tensorflow as tf

    return "GPU:0" if tf.config.list_physical_devices("GPU") else "CPU:0"


def device_memory(backend_name: str | None = None) -> dict | None:
    """``{'current', 'peak', 'source', 'resettable'}`` bytes of the backend's allocator, or None.

    See the module docstring for what each backend's figures count. None when the backend
    keeps no figures on this device (PyTorch and JAX on CPU) or the call fails.
    """
    name = backend_name or backend.name()
    try:
        if name == "tensorflow":
            import tensorflow as tf

            dev = _tf_device()
            info = tf.config.experimental.get_memory_info(dev)
            return {"current": int(info["current"]), "peak": int(info["peak"]), "resettable": True,
                    "source": f"tf.config.experimental.get_memory_info('{dev}')"}
        if name == "torch":
            import torch

            if not torch.cuda.is_available():
                return None
            return {"current": int(torch.cuda.memory_allocated()), "peak": int(torch.cuda.max_memory_allocated()),
                    "resettable": True, "source": "torch.cuda.max_memory_allocated()"}
        if name == "jax":
            import jax

            dev = jax.local_devices()[0]
            stats = dev.memory_stats() if hasattr(dev, "memory_stats") else None
            if not stats or "peak_bytes_in_use" not in stats:
                return None
            return {"current": int(stats.get("bytes_in_use", 0)), "peak": int(stats["peak_bytes_in_use"]),
                    "resettable": False, "source": f"jax {dev.platform} memory_stats()['peak_bytes_in_use']"}
    except Exception:  # no allocator statistics on this device / build
        return None
    return None


def reset_device_peak(backend_name: str | None = None) -> bool:
    """Reset the allocator's peak to its current use; False where the backend cannot (JAX)."""
    name = backend_name or backend.name()
    try:
        if name == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.reset_memory_stats(_tf_device())
            return True
        if name == "torch":
            import torch

            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
                return True
    except Exception:
        return False
    return False


def _proc_status(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _ru_maxrss_bytes() -> int:
    import resource

    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(value if sys.platform == "darwin" else value * 1024)  # macOS: bytes, Linux: KiB


def current_rss_bytes() -> int:
    """The resident set size of this process now (falls back to the peak where unknown)."""
    rss = _proc_status("VmRSS")
    return rss if rss is not None else _ru_maxrss_bytes()


def peak_rss_bytes() -> int:
    """Peak resident set size of the whole process (a high-water mark; see the module docstring)."""
    hwm = _proc_status("VmHWM")
    return hwm if hwm is not None else _ru_maxrss_bytes()


def reset_peak_rss() -> bool:
    """Lower the process's RSS high-water mark to its current RSS (Linux ≥ 4.0); False elsewhere."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


@dataclass
class MemoryReading:
    """Memory of one measured call (:func:`measure_memory`); every figure in bytes.

    ``device_*``: the backend allocator (None where it keeps none): bytes in use before
    and after the call and the peak during it (when ``device_resettable``; else a process
    high-water mark). :attr:`device_increment` = peak − before is what the call itself
    needed on top of what was already allocated (for a training step: activations,
    gradients and temporaries; the weights and optimiser state were there before).
    ``rss_*``: the process's resident set before the call and its peak during it
    (``rss_reset``: whether the peak could be reset first). ``python_peak``: tracemalloc's
    peak (NumPy and other Python allocations) during the call, None when not traced.
    """

    device_before: int | None
    device_current: int | None
    device_peak: int | None
    device_source: str | None
    device_resettable: bool
    rss_before: int
    rss_peak: int
    rss_reset: bool
    python_peak: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def device_increment(self) -> int | None:
        """Allocator peak during the call over its use before it (None without figures or reset)."""
        if self.device_peak is None or self.device_before is None or not self.device_resettable:
            return None
        return max(0, self.device_peak - self.device_before)

    @property
    def rss_increment(self) -> int:
        """Peak RSS during the call over the RSS before it (0: did not exceed the earlier mark)."""
        return max(0, self.rss_peak - self.rss_before)

    def to_info(self, prefix: str = "") -> dict:
        out = {"device_peak_bytes": self.device_peak, "device_before_bytes": self.device_before,
               "device_current_bytes": self.device_current, "device_increment_bytes": self.device_increment,
               "device_memory_source": self.device_source, "device_peak_resettable": self.device_resettable,
               "rss_peak_bytes": self.rss_peak, "rss_before_bytes": self.rss_before,
               "rss_increment_bytes": self.rss_increment, "rss_peak_reset": self.rss_reset,
               "python_peak_bytes": self.python_peak}
        return {prefix + k: v for k, v in out.items()}


def measure_memory(fn: Callable[[], Any], trace_python: bool = True,
                   backend_name: str | None = None) -> tuple[Any, MemoryReading]:
    """Run ``fn()`` once and read every memory figure around it: ``(result, reading)``.

    Resets what can be reset first (allocator peak, RSS high-water mark). Tracing Python
    allocations slows Python code down: never measure time and memory in the same call.
    """
    notes = []
    before = device_memory(backend_name)
    reset_ok = reset_device_peak(backend_name)
    rss_reset = reset_peak_rss()
    if not rss_reset:
        notes.append("the RSS high-water mark could not be reset: rss_peak is the process's peak so far")
    rss_before = current_rss_bytes()
    tracing = trace_python and not tracemalloc.is_tracing()
    if tracing:
        tracemalloc.start()
        tracemalloc.reset_peak()
    try:
        result = fn()
        python_peak = tracemalloc.get_traced_memory()[1] if tracing else None
    finally:
        if tracing:
            tracemalloc.stop()
    rss_peak = peak_rss_bytes()
    dev = device_memory(backend_name)
    if dev is not None and not dev["resettable"]:
        notes.append(f"{dev['source']} cannot be reset: device_peak is the process's high-water mark")
    return result, MemoryReading(
        device_before=before["current"] if (dev and before) else None,
        device_current=dev["current"] if dev else None, device_peak=dev["peak"] if dev else None,
        device_source=dev["source"] if dev else None, device_resettable=bool(dev and dev["resettable"] and reset_ok),
        rss_before=rss_before, rss_peak=rss_peak, rss_reset=rss_reset, python_peak=python_peak, notes=notes)


def _variable_bytes(variables) -> int:
    total = 0
    for v in variables:
        itemsize = np.dtype(keras.backend.standardize_dtype(v.dtype)).itemsize
        total += int(np.prod(v.shape)) * itemsize
    return int(total)


def state_bytes(model) -> dict[str, int]:
    """Bytes of the model's weights and of its optimiser's variables (after the optimiser is built).

    ``weights`` counts every weight (BatchNorm statistics included); ``optimizer`` the
    optimiser's variables (Adam: two moments per trainable weight, plus its counters).
    """
    opt = getattr(model, "optimizer", None)
    require(opt is not None, "the model has no optimizer; compile it (vaebench.benchmark.compiled_model) "
            "and run one step first", SpecError)
    require(len(opt.variables) > 0 or not model.trainable_weights,
            "the optimizer is not built yet; run one training step first (it creates Adam's moments)", SpecError)
    w = _variable_bytes(model.weights)
    o = _variable_bytes(opt.variables)
    return {"weights": w, "optimizer": o, "total": w + o}


def analytic_state_bytes(n_params: int, bytes_per_value: int = 4, copies: int = 3) -> int:
    """``n_params × bytes_per_value × copies``: float32 weights plus Adam's two moments = 3 copies.

    ``n_params`` may be a difference of two models' trainable parameters (then negative
    when the second model has more).
    """
    require(isinstance(n_params, (int, np.integer)), f"n_params={n_params!r} must be an integer")
    require(bytes_per_value > 0 and copies > 0,
            f"bytes_per_value={bytes_per_value} and copies={copies} must be > 0 (float32: 4; Adam: 3 copies)")
    return int(n_params) * int(bytes_per_value) * int(copies)

