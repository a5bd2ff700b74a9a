"""Memory figures: what each one measures, and its limits.

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

* :func:`compiled_step_memory` — JAX: the memory XLA plans for one compiled training step
  (``jit(model.train_step).lower(...).compile().memory_analysis()``): its arguments (the
  weights, the optimiser's state, the metrics, the batch), its outputs less what aliases
  a donated argument, and its temporaries (activations, gradients, scratch). It is a
  figure per compiled step, the same on every call, on any device (CPU too), so it stands
  in for the peak JAX cannot reset: :func:`measure_memory` of a step made by
  :func:`vaebench.bench.setup.train_step` reads it on JAX (``device_increment`` = outputs
  not aliased + temporaries: what the step needs on top of what was allocated before).

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

import sys
import tracemalloc
from dataclasses import dataclass, field
from typing import Any, Callable

import keras
import numpy as np

from vaebench import backend
from vaebench.errors import SpecError, require

#: the posts' configuration (post XII): 96x96 images, batch 128, z_dim 256
POSTS_IMAGE_SIZE, POSTS_BATCH_SIZE, POSTS_Z_DIM = 96, 128, 256
#: CelebA training images per epoch in the posts (for the projected overhead ratio)
POSTS_EPOCH_IMAGES = 170_000




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


def _abstract(values):
    import jax

    return [jax.ShapeDtypeStruct(v.shape, v.dtype) for v in values]


def compiled_step_memory(model, data) -> dict | None:
    """JAX only: ``{'arguments', 'outputs', 'aliased', 'temporaries', 'step_peak', 'increment',
    'source'}`` bytes of one compiled training step of ``model`` (compiled, its optimizer built
    by a first step) on ``data`` (one batch as ``fit`` passes it to ``train_step``: ``(x,)``;
    arrays or anything with ``shape`` and ``dtype``). ``step_peak`` = arguments + outputs −
    aliased + temporaries; ``increment`` = ``step_peak`` − arguments. None on another backend,
    before the optimizer is built, or where XLA gives no analysis. Compiles the step again
    (seconds at the posts' size; nothing runs, no weight changes)."""
    if backend.name() != "jax" or not getattr(model, "optimizer", None) or not model.optimizer.variables:
        return None
    try:
        import jax

        state = tuple(_abstract([v.value for v in vs]) for vs in (
            model.trainable_variables, model.non_trainable_variables, model.optimizer.variables,
            model.metrics_variables))
        batch = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(tuple(a.shape), a.dtype), data)
        stats = jax.jit(model.train_step, donate_argnums=0).lower(state, batch).compile().memory_analysis()
    except Exception:  # no analysis on this device / build
        return None
    if stats is None:
        return None
    args, out = int(stats.argument_size_in_bytes), int(stats.output_size_in_bytes)
    alias, temp = int(stats.alias_size_in_bytes), int(stats.temp_size_in_bytes)
    peak = args + out - alias + temp
    return {"arguments": args, "outputs": out, "aliased": alias, "temporaries": temp, "step_peak": peak,
            "increment": peak - args, "source": "jax compiled train_step memory_analysis()"}


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
    compiled = getattr(fn, "compiled_memory", None)
    if compiled is not None and (backend_name or backend.name()) == "jax":
        step = compiled()
        if step is not None:
            return _measure_compiled(fn, step, trace_python)
    before = device_memory(backend_name)
    reset_ok = reset_device_peak(backend_name)
    rss_reset = reset_peak_rss()
    if not rss_reset:
        notes.append("the RSS high-water mark could not be reset: rss_peak is the process's peak so far")
    rss_before = current_rss_bytes()
    result, python_peak = _traced(fn, trace_python)
    rss_peak = peak_rss_bytes()
    dev = device_memory(backend_name)
    if dev is not None and not dev["resettable"]:
        notes.append(f"{dev['source']} cannot be reset: device_peak is the process's high-water mark")
    return result, MemoryReading(
        device_before=before["current"] if (dev and before) else None,
        device_current=dev["current"] if dev else None, device_peak=dev["peak"] if dev else None,
        device_source=dev["source"] if dev else None, device_resettable=bool(dev and dev["resettable"] and reset_ok),
        rss_before=rss_before, rss_peak=rss_peak, rss_reset=rss_reset, python_peak=python_peak, notes=notes)


def _traced(fn: Callable[[], Any], trace_python: bool) -> tuple[Any, int | None]:
    """``fn()`` and the peak of Python allocations during it (tracemalloc; None when not traced,
    or when someone else is already tracing)."""
    tracing = trace_python and not tracemalloc.is_tracing()
    if tracing:
        tracemalloc.start()
    try:
        result = fn()
        return result, (tracemalloc.get_traced_memory()[1] if tracing else None)
    finally:
        if tracing:
            tracemalloc.stop()


def _measure_compiled(fn: Callable[[], Any], step: dict, trace_python: bool) -> tuple[Any, MemoryReading]:
    """:func:`measure_memory` on JAX for a step with a compiled figure (:func:`compiled_step_memory`):
    the device figures are the compiled step's (per step, the same each call), the rest measured."""
    rss_reset = reset_peak_rss()
    rss_before = current_rss_bytes()
    result, python_peak = _traced(fn, trace_python)
    return result, MemoryReading(
        device_before=step["arguments"], device_current=step["arguments"], device_peak=step["step_peak"],
        device_source=step["source"], device_resettable=True, rss_before=rss_before, rss_peak=peak_rss_bytes(),
        rss_reset=rss_reset, python_peak=python_peak,
        notes=["device figures: the compiled step's memory analysis (per compiled step, not a runtime peak)"])


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
    require(opt is not None, "the model has no optimizer; compile it (vaebench.bench.compiled_model) "
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


