"""Series over a history of runs for the trend plots of the regression report."""

from __future__ import annotations

import math

import numpy as np

from vaebench.compare.runio import Run, _est, _keyed, _records


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
        for row in results.get("summary") or []:
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
