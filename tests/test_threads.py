"""The CPU threads a model trains with: what the store records, what a worker pins."""
import os

from vaebench.store import threads


def test_tensorflow_s_setting_comes_first_then_the_environment_then_the_cores(monkeypatch):
    import tensorflow as tf

    monkeypatch.setattr(tf.config.threading, "get_intra_op_parallelism_threads", lambda: 5)
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "3")
    assert threads.cpu_threads() == 5
    monkeypatch.setattr(tf.config.threading, "get_intra_op_parallelism_threads", lambda: 0)   # 0: not set
    assert threads.cpu_threads() == 3
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS")
    monkeypatch.setattr(os, "cpu_count", lambda: 7)
    assert threads.cpu_threads() == 7


def test_jax_reports_no_thread_count(monkeypatch):
    from vaebench import backend

    monkeypatch.setattr(backend, "name", lambda: "jax")
    assert threads.cpu_threads() is None


def test_no_threads_to_pin_leaves_the_backend_alone(monkeypatch):
    import tensorflow as tf

    calls = []
    monkeypatch.setattr(tf.config.threading, "set_intra_op_parallelism_threads", calls.append)
    threads.pin_threads(None)
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    threads.pin_threads(2)
    assert calls == []
