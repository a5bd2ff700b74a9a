"""The namespace the benchmarks use (``from vaebench import bench as vb``): set-up in
:mod:`vaebench.bench.setup`, timing in
:mod:`vaebench.bench.timing`, epochs and overhead in :mod:`vaebench.bench.throughput`, GPU utilisation in
:mod:`vaebench.bench.gpu`, memory in :mod:`vaebench.bench.memory`.

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

from vaebench import backend  # noqa: F401
from vaebench.bench.gpu import NVIDIA_SMI_QUERY, GpuUtilisation  # noqa: F401
from vaebench.bench.memory import (  # noqa: F401
    MemoryReading,
    analytic_state_bytes,
    current_rss_bytes,
    device_memory,
    measure_memory,
    peak_rss_bytes,
    reset_device_peak,
    reset_peak_rss,
    state_bytes,
)
from vaebench.bench.setup import (  # noqa: F401
    POSTS_BATCH_SIZE,
    POSTS_EPOCH_IMAGES,
    POSTS_IMAGE_SIZE,
    POSTS_Z_DIM,
    BenchConfig,
    bench_config,
    bench_pack_sizes,
    benchmark_info,
    compiled_model,
    environment,
    make_batch,
    model_label,
    parameters,
    train_step,
)
from vaebench.bench.throughput import (  # noqa: F401
    Overhead,
    OverheadArms,
    Throughput,
    epoch_throughput,
    fit_epoch,
    fit_overhead,
    overhead_arms,
    overhead_estimate,
    pack_throughput,
    pack_trainer,
    pedantic_rounds,
    throughput,
)
from vaebench.bench.timing import (  # noqa: F401
    dispatch_seconds,
    interleaved_round,
    median_ratio,
    ratio_of_means,
    time_interleaved,
    time_rounds,
)
