"""Figures laid out for the report page: at most 3 panels a row, a PNG that fits the page
at its own size, legible text, integer ticks for whole-number x, titles apart."""
import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from vaebench.claims.record import jsonable
from vaebench.report.figures import DPI, MAX_COLS, draw_figure, grid, render_figure

PAGE_PX = 1180          # the page's content width (htmlbits.CSS: max-width)
MIN_TEXT_PX = 9         # smallest legible text at the PNG's own size


def _lines(title, n_runs=5):
    return {"type": "lines", "title": title, "xlabel": "run", "ylabel": "value",
            "series": [{"label": "estimate", "x": list(range(1, n_runs + 1)), "y": [0.1, 0.4, 0.2, 0.5, 0.3][:n_runs]}]}


def _scatter(title):
    rng = np.random.default_rng(0)
    return {"type": "scatter", "title": title, "series": [{"label": "AE", "x": rng.normal(size=50).tolist(),
                                                         "y": rng.normal(size=50).tolist()}]}


def _png(html):
    m = re.search(r'src="data:image/(?:png|webp);base64,([^"]+)"', html)
    assert m, "no embedded PNG"
    return Image.open(io.BytesIO(base64.b64decode(m.group(1))))


def _columns(fig):
    return {round(ax.get_position().x0, 3) for ax in fig.axes}


def test_grid_keeps_narrow_grids_and_wraps_rows():
    assert grid(3, 2) == (2, 2, [(0, 0), (0, 1), (1, 0)])
    assert grid(2, 3) == (1, 2, [(0, 0), (0, 1)])


def test_grid_splits_a_wide_grid_into_column_blocks_that_keep_each_row():
    # 2 declared rows of 5 (say the AE over its null): blocks of 3 and 2 columns, stacked
    rows, cols, places = grid(10, 5)
    assert (rows, cols) == (4, 3)
    assert places[:5] == [(0, 0), (0, 1), (0, 2), (2, 0), (2, 1)]     # first declared row
    assert places[5:] == [(1, 0), (1, 1), (1, 2), (3, 0), (3, 1)]     # second, under it in every block
    # an even width is cut into pairs (a model beside its null stays together)
    rows, cols, places = grid(8, 4)
    assert (rows, cols) == (4, 2) and places[2] == (2, 0)


def test_a_wide_figure_fits_the_page_with_at_most_three_columns():
    spec = {"title": "PCA plane (1, 2): top row AE, bottom row its null", "ncols": 5,
            "panels": [_scatter(f"panel {i}") for i in range(10)]}
    fig = draw_figure(spec)
    assert len(_columns(fig)) == MAX_COLS
    img = _png(render_figure(spec))
    assert img.size[0] <= PAGE_PX - 40
    assert img.size[0] >= 1000          # drawn at page width, not shrunk in the browser


