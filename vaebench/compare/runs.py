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
  least ``min_change`` relative to the old value. Claims are compared only between runs at
  the same scale; on any machine (a statistic is judged by its own interval).
* a benchmark got slower. The rule, per benchmark present in both runs with the same
  configuration (``CONFIG_FIELDS``):

  1. *What is compared* (:attr:`TimingRule.mode`). ``ratio`` (the default): each round
     divided by the median round of a *reference* benchmark of its own run (``REFERENCE``,
     the AE's training step, when both runs hold it, else the first key both hold), so a
     machine that is faster, slower or busier in one run than in the other cancels out and
     only the relative cost of the benchmarks is compared; the reference itself, and a
     slowdown shared by every benchmark, are not seen. (Not the median over all
     benchmarks: step and epoch benchmarks move apart between runs of the same code, so a
     median of both kinds flags unchanged steps; a step benchmark divides steps well.)
     ``seconds``: the per-round seconds,
     for a dedicated runner, and only between runs of the same machine (never absolute
     seconds across CPU models). Machines are told apart by each benchmark JSON's
     ``machine_info`` (CPU brand and count, OS, architecture).
  2. A one-sided exact Mann–Whitney U test of those rounds, new slower than old, gives a
     p-value per benchmark; the p-values of all benchmarks compared are corrected with
     Holm's step-down method at a **family** level ``family_alpha`` (default 0.05: the
     chance that a run of unchanged code flags any benchmark at all is at most 5 %, if
     rounds are independent). A benchmark whose rounds are too few for any p-value to
     reach ``family_alpha`` (3 + 3 rounds: 1/20) is "undecidable" and not in the family.
  3. *and* the ratio of medians is at least ``1 + min_change`` (default 10 %) on the same
     machine, ``1 + cross_machine_min_change`` (default 25 %) across machines, where CPU
     models differ in the relative speed of their operations.

  The same rule with "faster" is reported, not a regression. Memory figures are compared
  on the same machine only: an accelerator's allocator peak or a model's state (weights
  and optimizer) that grows by ``min_change`` is a regression (both are reproducible), a
  CPU's RSS is reported only.

Timings are only as quiet as the machine: ratios cancel a load that slows a whole run
alike, not one that comes and goes within a run (rounds of one benchmark are then not
independent, and no test on them is exact). Compare timings from a dedicated runner.

Not regressions, but reported: statistics that do not vote and moved, benchmarks that got
faster, claims and benchmarks that are new.

