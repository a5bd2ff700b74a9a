"""Render a run's ``results.json`` as one self-contained HTML page.

The page has a verdict table, then per claim its quote and source, the posts' figures
beside ours, each check with its confidence interval and tolerance, the plots, and the
run's environment. Figures are PNGs embedded as data URIs: no external URL, so the file
opens offline. This module renders what the plugin collected; it computes nothing. It also
renders what :mod:`vaebench.compare` computes: :func:`to_markdown` and :func:`render_comparison_html`.
"""
from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .record import images_from

COLOURS = {"supported": "#1a7f37", "refuted": "#cf222e", "inconclusive": "#9a6700"}

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1180px;padding:1.5em;
color:#1f2328;line-height:1.45}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em} th,td{border:1px solid #d0d7de;padding:.3em .6em;
text-align:left;vertical-align:top} th{background:#f6f8fa}
.v{color:#fff;border-radius:1em;padding:.1em .7em;font-weight:600;font-size:.85em;white-space:nowrap}
blockquote{border-left:4px solid #d0d7de;margin:.5em 0;padding:.2em 1em;color:#57606a}
figure{margin:1em 0} figure img{max-width:100%;border:1px solid #eee} figcaption{color:#57606a;font-size:.9em}
.small{color:#57606a;font-size:.88em} code{background:#f6f8fa;padding:0 .3em}
"""


def badge(verdict: str) -> str:
    colour = COLOURS.get(verdict, "#57606a")
    return f'<span class="v" style="background:{colour}">{html.escape(verdict)}</span>'


def _esc(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _fig_to_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _mosaic(images: np.ndarray, ncols: int) -> np.ndarray:
    n, h, w, c = images.shape
    rows = -(-n // ncols)
    canvas = np.full((rows * (h + 2) + 2, ncols * (w + 2) + 2, c), 255, np.uint8)
    for i in range(n):
        r, k = divmod(i, ncols)
        canvas[2 + r * (h + 2): 2 + r * (h + 2) + h, 2 + k * (w + 2): 2 + k * (w + 2) + w] = images[i]
    return canvas


def _f(values) -> np.ndarray:
    return np.array([float(v) for v in values], dtype=float)


def _draw(ax, panel: dict) -> None:
    kind = panel["type"]
    if kind == "hist":
        for s in panel.get("series", []):
            ax.stairs(_f(s["counts"]), _f(s["edges"]), label=s.get("label"), fill=bool(s.get("fill", False)),
                      alpha=0.45 if s.get("fill") else 1.0, linewidth=1.4)
    elif kind == "lines":
        for s in panel.get("series", []):
            x, y = _f(s["x"]), _f(s["y"])
            ax.plot(x, y, marker=s.get("marker", "o" if len(x) < 30 else None), markersize=3,
                    label=s.get("label"), linestyle=s.get("linestyle", "-"))
            if "low" in s and "high" in s:
                ax.fill_between(x, _f(s["low"]), _f(s["high"]), alpha=0.2)
        if panel.get("logx"):
            ax.set_xscale("log")
        if panel.get("logy"):
            ax.set_yscale("log")
    elif kind == "scatter":
        for s in panel.get("series", []):
            ax.scatter(_f(s["x"]), _f(s["y"]), s=float(s.get("size", 1.5)), alpha=float(s.get("alpha", 0.6)),
                       label=s.get("label"), linewidths=0)
        if panel.get("xlim"):
            ax.set_xlim(*panel["xlim"])
        if panel.get("ylim"):
            ax.set_ylim(*panel["ylim"])
        if panel.get("equal"):
            ax.set_aspect("equal", adjustable="box")
    elif kind == "bars":
        values = _f(panel["values"])
        x = np.arange(len(values))
        err = None
        if "low" in panel and "high" in panel:
            err = np.vstack([values - _f(panel["low"]), _f(panel["high"]) - values])
        ax.bar(x, values, yerr=err, capsize=3, color="#4c78a8")
        ax.set_xticks(x, [str(label) for label in panel["labels"]], rotation=30, ha="right")
    elif kind == "images":
        images = images_from(panel["images"])
        ax.imshow(_mosaic(images, int(panel.get("ncols", 8))), interpolation="nearest")
        ax.set_axis_off()
    for v in panel.get("vlines", []):
        ax.axvline(float(v["x"]), color=v.get("color", "k"), linestyle="--", linewidth=1)
        if v.get("label"):
            ax.text(float(v["x"]), ax.get_ylim()[1], " " + v["label"], va="top", fontsize=8)
    for h in panel.get("hlines", []):
        ax.axhline(float(h["y"]), color=h.get("color", "k"), linestyle=":", linewidth=1)
    ax.set_title(panel.get("title", ""), fontsize=10)
    if kind != "images":
        ax.set_xlabel(panel.get("xlabel", ""))
        ax.set_ylabel(panel.get("ylabel", ""))
        if any(s.get("label") for s in panel.get("series", [])):
            ax.legend(fontsize=8)


def _panel_height(panel: dict) -> float:
    """Inches a panel needs at 5.2 inches wide: image mosaics by their aspect, plots 3.6."""
    if panel["type"] != "images":
        return 3.6
    images = panel["images"]
    n, h, w = (images["shape"][:3] if isinstance(images, dict) else np.shape(images)[:3])
    ncols = min(int(panel.get("ncols", 8)), max(1, n))
    rows = -(-n // ncols)
    return 5.2 * (rows * (h + 2)) / (ncols * (w + 2)) + 0.6


def _table_html(panel: dict) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in panel["columns"])
    rows = "".join("<tr>" + "".join(f"<td>{_esc(v)}</td>" for v in row) + "</tr>" for row in panel["rows"])
    title = f"<p><b>{_esc(panel.get('title'))}</b></p>" if panel.get("title") else ""
    return f"{title}<table><tr>{head}</tr>{rows}</table>"


def render_figure(figure: dict) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p in figure["panels"] if p["type"] != "table"]
    out = []
    if panels:
        ncols = max(1, min(int(figure.get("ncols", 2)), len(panels)))
        nrows = -(-len(panels) // ncols)
        row_height = max(_panel_height(p) for p in panels)
        fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, row_height * nrows), squeeze=False)
        for ax, panel in zip(axes.flat, panels):
            _draw(ax, panel)
        for ax in list(axes.flat)[len(panels):]:
            ax.set_axis_off()
        fig.suptitle(figure.get("title", ""), fontsize=11)
        fig.tight_layout()
        out.append(f'<img alt="{_esc(figure.get("title"))}" src="{_fig_to_uri(fig)}">')
    out += [_table_html(p) for p in figure["panels"] if p["type"] == "table"]
    caption = f"<figcaption>{_esc(figure.get('caption'))}</figcaption>" if figure.get("caption") else ""
    return f"<figure>{''.join(out)}{caption}</figure>"


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


# --------------------------------------------------------------------------- regression report

def _panel(title: str, series: dict, label: str, ylabel: str) -> dict:
    return {"type": "lines", "title": title, "xlabel": "run (oldest → newest)", "ylabel": ylabel,
            "series": [{"label": label, **series}]}


def _short(key: str, width: int = 60) -> str:
    """``C5::test::check name`` → ``C5: check name``; ``file.py::test[x]`` → ``test[x]``."""
    parts = key.split("::")
    key = f"{parts[0]}: {parts[-1]}" if len(parts) >= 3 else parts[-1]
    return key if len(key) <= width else key[:width - 1] + "…"


def to_markdown(comparison) -> str:
    """The findings of :func:`vaebench.compare.compare_runs` as a markdown table (what
    ``vaebench compare`` prints and ``--markdown`` writes)."""
    c = comparison
    lines = [f"## vaebench compare: `{c.old.label}` → `{c.new.label}`", ""]
    n = len(c.regressions)
    lines.append(f"**{n} regression{'s' if n != 1 else ''}** · compared {c.compared.get('claims', 0)} claims, "
                 f"{c.compared.get('checks', 0)} checks, {c.compared.get('statistics', 0)} statistics, "
                 f"{c.compared.get('benchmarks', 0)} benchmarks · rule: Mann–Whitney p ≤ "
                 f"{'auto (0.001 with ≥ 12 rounds, else 0.05)' if c.alpha is None else c.alpha} and "
                 f"≥ {c.min_change:.0%} change")
    lines.append("")
    if not c.findings:
        lines.append("No differences.")
        return "\n".join(lines) + "\n"
    lines += ["| | kind | what | old | new | detail |", "|---|---|---|---|---|---|"]
    for f in c.findings:
        cells = [("REGRESSION" if f.regression else ""), f.kind, f.key, f.old, f.new, f.detail]
        lines.append("| " + " | ".join(str(x).replace("|", "\\|").replace("\n", " ") for x in cells) + " |")
    return "\n".join(lines) + "\n"


def render_comparison_html(comparison, trend: dict | None = None) -> str:
    """The regression report of :func:`vaebench.compare.compare_runs` (and its
    :func:`vaebench.compare.trends`) as one self-contained page (figures embedded)."""
    c = comparison
    n = len(c.regressions)
    colour = COLOURS["refuted"] if n else COLOURS["supported"]
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>vaebench compare</title>"
             f"<style>{CSS}</style></head><body>",
             f"<h1>vaebench regression report</h1><p class=small>old <code>{_esc(c.old.label)}</code> "
             f"({_esc(c.old.started)}{', ' + _esc(c.old.commit) if c.old.commit else ''}) → new "
             f"<code>{_esc(c.new.label)}</code> ({_esc(c.new.started)}"
             f"{', ' + _esc(c.new.commit) if c.new.commit else ''})</p>",
             f'<p><span class="v" style="background:{colour}">{n} regression{"s" if n != 1 else ""}</span> '
             f"compared {c.compared.get('claims', 0)} claims, {c.compared.get('checks', 0)} checks, "
             f"{c.compared.get('statistics', 0)} statistics, {c.compared.get('benchmarks', 0)} benchmarks</p>",
             "<h2>Findings</h2>"]
    if c.findings:
        parts.append("<table><tr><th></th><th>kind</th><th>what</th><th>old</th><th>new</th><th>detail</th></tr>")
        for f in c.findings:
            mark = (f'<span class="v" style="background:{COLOURS["refuted"]}">regression</span>'
                    if f.regression else "")
            parts.append(f"<tr><td>{mark}</td><td>{_esc(f.kind)}</td><td>{_esc(f.key)}</td><td>{_esc(f.old)}</td>"
                         f"<td>{_esc(f.new)}</td><td class=small>{_esc(f.detail)}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No differences.</p>")
    if trend:
        labels = trend["labels"]
        parts.append(f"<h2>History ({len(labels)} runs)</h2>")
        if trend["verdicts"]:
            head = "".join(f"<th>{i + 1}</th>" for i in range(len(labels)))
            rows = "".join(f"<tr><td>{_esc(cid)}</td>" + "".join(f"<td>{badge(v) if v != '—' else '—'}</td>"
                                                                  for v in vs) + "</tr>"
                           for cid, vs in sorted(trend["verdicts"].items()))
            parts.append(f"<table><tr><th>claim</th>{head}</tr>{rows}</table>")
        parts.append("<table><tr><th>run</th><th>name</th></tr>" + "".join(
            f"<tr><td>{i + 1}</td><td><code>{_esc(l)}</code></td></tr>" for i, l in enumerate(labels)) + "</table>")
        if trend["benchmarks"]:
            panels = [_panel(_short(k), s, "median (band: interquartile range)", "seconds per round")
                      for k, s in sorted(trend["benchmarks"].items())]
            parts.append(render_figure({"title": "Benchmarks: seconds per round", "panels": panels, "ncols": 3}))
        if trend["checks"]:
            panels = [_panel(_short(k), s, "estimate (band: CI)", "value") for k, s in trend["checks"].items()]
            parts.append(render_figure({"title": "Checks: estimate and confidence interval per run",
                                        "panels": panels, "ncols": 3,
                                        "caption": f"{trend['checks_left_out']} more checks not drawn"
                                        if trend["checks_left_out"] else ""}))
        if trend["constant_checks"]:
            parts.append(f"<p class=small>{len(trend['constant_checks'])} exact checks kept the same value in every "
                         "run: " + ", ".join(_esc(_short(k)) for k in trend["constant_checks"]) + "</p>")
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
