"""Small HTML pieces both pages share: escaping, verdict badges and the style sheet."""
from __future__ import annotations

import html
from typing import Any

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


def esc(x: Any) -> str:
    return html.escape("" if x is None else str(x))
