"""Small HTML pieces both pages share: escaping, verdict badges, the style sheet, and
how a number or an estimate is written (exact values as exact, intervals only where
there is one)."""
from __future__ import annotations

import html
import math
import re
from typing import Any

COLOURS = {"supported": "#1a7f37", "refuted": "#cf222e", "inconclusive": "#9a6700", "error": "#6e40c9"}

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
details{margin:.5em 0} summary{cursor:pointer;color:#0969da}
"""


def badge(verdict: str) -> str:
    colour = COLOURS.get(verdict, "#57606a")
    return f'<span class="v" style="background:{colour}">{html.escape(verdict)}</span>'


def esc(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def number(x: Any) -> float:
    """A JSON number or its string spelling ('nan', 'inf', '-inf') as a float."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def exact(x: float) -> str:
    """A value known exactly: whole numbers in full with thousands separators
    (5,109,440), others to 4 significant digits without exponent from 0.001 up."""
    if not math.isfinite(x):
        return {math.inf: "∞", -math.inf: "−∞"}.get(x, "—")
    if x == round(x) and abs(x) < 1e15:
        return f"{round(x):,}"
    if abs(x) < 1e-3:
        return f"{x:.4g}"
    decimals = max(0, 3 - math.floor(math.log10(abs(x))))
    return f"{x:,.{decimals}f}"


#: the method of a value given without an interval (a float a claim recorded: not exact)
NO_INTERVAL = "no interval"
#: an interval wider than this many times its estimate says nothing about it
UNINFORMATIVE = 10.0


def uninformative(value: float, low: float, high: float) -> bool:
    """Whether the interval ``[low, high]`` of ``value`` is too wide to bound it: wider
    than :data:`UNINFORMATIVE` × |value| (a nonzero value), or infinite at both ends."""
    if math.isinf(low) and math.isinf(high):
        return True
    if not (math.isfinite(low) and math.isfinite(high)) or value == 0:
        return False
    return high - low > UNINFORMATIVE * abs(value)


def too_few(n: Any) -> str:
    """What an uninformative interval is shown as: "too few runs to bound (n=2)"."""
    return f"too few runs to bound (n={n if n is not None else '?'})"


_TEXT = re.compile(r"^(\S+) \[(\S+), (\S+)\] \((.*)\)$")


def estimate_parts(estimate: dict, text: str = "") -> dict:
    """How to write an estimate: ``value`` (with its interval where it has one, in the
    digits of ``text``, the estimate's own spelling), ``how`` (level and method) and
    ``marks`` (why there is no interval, or that there is no estimate)."""
    v, lo, hi = (number(estimate.get(k)) for k in ("value", "low", "high"))
    level, method = number(estimate.get("level")), str(estimate.get("method") or "")
    m = _TEXT.match(text or "")
    how = m.group(4) if m else (f"{round(level * 100, 2):g}% {method}".strip() if math.isfinite(level) else method)
    if math.isnan(v):
        bounds = [exact(b) if math.isfinite(b) or math.isinf(b) else None for b in (lo, hi)]
        interval = f" [{bounds[0]}, {bounds[1]}]" if None not in bounds else ""
        return {"value": "—" + interval, "how": how, "marks": ["no estimate"]}
    if level == 1.0 or (lo == v == hi):
        spelled = m.group(1) if m and method == NO_INTERVAL else exact(v)
        return {"value": spelled, "how": method or "exact", "marks": []}
    if math.isinf(lo) and math.isinf(hi):
        shown = m.group(1) if m else exact(v)
        n = estimate.get("n")
        marks = ([f"the same in every run{f' ({n} runs)' if n else ''}: too few runs for an interval"]
                 if "no spread" in method else [])
        if not marks:
            return {"value": f"{shown} · {too_few(n)}", "how": how, "marks": []}
        return {"value": shown, "how": method.replace(" (no spread: distribution-free median)", ""),
                "marks": marks}
    if uninformative(v, lo, hi):
        return {"value": f"{m.group(1) if m else exact(v)} · {too_few(estimate.get('n'))}", "how": how, "marks": []}
    if m:
        value = f"{m.group(1)} [{m.group(2)}, {m.group(3)}]".replace("inf", "∞")
    else:
        value = f"{exact(v)} [{exact(lo)}, {exact(hi)}]"
    return {"value": value, "how": how, "marks": []}
