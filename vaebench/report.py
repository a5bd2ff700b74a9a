"""Render a run's ``results.json`` as one self-contained HTML page.

The page has a verdict table, then per claim its quote and source, the posts' figures
beside ours, each check with its confidence interval and tolerance, the plots, and the
run's environment. Figures are PNGs embedded as data URIs (:mod:`vaebench.figures`): no
external URL, so the file opens offline. This module renders what the plugin collected; it
computes nothing. The regression page is :mod:`vaebench.report_compare`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .figures import render_figure
from .htmlbits import CSS, badge, esc as _esc


def _checks_table(record: dict) -> str:
    rows = []
    checks = sorted(record.get("checks", []), key=lambda c: c.get("role", "primary") != "primary")
    for c in checks:
        role = c.get("role", "primary")
        who = f"{_esc(c.get('subclaim') or '')} {role}" + (f", {c['n_runs']} runs" if c.get("n_runs") else "")
        if c.get("unit") and c.get("unit") != "runs":
            who += f", unit: {_esc(c['unit'])}"
        rows.append(f"<tr><td>{_esc(c['name'])}<br><span class=small>{who}</span></td>"
                    f"<td>{_esc(c['estimate_text'])}</td><td>{_esc(c['tolerance'])}</td>"
                    f"<td>{_esc(c.get('posts') or '')}</td><td>{badge(c['verdict'])}</td>"
                    f"<td class=small>{_esc(c.get('reason'))}</td></tr>")
    for s in record.get("statistics", []):
        rows.append(f"<tr><td>{_esc(s['name'])}<br><span class=small>shown</span></td><td>{_esc(s['estimate_text'])}"
                    f"</td><td class=small>—</td><td>{_esc(s.get('posts') or '')}</td><td></td>"
                    f"<td class=small>{_esc(s.get('note'))}</td></tr>")
    if not rows:
        return "<p class=small>No statistics recorded.</p>"
    return ("<table><tr><th>statistic</th><th>ours (estimate [CI])</th><th>tolerance</th><th>posts</th>"
            "<th>verdict</th><th>why</th></tr>" + "".join(rows) + "</table>")


def _models_table(record: dict) -> str:
    models = record.get("models", [])
    if not models:
        return ""
    rows = "".join(f"<tr><td>{_esc(m['label'])}</td><td>{_esc(', '.join(m.get('flags', [])) or 'healthy')}</td>"
                   f"<td class=small>{_esc('; '.join(m.get('reasons', {}).values()))}</td></tr>" for m in models)
    return "<table><tr><th>model</th><th>health</th><th>why</th></tr>" + rows + "</table>"


def _data_section(data: dict) -> str:
    """The data of the run (``environment['data']``): what and where, how many images, the
    content fingerprint, and every file its reads skipped or converted, with the reason."""
    keys = ("source", "path", "image_size", "train_images", "test_images", "fingerprint", "skipped_count",
            "converted_count", "loaded")
    out = ["<h2>Data</h2><table>" + "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(data[k])}</td></tr>"
                                            for k in keys if data.get(k) is not None) + "</table>"]
    out += [f"<p class=small>{_esc(n)}</p>" for n in data.get("notes", [])]
    for title, rows in (("skipped file", data.get("skipped")), ("converted file", data.get("converted"))):
        if rows:
            out.append(f"<table><tr><th>{title}</th><th>why</th></tr>" + "".join(
                f"<tr><td>{_esc(f)}</td><td class=small>{_esc(why)}</td></tr>" for f, why in rows) + "</table>")
    return "".join(out)


def render_html(results: dict) -> str:
    run, env = results.get("run", {}), results.get("environment", {})
    summary = results.get("summary", [])
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>vaebench {_esc(run.get('name'))}"
             f"</title><style>{CSS}</style></head><body>",
             f"<h1>vaebench report</h1><p class=small>run <code>{_esc(run.get('name'))}</code> · scale "
             f"<b>{_esc(env.get('scale'))}</b> · {_esc(env.get('backend'))} on {_esc(env.get('device'))} · "
             f"{_esc(run.get('started'))} · {float(run.get('duration_s', 0)):.0f} s</p>"]
    parts.append("<h2>Verdicts</h2><table><tr><th>claim</th><th>title / sub-claim</th><th>verdict</th>"
                 "<th>runs</th><th>model health</th><th>why</th></tr>")
    for s in summary:
        flags = "; ".join(f"{k}: {', '.join(v)}" for k, v in s.get("flags", {}).items()) or "healthy"
        extends = f" <span class=small>(extends {_esc(s['generalises'])}; vaebench's, not the posts')</span>" \
            if s.get("generalises") else ""
        parts.append(f"<tr><td><a href='#{_esc(s['id'])}'>{_esc(s['id'])}</a></td><td>{_esc(s['title'])}{extends}</td>"
                     f"<td>{badge(s['verdict'])}</td><td>{_esc(s.get('n_runs') or '')}</td>"
                     f"<td class=small>{_esc(flags)}</td><td class=small></td></tr>")
        for sub in s.get("subclaims", []):
            parts.append(f"<tr><td></td><td class=small>{_esc(sub['id'])}: {_esc(sub['statement'])}</td>"
                         f"<td>{badge(sub['verdict'])}</td><td></td><td></td>"
                         f"<td class=small>{_esc('' if sub['verdict'] == 'supported' else sub.get('reason'))}</td></tr>")
    parts.append("</table>")
    by_claim: dict[str, list[dict]] = {}
    for record in results.get("records", []):
        by_claim.setdefault(record["claim"]["id"], []).append(record)
    for s in summary:
        records = by_claim.get(s["id"], [])
        claim = records[0]["claim"] if records else {}
        parts.append(f"<h2 id='{_esc(s['id'])}'>{_esc(s['id'])} — {_esc(s['title'])} {badge(s['verdict'])}</h2>")
        parts.append(f"<blockquote>{_esc(claim.get('quote'))}</blockquote><p class=small>Source: "
                     f"{_esc(claim.get('source'))}</p>")
        if claim.get("posts"):
            parts.append("<table><tr><th>the posts report</th><th></th></tr>" + "".join(
                f"<tr><td>{_esc(k)}</td><td>{_esc(v)}</td></tr>" for k, v in claim["posts"].items()) + "</table>")
        for record in records:
            parts.append(f"<h3>{_esc(record['test'])} {badge(record['verdict'])}</h3>")
            if record.get("scale"):
                parts.append("<p class=small>ran at: " + ", ".join(
                    f"{_esc(k)}={_esc(v)}" for k, v in record["scale"].items()) + "</p>")
            parts.append(_checks_table(record))
            parts.append(_models_table(record))
            parts += [f"<p class=small>{_esc(n)}</p>" for n in record.get("notes", [])]
            parts += [render_figure(f) for f in record.get("figures", [])]
    if isinstance(env.get("data"), dict):
        parts.append(_data_section(env["data"]))
    parts.append("<h2>Environment</h2><table>" + "".join(
        f"<tr><th>{_esc(k)}</th><td>{_esc(json.dumps(v) if isinstance(v, (dict, list)) else v)}</td></tr>"
        for k, v in env.items() if not (k == "data" and isinstance(v, dict))) + "</table>")
    tests = results.get("tests", {})
    if tests:
        parts.append("<h2>Tests</h2><table><tr><th>test</th><th>outcome</th><th>seconds</th></tr>" + "".join(
            f"<tr><td>{_esc(k)}</td><td>{_esc(v.get('outcome'))}</td><td>{float(v.get('duration', 0)):.1f}</td></tr>"
            for k, v in tests.items()) + "</table>")
    parts.append("</body></html>")
    return "\n".join(parts)



def write_report(results: dict, run_dir: Path, latest: bool = True) -> Path:
    """Write ``results.json`` and ``index.html`` into ``run_dir``; point ``latest`` at it."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / "results.json.tmp"
    tmp.write_text(json.dumps(results, indent=1))
    os.replace(tmp, run_dir / "results.json")
    page = run_dir / "index.html"
    tmp = run_dir / "index.html.tmp"
    tmp.write_text(render_html(results))
    os.replace(tmp, page)
    if latest:
        link = run_dir.parent / "latest"
        tmp_link = run_dir.parent / f".latest-{os.getpid()}"
        try:
            if tmp_link.is_symlink() or tmp_link.exists():
                tmp_link.unlink()
            tmp_link.symlink_to(run_dir.name)
            os.replace(tmp_link, link)
        except OSError:
            pass
    return page
