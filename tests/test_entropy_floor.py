"""vaebench.claims.evaluate.entropy_floor: the 256-entry table and bincount give what the
per-pixel float64 sum gives (the definition, written out here), on random and planted images."""
from __future__ import annotations

import math

import numpy as np
import pytest

from vaebench.claims.evaluate import entropy_floor


def per_pixel(images: np.ndarray) -> float:
    """The definition: per image, the binary entropy of every value / 255 (clipped to
    [1e-7, 1 - 1e-7]) averaged over the channels and summed over the pixels; then the mean."""
    eps = 1e-7
    x = np.clip(images.astype(np.float64) / 255.0, eps, 1 - eps)
    h = -(x * np.log(x) + (1 - x) * np.log(1 - x))
    return float(h.mean(axis=-1).sum(axis=(1, 2)).mean())


@pytest.mark.parametrize("shape", [(1, 4, 4, 3), (37, 16, 16, 3), (300, 96, 96, 3), (5, 8, 8, 1), (3, 3, 3, 1)])
def test_the_table_equals_the_per_pixel_sum_on_random_images(shape):
    images = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    assert entropy_floor(images) == pytest.approx(per_pixel(images), rel=1e-12)


def test_skewed_values_and_the_float_path_agree():
    rng = np.random.default_rng(7)
    images = np.minimum(rng.geometric(0.05, (64, 12, 12, 3)), 255).astype(np.uint8)
    assert entropy_floor(images) == pytest.approx(per_pixel(images), rel=1e-12)
    assert entropy_floor(images.astype(np.float32)) == pytest.approx(per_pixel(images), rel=1e-12)


def test_planted_values():
    grey = np.full((3, 32, 32, 3), 128, np.uint8)
    x = 128 / 255
    assert entropy_floor(grey) == pytest.approx(32 * 32 * -(x * math.log(x) + (1 - x) * math.log(1 - x)), rel=1e-12)
    # half the images black, half white: only the clipped entropy of 0 and 1 (about 1.7e-6 per pixel)
    two = np.concatenate([np.zeros((2, 8, 8, 3), np.uint8), np.full((2, 8, 8, 3), 255, np.uint8)])
    eps = 1e-7
    assert entropy_floor(two) == pytest.approx(64 * -(eps * math.log(eps) + (1 - eps) * math.log(1 - eps)), rel=1e-9)


@pytest.mark.parametrize("size", [0, 1, 2, 7, 1000, 1001])
def test_byte_counts_count_every_value_once(size):
    from vaebench.claims.evaluate import _byte_counts

    values = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8)
    np.testing.assert_array_equal(_byte_counts(values), np.bincount(values, minlength=256))