The history: a folder of runs (``<history>/<run>/results.json`` + ``benchmark*.json``),
oldest first by their start time, filled by ``vaebench history add``
(:mod:`vaebench.compare.history`). The HTML report plots each key figure across it (benchmark
median with its interquartile range, each check's estimate with its CI) and tabulates the
verdicts per run.

Compute first (:func:`compare_runs`, :func:`trends`), render last
(:func:`vaebench.report.compare_page.to_markdown`, :func:`vaebench.report.compare_page.render_comparison_html`).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import os
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vaebench.errors import StatsError, VaebenchError, require
from vaebench.stats.estimate import Estimate

RESULTS = "results.json"
#: extra_info fields that must agree for two benchmarks to be compared
CONFIG_FIELDS = ("backend", "device", "dtype", "image_size", "batch_size", "model", "scale")
MIN_CHANGE = 0.10
#: the smallest slowdown that counts when the two runs' machines differ (timing ratios)
CROSS_MACHINE_MIN_CHANGE = 0.25
#: Holm's family level over all benchmarks of a comparison
FAMILY_ALPHA = 0.05
#: the benchmark other timings are divided by when the machines differ (``ratio`` mode)
REFERENCE = "benchmarks/test_step.py::test_train_step[AE]"
TIMING_MODES = ("ratio", "seconds")


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


def _add_benchmarks(run: Run, data: dict, path: Path) -> None:
    require(
        "benchmarks" in data,
        f"{str(path)!r} holds no 'benchmarks' list; is it a pytest --benchmark-json file?",
        CompareError,
    )
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
        run.started = str(run.results.get("run", {}).get("started") or run.started)
        if label is None:
            run.label = run.results.get("run", {}).get("name") or run.label
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


# --------------------------------------------------------------------------- comparing


@dataclass(frozen=True)
class Finding:
    """One difference between two runs. ``regression`` decides the exit status."""

    kind: str  # verdict | check | statistic | benchmark | memory | missing | new | incomparable
    key: str
    old: str
    new: str
    detail: str
    regression: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TimingRule:
    """How the benchmarks of a comparison were judged (the module docstring has the rule)."""

    mode: str  # seconds | ratio | none (nothing timed on both sides)
    same_machine: bool
    old_machine: dict
    new_machine: dict
    reference: str | None  # ratio mode: the benchmark every timing was divided by
    family_alpha: float
    min_change: float  # the smallest slowdown that counts under this rule
    family_size: int = 0  # benchmarks in Holm's family
    timing_asked: str = "ratio"  # the mode asked for (``mode`` is ``none`` where it could not apply)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Comparison:
    old: Run
    new: Run
    findings: list[Finding]
    compared: dict[str, int]
    family_alpha: float
    min_change: float
    timing: TimingRule | None = None

    @property
    def regressions(self) -> list[Finding]:
        return [f for f in self.findings if f.regression]

    def to_dict(self) -> dict:
        return {
            "old": self.old.label,
            "new": self.new.label,
            "compared": self.compared,
            "regressions": len(self.regressions),
            "family_alpha": self.family_alpha,
            "min_change": self.min_change,
            "timing": self.timing.to_dict() if self.timing else None,
            "findings": [f.to_dict() for f in self.findings],
        }


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


def _as_estimate(x: Estimate | tuple[float, float, float]) -> Estimate:
    return x if isinstance(x, Estimate) else Estimate(*x)


def moved(
    old: Estimate | tuple[float, float, float], new: Estimate | tuple[float, float, float], min_change: float
) -> bool:
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
        findings.append(
            Finding(
                "incomparable",
                "claims",
                str(old_scale),
                str(new_scale),
                "the runs are at different scales; claims are compared only at one scale",
            )
        )
        return counts
    old_rows = {r["id"]: r for r in old.get("summary", [])}
    new_rows = {r["id"]: r for r in new.get("summary", [])}
    for cid in sorted(set(old_rows) | set(new_rows)):
        if cid not in new_rows:
            findings.append(
                Finding("missing", cid, old_rows[cid]["verdict"], "—", "the claim is missing from the new run", True)
            )
            continue
        if cid not in old_rows:
            findings.append(Finding("new", cid, "—", new_rows[cid]["verdict"], "the claim is new in this run"))
            continue
        counts["claims"] += 1
        o, n = old_rows[cid]["verdict"], new_rows[cid]["verdict"]
        if o != n:
            findings.append(
                Finding("verdict", cid, o, n, f"verdict flipped {o} → {n}: {new_rows[cid].get('reason', '')}", True)
            )
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
                    findings.append(
                        Finding(
                            "check",
                            key,
                            f"{oi.get('verdict')}: {text_o}",
                            f"{ni.get('verdict')}: {text_n}",
                            f"moved {'into' if ni.get('passed') else 'out of'} its tolerance ({ni.get('tolerance')})",
                            True,
                        )
                    )
                elif moved(oe, ne, min_change):
                    findings.append(
                        Finding(
                            "check" if kind == "checks" else "statistic",
                            key,
                            text_o,
                            text_n,
                            "moved away from the last run (each point outside the other's CI)",
                            kind == "checks",
                        )
                    )
            for key in sorted(set(o_items) - set(n_items)):
                if kind == "checks":
                    findings.append(
                        Finding(
                            "missing",
                            key,
                            o_items[key].get("estimate_text", ""),
                            "—",
                            "the check is missing from the new run",
                            True,
                        )
                    )
    return counts


def min_exact_p(n_old: int, n_new: int) -> float:
    """The smallest one-sided p-value an exact Mann–Whitney U test can give: 1 / C(n_old + n_new, n_old)."""
    return 1.0 / math.comb(n_old + n_new, n_old)


def holm_adjust(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (reject hypothesis i at family level α iff its
    adjusted p-value is <= α): the i-th smallest p times (m − i), made monotone, capped at 1."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted, running = [1.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def benchmark_stats(old: list[float], new: list[float]) -> dict:
    """``new`` rounds against ``old``: ratio of medians and one-sided exact Mann–Whitney
    p-values (``scipy.stats.mannwhitneyu``), before any multiplicity correction."""
    from scipy.stats import mannwhitneyu

    o, n = np.asarray(old, dtype=float), np.asarray(new, dtype=float)
    require(
        o.size >= 2 and n.size >= 2,
        f"a benchmark comparison needs >= 2 rounds on each side (got {o.size} "
        f"and {n.size}); run the benchmark with more rounds",
        CompareError,
    )
    return {
        "ratio": float(np.median(n) / np.median(o)),
        "p_slower": float(mannwhitneyu(n, o, alternative="greater").pvalue),
        "p_faster": float(mannwhitneyu(n, o, alternative="less").pvalue),
        "min_p": min_exact_p(o.size, n.size),
        "n_old": int(o.size),
        "n_new": int(n.size),
        "median_old": float(np.median(o)),
        "median_new": float(np.median(n)),
    }


def judge_benchmarks(
    pairs: dict[str, tuple[list[float], list[float]]],
    family_alpha: float = FAMILY_ALPHA,
    min_change: float = MIN_CHANGE,
) -> dict[str, dict]:
    """Each benchmark's :func:`benchmark_stats` plus Holm-adjusted p-values over the family
    (the benchmarks whose rounds can reach ``family_alpha`` at all) and a verdict: ``slower``
    / ``faster`` (adjusted p <= family_alpha and the ratio of medians beyond 1 ± min_change),
    ``same``, or ``undecidable`` (too few rounds)."""
    require(0 < family_alpha < 1, f"family_alpha={family_alpha} must lie strictly between 0 and 1", CompareError)
    require(min_change >= 0, f"min_change={min_change} must be >= 0 (0.10 = 10 %)", CompareError)
    out = {k: benchmark_stats(o, n) for k, (o, n) in pairs.items()}
    family = [k for k, s in out.items() if s["min_p"] <= family_alpha + 1e-12]
    for side in ("slower", "faster"):
        for k, adj in zip(family, holm_adjust([out[k][f"p_{side}"] for k in family])):
            out[k][f"holm_{side}"] = adj
    for k, s in out.items():
        s.update(family_size=len(family), family_alpha=family_alpha, min_change=min_change)
        if k not in family:
            s["verdict"] = "undecidable"
        elif s["holm_slower"] <= family_alpha and s["ratio"] >= 1 + min_change:
            s["verdict"] = "slower"
        elif s["holm_faster"] <= family_alpha and s["ratio"] <= 1 / (1 + min_change):
            s["verdict"] = "faster"
        else:
            s["verdict"] = "same"
    return out


def benchmark_change(
    old: list[float], new: list[float], family_alpha: float = FAMILY_ALPHA, min_change: float = MIN_CHANGE
) -> dict:
    """:func:`judge_benchmarks` of one benchmark (a family of one)."""
    return judge_benchmarks({"benchmark": (old, new)}, family_alpha, min_change)["benchmark"]


MEMORY_FIELDS = ("device_peak_bytes", "device_increment_bytes", "state_bytes")


def _comparable(old: Run, new: Run) -> list[str]:
    """Benchmarks timed (>= 2 rounds) in both runs with the same configuration."""
    keys = []
    for k in sorted(set(old.benchmarks) & set(new.benchmarks)):
        ob, nb = old.benchmarks[k], new.benchmarks[k]
        same_config = all(
            ob["extra_info"].get(f) == nb["extra_info"].get(f)
            for f in CONFIG_FIELDS
            if f in ob["extra_info"] and f in nb["extra_info"]
        )
        if same_config and len(ob["timings"] or []) >= 2 and len(nb["timings"] or []) >= 2:
            keys.append(k)
    return keys


def timing_rule(
    old: Run,
    new: Run,
    timing: str = "ratio",
    reference: str | None = None,
    family_alpha: float = FAMILY_ALPHA,
    min_change: float = MIN_CHANGE,
    cross_machine_min_change: float = CROSS_MACHINE_MIN_CHANGE,
) -> TimingRule:
    """The rule the benchmarks of ``old`` and ``new`` are judged by: ``ratio`` (to a reference
    benchmark of each run) on any machines, ``seconds`` on the same machine only (mode
    ``none`` on different ones); the smallest change is ``min_change`` on the same machine,
    ``cross_machine_min_change`` across machines."""
    require(timing in TIMING_MODES, f"timing={timing!r} is not a timing rule; use one of {TIMING_MODES}", CompareError)
    same = old.machine == new.machine
    common = _comparable(old, new)
    mode, ref = timing, None
    if mode == "ratio":
        if reference is not None:
            require(
                reference in common,
                f"reference={reference!r} is not a benchmark timed in both runs with the "
                f"same configuration; use one of {common}",
                CompareError,
            )
            ref = reference
        else:
            ref = REFERENCE if REFERENCE in common else (common[0] if common else None)
        if ref is None or len(common) < 2:
            mode, ref = "none", None
    elif not common or not same:
        mode = "none"
    return TimingRule(
        mode,
        same,
        old.machine,
        new.machine,
        ref,
        family_alpha,
        min_change if same else cross_machine_min_change,
        timing_asked=timing,
    )


def _compare_benchmarks(old: Run, new: Run, rule: TimingRule, findings: list[Finding]) -> tuple[int, TimingRule]:
    if not old.benchmarks or not new.benchmarks:
        return 0, rule
    pairs: dict[str, tuple[list[float], list[float]]] = {}
    for key in sorted(set(old.benchmarks) | set(new.benchmarks)):
        if key not in new.benchmarks:
            findings.append(Finding("missing", key, "recorded", "—", "the benchmark is missing from the new run"))
            continue
        if key not in old.benchmarks:
            findings.append(Finding("new", key, "—", "recorded", "the benchmark is new in this run"))
            continue
        oi, ni = old.benchmarks[key]["extra_info"], new.benchmarks[key]["extra_info"]
        differs = [f for f in CONFIG_FIELDS if f in oi and f in ni and oi[f] != ni[f]]
        if differs:
            findings.append(
                Finding(
                    "incomparable",
                    key,
                    ", ".join(f"{f}={oi[f]}" for f in differs),
                    ", ".join(f"{f}={ni[f]}" for f in differs),
                    "the configuration differs",
                )
            )
            continue
        ot, nt = old.benchmarks[key]["timings"], new.benchmarks[key]["timings"]
        if not ot or not nt or len(ot) < 2 or len(nt) < 2:
            findings.append(Finding("incomparable", key, "", "", "fewer than 2 timed rounds on a side"))
            continue
        if key != rule.reference:
            pairs[key] = (ot, nt)
        if rule.same_machine:
            _compare_memory(key, oi, ni, rule.min_change, findings)
    if rule.mode == "none" or not pairs:
        why = (
            "seconds are compared only between runs of the same machine (--timing ratio compares across machines)"
            if rule.timing_asked == "seconds" and not rule.same_machine
            else "no two benchmarks are timed in both runs with the same configuration"
        )
        findings.append(Finding("incomparable", "benchmarks", json.dumps(old.machine), json.dumps(new.machine), why))
        return 0, rule
    unit = ""
    if rule.mode == "ratio":
        o_ref = float(np.median(old.benchmarks[rule.reference]["timings"]))
        n_ref = float(np.median(new.benchmarks[rule.reference]["timings"]))
        pairs = {k: ([t / o_ref for t in o], [t / n_ref for t in n]) for k, (o, n) in pairs.items()}
        unit = "× reference"
    judged = judge_benchmarks(pairs, rule.family_alpha, rule.min_change)
    rule = dataclasses.replace(rule, family_size=next(iter(judged.values()))["family_size"])
    for key, c in judged.items():
        fmt = (lambda v: f"{v:.3f} {unit}") if unit else (lambda v: f"{v:.4g} s")
        text_o = f"median {fmt(c['median_old'])} (n={c['n_old']})"
        text_n = f"median {fmt(c['median_new'])} (n={c['n_new']})"
        detail = (
            f"{(c['ratio'] - 1) * 100:+.1f} % (ratio of medians {c['ratio']:.3f}); Mann–Whitney p(slower) = "
            f"{c['p_slower']:.2g}, p(faster) = {c['p_faster']:.2g}"
        )
        if c["verdict"] == "undecidable":
            findings.append(
                Finding(
                    "benchmark",
                    key,
                    text_o,
                    text_n,
                    f"undecidable: {c['n_old']} + {c['n_new']} rounds cannot give p <= "
                    f"{rule.family_alpha:g} (smallest p {c['min_p']:.2g}); " + detail,
                )
            )
            continue
        detail += (
            f"; Holm-adjusted over {c['family_size']}: {c['holm_slower']:.2g} / {c['holm_faster']:.2g} "
            f"(family α {rule.family_alpha:g}, ≥ {rule.min_change:.0%} change)"
        )
        if c["verdict"] == "slower":
            findings.append(Finding("benchmark", key, text_o, text_n, "slower: " + detail, True))
        elif c["verdict"] == "faster":
            findings.append(Finding("benchmark", key, text_o, text_n, "faster: " + detail))
    return len(judged), rule


def _compare_memory(key: str, oi: dict, ni: dict, min_change: float, findings: list[Finding]) -> None:
    for fld in MEMORY_FIELDS:
        ov, nv = oi.get(fld), ni.get(fld)
        if isinstance(ov, (int, float)) and isinstance(nv, (int, float)) and ov > 0:
            change = nv / ov - 1
            if abs(change) >= min_change:
                grows_on_gpu = bool(ni.get("accelerator")) and fld != "state_bytes" and change > 0
                findings.append(
                    Finding(
                        "memory",
                        f"{key} {fld}",
                        f"{ov / 2**20:.1f} MiB",
                        f"{nv / 2**20:.1f} MiB",
                        f"{change * 100:+.0f} %"
                        + (" (accelerator allocator peak: reproducible)" if grows_on_gpu else ""),
                        grows_on_gpu or (fld == "state_bytes" and change > 0),
                    )
                )


def compare_runs(
    old: Run,
    new: Run,
    family_alpha: float = FAMILY_ALPHA,
    min_change: float = MIN_CHANGE,
    timing: str = "ratio",
    reference: str | None = None,
    cross_machine_min_change: float = CROSS_MACHINE_MIN_CHANGE,
) -> Comparison:
    """Every finding between ``old`` and ``new`` (see the module docstring for the rules)."""
    require(
        min_change >= 0 and cross_machine_min_change >= 0,
        f"min_change={min_change} and cross_machine_min_change={cross_machine_min_change} must be >= 0 (0.10 = 10 %)",
        CompareError,
    )
    require(0 < family_alpha < 1, f"family_alpha={family_alpha} must lie strictly between 0 and 1", CompareError)
    findings: list[Finding] = []
    counts = {"claims": 0, "checks": 0, "statistics": 0, "benchmarks": 0}
    if old.results is not None and new.results is not None:
        counts.update(_compare_claims(old.results, new.results, min_change, findings))
    rule = None
    if old.benchmarks and new.benchmarks:
        rule = timing_rule(old, new, timing, reference, family_alpha, min_change, cross_machine_min_change)
        counts["benchmarks"], rule = _compare_benchmarks(old, new, rule, findings)
    order = {
        "verdict": 0,
        "missing": 1,
        "check": 2,
        "benchmark": 3,
        "memory": 4,
        "statistic": 5,
        "new": 6,
        "incomparable": 7,
    }
    findings.sort(key=lambda f: (not f.regression, order.get(f.kind, 9), f.key))
    return Comparison(old, new, findings, counts, family_alpha, min_change, rule)


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
    varying = {
        k: s for k, s in checks.items() if len(set(s["y"])) > 1 or any(a != b for a, b in zip(s["low"], s["high"]))
    }
    keep = dict(list(varying.items())[:max_checks])
    return {
        "labels": labels,
        "benchmarks": bench,
        "checks": keep,
        "checks_left_out": len(varying) - len(keep),
        "constant_checks": sorted(set(checks) - set(varying)),
        "verdicts": verdicts,
    }


# --------------------------------------------------------------------------- command line


def add_compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("old", nargs="?", help="the earlier run: a run folder, its results.json or a benchmark JSON")
    p.add_argument("new", nargs="?", help="the later run (same kinds)")
    p.add_argument("--old-bench", action="append", default=[], help="a pytest --benchmark-json file of OLD")
    p.add_argument("--new-bench", action="append", default=[], help="a pytest --benchmark-json file of NEW")
    p.add_argument(
        "--history",
        default=None,
        help="folder of earlier runs: trend plots; without OLD/NEW its newest two runs are compared",
    )
    p.add_argument("--html", default=None, help="write the HTML regression report here")
    p.add_argument("--markdown", default=None, help="also write the markdown report here (it always goes to stdout)")
    p.add_argument("--json", default=None, help="write the findings as JSON here")
    p.add_argument(
        "--alpha",
        type=float,
        default=FAMILY_ALPHA,
        help="family level of Holm's correction over all benchmarks compared (default 0.05)",
    )
    p.add_argument(
        "--min-change",
        type=float,
        default=MIN_CHANGE,
        help="smallest relative change that counts (default 0.10 = 10 %%)",
    )
    p.add_argument(
        "--cross-machine-min-change",
        type=float,
        default=CROSS_MACHINE_MIN_CHANGE,
        help="smallest relative change of a timing ratio that counts when the machines differ (default 0.25)",
    )
    p.add_argument(
        "--timing",
        choices=TIMING_MODES,
        default="ratio",
        help="ratio (default): each benchmark's rounds divided by the reference benchmark's median of "
        "the same run, on any machines; seconds: per-round seconds, same machine only (a "
        "dedicated runner)",
    )
    p.add_argument(
        "--reference",
        default=None,
        help=f"the reference benchmark of --timing ratio (default {REFERENCE} when both runs hold it)",
    )


def cmd_compare(args) -> int:
    """``vaebench compare``: 0 no regression, 1 regression(s), 2 nothing comparable or bad input.

    ``--history`` is read only where it is used: for the trend plots of ``--html`` and when
    OLD and NEW are not given (its newest two runs); otherwise only its folder is checked."""
    from vaebench.report.compare_page import to_markdown

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
        require(
            len(history) >= 2,
            f"--history={args.history!r} holds {len(history)} readable runs; comparing needs two (or pass OLD and NEW)",
            CompareError,
        )
        old, new = history[-2], history[-1]
    comparison = compare_runs(
        old, new, args.alpha, args.min_change, args.timing, args.reference, args.cross_machine_min_change
    )
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
        from vaebench.report.compare_page import render_comparison_html

        page = render_comparison_html(comparison, trends(runs) if len(runs) >= 2 else None)
        Path(args.html).write_text(page)
        print(f"report: {args.html}", file=sys.stderr)
    if not any(comparison.compared.values()):
        print(
            "vaebench compare: nothing was comparable (different scales, machines or configurations); "
            "see the findings above",
            file=sys.stderr,
        )
        return 2
    return 1 if comparison.regressions else 0
