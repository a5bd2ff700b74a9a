"""The active Keras backend and device: which one, whether an accelerator is visible,
and how to make runs reproducible. The only module that touches backend libraries
directly (model code stays in ``keras.ops``)."""
from __future__ import annotations

import os
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402


def name() -> str:
    """``'tensorflow'``, ``'jax'`` or ``'torch'``."""
    return keras.backend.backend()


def accelerator_visible() -> bool:
    """Whether the active backend sees a GPU (or TPU)."""
    backend = name()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            return bool(tf.config.list_physical_devices("GPU"))
        if backend == "jax":
            import jax

            return any(d.platform != "cpu" for d in jax.devices())
        if backend == "torch":
            import torch

            return bool(torch.cuda.is_available())
    except Exception:  # a broken driver means: no usable accelerator
        return False
    return False


def device() -> str:
    """A human-readable name of the device the backend computes on."""
    backend = name()
    try:
        if backend == "jax":
            import jax

            d = jax.devices()[0]
            return f"{d.platform}:{getattr(d, 'device_kind', d)}"
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return f"cuda:{torch.cuda.get_device_name(0)}"
        if backend == "tensorflow" and accelerator_visible():
            import tensorflow as tf

            gpu = tf.config.list_physical_devices("GPU")[0]
            details = tf.config.experimental.get_device_details(gpu)
            return f"gpu:{details.get('device_name', gpu.name)}"
    except Exception:
        pass
    return f"cpu:{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend, and ask the backend for deterministic ops.

    With the same seed the same spec trains to the same weights on CPU.
    """
    keras.utils.set_random_seed(int(seed))
    if name() == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.experimental.enable_op_determinism()
        except Exception:  # older TF without the switch
            pass
    elif name() == "torch":
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)


def versions() -> dict[str, str]:
    """Versions of the pieces that change numerical results."""
    import numpy

    out = {"keras": keras.__version__, "numpy": numpy.__version__, "python": platform.python_version(),
           "backend": name()}
    backend = name()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            out["tensorflow"] = tf.__version__
        elif backend == "jax":
            import jax

            out["jax"] = jax.__version__
        elif backend == "torch":
            import torch

            out["torch"] = torch.__version__
    except Exception:
        pass
    out["float32_arithmetic"] = float32_arithmetic()
    return out


def float32_arithmetic() -> str:
    """What float32 matmuls and convolutions run as on this backend and device: ``'float32'``
    or ``'tf32'`` (TensorFloat-32: float32 range, 10-bit mantissa, on NVIDIA GPUs of compute
    capability 8.0 and later), per kind, with the setting that decides it, e.g.
    ``'matmul tf32, conv tf32 (jax_default_matmul_precision=None, gpu)'``. On a CPU both are
    float32 whatever the setting."""
    backend = name()
    gpu = accelerator_visible()
    try:
        if backend == "jax":
            import jax

            setting = jax.config.jax_default_matmul_precision
            tf32 = gpu and setting in (None, "default", "bfloat16", "tensorfloat32", "fastest")
            return f"matmul {_tf32(tf32)}, conv {_tf32(tf32)} (jax_default_matmul_precision={setting}, " \
                   f"{'gpu' if gpu else 'cpu'})"
        if backend == "torch":
            import torch

            mm, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
            return f"matmul {_tf32(gpu and mm)}, conv {_tf32(gpu and cudnn)} (torch.backends.cuda.matmul." \
                   f"allow_tf32={mm}, torch.backends.cudnn.allow_tf32={cudnn}, {'cuda' if gpu else 'cpu'})"
        if backend == "tensorflow":
            import tensorflow as tf

            on = tf.config.experimental.tensor_float_32_execution_enabled()
            return f"matmul {_tf32(gpu and on)}, conv {_tf32(gpu and on)} " \
                   f"(tensor_float_32_execution_enabled={on}, {'gpu' if gpu else 'cpu'})"
    except Exception as e:  # an old or broken build: say so rather than guess
        return f"unknown ({type(e).__name__}: {e})"
    return "unknown"


def _tf32(on: bool) -> str:
    """``'tf32 where the GPU has it'`` when TensorFloat-32 is allowed on a GPU, else ``'float32'``."""
    return "tf32 where the GPU has it (compute capability >= 8.0)" if on else "float32"
