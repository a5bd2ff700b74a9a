"""Read runs: a run folder, its ``results.json`` and pytest-benchmark JSON files
(:func:`load_run`), a history folder of runs (:func:`history_runs`), and a run's results
without plot data (:func:`slim_results`).

A *run* is what one nightly (or local) job leaves: the plugin's ``results.json`` (claims,
checks, statistics; ``reports/<run>/results.json``) and/or pytest-benchmark JSON files
(``pytest --benchmark-json=FILE``). :func:`load_run` takes a folder holding them, or one
file of either kind; ``--old-bench``/``--new-bench`` add benchmark files kept elsewhere.

The history: a folder of runs (``<history>/<run>/results.json`` + ``benchmark*.json``),
oldest first by their start time, filled by ``vaebench history add``
(:mod:`vaebench.compare.history`).
"""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaebench.compare.validate import CompareError, check_benchmarks, check_results
from vaebench.errors import StatsError, require
from vaebench.stats.estimate import Estimate

RESULTS = "results.json"


# --------------------------------------------------------------------------- loading


@dataclass
class Run:
    """One run: its claims' results (or None) and its benchmarks by key."""

    label: str
    path: str
    results: dict | None = None
    benchmarks: dict[str, dict] = field(default_factory=dict)
    machine: dict = field(default_factory=dict)
    started: str = ""
    bench_files: list[str] = field(default_factory=list)

    @property
    def scale(self) -> str | None:
        return ((self.results or {}).get("environment") or {}).get("scale")

    @property
    def commit(self) -> str:
        env = (self.results or {}).get("environment") or {}
        return str(env.get("git_commit") or "")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CompareError(
            f"{str(path)!r} is not a readable JSON file ({e}); pass a run folder, a results.json "
            "or a pytest --benchmark-json file"
        ) from e


def _machine_of(data: dict) -> dict:
    info = data.get("machine_info") or {}
    cpu = info.get("cpu") or {}
    return {
        "cpu": cpu.get("brand_raw") or info.get("processor") or "",
        "cores": cpu.get("count"),
        "system": info.get("system"),
        "machine": info.get("machine"),
    }


def _timings(entry: dict) -> list[float] | None:
    data = (entry.get("stats") or {}).get("data")
    if isinstance(data, list) and data:
        return [float(x) for x in data]
    rounds = (entry.get("extra_info") or {}).get("round_seconds")
    if isinstance(rounds, list) and rounds:
        return [float(x) for x in rounds]
    return None


def _add_benchmarks(run: Run, data: Any, path: Path) -> None:
    require(
        isinstance(data, dict) and "benchmarks" in data,
        f"{str(path)!r} holds no 'benchmarks' list; is it a pytest --benchmark-json file?",
        CompareError,
    )
    check_benchmarks(data, path)
    machine = _machine_of(data)
    if run.machine and machine != run.machine:
        raise CompareError(
            f"{str(path)!r} was recorded on another machine ({machine}) than the run's other "
            f"benchmark files ({run.machine}); keep one machine per run"
        )
    run.machine = machine
    run.started = run.started or str(data.get("datetime") or "")
    run.bench_files.append(str(path))
    for entry in data["benchmarks"]:
        key = entry.get("fullname") or entry.get("name")
        info = entry.get("extra_info") or {}
        run.benchmarks[key] = {
            "key": key,
            "group": entry.get("group"),
            "extra_info": info,
            "timings": _timings(entry),
            "stats": entry.get("stats") or {},
        }
        rounds = info.get("round_seconds")
        if isinstance(rounds, dict):  # several models timed in one benchmark (claim C5): compare each
            for sub, values in rounds.items():
                if isinstance(values, list) and values:
                    sub_info = {**info, **(info.get(sub) if isinstance(info.get(sub), dict) else {}), "model": sub}
                    run.benchmarks[f"{key} [{sub}]"] = {
                        "key": f"{key} [{sub}]",
                        "group": entry.get("group"),
                        "extra_info": sub_info,
                        "timings": [float(x) for x in values],
                        "stats": {},
                    }


