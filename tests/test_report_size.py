"""A whole report at a glance (vaebench.report): ten claims with the figures a cpu run draws
(scatters of 2,000 latent points, histograms, training curves, image mosaics) render to one
page of at most 1 MB that opens with the tally, then the verdict table; the figures are
palette PNGs or WebPs, behind <details>."""
import copy
import json

import numpy as np
import pytest
from test_report import results

from vaebench.report import claim_page
from vaebench.report.claim_page import render_html
from vaebench.report.figures import render_figure

MB = 1_000_000
VERDICTS = ["supported"] + ["refuted"] * 4 + ["inconclusive"] * 5


def _faces(rng, n=16, size=32):
    """Smooth colour images like decoded faces (a photograph compresses like these, noise does not)."""
    y, x = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(n):
        c = rng.uniform(0.2, 0.8, 3)
        blob = np.exp(-((x - rng.uniform(.3, .7)) ** 2 + (y - rng.uniform(.3, .7)) ** 2) / 0.05)
        out.append(np.clip(c[None, None] * (0.4 + 0.6 * blob[..., None]) + 0.03 * rng.normal(size=(size, size, 3)),
                           0, 1))
    return (np.stack(out) * 255).astype(np.uint8)


def _figures(rng):
    z = rng.normal(size=(2000, 2)) * [3, 1]
    edges = np.linspace(0, 30, 61)
    return [
        {"title": "latent points", "ncols": 3, "caption": "", "panels": [
            {"type": "scatter", "title": f"view {k}", "series": [{"label": "AE", "x": z[:, 0].tolist(),
                                                                  "y": (z[:, 1] + k).tolist()}]} for k in range(3)]},
        {"title": "radii and training", "ncols": 2, "caption": "", "panels": [
            {"type": "hist", "title": "radius", "series": [
                {"label": f"seed {s}", "edges": edges.tolist(),
                 "counts": np.histogram(np.abs(rng.normal(16, 2, 2000)), edges)[0].tolist()} for s in range(3)]},
            {"type": "lines", "title": "loss", "logy": True, "series": [
                {"label": f"seed {s}", "x": list(range(1, 13)), "y": (600 + 400 / np.arange(1, 13) + s).tolist()}
                for s in range(3)]}]},
        {"title": "reconstructions", "ncols": 2, "caption": "", "panels": [
            {"type": "images", "title": "held out", "images": _faces(rng), "ncols": 8},
            {"type": "images", "title": "reconstructed", "images": _faces(rng), "ncols": 8}]},
    ]


def ten_claims():
    """Ten claims, one test each, each with the same three figures (drawn once: see ``page``)."""
    from vaebench.claims.record import jsonable

    base, figures = results(), jsonable(_figures(np.random.default_rng(0)))
    out = copy.deepcopy(base)
    out["records"], out["summary"] = [], []
    for i, verdict in enumerate(VERDICTS):
        rec, row = copy.deepcopy(base["records"][0]), copy.deepcopy(base["summary"][0])
        cid = f"C{i + 1}"
        rec["claim"]["id"], row["id"], rec["verdict"], row["verdict"] = cid, cid, verdict, verdict
        rec["figures"] = figures
        out["records"].append(rec)
        out["summary"].append(row)
    return out


@pytest.fixture(scope="module")
def page():
    """The page; each distinct figure is drawn once (the same bytes as drawing it per claim)."""
    drawn = {}

    def once(figure):
        key = json.dumps(figure, sort_keys=True)
        if key not in drawn:
            drawn[key] = render_figure(figure)
        return drawn[key]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(claim_page, "render_figure", once)
        return render_html(ten_claims())


def test_ten_claims_with_their_figures_fit_in_a_megabyte(page):
    size = len(page.encode())
    assert size <= MB, f"{size:,} bytes"
    assert page.count("data:image/") == 30
    assert page.count('<details class="figures">') == 10


def test_the_page_opens_with_the_tally_then_the_verdict_table(page):
    tally = "10 claims: 1 supported, 4 refuted, 5 inconclusive"
    assert f'id="tally">{tally}</p>' in page
    assert page.index(tally) < page.index('id="verdicts"') < page.index('<details class="figures">')
