"""The CPU threads a model trains with. On a CPU they change its weights by float32 rounding
(the order of each reduction), so every store entry records them (:func:`cpu_threads`, in
its meta) and a worker process sets them before its backend loads (:func:`pin_threads`).

They are not part of the store key, as the device is not: a model trained with other
threads is the same spec, data and code computed in another order, as on another machine.
What the guarantees say instead: a model's weights are bitwise those of training it alone
with the same threads (``tests/test_executor.py``)."""
from __future__ import annotations

import os

#: the variables that set a process's thread counts (read when TensorFlow starts)
THREAD_ENV = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def cpu_threads() -> int | None:
    """The threads the Keras backend computes with on a CPU: TensorFlow's intra-op pool (its
    setting, else ``$TF_NUM_INTRAOP_THREADS``, else the cores), torch's ``get_num_threads``;
    None for JAX (XLA chooses)."""
    from vaebench import backend

    name = backend.name()
    if name == "tensorflow":
        import tensorflow as tf

        return (tf.config.threading.get_intra_op_parallelism_threads()
                or int(os.environ.get("TF_NUM_INTRAOP_THREADS") or 0) or os.cpu_count())
    if name == "torch":
        import torch

        return int(torch.get_num_threads())
    return None


def pin_threads(threads: int | None) -> None:
    """TensorFlow's intra- and inter-op threads ``threads``, when TensorFlow is the backend (None: as they are)."""
    if threads is None or os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        return
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:             # already initialised: the environment variables set them
        pass
