"""A small folder in CelebA's official layout, with the bad files a real download can hold.

``img_align_celeba/000001.jpg ...`` (178x218 JPEGs) and ``list_eval_partition.txt``
(70% train, 10% valid, 20% test by number, as CelebA numbers its partitions), and:

- ``000005.jpg`` truncated (half its bytes), ``000010.jpg`` too small (20x24): skipped;
- ``000015.jpg`` CMYK and ``000020.jpg`` greyscale: converted to RGB;
- ``000025.jpg`` a good image missing from the partition file: in no split.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

TRUNCATED, TINY, CMYK, GREY, UNLISTED = "000005.jpg", "000010.jpg", "000015.jpg", "000020.jpg", "000025.jpg"


def partition_code(i: int, n: int) -> int:
    """0 train, 1 valid, 2 test of image number ``i`` (1-based) of ``n``."""
    return 0 if i <= round(0.7 * n) else 1 if i <= round(0.8 * n) else 2


def write_face(path: Path, i: int, size=(178, 218), seed: int = 0) -> None:
    """A smooth, distinct picture for image number ``i``."""
    rng = np.random.default_rng([seed, i])
    w, h = size
    y, x = np.mgrid[0:h, 0:w] / max(w, h)
    a, b = rng.random(3), rng.random(3)
    pixels = (255 * (a * x[..., None] + b * (1 - y[..., None])) / 2).clip(0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=90)


def make_celeba(root: Path, n: int = 100) -> Path:
    """Write the folder (see the module docstring) under ``root``; returns ``root``."""
    images = root / "img_align_celeba"
    images.mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        write_face(images / f"{i:06d}.jpg", i)
    good = (images / TRUNCATED).read_bytes()
    (images / TRUNCATED).write_bytes(good[: len(good) // 2])
    Image.new("RGB", (20, 24), (90, 60, 30)).save(images / TINY)
    Image.open(images / CMYK).convert("CMYK").save(images / CMYK)
    Image.open(images / GREY).convert("L").save(images / GREY)
    listed = [f"{i:06d}.jpg {partition_code(i, n)}\n" for i in range(1, n + 1) if f"{i:06d}.jpg" != UNLISTED]
    (root / "list_eval_partition.txt").write_text("".join(listed))
    return root
