"""Benchmark set-up: sizes per scale (:class:`BenchConfig`), compiled models, fixed batches,
parameter counts and the ``extra_info`` every benchmark carries."""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass
from typing import Any, Callable

import keras
import numpy as np

from vaebench import backend
from vaebench.config import ModelSpec, Scale
from vaebench.errors import require

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
    plain benchmark's, since a verdict rests on their confidence interval). At ``smoke``
    every benchmark has at least 8 rounds, so that ``vaebench compare``'s rule (exact
    Mann–Whitney, Holm over about 15 benchmarks at family α 0.05) can flag any one of them:
    5 + 5 rounds give p ≥ 1/252, above 0.05/15.
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
                     step_rounds=20, epoch_batches=8, epoch_rounds=8, overhead_rounds=8)
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
    :func:`vaebench.train.trainer.train` builds its members (the same initial weights)."""
    from vaebench.models.vae import build_model

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

    step.compiled_memory = _cached_compiled_memory(model, (x,))
    return step


def _cached_compiled_memory(model, data) -> Callable[[], dict | None]:
    """A function giving :func:`vaebench.bench.memory.compiled_step_memory` of ``model`` on
    ``data`` (a step's memory on JAX, for :func:`vaebench.bench.memory.measure_memory`),
    compiled once, on its first call after the optimizer is built."""
    from vaebench.bench.memory import compiled_step_memory

    cache: list = []

    def compiled() -> dict | None:
        if not cache:
            figure = compiled_step_memory(model, data)
            if figure is None:
                return None
            cache.append(figure)
        return cache[0]

    return compiled


def parameters(model) -> dict[str, int]:
    """``{'params': all weights, 'trainable_params': trainable weights}`` (:func:`vaebench.models.vae.count_params`)."""
    from vaebench.models.vae import count_params

    return {"params": count_params(model), "trainable_params": count_params(model, trainable_only=True)}


def environment() -> dict:
    """Backend, device, float dtype, what float32 matmuls and convolutions run as
    (:func:`vaebench.backend.float32_arithmetic`) and whether an accelerator is visible."""
    return {"backend": backend.name(), "device": backend.device(), "dtype": keras.config.floatx(),
            "dtype_policy": keras.config.dtype_policy().name, "accelerator": backend.accelerator_visible(),
            "float32_arithmetic": backend.float32_arithmetic(),
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
