"""Draw a figure spec (a dict of panels, as :meth:`vaebench.claims.record.ClaimRecorder.plot`
records them) as an embedded image ``<figure>``; renders, never computes.

Each figure is drawn as a PNG and embedded compressed (:func:`compress_png`): a plot as a
32-colour palette image (PNG or lossless WebP), a figure of images as a lossy WebP, so that
a cpu-scale report stays under 1 MB.

Laid out for a page about 1,180 px wide: at most :data:`MAX_COLS` panels a row (a grid
declared wider is split into blocks of columns, stacked, so each row keeps its meaning),
drawn at :data:`DPI` at a width of at most :data:`MAX_WIDTH_IN` inches, so the PNG is shown
at its own size and its smallest text (8 pt) is about 11 px. Table panels become HTML
tables, folded into a ``<details>``.
"""
from __future__ import annotations

import base64
import io
import textwrap

import numpy as np

from vaebench.claims.record import images_from
from vaebench.report.html import esc as _esc

#: Most panels side by side.
MAX_COLS = 3
#: Pixels per inch of the PNG (it is shown at its own size: 8 pt text is 8 × DPI / 72 px).
DPI = 100
#: Widest figure in inches (MAX_WIDTH_IN × DPI px fits the page's 1,180 px).
MAX_WIDTH_IN = 11.2
#: Width of one panel, by the number of columns.
PANEL_WIDTH_IN = {1: 5.6, 2: 5.2, 3: MAX_WIDTH_IN / 3}
#: A scatter point: a square of 2 × 2 pixels (in pt², matplotlib's unit), drawn without
#: antialiasing, so a dense scatter's image holds a few colours and compresses to about 3/4.
POINT_AREA = (2 * 72 / DPI) ** 2
#: Colours of a plot's palette image (plots use a few colours; 32 keep antialiased lines smooth).
PALETTE = 32
#: Quality of the WebP of a figure that shows images.
WEBP_QUALITY = 75
_STYLE = {"font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9, "xtick.labelsize": 8,
          "ytick.labelsize": 8, "legend.fontsize": 8, "figure.titlesize": 10.5}


