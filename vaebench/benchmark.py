"""The namespace the benchmarks use (``from vaebench import benchmark as vb``): set-up in :mod:`vaebench.benchsetup`, timing in
:mod:`vaebench.benchtime`, epochs and overhead in :mod:`vaebench.throughput`, GPU utilisation in
:mod:`vaebench.gpusampler`, memory in :mod:`vaebench.benchmemory`.

Benchmarks measure, tests check: nothing here asserts on seconds. The pytest-benchmark
tests (``benchmarks/``, claim C5) call these functions and put their results into
``benchmark.extra_info`` with :func:`benchmark_info` (backend, device, dtype, batch size,
image size, model).

* :func:`train_step` — one optimiser step of a compiled model on a fixed batch that is
  already a backend tensor (no input pipeline in it). The function returns the loss as a
  Python float, which waits for the device (TensorFlow/PyTorch/JAX dispatch
  asynchronously; converting the result to a host number blocks until the step is done).
"""
from __future__ import annotations

from . import backend  # noqa: F401
from .benchsetup import POSTS_BATCH_SIZE, POSTS_EPOCH_IMAGES, POSTS_IMAGE_SIZE, POSTS_Z_DIM, BenchConfig, bench_pack_sizes, bench_config, make_batch, compiled_model, train_step, parameters, environment, benchmark_info, model_label  # noqa: F401
from .benchtime import time_rounds, time_interleaved, interleaved_round, ratio_of_means, median_ratio  # noqa: F401
from .throughput import fit_epoch, Throughput, throughput, epoch_throughput, Overhead, pack_trainer, OverheadArms, overhead_arms, overhead_estimate, fit_overhead, pack_throughput, pedantic_rounds  # noqa: F401
from .gpusampler import NVIDIA_SMI_QUERY, GpuUtilisation  # noqa: F401
from .benchmemory import device_memory, reset_device_peak, current_rss_bytes, peak_rss_bytes, reset_peak_rss, MemoryReading, measure_memory, state_bytes, analytic_state_bytes  # noqa: F401
