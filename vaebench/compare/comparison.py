"""Compare two runs: every :class:`Finding` between them (:func:`compare_runs`), judged by
the rules of :mod:`vaebench.compare.rules`. Compute here, render in
:mod:`vaebench.report.compare_page`."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass

import numpy as np

from vaebench.compare.rules import (
    CONFIG_FIELDS,
    CROSS_MACHINE_MIN_CHANGE,
    FAMILY_ALPHA,
    MIN_CHANGE,
    TimingRule,
    judge_benchmarks,
    moved,
    timing_rule,
)
from vaebench.compare.runio import CompareError, Run, _est, _keyed, _records
from vaebench.errors import require


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


def _compare_claims(old: dict, new: dict, min_change: float, findings: list[Finding]) -> dict[str, int]:
    counts = {"claims": 0, "checks": 0, "statistics": 0}
    old_scale, new_scale = (old.get("environment") or {}).get("scale"), (new.get("environment") or {}).get("scale")
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
    _compare_verdicts(old, new, findings, counts)
    _compare_records(old, new, min_change, findings, counts)
    return counts


def _compare_verdicts(old: dict, new: dict, findings: list[Finding], counts: dict[str, int]) -> None:
    """Claims whose verdict flipped, missing or new (the summary rows)."""
    old_rows = {r["id"]: r for r in old.get("summary") or []}
    new_rows = {r["id"]: r for r in new.get("summary") or []}
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


def _compare_records(old: dict, new: dict, min_change: float, findings: list[Finding], counts: dict[str, int]) -> None:
    """Checks and statistics of each claim test held in both runs that flipped, moved or went missing."""
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


MEMORY_FIELDS = ("device_peak_bytes", "device_increment_bytes", "state_bytes")


def _benchmark_pairs(old: Run, new: Run, rule: TimingRule, findings: list[Finding]) -> dict[str, tuple]:
    """The rounds of every benchmark timed in both runs with the same configuration (the
    reference left out); findings for those missing, new, incomparable, and for memory."""
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
    return pairs


def _compare_benchmarks(old: Run, new: Run, rule: TimingRule, findings: list[Finding]) -> tuple[int, TimingRule]:
    if not old.benchmarks or not new.benchmarks:
        return 0, rule
    pairs = _benchmark_pairs(old, new, rule, findings)
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
    _benchmark_findings(judged, rule, unit, findings)
    return len(judged), rule


def _benchmark_findings(judged: dict[str, dict], rule: TimingRule, unit: str, findings: list[Finding]) -> None:
    """A finding for each judged benchmark that is slower (a regression), faster or undecidable."""
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
