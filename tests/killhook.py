"""Test-only: a pack task wrapped so that one attempt SIGKILLs its own process mid-training.

``killing_once(task, marker, after_s)`` wraps an executor's pack task
(:func:`vaebench.store.executors.ray.ray_pack_task`, or
:func:`vaebench.store.executors.pack.train_pack` for the local executor): the first attempt
that creates the file ``marker`` (writing ``host:pid`` into it) kills its own process with
SIGKILL ``after_s`` seconds after its training starts (when it calls
``vaebench.train.trainer.train_many``). Every other attempt runs the task unchanged. For Ray,
call :func:`ship_by_value` first so that workers, which cannot import this module, get it."""
from __future__ import annotations

import os
import signal
import socket
import sys
import threading


def killing_once(task, marker: str, after_s: float):
    """``task`` wrapped as the module docstring says."""

    def run(*args, **kwargs):
        if claim_marker(marker):
            kill_when_training_starts(after_s)
        return task(*args, **kwargs)

    return run


def claim_marker(marker: str) -> bool:
    """Create ``marker`` (``host:pid`` in it) unless it exists; whether this call created it."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.write(fd, f"{socket.gethostname()}:{os.getpid()}".encode())
    os.close(fd)
    return True


def kill_when_training_starts(after_s: float) -> None:
    """From now on in this process, a call of ``train_many`` starts a timer that SIGKILLs the
    process ``after_s`` seconds later (the pack task looks ``train_many`` up at call time)."""
    from vaebench.train import trainer

    real = trainer.train_many

    def train_many(*args, **kwargs):
        timer = threading.Timer(after_s, os.kill, (os.getpid(), signal.SIGKILL))
        timer.daemon = True
        timer.start()
        return real(*args, **kwargs)

    trainer.train_many = train_many


def ship_by_value() -> None:
    """Have Ray pickle this module's functions by value: its workers do not have tests/ on their path."""
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
