"""Compare two vaebench runs, follow a history of runs, and report regressions.

A *run* is what one nightly (or local) job leaves: the plugin's ``results.json`` (claims,
checks, statistics; ``reports/<run>/results.json``) and/or pytest-benchmark JSON files
(``pytest --benchmark-json=FILE``). :func:`load_run` takes a folder holding them, or one
file of either kind; ``--old-bench``/``--new-bench`` add benchmark files kept elsewhere.

What counts as a regression (exit status 1 of ``vaebench compare``):

* a claim's verdict flipped (any direction: with the same code and seeds a verdict does
  not change, so a flip means the code, the data or the environment did), or a claim of the
  old run is missing from the new one;
* a check (a statistic held to a tolerance) flipped its verdict ("moved out of its
  tolerance"), or *moved away* from the last run: the new point estimate lies outside the
  old CI **and** the old point outside the new CI, and — unless both are exact — by at
  least ``min_change`` relative to the old value (two runs' intervals both missing the
  other's estimate is strong evidence of a change; the relative floor keeps
  between-run noise of timing-based checks out);
* a benchmark got slower by a rule that survives noise (the one asv uses): a one-sided
  Mann–Whitney U test of the per-round timings, new slower than old, at ``p <= alpha``,
  **and** a ratio of medians of at least ``1 + min_change`` (default 10 %). ``alpha`` is
  0.001 when both runs have at least 12 rounds and 0.05 with fewer (with 5 + 5 rounds the
  smallest exact p-value is 1/252 ≈ 0.004; with 3 + 3 it is 0.05, reached only when every
  new round is slower than every old one). When the rounds are too few for any p-value to
  reach ``alpha`` the benchmark is reported as "undecidable", not as a regression.
  Benchmarks recorded on different machines (CPU brand and count, OS) or with a
  different configuration (backend, device, dtype, image size, batch size, model, scale)
  are not compared (``--any-machine`` compares across machines anyway).

Not regressions, but reported: statistics that do not vote and moved, benchmarks that got
faster, claims and benchmarks that are new, memory figures that changed by more than
``min_change`` (an accelerator's allocator peak is reproducible and counts as a regression
when it grows; a CPU's is not and does not).

The history: a folder of runs (``<history>/<run>/results.json`` + ``benchmark*.json``),
oldest first by their start time, filled by ``vaebench history add``. The HTML report plots
each key figure across it (benchmark median with its interquartile range, each check's
estimate with its CI) through :mod:`vaebench.report`'s matplotlib helpers, and tabulates
the verdicts per run.

Compute first (:func:`compare_runs`, :func:`trends`), render last (:func:`vaebench.report_compare.to_markdown`,
:func:`vaebench.report_compare.render_comparison_html`, which draws every figure with :func:`vaebench.figures.render_figure`).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .errors import StatsError, VaebenchError, require
from .estimate import Estimate

RESULTS = "results.json"
#: extra_info fields that must agree for two benchmarks to be compared
CONFIG_FIELDS = ("backend", "device", "dtype", "image_size", "batch_size", "model", "scale")
MIN_CHANGE = 0.10
STRICT_ALPHA, SMALL_ALPHA, STRICT_MIN_ROUNDS = 0.001, 0.05, 12


class CompareError(VaebenchError, ValueError):
    """Runs cannot be read or compared as asked."""


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
        return (self.results or {}).get("environment", {}).get("scale")

    @property
    def commit(self) -> str:
        env = (self.results or {}).get("environment", {})
        return str(env.get("git_commit") or "")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CompareError(f"{str(path)!r} is not a readable JSON file ({e}); pass a run folder, a results.json "
                           "or a pytest --benchmark-json file") from e


def _machine_of(data: dict) -> dict:
    info = data.get("machine_info") or {}
    cpu = info.get("cpu") or {}
    return {"cpu": cpu.get("brand_raw") or info.get("processor") or "", "cores": cpu.get("count"),
            "system": info.get("system"), "machine": info.get("machine")}


def _timings(entry: dict) -> list[float] | None:
    data = (entry.get("stats") or {}).get("data")
    if isinstance(data, list) and data:
        return [float(x) for x in data]
    rounds = (entry.get("extra_info") or {}).get("round_seconds")
    if isinstance(rounds, list) and rounds:
        return [float(x) for x in rounds]
    return None


def _add_benchmarks(run: Run, data: dict, path: Path) -> None:
    require("benchmarks" in data, f"{str(path)!r} holds no 'benchmarks' list; is it a pytest --benchmark-json "
            "file?", CompareError)
    machine = _machine_of(data)
    if run.machine and machine != run.machine:
        raise CompareError(f"{str(path)!r} was recorded on another machine ({machine}) than the run's other "
                           f"benchmark files ({run.machine}); keep one machine per run")
    run.machine = machine
    run.started = run.started or str(data.get("datetime") or "")
    run.bench_files.append(str(path))
    for entry in data["benchmarks"]:
        key = entry.get("fullname") or entry.get("name")
        info = entry.get("extra_info") or {}
        run.benchmarks[key] = {"key": key, "group": entry.get("group"), "extra_info": info,
                               "timings": _timings(entry), "stats": entry.get("stats") or {}}
        rounds = info.get("round_seconds")
        if isinstance(rounds, dict):  # several models timed in one benchmark (claim C5): compare each
            for sub, values in rounds.items():
                if isinstance(values, list) and values:
                    sub_info = {**info, **(info.get(sub) if isinstance(info.get(sub), dict) else {}), "model": sub}
                    run.benchmarks[f"{key} [{sub}]"] = {"key": f"{key} [{sub}]", "group": entry.get("group"),
                                                        "extra_info": sub_info,
                                                        "timings": [float(x) for x in values], "stats": {}}


def load_run(path: str | os.PathLike, bench: Iterable[str | os.PathLike] = (), label: str | None = None) -> Run:
    """A run from a folder (its ``results.json`` and every benchmark JSON in it) or one file,
    plus the benchmark files ``bench``."""
    p = Path(path)
    require(p.exists(), f"run {str(p)!r} does not exist; pass a run folder (reports/<run>), its results.json or "
            "a pytest --benchmark-json file", CompareError)
    p = p.resolve()  # reports/latest is a link: name the run by its folder
    run = Run(label=label or (p.name if p.is_dir() else p.parent.name if p.name == RESULTS else p.stem), path=str(p))
    files = sorted(f for f in p.glob("*.json")) if p.is_dir() else [p]
    for f in files:
        data = _read_json(f)
        if isinstance(data, dict) and "benchmarks" in data:
            _add_benchmarks(run, data, f)
        elif isinstance(data, dict) and ("records" in data or "summary" in data):
            require(run.results is None, f"{str(p)!r} holds two results files; keep one run per folder",
                    CompareError)
            run.results = data
        elif not p.is_dir():
            raise CompareError(f"{str(f)!r} is neither a vaebench results.json nor a pytest-benchmark JSON file")
    for b in bench:
        _add_benchmarks(run, _read_json(Path(b)), Path(b))
    require(run.results is not None or run.benchmarks,
            f"run {str(p)!r} holds no results.json and no benchmark JSON; nothing to compare", CompareError)
    if run.results:
        run.started = str(run.results.get("run", {}).get("started") or run.started)
        if label is None:
            run.label = run.results.get("run", {}).get("name") or run.label
    return run


def _check_history_folder(folder: str | os.PathLike) -> Path:
    root = Path(folder)
    require(root.is_dir(), f"history={str(root)!r} is not a folder; make one with 'vaebench history add'",
            CompareError)
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
    return copy.deepcopy({k: ([{rk: rv for rk, rv in record.items() if rk != "figures"} for record in v]
                              if k == "records" else v) for k, v in results.items()})


def add_to_history(run_path: str | os.PathLike, history: str | os.PathLike, bench: Iterable[str] = (),
                   name: str | None = None) -> Path:
    """Copy a run (slim ``results.json`` + its benchmark files) into ``history/<name>/``."""
    run = load_run(run_path, bench)
    if name is None:
        name = ((run.results or {}).get("run", {}).get("name") or run.started.replace(":", "").replace(" ", "_")
                or run.label)
    require(bool(name) and "/" not in name and not name.startswith("."),
            f"name={name!r} cannot name a history folder; pass --name", CompareError)
    target = Path(history) / name
    tmp = Path(history) / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if run.results is not None:
        (tmp / RESULTS).write_text(json.dumps(slim_results(run.results), indent=1))
    for i, f in enumerate(run.bench_files):
        shutil.copyfile(f, tmp / ("benchmark.json" if i == 0 else f"benchmark-{i}.json"))
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
    return target


# --------------------------------------------------------------------------- comparing

@dataclass
class Finding:
    """One difference between two runs. ``regression`` decides the exit status."""

    kind: str          # verdict | check | statistic | benchmark | memory | missing | new | incomparable
    key: str
    old: str
    new: str
    detail: str
    regression: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Comparison:
    old: Run
    new: Run
    findings: list[Finding]
    compared: dict[str, int]
    alpha: float | None
    min_change: float

    @property
    def regressions(self) -> list[Finding]:
        return [f for f in self.findings if f.regression]

    def to_dict(self) -> dict:
        return {"old": self.old.label, "new": self.new.label, "compared": self.compared,
                "regressions": len(self.regressions), "alpha": self.alpha, "min_change": self.min_change,
                "findings": [f.to_dict() for f in self.findings]}


def _est(item: dict) -> Estimate:
    """The estimate of a recorded check or statistic (:meth:`vaebench.stats.Check.to_dict`,
    :meth:`vaebench.record.ClaimRecorder.statistic`: ``estimate`` with non-finite figures as
    strings, and ``estimate_text``)."""
    try:
        if "estimate_text" not in item:
            raise KeyError("estimate_text")
        return Estimate.from_dict(item["estimate"])
    except (KeyError, TypeError, ValueError, StatsError) as e:
        raise CompareError(f"{item.get('name')!r} holds no readable estimate ({e!r}): {item.get('estimate')!r}; "
                           "is it a vaebench results.json?") from e


def _as_estimate(x: Estimate | tuple[float, float, float]) -> Estimate:
    return x if isinstance(x, Estimate) else Estimate(*x)


def moved(old: Estimate | tuple[float, float, float], new: Estimate | tuple[float, float, float],
          min_change: float) -> bool:
    """New point outside the old CI and old point outside the new CI (and, unless both are
    exact, a change of at least ``min_change`` relative to the old value). ``old`` and ``new``:
    :class:`~vaebench.stats.Estimate` or ``(value, low, high)``."""
    old, new = _as_estimate(old), _as_estimate(new)
    ov, nv = old.value, new.value
    if any(math.isnan(x) for x in (ov, nv)):
        return math.isnan(ov) != math.isnan(nv)
    outside = not old.contains(nv) and not new.contains(ov)
    if not outside:
        return False
    if old.low == ov == old.high and new.low == nv == new.high:
        return True
    return abs(nv - ov) >= min_change * abs(ov) if ov != 0 else True


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
    return {f"{r['claim']['id']}::{r['test']}": r for r in results.get("records", [])}


def _compare_claims(old: dict, new: dict, min_change: float, findings: list[Finding]) -> dict[str, int]:
    counts = {"claims": 0, "checks": 0, "statistics": 0}
    old_scale, new_scale = old.get("environment", {}).get("scale"), new.get("environment", {}).get("scale")
    if old_scale != new_scale:
        findings.append(Finding("incomparable", "claims", str(old_scale), str(new_scale),
                                "the runs are at different scales; claims are compared only at one scale"))
        return counts
    old_rows = {r["id"]: r for r in old.get("summary", [])}
    new_rows = {r["id"]: r for r in new.get("summary", [])}
    for cid in sorted(set(old_rows) | set(new_rows)):
        if cid not in new_rows:
            findings.append(Finding("missing", cid, old_rows[cid]["verdict"], "—",
                                    "the claim is missing from the new run", True))
            continue
        if cid not in old_rows:
            findings.append(Finding("new", cid, "—", new_rows[cid]["verdict"], "the claim is new in this run"))
            continue
        counts["claims"] += 1
        o, n = old_rows[cid]["verdict"], new_rows[cid]["verdict"]
        if o != n:
            findings.append(Finding("verdict", cid, o, n,
                                    f"verdict flipped {o} → {n}: {new_rows[cid].get('reason', '')}", True))
    old_recs, new_recs = _records(old), _records(new)
    for rk in sorted(set(old_recs) & set(new_recs)):
        o_rec, n_rec = old_recs[rk], new_recs[rk]
        for kind in ("checks", "statistics"):
            o_items, n_items = _keyed(o_rec.get(kind, []), rk), _keyed(n_rec.get(kind, []), rk)
            for key in sorted(set(o_items) & set(n_items)):
                counts[kind] += 1
                oi, ni = o_items[key], n_items[key]
                oe, ne = _est(oi), _est(ni)
                text_o, text_n = oi["estimate_text"], ni["estimate_text"]
                if kind == "checks" and oi.get("verdict") != ni.get("verdict"):
                    findings.append(Finding("check", key, f"{oi.get('verdict')}: {text_o}",
                                            f"{ni.get('verdict')}: {text_n}",
                                            f"moved {'into' if ni.get('passed') else 'out of'} its tolerance "
                                            f"({ni.get('tolerance')})", True))
                elif moved(oe, ne, min_change):
                    findings.append(Finding("check" if kind == "checks" else "statistic", key, text_o, text_n,
                                            "moved away from the last run (each point outside the other's CI)",
                                            kind == "checks"))
            for key in sorted(set(o_items) - set(n_items)):
                if kind == "checks":
                    findings.append(Finding("missing", key, o_items[key].get("estimate_text", ""), "—",
                                            "the check is missing from the new run", True))
    return counts


def min_exact_p(n_old: int, n_new: int) -> float:
    """The smallest one-sided p-value an exact Mann–Whitney U test can give: 1 / C(n_old + n_new, n_old)."""
    return 1.0 / math.comb(n_old + n_new, n_old)


def benchmark_change(old: list[float], new: list[float], alpha: float | None = None,
                     min_change: float = MIN_CHANGE) -> dict:
    """Judge ``new`` timings against ``old``: ratio of medians, one-sided Mann–Whitney p-values
    (``scipy.stats.mannwhitneyu``, exact for small samples without ties), and a verdict:
    ``slower`` / ``faster`` (p <= alpha and the ratio beyond 1 ± min_change), ``same``, or
    ``undecidable`` (too few rounds for any p-value to reach alpha)."""
    from scipy.stats import mannwhitneyu

    o, n = np.asarray(old, dtype=float), np.asarray(new, dtype=float)
    require(o.size >= 2 and n.size >= 2, f"benchmark_change needs >= 2 rounds on each side (got {o.size} and "
            f"{n.size}); run the benchmark with more rounds", CompareError)
    if alpha is None:
        alpha = STRICT_ALPHA if min(o.size, n.size) >= STRICT_MIN_ROUNDS else SMALL_ALPHA
    ratio = float(np.median(n) / np.median(o))
    p_slower = float(mannwhitneyu(n, o, alternative="greater").pvalue)
    p_faster = float(mannwhitneyu(n, o, alternative="less").pvalue)
    floor = min_exact_p(o.size, n.size)
    if floor > alpha + 1e-12:
        verdict = "undecidable"
    elif p_slower <= alpha and ratio >= 1 + min_change:
        verdict = "slower"
    elif p_faster <= alpha and ratio <= 1 / (1 + min_change):
        verdict = "faster"
    else:
        verdict = "same"
    return {"ratio": ratio, "p_slower": p_slower, "p_faster": p_faster, "alpha": alpha, "min_p": floor,
            "verdict": verdict, "n_old": int(o.size), "n_new": int(n.size),
            "median_old": float(np.median(o)), "median_new": float(np.median(n))}


MEMORY_FIELDS = ("device_peak_bytes", "device_increment_bytes", "state_bytes")


def _compare_benchmarks(old: Run, new: Run, alpha: float | None, min_change: float, any_machine: bool,
                        findings: list[Finding]) -> int:
    if not old.benchmarks or not new.benchmarks:
        return 0
    if not any_machine and old.machine != new.machine:
        findings.append(Finding("incomparable", "benchmarks", json.dumps(old.machine), json.dumps(new.machine),
                                "recorded on different machines: timings are not compared (--any-machine to "
                                "compare anyway)"))
        return 0
    compared = 0
    for key in sorted(set(old.benchmarks) | set(new.benchmarks)):
        if key not in new.benchmarks:
            findings.append(Finding("missing", key, "recorded", "—", "the benchmark is missing from the new run"))
            continue
        if key not in old.benchmarks:
            findings.append(Finding("new", key, "—", "recorded", "the benchmark is new in this run"))
            continue
        ob, nb = old.benchmarks[key], new.benchmarks[key]
        oi, ni = ob["extra_info"], nb["extra_info"]
        differs = [f for f in CONFIG_FIELDS if f in oi and f in ni and oi[f] != ni[f]]
        if differs:
            findings.append(Finding("incomparable", key, ", ".join(f"{f}={oi[f]}" for f in differs),
                                    ", ".join(f"{f}={ni[f]}" for f in differs), "the configuration differs"))
            continue
        if not ob["timings"] or not nb["timings"] or len(ob["timings"]) < 2 or len(nb["timings"]) < 2:
            findings.append(Finding("incomparable", key, "", "", "fewer than 2 timed rounds on a side"))
            continue
        compared += 1
        c = benchmark_change(ob["timings"], nb["timings"], alpha, min_change)
        text_o = f"median {c['median_old']:.4g} s (n={c['n_old']})"
        text_n = f"median {c['median_new']:.4g} s (n={c['n_new']})"
        detail = (f"{(c['ratio'] - 1) * 100:+.1f} % (ratio of medians {c['ratio']:.3f}); Mann–Whitney p(slower) = "
                  f"{c['p_slower']:.2g}, p(faster) = {c['p_faster']:.2g}, alpha {c['alpha']:g}")
        if c["verdict"] == "slower":
            findings.append(Finding("benchmark", key, text_o, text_n, "slower: " + detail, True))
        elif c["verdict"] == "faster":
            findings.append(Finding("benchmark", key, text_o, text_n, "faster: " + detail))
        elif c["verdict"] == "undecidable":
            findings.append(Finding("benchmark", key, text_o, text_n,
                                    f"undecidable: {c['n_old']} + {c['n_new']} rounds cannot give p <= {c['alpha']:g} "
                                    f"(smallest p {c['min_p']:.2g}); " + detail))
        for fld in MEMORY_FIELDS:
            ov, nv = oi.get(fld), ni.get(fld)
            if isinstance(ov, (int, float)) and isinstance(nv, (int, float)) and ov > 0:
                change = nv / ov - 1
                if abs(change) >= min_change:
                    grows_on_gpu = bool(ni.get("accelerator")) and fld != "state_bytes" and change > 0
                    findings.append(Finding("memory", f"{key} {fld}", f"{ov / 2**20:.1f} MiB", f"{nv / 2**20:.1f} MiB",
                                            f"{change * 100:+.0f} %" + (" (accelerator allocator peak: reproducible)"
                                                                        if grows_on_gpu else ""),
                                            grows_on_gpu or (fld == "state_bytes" and change > 0)))
    return compared


def compare_runs(old: Run, new: Run, alpha: float | None = None, min_change: float = MIN_CHANGE,
                 any_machine: bool = False) -> Comparison:
    """Every finding between ``old`` and ``new`` (see the module docstring for the rules)."""
    require(min_change >= 0, f"min_change={min_change} must be >= 0 (0.10 = 10 %)", CompareError)
    require(alpha is None or 0 < alpha < 1, f"alpha={alpha} must lie strictly between 0 and 1", CompareError)
    findings: list[Finding] = []
    counts = {"claims": 0, "checks": 0, "statistics": 0, "benchmarks": 0}
    if old.results is not None and new.results is not None:
        counts.update(_compare_claims(old.results, new.results, min_change, findings))
    counts["benchmarks"] = _compare_benchmarks(old, new, alpha, min_change, any_machine, findings)
    order = {"verdict": 0, "missing": 1, "check": 2, "benchmark": 3, "memory": 4, "statistic": 5, "new": 6,
             "incomparable": 7}
    findings.sort(key=lambda f: (not f.regression, order.get(f.kind, 9), f.key))
    return Comparison(old, new, findings, counts, alpha, min_change)


# --------------------------------------------------------------------------- history trends

def trends(runs: list[Run], max_checks: int = 24) -> dict:
    """Series over ``runs`` (oldest first): benchmark medians with their interquartile range,
    check estimates with their CI (constant exact checks are left out: a flat line says
    nothing), and the verdict of every claim per run."""
    labels = [r.label for r in runs]
    bench: dict[str, dict] = {}
    for i, run in enumerate(runs):
        for key, b in run.benchmarks.items():
            t = b.get("timings")
            if not t:
                continue
            q1, med, q3 = np.quantile(np.asarray(t, dtype=float), [0.25, 0.5, 0.75])
            s = bench.setdefault(key, {"x": [], "y": [], "low": [], "high": []})
            s["x"].append(i + 1)
            s["y"].append(float(med))
            s["low"].append(float(q1))
            s["high"].append(float(q3))
    checks: dict[str, dict] = {}
    verdicts: dict[str, list[str]] = {}
    for i, run in enumerate(runs):
        results = run.results or {}
        for row in results.get("summary", []):
            verdicts.setdefault(row["id"], ["—"] * len(runs))[i] = row["verdict"]
        for rk, rec in _records(results).items():
            for key, item in _keyed(rec.get("checks", []), rk).items():
                e = _est(item)
                v, lo, hi = e.value, e.low, e.high
                if not all(math.isfinite(x) for x in (v, lo, hi)):
                    lo, hi = (v, v) if math.isfinite(v) else (lo, hi)
                if not math.isfinite(v):
                    continue
                s = checks.setdefault(key, {"x": [], "y": [], "low": [], "high": []})
                s["x"].append(i + 1)
                s["y"].append(v)
                s["low"].append(lo)
                s["high"].append(hi)
    varying = {k: s for k, s in checks.items()
               if len(set(s["y"])) > 1 or any(a != b for a, b in zip(s["low"], s["high"]))}
    keep = dict(list(varying.items())[:max_checks])
    return {"labels": labels, "benchmarks": bench, "checks": keep, "checks_left_out": len(varying) - len(keep),
            "constant_checks": sorted(set(checks) - set(varying)), "verdicts": verdicts}


# --------------------------------------------------------------------------- command line

def add_compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("old", nargs="?", help="the earlier run: a run folder, its results.json or a benchmark JSON")
    p.add_argument("new", nargs="?", help="the later run (same kinds)")
    p.add_argument("--old-bench", action="append", default=[], help="a pytest --benchmark-json file of OLD")
    p.add_argument("--new-bench", action="append", default=[], help="a pytest --benchmark-json file of NEW")
    p.add_argument("--history", default=None, help="folder of earlier runs: trend plots; without OLD/NEW its "
                                                   "newest two runs are compared")
    p.add_argument("--html", default=None, help="write the HTML regression report here")
    p.add_argument("--markdown", default=None, help="also write the markdown report here (it always goes to stdout)")
    p.add_argument("--json", default=None, help="write the findings as JSON here")
    p.add_argument("--alpha", type=float, default=None,
                   help="Mann–Whitney level (default: 0.001 with >= 12 rounds on both sides, else 0.05)")
    p.add_argument("--min-change", type=float, default=MIN_CHANGE,
                   help="smallest relative change that counts (default 0.10 = 10 %%)")
    p.add_argument("--any-machine", action="store_true", help="compare benchmarks recorded on different machines")


def cmd_compare(args) -> int:
    """``vaebench compare``: 0 no regression, 1 regression(s), 2 nothing comparable or bad input.

    ``--history`` is read only where it is used: for the trend plots of ``--html`` and when
    OLD and NEW are not given (its newest two runs); otherwise only its folder is checked."""
    from .report_compare import to_markdown

    uses_history = bool(args.history) and bool(args.html or not (args.old or args.new))
    history = history_runs(args.history) if uses_history else []
    if args.history and not uses_history:
        _check_history_folder(args.history)
    if args.old and args.new:
        old = load_run(args.old, args.old_bench)
        new = load_run(args.new, args.new_bench)
    elif args.old or args.new:
        raise CompareError("pass both OLD and NEW, or neither (with --history: its newest two runs)")
    else:
        require(len(history) >= 2, f"--history={args.history!r} holds {len(history)} readable runs; comparing "
                "needs two (or pass OLD and NEW)", CompareError)
        old, new = history[-2], history[-1]
    comparison = compare_runs(old, new, args.alpha, args.min_change, args.any_machine)
    text = to_markdown(comparison)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    if args.json:
        Path(args.json).write_text(json.dumps(comparison.to_dict(), indent=1))
    if args.html:
        runs = list(history)
        known = {os.path.realpath(r.path) for r in runs}
        for r in (old, new):
            if os.path.realpath(r.path) not in known:
                runs.append(r)
        from .report_compare import render_comparison_html

        page = render_comparison_html(comparison, trends(runs) if len(runs) >= 2 else None)
        Path(args.html).write_text(page)
        print(f"report: {args.html}", file=sys.stderr)
    if not any(comparison.compared.values()):
        print("vaebench compare: nothing was comparable (different scales, machines or configurations); "
              "see the findings above", file=sys.stderr)
        return 2
    return 1 if comparison.regressions else 0


def add_history_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("add",), help="add: copy a run into a history folder")
    p.add_argument("run", help="the run: a run folder (reports/<run>), its results.json or a benchmark JSON")
    p.add_argument("--to", required=True, help="the history folder")
    p.add_argument("--bench", action="append", default=[], help="a pytest --benchmark-json file of the run")
    p.add_argument("--name", default=None, help="the run's folder name (default: the run's name or start time)")


def cmd_history(args) -> int:
    target = add_to_history(args.run, args.to, args.bench, args.name)
    size = sum(f.stat().st_size for f in target.iterdir())
    print(f"{target} ({size / 1024:.0f} KiB)")
    return 0
