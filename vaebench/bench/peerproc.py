"""Peer arms in processes of their own, interleaved (issue 22, item 1).

Timed inside one process, the arms' thread pools compete (TensorFlow's beside OpenMP's in
PyTorch) and the comparison measures the competition. Here each arm of
:data:`vaebench.bench.peers.ARM_NAMES` runs in a process of its own
(:mod:`vaebench.bench.peerchild`), with its thread settings in its environment and stated in
its record; the processes start one after another (each builds its model and runs its
warm-up epochs alone), then wait while the others run: round ``r`` asks each arm for one
timed epoch in turn, starting with the ``r``-th, so the machine's load drifts over all of
them alike and round ``r`` of one arm pairs with round ``r`` of another.

* :data:`ARMS` — per arm, the package it needs, the library whose threads it sets, its
  Keras backend and the variable naming its interpreter (``$VAEBENCH_TORCH_PYTHON`` for
  torch, where torch lives in another environment; else this interpreter).
* :func:`run_peers` — the rounds: ``{"arms": {name: {"seconds": [...], "images", "settings",
  "python"}}, "skipped": {name: reason}}``. An arm whose package its interpreter cannot
  import is skipped with the reason, not started.
* :func:`peer_table` — per arm images/s, the paired speed ratio to ``vaebench`` with its
  interval (:func:`vaebench.bench.timing.paired_log_ratio`) and the fraction of the SGEMM peak.
"""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from vaebench.config import ModelSpec
from vaebench.errors import require

#: names an interpreter that can import torch (torch is no dependency of vaebench)
TORCH_PYTHON_ENV = "VAEBENCH_TORCH_PYTHON"
_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class ArmSpec:
    """How an arm's process starts: ``package`` must be importable by its interpreter
    (``$python_env`` where set, else this one); ``library`` names whose threads it sets."""

    package: str
    library: str
    keras_backend: str
    python_env: str | None = None


_TF = ArmSpec("tensorflow", "tensorflow", "tensorflow")
_TORCH = ArmSpec("torch", "torch", "torch", TORCH_PYTHON_ENV)
ARMS: dict[str, ArmSpec] = {
    "vaebench": _TF, "vaebench host feed": _TF, "keras fit + tf.data": _TF,
    "keras fit, jax backend": ArmSpec("jax", "jax", "jax"), "keras fit, torch backend": _TORCH,
    "torch eager": _TORCH, "torch compile": _TORCH,
}


def interpreter(arm: ArmSpec) -> str:
    return (os.environ.get(arm.python_env) if arm.python_env else None) or sys.executable


def missing_package(python: str, package: str) -> str | None:
    """None when ``python`` can import ``package`` (looked up, not imported), else the reason."""
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({package!r}) is None)"
    out = subprocess.run([python, "-c", code], capture_output=True, timeout=120)
    return None if out.returncode == 0 else f"{package} is not importable by {python}"