def test_text_is_legible_at_the_pngs_own_size():
    fig = draw_figure({"title": "t", "ncols": 3, "panels": [_lines("a"), _lines("b"), _lines("c")]})
    fig.canvas.draw()
    sizes = [t.get_fontsize() for ax in fig.axes for t in
             [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels(), *ax.get_yticklabels()]]
    sizes += [t.get_fontsize() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert min(sizes) * DPI / 72 >= MIN_TEXT_PX
    assert fig.get_size_inches()[0] * DPI <= PAGE_PX - 40


def test_run_index_axes_get_integer_ticks():
    fig = draw_figure({"title": "trend", "ncols": 1, "panels": [_lines("checks per run")]})
    fig.canvas.draw()
    ticks = fig.axes[0].get_xticks()
    shown = [t for t in ticks if 1 <= t <= 5]
    assert shown and all(float(t).is_integer() for t in shown)


def test_non_integer_x_keeps_matplotlib_ticks():
    panel = {"type": "lines", "title": "fractional", "series": [{"x": [0.1, 0.2, 0.3], "y": [1, 2, 3]}]}
    fig = draw_figure({"title": "", "ncols": 1, "panels": [panel]})
    fig.canvas.draw()
    assert not all(float(t).is_integer() for t in fig.axes[0].get_xticks())


def test_the_suptitle_does_not_overlap_the_panel_titles():
    spec = {"title": "Checks: estimate and confidence interval per run, a title long enough to wrap " * 2,
            "ncols": 3, "panels": [_lines(f"C5: a rather long check name number {i} that wraps") for i in range(3)]}
    fig = draw_figure(spec)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    sup = fig._suptitle.get_window_extent(renderer)
    for ax in fig.axes:
        title = ax.title.get_window_extent(renderer)
        assert sup.y0 >= title.y1 - 0.5, (sup, title)


def test_image_panels_and_tables():
    images = jsonable(np.zeros((16, 32, 32, 3), np.uint8))
    html = render_figure({"title": "decoded", "ncols": 2, "caption": "left: AE",
                          "panels": [{"type": "images", "title": "AE", "images": images, "ncols": 8},
                                     {"type": "table", "title": "per run", "columns": ["seed", "x"],
                                      "rows": [[0, "1.5"], [1, "2.5"]]}]})
    img = _png(html)
    assert img.size[0] <= PAGE_PX - 40
    # the table is HTML, folded under the figure
    assert re.search(r"<details><summary>the table \(2 rows\)</summary>.*<th>seed</th>", html)
    assert "<figcaption>left: AE</figcaption>" in html


def test_a_table_only_figure_has_no_image():
    html = render_figure({"title": "Per-run summary", "ncols": 2,
                          "panels": [{"type": "table", "columns": ["a"], "rows": [[1]]}]})
    assert "<img" not in html and "<summary>Per-run summary (1 row)</summary>" in html


@pytest.mark.parametrize("ncols", [1, 2, 3])
def test_declared_narrow_grids_keep_their_columns(ncols):
    fig = draw_figure({"title": "", "ncols": ncols, "panels": [_lines(str(i)) for i in range(3)]})
    assert len(_columns(fig)) == ncols


def test_a_dense_scatter_is_embedded_as_its_palette_image_in_lossless_webp():
    """5,000 points (C6's scatters at cpu): the lossless WebP of the 64-colour palette image is
    the smallest candidate, and it decodes to exactly that palette image."""
    from vaebench.report.figures import PALETTE, compress_png

    rng = np.random.default_rng(1)
    panel = {"type": "scatter", "title": "dense", "series": [
        {"label": "AE", "x": rng.normal(size=5000).tolist(), "y": rng.normal(size=5000).tolist()}]}
    fig = draw_figure({"title": "dense", "ncols": 1, "panels": [panel]})
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    rgb = Image.open(buf).convert("RGB")
    mime, data = compress_png(buf.getvalue())
    palette = rgb.quantize(PALETTE, method=Image.Quantize.FASTOCTREE)
    as_png = io.BytesIO()
    palette.save(as_png, "PNG", optimize=True)
    assert mime == "image/webp" and len(data) < len(as_png.getvalue())
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert np.array_equal(decoded, np.asarray(palette.convert("RGB")))


def test_a_figure_of_images_is_never_posterised_to_the_palette():
    """Decoded faces keep their shades: the figure is a lossy WebP with far more colours than
    a plot's palette (a palette image of smooth gradients is smaller, and posterised)."""
    from vaebench.report.figures import PALETTE

    y, x = np.mgrid[0:32, 0:32] / 32
    faces = np.stack([np.stack([x * (0.3 + 0.1 * k), y, 0.5 * (x + y) * (1 - 0.1 * k)], -1) for k in range(8)])
    faces = (faces * 255).astype(np.uint8)
    html = render_figure({"title": "decoded", "ncols": 1, "panels": [
        {"type": "images", "title": "decoded", "images": jsonable(faces), "ncols": 8}]})
    assert "data:image/webp;base64," in html
    decoded = np.asarray(_png(html).convert("RGB"))
    assert len(np.unique(decoded.reshape(-1, 3), axis=0)) > 4 * PALETTE
