"""The files of the device check (:mod:`vaebench.bench.devicecheck`): atomic JSON, benchmark entries in
pytest-benchmark's format (what ``vaebench compare`` reads), the machine's description and the
verdicts of a claim run's ``results.json``."""
from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def write_json(path: Path, data: Any) -> None:
    """``data`` as JSON at ``path``, atomically (a kill leaves the old file or the new one)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def bench_entry(name: str, group: str, seconds: list[float], extra_info: dict) -> dict:
    """One benchmark of a pytest-benchmark JSON file (``benchmarks`` list), from per-round seconds."""
    import numpy as np

    s = np.asarray(seconds, dtype=float)
    q1, median, q3 = (float(x) for x in np.percentile(s, [25, 50, 75]))
    mean = float(s.mean())
    return {"group": group, "name": name, "fullname": f"vaebench/devicecheck.py::{name}", "params": None,
            "param": None, "extra_info": extra_info, "options": {"timer": "perf_counter", "warmup": True},
            "stats": {"min": float(s.min()), "max": float(s.max()), "mean": mean,
                      "stddev": float(s.std(ddof=1)) if s.size > 1 else 0.0, "rounds": int(s.size),
                      "median": median, "iqr": q3 - q1, "q1": q1, "q3": q3, "iqr_outliers": 0, "stddev_outliers": 0,
                      "outliers": "0;0", "ld15iqr": float(s.min()), "hd15iqr": float(s.max()),
                      "ops": 1.0 / mean if mean > 0 else 0.0, "total": float(s.sum()), "data": [float(x) for x in s],
                      "iterations": 1}}


def machine_info() -> dict:
    """The ``machine_info`` of a pytest-benchmark file (what ``vaebench compare`` matches machines by)."""
    brand = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            brand = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), brand)
    except OSError:
        pass
    return {"node": platform.node(), "processor": platform.processor(), "machine": platform.machine(),
            "python_implementation": platform.python_implementation(), "python_version": platform.python_version(),
            "system": platform.system(), "release": platform.release(),
            "cpu": {"brand_raw": brand, "count": os.cpu_count()}}


def gpu_names() -> list[str]:
    """``nvidia-smi -L`` lines, empty without it."""
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
        return [line for line in out.stdout.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        return []


def claim_verdicts(results: Path) -> dict:
    """``{claim id: verdict, 'C1a': ..., ...}`` from a run's ``results.json``."""
    data = json.loads(results.read_text())
    out = {}
    for claim in data.get("summary") or data.get("claims") or []:
        if isinstance(claim, dict) and "id" in claim:
            out[claim["id"]] = claim.get("verdict")
            for sub in claim.get("subclaims") or []:
                if isinstance(sub, dict) and "id" in sub:
                    out[sub["id"]] = sub.get("verdict")
    return out


def nvidia_smi_list() -> str:
    """``nvidia-smi -L``'s output (and its error), or why it could not run: for a summary of a failed start."""
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
        return (out.stdout + out.stderr).strip() or f"nvidia-smi -L printed nothing (exit {out.returncode})"
    except (OSError, subprocess.SubprocessError) as e:
        return f"nvidia-smi -L could not run: {type(e).__name__}: {e}"


def backend_devices(backend_name: str) -> list[str] | str:
    """The devices the backend sees (``jax.devices()``, torch's CUDA devices, TensorFlow's
    physical devices), or the error that listing them raised."""
    try:
        if backend_name == "jax":
            import jax

            return [f"{d.platform}:{getattr(d, 'device_kind', d)}" for d in jax.devices()]
        if backend_name == "torch":
            import torch

            return ["cpu"] + [f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
        if backend_name == "tensorflow":
            import tensorflow as tf

            return [d.name for d in tf.config.list_physical_devices()]
    except Exception as e:  # the failed start is what we report
        return f"{type(e).__name__}: {e}"
    return f"unknown backend {backend_name!r}"


def report_files(out: Path) -> list[str]:
    """Every file under ``out`` (relative paths), links and other non-files included: what a
    machine's ``$OUT`` would hand back (at most 8 files, at most 2 folders down)."""
    return sorted(str(p.relative_to(out)) for p in Path(out).rglob("*") if not p.is_dir() or p.is_symlink())