def load_run(path: str | os.PathLike, bench: Iterable[str | os.PathLike] = (), label: str | None = None) -> Run:
    """A run from a folder (its ``results.json`` and every benchmark JSON in it) or one file,
    plus the benchmark files ``bench``."""
    p = Path(path)
    require(
        p.exists(),
        f"run {str(p)!r} does not exist; pass a run folder (reports/<run>), its results.json or "
        "a pytest --benchmark-json file",
        CompareError,
    )
    p = p.resolve()  # reports/latest is a link: name the run by its folder
    run = Run(label=label or (p.name if p.is_dir() else p.parent.name if p.name == RESULTS else p.stem), path=str(p))
    files = sorted(f for f in p.glob("*.json")) if p.is_dir() else [p]
    for f in files:
        data = _read_json(f)
        if isinstance(data, dict) and "benchmarks" in data:
            _add_benchmarks(run, data, f)
        elif isinstance(data, dict) and ("records" in data or "summary" in data):
            require(run.results is None, f"{str(p)!r} holds two results files; keep one run per folder", CompareError)
            check_results(data, f)
            run.results = data
        elif not p.is_dir():
            raise CompareError(f"{str(f)!r} is neither a vaebench results.json nor a pytest-benchmark JSON file")
    for b in bench:
        _add_benchmarks(run, _read_json(Path(b)), Path(b))
    require(
        run.results is not None or run.benchmarks,
        f"run {str(p)!r} holds no results.json and no benchmark JSON; nothing to compare",
        CompareError,
    )
    if run.results:
        run.started = str((run.results.get("run") or {}).get("started") or run.started)
        if label is None:
            run.label = (run.results.get("run") or {}).get("name") or run.label
    return run


def _check_history_folder(folder: str | os.PathLike) -> Path:
    root = Path(folder)
    require(root.is_dir(), f"history={str(root)!r} is not a folder; make one with 'vaebench history add'", CompareError)
    return root


def history_runs(folder: str | os.PathLike) -> list[Run]:
    """The runs in ``folder`` (one sub-folder each), oldest first (start time, then name)."""
    root = _check_history_folder(folder)
    runs = []
    for sub in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
        try:
            runs.append(load_run(sub))
        except CompareError as e:
            print(f"vaebench compare: skipping {sub.name}: {e}", file=sys.stderr)
    return sorted(runs, key=lambda r: (r.started, r.label))


def slim_results(results: dict) -> dict:
    """``results`` without the plot data (images, histograms): what a history needs, far smaller.

    A deep copy of everything else; the figures are left out before copying, not copied."""
    return copy.deepcopy(
        {
            k: ([{rk: rv for rk, rv in record.items() if rk != "figures"} for record in v] if k == "records" else v)
            for k, v in results.items()
        }
    )


def _est(item: dict) -> Estimate:
    """The estimate of a recorded check or statistic (:meth:`vaebench.stats.Check.to_dict`,
    :meth:`vaebench.claims.record.ClaimRecorder.statistic`: ``estimate`` with non-finite figures as
    strings, and ``estimate_text``)."""
    try:
        if "estimate_text" not in item:
            raise KeyError("estimate_text")
        return Estimate.from_dict(item["estimate"])
    except (KeyError, TypeError, ValueError, StatsError) as e:
        raise CompareError(
            f"{item.get('name')!r} holds no readable estimate ({e!r}): {item.get('estimate')!r}; "
            "is it a vaebench results.json?"
        ) from e


def _keyed(items: list[dict], prefix: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for item in items:
        key = f"{prefix}::{item.get('name')}"
        k, i = key, 2
        while k in out:
            k, i = f"{key} #{i}", i + 1
        out[k] = item
    return out


def _records(results: dict) -> dict[str, dict]:
    return {f"{r['claim']['id']}::{r['test']}": r for r in results.get("records") or []}
