"""Render what :mod:`vaebench.compare` computes: :func:`to_markdown` (what ``vaebench
compare`` prints) and :func:`render_comparison_html` (the regression page); computes nothing."""
from __future__ import annotations

from .figures import render_figure
from .htmlbits import COLOURS, CSS, badge, esc as _esc


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

