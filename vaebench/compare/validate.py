"""The shape of a run's files, checked before anything reads them: a vaebench
``results.json`` (:func:`check_results`) and a pytest-benchmark JSON file
(:func:`check_benchmarks`).

A file of the wrong shape (``records: 5``, a row that is not an object, timings as strings,
NaN timings, …) raises :class:`~vaebench.compare.runio.CompareError` naming the file and the
bad field, which ``vaebench`` reports as bad input (exit status 2), never as a regression.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from vaebench.errors import VaebenchError


class CompareError(VaebenchError, ValueError):
    """Runs cannot be read or compared as asked."""


def _got(x: Any) -> str:
    text = repr(x)
    return f"{type(x).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _bad(path: Path, field: str, what: str, x: Any, kind: str) -> CompareError:
    return CompareError(
        f"{str(path)!r}: {field} must be {what} (got {_got(x)}); is it a {kind} written by this vaebench?"
    )


def _objects(path: Path, field: str, x: Any, kind: str) -> list[dict]:
    """``x`` as a list of objects (an absent field is an empty list)."""
    if x is None:
        return []
    if not isinstance(x, list):
        raise _bad(path, field, "a list of objects", x, kind)
    for i, item in enumerate(x):
        if not isinstance(item, dict):
            raise _bad(path, f"{field}[{i}]", "an object", item, kind)
    return x


def _text(path: Path, field: str, x: Any, kind: str) -> None:
    if not isinstance(x, str) or not x:
        raise _bad(path, field, "a non-empty string", x, kind)


def _object(path: Path, field: str, x: Any, kind: str) -> None:
    if x is not None and not isinstance(x, dict):
        raise _bad(path, field, "an object", x, kind)


def check_results(data: dict, path: Path) -> None:
    """Raise :class:`CompareError` unless ``data`` has the shape of a vaebench ``results.json``
    where compare and history read it (``run``, ``environment``, ``summary``, ``records``)."""
    from vaebench.compare.runio import _est  # the one reader of a recorded estimate

    kind = "vaebench results.json"
    for name in ("run", "environment"):
        _object(path, name, data.get(name), kind)
    for i, row in enumerate(_objects(path, "summary", data.get("summary"), kind)):
        for name in ("id", "verdict"):
            _text(path, f"summary[{i}].{name}", row.get(name), kind)
    for i, rec in enumerate(_objects(path, "records", data.get("records"), kind)):
        where = f"records[{i}]"
        if not isinstance(rec.get("claim"), dict):
            raise _bad(path, f"{where}.claim", "an object", rec.get("claim"), kind)
        _text(path, f"{where}.claim.id", rec["claim"].get("id"), kind)
        _text(path, f"{where}.test", rec.get("test"), kind)
        for part in ("checks", "statistics"):
            for j, item in enumerate(_objects(path, f"{where}.{part}", rec.get(part), kind)):
                if not isinstance(item.get("estimate_text"), str):
                    raise _bad(path, f"{where}.{part}[{j}].estimate_text", "a string", item.get("estimate_text"), kind)
                try:
                    _est(item)
                except CompareError as e:
                    raise CompareError(f"{str(path)!r}: {where}.{part}[{j}]: {e}") from e


def _timings(path: Path, field: str, x: Any) -> None:
    """A list of finite, non-negative seconds (absent is fine)."""
    kind = "pytest --benchmark-json file"
    if x is None:
        return
    if not isinstance(x, list):
        raise _bad(path, field, "a list of seconds", x, kind)
    for i, t in enumerate(x):
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise _bad(path, f"{field}[{i}]", "a number of seconds", t, kind)
        if not math.isfinite(t) or t < 0:
            raise _bad(path, f"{field}[{i}]", "a finite number of seconds >= 0", t, kind)


def check_benchmarks(data: dict, path: Path) -> None:
    """Raise :class:`CompareError` unless ``data`` has the shape of a pytest-benchmark JSON
    file where compare reads it (``machine_info``, ``benchmarks``: names, timings, extra_info)."""
    kind = "pytest --benchmark-json file"
    _object(path, "machine_info", data.get("machine_info"), kind)
    info = data.get("machine_info") or {}
    _object(path, "machine_info.cpu", info.get("cpu"), kind)
    if not isinstance(data.get("benchmarks"), list):
        raise _bad(path, "benchmarks", "a list of objects", data.get("benchmarks"), kind)
    for i, entry in enumerate(_objects(path, "benchmarks", data["benchmarks"], kind)):
        where = f"benchmarks[{i}]"
        _text(path, f"{where}.fullname", entry.get("fullname") or entry.get("name"), kind)
        _object(path, f"{where}.stats", entry.get("stats"), kind)
        _object(path, f"{where}.extra_info", entry.get("extra_info"), kind)
        _timings(path, f"{where}.stats.data", (entry.get("stats") or {}).get("data"))
        rounds = (entry.get("extra_info") or {}).get("round_seconds")
        if isinstance(rounds, dict):
            for sub, values in rounds.items():
                _timings(path, f"{where}.extra_info.round_seconds[{sub!r}]", values)
        else:
            _timings(path, f"{where}.extra_info.round_seconds", rounds)
