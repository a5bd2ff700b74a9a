"""Render what :mod:`vaebench.compare.comparison` computes: :func:`to_markdown` (what ``vaebench
compare`` prints) and :func:`render_comparison_html` (the regression page); computes nothing.

The page's findings table has a fixed layout (``FINDINGS_COLUMNS``: the detail column keeps
a third of the width) and long keys break at ``::``, ``/`` and ``[``; trend plots are drawn
by :func:`vaebench.report.figures.render_figure` with the run index (1, 2, …) as x and their
title as a heading above the figure, not inside it.
"""
from __future__ import annotations

import html
import re

from vaebench.report.figures import render_figure
from vaebench.report.html import COLOURS, CSS, badge
from vaebench.report.html import esc as _esc

#: (heading, width) of the findings table's columns; the widths add up to 100 %
FINDINGS_COLUMNS = (("", "9%"), ("kind", "10%"), ("what", "25%"), ("old", "13%"), ("new", "13%"), ("detail", "30%"))
PAGE_CSS = """
table.findings{table-layout:fixed;width:100%} table.findings td{overflow-wrap:break-word}
table.findings td.key{overflow-wrap:anywhere;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.85em}
"""


def _panel(title: str, series: dict, label: str, ylabel: str) -> dict:
    return {"type": "lines", "title": title, "xlabel": "run (oldest → newest)", "ylabel": ylabel,
            "series": [{"label": label, **series}]}


def _short(key: str, width: int = 60) -> str:
    """``C5::test::check name`` → ``C5: check name``; ``file.py::test[x]`` → ``test[x]``."""
    parts = key.split("::")
    key = f"{parts[0]}: {parts[-1]}" if len(parts) >= 3 else parts[-1]
    return key if len(key) <= width else key[:width - 1] + "…"


def _breakable(key: str) -> str:
    """``key`` escaped, with a line-break opportunity after each ``::``, ``/`` and before ``[``."""
    return re.sub(r"(::|/)", r"\1<wbr>", _esc(key)).replace("[", "<wbr>[")


def rule_text(comparison) -> str:
    """The benchmark rule a comparison used, in one sentence (markdown and page alike)."""
    c, t = comparison, comparison.timing
    head = (f"rule: checks move when each point is outside the other's CI and by ≥ {c.min_change:.0%}; "
            f"benchmarks: one-sided Mann–Whitney per benchmark, ")
    if t is None:
        return head + "none compared (a run holds no benchmark)"
    machines = ("same machine" if t.same_machine else
                f"different machines ({_machine(t.old_machine)} → {_machine(t.new_machine)})")
    if t.mode == "none":
        return head + f"timings not compared ({t.timing_asked} asked; see the findings) — {machines}"
    what = (f"each round divided by the median round of `{t.reference}` of its own run (the reference itself is "
            "not judged)" if t.mode == "ratio" else "seconds per round")
    return (head + f"Holm over {t.family_size} benchmarks at family α {t.family_alpha:g}, and ≥ {t.min_change:.0%} "
            f"change in the median; timings compared as {what} — {machines}")


def _machine(m: dict) -> str:
    return ", ".join(str(m[k]) + (" cores" if k == "cores" else "") for k in ("cpu", "cores", "system", "machine")
                     if m.get(k)) or "unknown"


def _md(x) -> str:
    """``x`` as markdown text on one line: HTML escaped (a CI job summary renders HTML), ``|``
    escaped (a table cell)."""
    return html.escape("" if x is None else str(x), quote=False).replace("|", "\\|").replace("\n", " ")


def to_markdown(comparison) -> str:
    """The findings of :func:`vaebench.compare.comparison.compare_runs` as a markdown table (what
    ``vaebench compare`` prints and ``--markdown`` writes)."""
    c = comparison
    lines = [f"## vaebench compare: {_md(c.old.label)} → {_md(c.new.label)}", ""]
    n = len(c.regressions)
    lines.append(f"**{n} regression{'s' if n != 1 else ''}** · compared {c.compared.get('claims', 0)} claims, "
                 f"{c.compared.get('checks', 0)} checks, {c.compared.get('statistics', 0)} statistics, "
                 f"{c.compared.get('benchmarks', 0)} benchmarks")
    lines += ["", _md(rule_text(c)), ""]
    if not c.findings:
        lines.append("No differences.")
        return "\n".join(lines) + "\n"
    lines += ["| | kind | what | old | new | detail |", "|---|---|---|---|---|---|"]
    for f in c.findings:
        cells = [("REGRESSION" if f.regression else ""), f.kind, f.key, f.old, f.new, f.detail]
        lines.append("| " + " | ".join(_md(x) for x in cells) + " |")
    return "\n".join(lines) + "\n"


