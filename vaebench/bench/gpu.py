"""GPU utilisation sampled by ``nvidia-smi`` while timed work runs.

* :class:`GpuUtilisation` — mean and peak GPU utilisation (%) and peak memory in use
  (MiB) sampled by ``nvidia-smi`` every 0.1 s while the timed work runs; None figures,
  with the reason, where there is no ``nvidia-smi``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import threading

import numpy as np

from vaebench.errors import require

#: the posts' configuration (post XII): 96x96 images, batch 128, z_dim 256
POSTS_IMAGE_SIZE, POSTS_BATCH_SIZE, POSTS_Z_DIM = 96, 128, 256
#: CelebA training images per epoch in the posts (for the projected overhead ratio)
POSTS_EPOCH_IMAGES = 170_000




# --------------------------------------------------------------------------- GPU utilisation

#: what :class:`GpuUtilisation` asks ``nvidia-smi`` for (one line per sample)
NVIDIA_SMI_QUERY = ("--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits")


def _visible_gpu() -> str:
    """The GPU the backend computes on, as ``nvidia-smi -i`` names it: the first entry of
    ``CUDA_VISIBLE_DEVICES`` (an index or a UUID; nvidia-smi ignores that variable), else 0."""
    first = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    return first if first and not first.startswith("-") else "0"


class GpuUtilisation:
    """Samples GPU utilisation while a ``with`` block runs: ``nvidia-smi`` every ``interval_ms``.

    ::

        with GpuUtilisation() as gpu:
            seconds = time_rounds(step, 5)
        gpu.to_info()  # {'gpu_utilisation': 87.5, 'gpu_utilisation_max': 99.0, ...}

    ``utilisation.gpu`` is the share of the sample period in which a kernel ran on the
    GPU (not how much of the GPU it used: one small kernel at a time reads 100 %), so a
    low figure shows a device starved by the host (input pipeline, Python, launches), a
    high one only that it was kept busy. ``memory.used`` (MiB) is the whole GPU's,
    every process and TensorFlow's pre-allocated pool included.

    Without ``nvidia-smi`` on PATH (CPU, AMD, Apple) every figure is None and
    ``note`` says why; so too where it gives no numbers (``[N/A]``, e.g. under MIG) or no
    line within ``first_line_timeout`` seconds (the block's end waits that long at most
    for the first sample). ``gpu``: the ``nvidia-smi -i`` index or UUID (default: the first
    of ``CUDA_VISIBLE_DEVICES``, else 0).
    """

    def __init__(self, interval_ms: int = 100, gpu: str | int | None = None, executable: str = "nvidia-smi",
                 first_line_timeout: float = 2.0):
        require(isinstance(interval_ms, int) and interval_ms > 0,
                f"interval_ms={interval_ms!r} must be a positive integer")
        self.interval_ms, self.executable, self.first_line_timeout = interval_ms, executable, first_line_timeout
        self.gpu = str(gpu) if gpu is not None else _visible_gpu()
        self.samples: list[tuple[float, float | None]] = []
        self.note: str | None = None
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._unparsed = 0
        self._first_line = threading.Event()

    def command(self, path: str) -> list[str]:
        return [path, *NVIDIA_SMI_QUERY, "-i", self.gpu, "-lms", str(self.interval_ms)]

    def _read(self, stream) -> None:
        try:
            for line in stream:
                parts = [p.strip() for p in line.split(",")]
                try:
                    util = float(parts[0])
                    memory = float(parts[1]) if len(parts) > 1 else None
                except (ValueError, IndexError):
                    self._unparsed += 1
                else:
                    self.samples.append((util, memory))
                self._first_line.set()
        finally:
            self._first_line.set()  # end of output: nothing more to wait for

    def __enter__(self) -> "GpuUtilisation":
        self.samples, self.note, self._unparsed = [], None, 0
        self._first_line.clear()
        path = shutil.which(self.executable)
        if path is None:
            self.note = f"no {self.executable}"
            return self
        try:
            self._proc = subprocess.Popen(self.command(path), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                          text=True, bufsize=1)
        except OSError as err:
            self.note = f"{self.executable} did not start: {err}"
            return self
        self._reader = threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True)
        self._reader.start()
        return self

    def __exit__(self, *exc) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        # a block shorter than nvidia-smi's start-up still gets its first sample (utilization.gpu
        # averages over the past sample period, so that sample still covers the block's end)
        self._first_line.wait(self.first_line_timeout)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        if not self.samples:
            self.note = (f"{self.executable} gave no utilisation figures ({self._unparsed} lines unread, "
                         "e.g. [N/A] under MIG)" if self._unparsed else
                         f"no sample: the work ended before {self.executable}'s first line")

    @property
    def mean(self) -> float | None:
        """Mean utilisation (%) over the samples, None without samples."""
        return float(np.mean([u for u, _ in self.samples])) if self.samples else None

    @property
    def max(self) -> float | None:
        return float(max(u for u, _ in self.samples)) if self.samples else None

    @property
    def memory_max_mib(self) -> float | None:
        used = [m for _, m in self.samples if m is not None]
        return float(max(used)) if used else None

    def to_info(self) -> dict:
        return {"gpu_utilisation": self.mean, "gpu_utilisation_max": self.max,
                "gpu_memory_used_max_mib": self.memory_max_mib, "gpu_utilisation_samples": len(self.samples),
                "gpu_utilisation_interval_ms": self.interval_ms, "gpu_utilisation_note": self.note}


