"""Draw a figure spec (a dict of panels, as :meth:`vaebench.record.ClaimRecorder.figure`
records them) as an embedded PNG ``<figure>``; renders, never computes."""
from __future__ import annotations

import base64
import io

import numpy as np

from .htmlbits import esc as _esc
from .record import images_from


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

