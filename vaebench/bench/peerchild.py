"""One peer arm in a process of its own (issue 22): ``python -m vaebench.bench.peerchild CONFIG``.

``CONFIG`` is the JSON :func:`vaebench.bench.peerproc.child_config` writes: the arm's name,
the model (``spec``, ``image_size``, ``batch_size``, ``steps``, ``learning_rate``), the
``threads``, the ``library`` whose threads to set and the ``warmup`` epochs. The parent
checks first that the arm's package is importable (a missing one is a skipped arm, never
started). The thread settings come from the environment the parent
set (``OMP_NUM_THREADS``, ``OMP_WAIT_POLICY``, ``TF_NUM_INTRAOP_THREADS`` …) and are applied
here again through each library's own call before its first operation.

The protocol, one JSON object a line on stdout:

* after the warm-up epochs: ``{"ready": true, "settings": {...}}`` (the threads each
  library reports, the environment's thread variables, the Keras backend, whether
  TensorFlow is loaded in this process);
* then for each ``run`` line on stdin one timed epoch of ``steps`` steps:
  ``{"seconds": s, "images": n}``; ``quit`` or the end of stdin ends the process.

Each epoch waits for its last step (Keras ``fit`` returns after it, the torch arms read the
loss), so the seconds are the steps' own.
"""
from __future__ import annotations

import json
import os
import sys
import time
from typing import Callable

#: the environment variables that set threads, recorded with every arm
THREAD_ENV = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
              "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "KERAS_BACKEND", "XLA_FLAGS")


def _say(record: dict) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def set_threads(library: str, threads: int) -> dict:
    """Apply ``threads`` through ``library``'s own call (before its first operation) and
    return what it then reports."""
    if library == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        return {"tf_intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                "tf_inter_op": tf.config.threading.get_inter_op_parallelism_threads()}
    if library == "torch":
        import torch

        torch.set_num_threads(threads)
        return {"torch_threads": torch.get_num_threads(), "torch_interop_threads": torch.get_num_interop_threads()}
    return {}                                     # JAX: XLA_FLAGS in the environment, set by the parent


def settings(threads_reported: dict) -> dict:
    """What the record states about this process's threads."""
    return {**threads_reported, "env": {k: os.environ[k] for k in THREAD_ENV if k in os.environ},
            "tensorflow_loaded": "tensorflow" in sys.modules, "torch_loaded": "torch" in sys.modules,
            "pid": os.getpid(), "python": sys.executable}


def build_arm(config: dict) -> Callable[[], None]:
    """The arm's epoch: ``steps`` training steps of the model of ``config``."""
    from vaebench.bench import peers
    from vaebench.bench.setup import make_batch
    from vaebench.config import ModelSpec

    spec = ModelSpec(**config["spec"])
    size, batch = config["image_size"], config["batch_size"]
    images = make_batch(size, batch * config["steps"], seed=7)
    return peers.arm_epoch(config["arm"], spec, size, images, batch, config["threads"], config["learning_rate"])


def serve(config: dict, lines=sys.stdin) -> None:
    """The protocol of the module doc on ``lines`` (stdin)."""
    reported = set_threads(config["library"], config["threads"])
    epoch = build_arm(config)
    for _ in range(config["warmup"]):
        epoch()
    _say({"ready": True, "settings": settings(reported)})
    images = config["batch_size"] * config["steps"]
    for line in lines:
        if line.strip() != "run":
            break
        t0 = time.perf_counter()
        epoch()
        _say({"seconds": time.perf_counter() - t0, "images": images})


if __name__ == "__main__":
    serve(json.loads(sys.argv[1]))