def _fig_to_uri(fig, photographic: bool = False) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    mime, data = compress_png(buf.getvalue(), photographic)
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def compress_png(png: bytes, photographic: bool = False) -> tuple[str, bytes]:
    """``(mime type, bytes)``, the smallest faithful encoding of a figure drawn as ``png``.

    A plot (``photographic`` false) is reduced to a palette of :data:`PALETTE` colours
    (lossless to the eye for lines, markers and text) and kept as the smaller of that palette
    image as a PNG and as a lossless WebP (dense scatters: about a fifth smaller). A figure
    that shows images (decoded faces) is never reduced to a palette, which posterises them:
    it is a WebP of quality :data:`WEBP_QUALITY`. ``png`` as it is when it is smaller, or
    when Pillow or its WebP support is missing."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - matplotlib brings Pillow
        return "image/png", png
    image = Image.open(io.BytesIO(png)).convert("RGB")
    out = [("image/png", png)]
    palette = None if photographic else image.quantize(PALETTE, method=Image.Quantize.FASTOCTREE)
    if palette is not None:
        out.append(("image/png", _saved(palette, "PNG", optimize=True)))
    try:
        out.append(("image/webp", _saved(image, "WEBP", quality=WEBP_QUALITY, method=4)
                    if palette is None else _saved(palette, "WEBP", lossless=True, method=6)))
    except (OSError, KeyError):  # a Pillow built without WebP
        pass
    return min(out, key=lambda o: len(o[1]))


def _saved(image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


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


def _integer_x(panel: dict) -> bool:
    """Whether every x of a line panel is a whole number (epochs, run indices, k)."""
    xs = [_f(s["x"]) for s in panel.get("series", []) if len(s.get("x", []))]
    return bool(xs) and all(np.all(np.isfinite(x) & (x == np.round(x))) for x in xs)


def _draw(ax, panel: dict, width_in: float) -> None:
    from matplotlib.ticker import MaxNLocator

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
        elif _integer_x(panel):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if panel.get("logy"):
            ax.set_yscale("log")
    elif kind == "scatter":
        for s in panel.get("series", []):
            ax.scatter(_f(s["x"]), _f(s["y"]), s=float(s.get("size", POINT_AREA)), alpha=float(s.get("alpha", 0.7)),
                       label=s.get("label"), linewidths=0, marker="s", antialiased=False)
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
    ax.set_title(textwrap.fill(str(panel.get("title", "")), max(20, int(width_in * 12.5))))
    if kind != "images":
        ax.set_xlabel(panel.get("xlabel", ""))
        ax.set_ylabel(panel.get("ylabel", ""))
        if any(s.get("label") for s in panel.get("series", [])):
            ax.legend()


def _panel_height(panel: dict, width_in: float) -> float:
    """Inches a panel needs at ``width_in`` wide: image mosaics by their aspect, plots 3/4 of the width."""
    if panel["type"] != "images":
        return max(2.6, min(3.6, 0.78 * width_in)) + 0.25 * str(panel.get("title", "")).count("\n")
    images = panel["images"]
    n, h, w = (images["shape"][:3] if isinstance(images, dict) else np.shape(images)[:3])
    ncols = min(int(panel.get("ncols", 8)), max(1, n))
    rows = -(-n // ncols)
    return width_in * (rows * (h + 2)) / (ncols * (w + 2)) + 0.45


def grid(n_panels: int, ncols: int) -> tuple[int, int, list[tuple[int, int]]]:
    """Where each of ``n_panels`` goes on a page: ``(rows, cols, [(row, col), ...])``.

    The declared grid (``ncols`` a row) is kept when it is at most :data:`MAX_COLS` wide;
    a wider one is cut into blocks of at most :data:`MAX_COLS` columns (pairs when the
    width is even), stacked top to bottom, so a declared row (say "AE" over "its null")
    stays a row in every block."""
    ncols = max(1, min(int(ncols), n_panels))
    if ncols <= MAX_COLS:
        return -(-n_panels // ncols), ncols, [divmod(i, ncols) for i in range(n_panels)]
    width = 2 if ncols % 2 == 0 and ncols % 3 else MAX_COLS
    declared_rows = -(-n_panels // ncols)
    places = []
    for i in range(n_panels):
        r, c = divmod(i, ncols)
        block, col = divmod(c, width)
        places.append((block * declared_rows + r, col))
    return max(r for r, _ in places) + 1, width, places


def draw_figure(figure: dict):
    """The matplotlib figure of a spec's plot panels (None when it has only tables), laid
    out by :func:`grid` at :data:`DPI`; :func:`render_figure` embeds it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p in figure["panels"] if p["type"] != "table"]
    if not panels:
        return None
    nrows, ncols, places = grid(len(panels), int(figure.get("ncols", 2)))
    width_in = PANEL_WIDTH_IN[ncols]
    heights = [0.0] * nrows
    for panel, (r, _) in zip(panels, places):
        heights[r] = max(heights[r], _panel_height(panel, width_in))
    title = textwrap.fill(str(figure.get("title", "")), int(width_in * ncols * 11))
    with plt.rc_context(_STYLE):
        fig = plt.figure(figsize=(width_in * ncols, sum(heights) + 0.3 + 0.2 * title.count("\n")),
                         dpi=DPI, layout="constrained")
        gs = fig.add_gridspec(nrows, ncols, height_ratios=heights)
        for panel, (r, c) in zip(panels, places):
            _draw(fig.add_subplot(gs[r, c]), panel, width_in)
        if title:
            fig.suptitle(title)
    return fig


def render_figure(figure: dict) -> str:
    """A spec as an HTML ``<figure>``: its plots as one embedded PNG, its tables folded."""
    out = []
    fig = draw_figure(figure)
    if fig is not None:
        photographic = any(p["type"] == "images" for p in figure["panels"])
        out.append(f'<img alt="{_esc(figure.get("title"))}" src="{_fig_to_uri(fig, photographic)}">')
    tables = [p for p in figure["panels"] if p["type"] == "table"]
    if tables:
        rows = sum(len(p["rows"]) for p in tables)
        what = _esc(figure.get("title")) if fig is None else "the table"
        out.append(f"<details><summary>{what} ({rows} row{'s' if rows != 1 else ''})</summary>"
                   + "".join(_table_html(p) for p in tables) + "</details>")
    caption = f"<figcaption>{_esc(figure.get('caption'))}</figcaption>" if figure.get("caption") else ""
    return f"<figure>{''.join(out)}{caption}</figure>"


def _table_html(panel: dict) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in panel["columns"])
    rows = "".join("<tr>" + "".join(f"<td>{_esc(v)}</td>" for v in row) + "</tr>" for row in panel["rows"])
    title = f"<p><b>{_esc(panel.get('title'))}</b></p>" if panel.get("title") else ""
    return f"{title}<table><tr>{head}</tr>{rows}</table>"