def thread_env(arm: ArmSpec, threads: int, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of an arm's process: ``threads`` for OpenMP, MKL, OpenBLAS and TensorFlow's
    intra- and inter-op pools, ``OMP_WAIT_POLICY=PASSIVE`` (no spinning while another arm
    runs), its Keras backend, no GPU, and this checkout first on ``PYTHONPATH``. JAX: one
    Eigen thread when ``threads`` is 1, else XLA's default (all cores)."""
    env = dict(os.environ if base is None else base)
    n = str(threads)
    env.update(OMP_NUM_THREADS=n, OMP_WAIT_POLICY="PASSIVE", MKL_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n,
               TF_NUM_INTRAOP_THREADS=n, TF_NUM_INTEROP_THREADS=n, KERAS_BACKEND=arm.keras_backend,
               CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu",
               PYTHONPATH=os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH")) if p))
    if arm.library == "jax" and threads == 1:
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    return env


def child_config(arm: str, spec: ModelSpec, image_size: int, batch_size: int, steps: int, threads: int,
                 warmup: int = 1, learning_rate: float = 5e-4, library: str = "tensorflow") -> dict:
    """The JSON-able configuration :mod:`vaebench.bench.peerchild` reads."""
    require(steps >= 1 and warmup >= 0 and threads >= 1, f"steps={steps}, warmup={warmup} and threads={threads} "
            "must be >= 1 (warmup >= 0)")
    return {"arm": arm, "spec": asdict(spec), "image_size": image_size, "batch_size": batch_size, "steps": steps,
            "threads": threads, "warmup": warmup, "learning_rate": learning_rate, "library": library}


class ArmProcess:
    """One arm's process, speaking :mod:`vaebench.bench.peerchild`'s line protocol."""

    def __init__(self, name: str, config: dict, python: str, env: dict[str, str], timeout: float):
        self.name, self.python, self.timeout = name, python, timeout
        self._err = tempfile.TemporaryFile()
        self._buf = b""
        self.proc = subprocess.Popen([python, "-m", "vaebench.bench.peerchild", json.dumps(config)], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, bufsize=0)

    def _fail(self, why: str) -> None:
        self.close()
        self._err.seek(0)
        tail = self._err.read().decode(errors="replace")[-1500:]
        require(False, f"peer arm {self.name!r} ({self.python}) {why}: {tail}")

    def read(self) -> dict:
        """The next JSON object the process prints (other lines are skipped)."""
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\n" not in self._buf:
                left = deadline - time.monotonic()
                ready = select.select([self.proc.stdout], [], [], max(left, 0))[0] if left > 0 else []
                chunk = os.read(self.proc.stdout.fileno(), 65536) if ready else b""
                if not chunk:
                    self._fail("timed out" if not ready else f"ended (exit {self.proc.poll()})")
                self._buf += chunk
            line, self._buf = self._buf.split(b"\n", 1)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                return record

    def run(self) -> dict:
        self.proc.stdin.write(b"run\n")
        return self.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"quit\n")
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


#: separates arm names in ``$VAEBENCH_PEER_ARMS`` (names hold commas: "keras fit, jax backend")
ARM_SEPARATOR = ";"


def arm_names(text: str | None, arms: Mapping[str, ArmSpec] = ARMS) -> list[str]:
    """The arms ``text`` names (``ARM_SEPARATOR``-separated; empty or None: every arm), each checked."""
    names = [a.strip() for a in (text or "").split(ARM_SEPARATOR) if a.strip()]
    for name in names:
        require(name in arms, f"arm {name!r} is unknown; name arms of {sorted(arms)}, separated by "
                f"{ARM_SEPARATOR!r}")
    return names or list(arms)


def start_arms(names: Sequence[str], config: dict, threads: int, arms: Mapping[str, ArmSpec] = ARMS,
               timeout: float = 900.0) -> tuple[dict[str, ArmProcess], dict[str, dict], dict[str, str]]:
    """Each arm's process, started one after another (each warms up alone): the processes,
    their ``ready`` records and the skipped arms with their reasons."""
    procs: dict[str, ArmProcess] = {}
    ready: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    try:
        for name in names:
            require(name in arms, f"arm {name!r} is unknown; use one of {sorted(arms)}")
            arm = arms[name]
            python = interpreter(arm)
            reason = missing_package(python, arm.package)
            if reason:
                skipped[name] = reason
                continue
            own = {**config, "arm": name, "threads": threads, "library": arm.library}
            procs[name] = ArmProcess(name, own, python, thread_env(arm, threads), timeout)
            ready[name] = procs[name].read()
    except BaseException:
        for proc in procs.values():
            proc.close()
        raise
    return procs, ready, skipped


def run_peers(names: Sequence[str], config: dict, rounds: int, threads: int = 2,
              arms: Mapping[str, ArmSpec] = ARMS, timeout: float = 900.0) -> dict:
    """``rounds`` interleaved rounds of one timed epoch per arm, each arm in its own process
    (see the module doc). ``config``: :func:`child_config` (its arm, threads and library are
    set per arm here)."""
    require(rounds >= 1, f"rounds={rounds} must be >= 1")
    procs, ready, skipped = start_arms(names, config, threads, arms, timeout)
    order = list(procs)
    seconds: dict[str, list[float]] = {name: [] for name in order}
    images = {}
    try:
        for r in range(rounds):
            k = r % max(len(order), 1)
            for name in order[k:] + order[:k]:
                record = procs[name].run()
                seconds[name].append(float(record["seconds"]))
                images[name] = int(record["images"])
    finally:
        for proc in procs.values():
            proc.close()
    out = {name: {"seconds": seconds[name], "images": images.get(name), "settings": ready[name]["settings"],
                  "threads": threads, "python": procs[name].python, "process": "own"} for name in order}
    return {"arms": out, "skipped": skipped, "rounds": rounds}


def peer_table(run: dict, flops_per_image: int, peak_gflops: float, base: str = "vaebench") -> dict:
    """Per arm of a :func:`run_peers` result: images/s (all images over all seconds), the
    images/s of each round, each arm's speed over ``base``'s (the geometric mean of the paired
    per-round speed ratios with the t interval of their logarithm,
    :func:`vaebench.bench.timing.paired_log_ratio`) and the fraction of ``peak_gflops`` its
    images/s make of ``flops_per_image``."""
    from vaebench.bench.timing import paired_log_ratio

    arms = run["arms"]
    out = {}
    for name, arm in arms.items():
        secs = np.asarray(arm["seconds"], dtype=np.float64)
        rate = arm["images"] * secs.size / float(secs.sum())
        row = {"images_per_second": rate, "round_images_per_second": list(arm["images"] / secs),
               "fraction_of_peak": rate * flops_per_image / (peak_gflops * 1e9), "threads": arm["threads"],
               "process": arm["process"], "settings": arm["settings"]}
        if base in arms and name != base and secs.size >= 2:
            r = paired_log_ratio(arms[base]["seconds"], arm["seconds"])
            row.update(speed_vs_vaebench=r.value, speed_vs_vaebench_ci=[r.low, r.high])
        out[name] = row
    for name, reason in run["skipped"].items():
        out[name] = {"skipped": reason}
    return out