def _findings_table(findings) -> str:
    cols = "".join(f'<col style="width:{w}">' for _, w in FINDINGS_COLUMNS)
    head = "".join(f"<th>{h}</th>" for h, _ in FINDINGS_COLUMNS)
    rows = []
    for f in findings:
        mark = (f'<span class="v" style="background:{COLOURS["refuted"]}">regression</span>'
                if f.regression else "")
        rows.append(f"<tr><td>{mark}</td><td>{_esc(f.kind)}</td><td class=key>{_breakable(f.key)}</td>"
                    f"<td>{_esc(f.old)}</td><td>{_esc(f.new)}</td><td class=small>{_esc(f.detail)}</td></tr>")
    return f"<table class=findings><colgroup>{cols}</colgroup><tr>{head}</tr>{''.join(rows)}</table>"


def _trend_section(trend: dict) -> list[str]:
    labels = trend["labels"]
    parts = [f"<h2>History ({len(labels)} runs)</h2>"]
    if trend["verdicts"]:
        head = "".join(f"<th>{i + 1}</th>" for i in range(len(labels)))
        rows = "".join(f"<tr><td>{_esc(cid)}</td>" + "".join(f"<td>{badge(v) if v != '—' else '—'}</td>"
                                                              for v in vs) + "</tr>"
                       for cid, vs in sorted(trend["verdicts"].items()))
        parts.append(f"<table><tr><th>claim</th>{head}</tr>{rows}</table>")
    parts.append("<details><summary>the runs by number</summary><table><tr><th>run</th><th>name</th></tr>" + "".join(
        f"<tr><td>{i + 1}</td><td><code>{_esc(label)}</code></td></tr>" for i, label in enumerate(labels))
        + "</table></details>")
    if trend["benchmarks"]:
        panels = [_panel(_short(k), s, "median (band: interquartile range)", "seconds per round")
                  for k, s in sorted(trend["benchmarks"].items())]
        parts.append("<h3>Benchmarks: seconds per round</h3>")
        parts.append(render_figure({"panels": panels, "ncols": 3}))
    if trend["checks"]:
        panels = [_panel(_short(k), s, "estimate (band: CI)", "value") for k, s in trend["checks"].items()]
        parts.append("<h3>Checks: estimate and confidence interval per run</h3>")
        parts.append(render_figure({"panels": panels, "ncols": 3,
                                    "caption": f"{trend['checks_left_out']} more checks not drawn"
                                    if trend["checks_left_out"] else ""}))
    if trend["constant_checks"]:
        parts.append(f"<p class=small>{len(trend['constant_checks'])} exact checks kept the same value in every "
                     "run: " + ", ".join(_esc(_short(k)) for k in trend["constant_checks"]) + "</p>")
    return parts


def render_comparison_html(comparison, trend: dict | None = None) -> str:
    """The regression report of :func:`vaebench.compare.comparison.compare_runs` (and its
    :func:`vaebench.compare.trends.trends`) as one self-contained page (figures embedded)."""
    c = comparison
    n = len(c.regressions)
    colour = COLOURS["refuted"] if n else COLOURS["supported"]
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>vaebench compare</title>"
             f"<style>{CSS}{PAGE_CSS}</style></head><body>",
             f"<h1>vaebench regression report</h1><p class=small>old <code>{_esc(c.old.label)}</code> "
             f"({_esc(c.old.started)}{', ' + _esc(c.old.commit) if c.old.commit else ''}) → new "
             f"<code>{_esc(c.new.label)}</code> ({_esc(c.new.started)}"
             f"{', ' + _esc(c.new.commit) if c.new.commit else ''})</p>",
             f'<p><span class="v" style="background:{colour}">{n} regression{"s" if n != 1 else ""}</span> '
             f"compared {c.compared.get('claims', 0)} claims, {c.compared.get('checks', 0)} checks, "
             f"{c.compared.get('statistics', 0)} statistics, {c.compared.get('benchmarks', 0)} benchmarks</p>",
             f"<p class=small>{_esc(rule_text(c))}</p>",
             "<h2>Findings</h2>"]
    parts.append(_findings_table(c.findings) if c.findings else "<p>No differences.</p>")
    if trend:
        parts += _trend_section(trend)
    parts.append("</body></html>")
    return "\n".join(parts)
