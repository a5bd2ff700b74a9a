"""The CPU threads a model trains with: what the store records, what a worker pins."""
import os

from vaebench.store import threads


def test_the_threads_are_the_backend_s_own_count():
    import tensorflow as tf

    n = threads.cpu_threads()
    assert isinstance(n, int) and n >= 1
    assert n == (tf.config.threading.get_intra_op_parallelism_threads()
                 or int(os.environ.get("TF_NUM_INTRAOP_THREADS") or 0) or os.cpu_count())


def test_jax_reports_no_thread_count(monkeypatch):
    import keras

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert threads.cpu_threads() is None


def test_no_threads_to_pin_leaves_the_backend_alone(monkeypatch):
    import tensorflow as tf

    calls = []
    monkeypatch.setattr(tf.config.threading, "set_intra_op_parallelism_threads", calls.append)
    threads.pin_threads(None)
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    threads.pin_threads(2)
    assert calls == []
