"""The run's summary: one row per claim merged over its tests (:func:`summarise`, with the
claim rule of :func:`vaebench.stats.verdict.claim_verdict`), and the terminal's verdict
table (:func:`write_table`)."""
from __future__ import annotations

from vaebench.report.reasons import group_reasons, wrap
from vaebench.stats.verdict import claim_verdict

#: characters of a verdict line's text before it wraps (between words, never inside one)
WIDTH = 150

#: a sub-claim decided by several tests (parametrised, say) takes the gravest verdict
_GRAVITY = {"supported": 0, "inconclusive": 1, "refuted": 2, "error": 3}
_COLOURS = {"supported": {"green": True}, "refuted": {"red": True}, "error": {"red": True}}


def summarise(records: list[dict]) -> list[dict]:
    """One row per claim, merged over its tests: the verdict of each declared sub-claim
    (from the test that ran its primary check; ``error`` when the test covering it
    raised), the claim's verdict by the pre-registered rule (``claim_verdict``; ``error``
    when any of its tests raised), the runs its primary checks rest on and the health
    flags of its models."""
    rows: dict[str, dict] = {}
    for r in records:
        c = r["claim"]
        row = rows.setdefault(c["id"], _new_row(c, r))
        _merge(row, r)
    return [_finish(row) for row in sorted(rows.values(), key=lambda r: r["id"])]


def _new_row(claim: dict, record: dict) -> dict:
    return {"id": claim["id"], "title": claim["title"], "generalises": claim.get("generalises"),
            "level": claim.get("level"), "declared": claim.get("subclaims", []), "subclaims": {}, "errors": [],
            "passed": 0, "failed": 0, "open": 0, "n_runs": None, "flags": {}, "scale": record.get("scale", {}),
            "ran": record.get("ran", {})}


def _merge(row: dict, r: dict) -> None:
    """Add one test's record to its claim's row."""
    if r["verdict"] == "error":
        row["errors"].append(r["test"])
    for sub in r.get("subclaims", []):
        sub = {**sub, "test": r["test"],
               "verdict": "error" if r["verdict"] == "error" and sub["check"] is None else sub["verdict"]}
        have = row["subclaims"].get(sub["id"])
        if have is None or _GRAVITY[sub["verdict"]] > _GRAVITY[have["verdict"]]:
            row["subclaims"][sub["id"]] = sub
    for check in r["checks"]:
        if check.get("role", "primary") != "primary":
            continue
        row[{"supported": "passed", "refuted": "failed"}.get(check["verdict"], "open")] += 1
        if check.get("n_runs"):
            row["n_runs"] = max(row["n_runs"] or 0, int(check["n_runs"]))
    for m in r.get("models", []):
        for flag in m.get("flags", []):
            row["flags"].setdefault(flag, []).append(m["label"])


def _finish(row: dict) -> dict:
    """The claim's verdict and reason from its declared sub-claims."""
    subs = [row["subclaims"].get(decl["id"]) or {**decl, "verdict": "inconclusive", "check": None,
                                                  "reason": "its primary check was not run", "test": None}
            for decl in row.pop("declared")]
    verdicts = [s["verdict"] for s in subs]
    if row["errors"] or "error" in verdicts:
        verdict = "error"
    else:
        verdict = claim_verdict(verdicts).value
    reason = "; ".join(f"{s['id']} {s['verdict']}" + (f" ({s['reason']})" if s["verdict"] != "supported" else "")
                       for s in subs)
    if row["errors"]:
        reason = "error in " + ", ".join(row["errors"]) + "; " + reason
    return {**row, "subclaims": subs, "verdict": verdict, "reason": reason,
            "flags": {k: sorted(set(v)) for k, v in row["flags"].items()}}


def write_table(tr, summary: list[dict], environment: dict, report_path: str | None) -> None:
    """The verdict table at the end of the terminal summary, then the data and the report's path."""
    tr.section("vaebench verdicts")
    for row in summary:
        tr.write(f"{row['id']:4s} ")
        tr.write(f"{row['verdict'].upper():13s}", **_COLOURS.get(row["verdict"], {"yellow": True}), bold=True)
        extra = f"  [extends {row['generalises']}]" if row.get("generalises") else ""
        runs = f", n_runs {row['n_runs']}" if row.get("n_runs") else ""
        tr.write_line(f" {row['title']}{extra}  (primary: {row['passed']} supported / {row['failed']} refuted / "
                      f"{row['open']} open{runs})")
        for sub in row["subclaims"]:
            tr.write("       ")
            tr.write(f"{sub['id']:5s} {sub['verdict']:13s}", **_COLOURS.get(sub["verdict"], {"yellow": True}))
            why = "" if sub["verdict"] == "supported" else f" — {group_reasons(sub['reason'])}"
            lines = wrap(f"{sub['statement']}{why}", WIDTH, " " * 27)
            tr.write_line(" " + "\n".join(lines))
        for flag, labels in row.get("flags", {}).items():
            text = f"health: {flag}: {len(labels)} model{'s' if len(labels) > 1 else ''}: {', '.join(labels)}"
            tr.write_line("       " + "\n".join(wrap(text, WIDTH, " " * 15)), yellow=True)
    data = environment.get("data")
    if isinstance(data, dict):
        from vaebench.claims.session import data_line

        tr.write_line(data_line(data))
    if report_path:
        tr.write_line(f"report: {report_path}")
