"""The claim page in a real browser: headless Chromium renders a small report and its
first screen is a non-blank 1280 × 900 image holding the verdict table's colour badges.
Skipped, with the reason, where no Chromium is installed (Debian: apt-get install chromium)."""
import io
import os
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image
from test_report import results

from vaebench.report.claim_page import write_report
from vaebench.report.html import COLOURS

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WIDTH, HEIGHT = 1280, 900


def _browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(f"no headless Chromium on PATH (looked for {', '.join(BROWSERS)}); "
                "install one, e.g. apt-get install -y chromium")


def _screenshot(browser, page, out):
    args = [browser, "--headless", "--disable-gpu", "--hide-scrollbars", f"--screenshot={out}",
            f"--window-size={WIDTH},{HEIGHT}", page.as_uri()]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.insert(1, "--no-sandbox")          # Chromium refuses to run as root with its sandbox
    done = subprocess.run(args, capture_output=True, text=True, timeout=180, check=False)
    assert out.exists(), f"no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    return np.asarray(Image.open(io.BytesIO(out.read_bytes())).convert("RGB")).astype(int)


def _has_colour(pixels, hex_colour, tolerance=12, at_least=30):
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(pixels - rgb).max(axis=-1) <= tolerance).sum()) >= at_least


def test_the_first_screen_shows_the_verdict_table(tmp_path):
    browser = _browser()
    page = write_report(results(), tmp_path / "run", latest=False)
    pixels = _screenshot(browser, page, tmp_path / "first-screen.png")
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    top = pixels[:HEIGHT // 2]
    assert top.std() > 10, "the top half of the first screen is blank"
    # the verdict badges of the table (the refuted claim and sub-claim; the inconclusive sub-claim is
    # folded under its one-line summary) and the banner are on the first screen
    assert _has_colour(pixels, COLOURS["refuted"], at_least=60)
    assert not _has_colour(pixels, COLOURS["inconclusive"]), "the inconclusive sub-claim's row is not folded"
    assert _has_colour(pixels, "#fff8c5", at_least=2000), "no scale banner"
