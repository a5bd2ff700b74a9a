"""Images for vaebench: the embedded synthetic-faces generator, the CelebA and folder
readers, the uint8 ``.npy`` cache, and the :class:`ImageSet` container.

Everything is stored as uint8 ``(N, H, W, 3)``; conversion to float32 in [0, 1] happens
one batch at a time (:meth:`ImageSet.batches`, :meth:`ImageSet.as_float`), so a data set
never needs four times its size in memory. With a ``cache_dir`` the uint8 array lives in
a ``.npy`` file that is opened with ``np.load(mmap_mode='r')``.

Public API
----------
``FACTOR_NAMES``, ``synthetic_factors``, ``render_faces``, ``synthetic_faces``,
``ImageSet``, ``load_dataset``, ``read_celeba``, ``read_image_folder``, ``DataWarning``.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import numpy as np

from .config import DataSpec, spec_hash
from .errors import DataError, SpecError, require

# --------------------------------------------------------------------------------------
# Synthetic faces
# --------------------------------------------------------------------------------------

FACTOR_NAMES: tuple[str, ...] = (
    "head_x",            # horizontal position of the head centre
    "head_y",            # vertical position of the head centre
    "head_size",         # head height
    "face_aspect",       # head width / height (narrow .. round)
    "skin_tone",         # light .. dark skin
    "hair_color",        # black .. brown .. auburn .. blond .. grey
    "hair_length",       # short crop .. shoulder length
    "eye_spacing",       # distance between the eyes
    "eye_size",          # eye size
    "mouth_curve",       # frown .. neutral .. smile
    "background_hue",    # colour of one end of the background gradient
    "background_hue_2",  # colour of the other end (drawn darker)
    "background_angle",  # direction of the background gradient
    "light_angle",       # direction the light on the head comes from
    "light_strength",    # strength of that directional light
    "clothes_color",     # colour of the shoulders
)
"""Names of the columns of the factor arrays; every factor is uniform on [0, 1)."""

N_FACTORS = len(FACTOR_NAMES)
GENERATOR_VERSION = 1
"""Bumped whenever the picture drawn for given factors changes (invalidates caches)."""
TEST_START = 1_000_000_000
"""First index of the synthetic test set: disjoint from any train set [0, n_train)."""

_CHUNK_PIXELS = 32 * 96 * 96   # pixels rendered at once (~1.2 MB per float32 work array)
_PROGRESS_MIN = 20_000   # synthetic sets at least this big report progress
_DECODE_PROGRESS_MIN = 2_000

# Palettes (0..255), interpolated piecewise linearly so colours are continuous in a factor.
_SKIN = np.array([(255, 224, 196), (241, 194, 167), (224, 172, 138), (198, 134, 96),
                  (141, 85, 54), (92, 58, 40)], np.float64)
_HAIR = np.array([(22, 18, 18), (58, 38, 26), (104, 68, 40), (150, 82, 45),
                  (196, 150, 88), (226, 200, 140), (168, 164, 160)], np.float64)
_BACKGROUND = np.array([(214, 122, 118), (218, 182, 120), (168, 204, 128), (118, 198, 172),
                        (124, 164, 216), (166, 130, 210), (212, 122, 170)], np.float64)
_CLOTHES = np.array([(38, 40, 52), (205, 205, 210), (150, 40, 46), (44, 76, 140),
                     (58, 110, 70), (124, 100, 80)], np.float64)
_EYE_WHITE = np.array([240.0, 238.0, 232.0])
_IRIS = np.array([82.0, 56.0, 38.0])
_LIPS = np.array([176.0, 72.0, 78.0])

_U64 = np.uint64


def _check_size(image_size: Any) -> int:
    require(isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool)
            and image_size > 0,
            f"image_size={image_size!r} must be a positive integer (a multiple of 16)")
    require(image_size % 16 == 0,
            f"image_size={image_size} must be divisible by 16 (four stride-2 convolutions); "
            "try 32, 64 or 96")
    return int(image_size)


def _check_count(name: str, value: Any, allow_zero: bool = True) -> int:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    require(ok, f"{name}={value!r} must be an integer >= {0 if allow_zero else 1}")
    return int(value)


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijection of uint64 with full avalanche."""
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def synthetic_factors(n: int, seed: int = 0, start: int = 0) -> np.ndarray:
    """Factors of synthetic images ``start .. start+n-1`` of ``seed``: float32 ``(n, F)``.

    Counter-based: factor ``j`` of image ``i`` is a SplitMix64 hash of ``(seed, i, j)``
    mapped to a multiple of 2**-24 in [0, 1), so it depends on nothing but
    ``(seed, i, j)`` -- not on ``n``, ``start`` or anything generated before.
    """
    n = _check_count("n", n)
    seed = _check_count("seed", seed)
    start = _check_count("start", start)
    require(seed < 2**63 and start + n < 2**63, f"seed={seed}, start={start} must be < 2**63")
    with np.errstate(over="ignore"):
        key = _mix64(np.array([seed], _U64) + _U64(0x9E3779B97F4A7C15))
        index = np.arange(start, start + n, dtype=_U64)
        state = _mix64(key ^ _mix64(index * _U64(0xD1B54A32D192ED03) + _U64(1)))
        counter = np.arange(1, N_FACTORS + 1, dtype=_U64) * _U64(0x9E3779B97F4A7C15)
        bits = _mix64(state[:, None] + counter[None, :])
    return ((bits >> _U64(40)).astype(np.float32) * np.float32(2.0 ** -24)).reshape(n, N_FACTORS)


def _palette(table: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Piecewise-linear colour ramp through ``table`` at positions ``t`` in [0, 1]: (B, 3)."""
    stops = np.linspace(0.0, 1.0, len(table))
    return np.stack([np.interp(t, stops, table[:, c]) for c in range(3)], axis=1)


def _ramp(x: np.ndarray) -> np.ndarray:
    """Clip ``x`` to [0, 1] in place: a 1-pixel linear (box-filter) anti-aliasing edge."""
    return np.clip(x, 0.0, 1.0, out=x)


# Ranges of the drawn quantities (relative units: the image is the unit square). Each
# factor maps linearly onto its range; the static drawing windows below are derived
# from these ranges, so every shape stays inside its window whatever the factors.
_CX = (0.44, 0.56)          # head centre x        <- head_x
_CY = (0.42, 0.52)          # head centre y        <- head_y
_RY = (0.235, 0.32)         # head half-height     <- head_size
_ASPECT = (0.68, 0.88)      # half-width / half-height <- face_aspect
_EYE_DX = (0.30, 0.44)      # eye centre distance from the midline, in head half-widths
_EYE_RX = (0.12, 0.20)      # eye half-width, in head half-widths
_EYE_ASPECT = 0.62          # eye half-height / half-width
_CURVE = 0.16               # mouth curvature: +- this many head half-heights
_MOUTH_W = 0.40             # mouth half-width, in head half-widths
_MOUTH_H = 0.08             # lip half-thickness at the centre, in head half-heights
_LIGHT = (0.05, 0.35)       # strength of the directional light
_MARGIN = 3                 # pixels added around every window (anti-aliasing + rounding)


def _lerp(rng: tuple[float, float], t: np.ndarray) -> np.ndarray:
    return rng[0] + (rng[1] - rng[0]) * t


def _windows(size: int) -> dict[str, tuple[slice, slice]]:
    """Static (rows, cols) windows, one per shape, holding every pixel the shape can
    cover for any factors (from the ranges above, plus ``_MARGIN`` pixels)."""
    rx1 = _RY[1] * _ASPECT[1]
    eye_rx1 = _EYE_RX[1] * rx1
    eye_ry1 = _EYE_ASPECT * eye_rx1
    hair_x = rx1 * 1.14 + 0.012
    brows = _EYE_DX[1] * rx1 + 1.35 * eye_rx1
    boxes = {  # name: (top, bottom, left, right)
        "hair": (_CY[0] - _RY[1] * 1.10 - 0.012, 1.0, _CX[0] - hair_x, _CX[1] + hair_x),
        "neck": (_CY[0], 1.0, _CX[0] - 0.4 * rx1, _CX[1] + 0.4 * rx1),
        "body": (_CY[0] + _RY[0] + 0.40 - 0.34, 1.0, 0.0, 1.0),
        "face": (_CY[0] - _RY[1], _CY[1] + _RY[1], _CX[0] - rx1, _CX[1] + rx1),
        "fringe": (_CY[0] - _RY[1], _CY[1] + 0.12 * _RY[1], _CX[0] - rx1, _CX[1] + rx1),
        "eyes": (_CY[0] - 0.08 * _RY[1] - 2.2 * eye_ry1 - 0.037 * _RY[1],
                 _CY[1] - 0.08 * _RY[0] + eye_ry1, _CX[0] - brows, _CX[1] + brows),
        "nose": (_CY[0] + 0.22 * _RY[0] - 0.045 * _RY[1], _CY[1] + 0.265 * _RY[1],
                 _CX[0] - 0.1 * rx1, _CX[1] + 0.1 * rx1),
        "mouth": (_CY[0] + (0.5 - 0.5 * _CURVE - _MOUTH_H) * _RY[0],
                  _CY[1] + (0.5 + 0.5 * _CURVE + _MOUTH_H) * _RY[1],
                  _CX[0] - _MOUTH_W * rx1, _CX[1] + _MOUTH_W * rx1),
    }
    out = {}
    for name, (top, bottom, left, right) in boxes.items():
        r0, r1 = max(0, int(np.floor(top * size)) - _MARGIN), min(size, int(np.ceil(bottom * size)) + _MARGIN)
        c0, c1 = max(0, int(np.floor(left * size)) - _MARGIN), min(size, int(np.ceil(right * size)) + _MARGIN)
        out[name] = (slice(r0, r1), slice(c0, c1))
    return out


def _render_chunk(factors: np.ndarray, size: int, out: np.ndarray, full_frame: bool = False) -> None:
    """Draw the faces of ``factors`` (B, F) into ``out`` (B, size, size, 3) uint8.

    Geometry is in relative coordinates (the image is the unit square, pixel centres at
    ``(i + 0.5) / size``); edges are anti-aliased by a one-pixel linear ramp on an
    approximate signed distance; all per-pixel arithmetic is float32 and elementwise over
    images, so an image does not depend on which other images share its chunk. Only
    + - * /, abs, min/max, clip and ``np.interp`` are used (no transcendental functions,
    whose vectorised versions may differ in the last bit between code paths).

    Each shape is drawn inside a static window (``_windows``) outside of which its
    coverage is exactly 0, so the result equals drawing on the full frame
    (``full_frame=True``, used by the tests to check exactly that).
    """
    B = factors.shape[0]
    S = float(size)
    f32 = np.float32
    f = factors.astype(np.float64)
    full = (slice(0, size), slice(0, size))
    win = {k: full for k in _windows(size)} if full_frame else _windows(size)

    def col(a: Any) -> np.ndarray:  # per-image scalar, broadcastable over (B, H, W)
        return np.broadcast_to(np.asarray(a, np.float32), (B,)).reshape(B, 1, 1)

    u_all = ((np.arange(size, dtype=np.float32) + f32(0.5)) / f32(size)).reshape(1, 1, size)
    v_all = u_all.reshape(1, size, 1)

    def uv(name: str) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = win[name]
        return u_all[:, :, cols], v_all[:, rows, :]

    # ---- per-image parameters (float64, turned into float32 by col) ----
    cx, cy = _lerp(_CX, f[:, 0]), _lerp(_CY, f[:, 1])
    ry = _lerp(_RY, f[:, 2])
    rx = ry * _lerp(_ASPECT, f[:, 3])
    skin = _palette(_SKIN, f[:, 4])
    hair = _palette(_HAIR, f[:, 5])
    hair_len = f[:, 6]
    eye_dx = rx * _lerp(_EYE_DX, f[:, 7])
    eye_rx = rx * _lerp(_EYE_RX, f[:, 8])
    eye_ry = _EYE_ASPECT * eye_rx
    eye_y = cy - 0.08 * ry
    curve = (2.0 * f[:, 9] - 1.0) * _CURVE * ry
    bg_a = _palette(_BACKGROUND, f[:, 10])
    bg_b = 0.62 * _palette(_BACKGROUND, f[:, 11])
    # directions (cos, sin) from a rational parametrisation: angles in about [-127, 127] deg
    t = 2.0 * f[:, 12] - 1.0
    bg_c, bg_s = (1 - t * t) / (1 + t * t), 2 * t / (1 + t * t)
    t = 2.0 * f[:, 13] - 1.0
    light_c, light_s = -(1 - t * t) / (1 + t * t), -2 * t / (1 + t * t)
    light = _lerp(_LIGHT, f[:, 14])
    clothes = _palette(_CLOTHES, f[:, 15])

    planes = np.empty((3, B, size, size), np.float32)

    def over(name: str, alpha: np.ndarray, colour: np.ndarray) -> None:
        """Composite a flat ``colour`` (B, 3) with coverage ``alpha`` over window ``name``."""
        rows, cols = win[name]
        tmp = np.empty_like(alpha)
        for c in range(3):
            plane = planes[c, :, rows, cols]
            np.subtract(col(colour[:, c]), plane, out=tmp)
            np.multiply(tmp, alpha, out=tmp)
            plane += tmp

    def darken(name: str, alpha: np.ndarray, amount: float) -> None:
        rows, cols = win[name]
        alpha *= f32(-amount)
        alpha += f32(1.0)
        region = planes[:, :, rows, cols]
        region *= alpha

    def ellipse(name: str, x0: Any, y0: Any, rad_x: Any, rad_y: Any) -> np.ndarray:
        """Coverage of a filled ellipse: clip(0.5 + k (1 - r^2)) with r^2 the normalised
        radius squared and k = min(rad) S / 2: about a one-pixel ramp across the edge."""
        u, v = uv(name)
        k = np.minimum(rad_x, rad_y) * S / 2
        qx = col(-k) * ((u - col(x0)) / col(rad_x)) ** 2
        qy = col(0.5 + k) - col(k) * ((v - col(y0)) / col(rad_y)) ** 2
        return _ramp(qx + qy)

    # ---- background: linear gradient between two colours along a direction ----
    u, v = u_all, v_all
    g = np.add(col(1.3 * bg_c) * (u - f32(0.5)), col(1.3 * bg_s) * (v - f32(0.5)) + f32(0.5))
    _ramp(g)
    for c in range(3):
        np.multiply(g, col(bg_b[:, c] - bg_a[:, c]), out=planes[c])
        planes[c] += col(bg_a[:, c])
    del g

    # ---- hair behind the head: the top half a cap, the bottom half hair_length long ----
    u, v = uv("hair")
    hx, hy_top = rx * 1.14 + 0.012, ry * 1.10 + 0.012
    hy_bottom = ry * (0.12 + 1.55 * hair_len)
    k = np.minimum(hx, hy_top) * S / 2
    dyh = (v - col(cy)) / np.where(v < col(cy), col(hy_top), col(hy_bottom))
    hair_back = _ramp(col(-k) * ((u - col(cx)) / col(hx)) ** 2 + (col(0.5 + k) - col(k) * dyh * dyh))
    over("hair", hair_back, hair * 0.92)

    # ---- neck (a separable box) and shoulders ----
    u, v = uv("neck")
    nx = _ramp((col(0.4 * rx) - np.abs(u - col(cx))) * f32(S) + f32(0.5))
    ny = _ramp((v - col(cy)) * f32(S))
    over("neck", nx * ny, skin * 0.80)
    over("body", ellipse("body", cx, cy + ry + 0.40, 0.25 + rx, 0.34), clothes)

    # ---- face ----
    face = ellipse("face", cx, cy, rx, ry)
    over("face", face, skin)
    head = hair_back   # coverage of hair or face, for the light
    (fr, fc), (hr, hc) = win["face"], win["hair"]
    inner = head[:, fr.start - hr.start:fr.stop - hr.start, fc.start - hc.start:fc.stop - hc.start]
    np.maximum(inner, face, out=inner)

    # ---- hair over the forehead: above a hairline that drops towards the temples ----
    u, v = uv("fringe")
    face_f = face[:, :win["fringe"][0].stop - fr.start, :]
    hairline = col(S * (cy - 0.50 * ry)) + col(S * 0.62 * ry) * ((u - col(cx)) / col(rx)) ** 2
    fringe = _ramp(hairline - v * f32(S) + f32(0.5))
    fringe *= face_f
    over("fringe", fringe, hair)

    # ---- eyebrows and eyes (both sides at once, mirrored about the head centre) ----
    u, v = uv("eyes")
    ax = np.abs(u - col(cx))                    # (B, 1, W): distance from the midline
    bx = (ax - col(eye_dx)) / col(1.35 * eye_rx)
    brow_y = col(S * (eye_y - 1.9 * eye_ry - 0.025 * ry)) + col(S * 0.55 * eye_ry) * bx * bx
    brow_h = col(S * (0.30 * eye_ry + 0.012 * ry)) * (f32(1.0) - f32(0.5) * bx * bx) + f32(0.5)
    brow = _ramp(brow_h - np.abs(v * f32(S) - brow_y))
    brow *= _ramp((f32(1.0) - np.abs(bx)) * col(S * 1.35 * eye_rx) + f32(0.5))
    over("eyes", brow, hair * 0.75)
    ke = eye_ry * S / 2
    white = _ramp(col(-ke) * ((ax - col(eye_dx)) / col(eye_rx)) ** 2
                  + (col(0.5 + ke) - col(ke) * ((v - col(eye_y)) / col(eye_ry)) ** 2))
    over("eyes", white, np.broadcast_to(_EYE_WHITE, (B, 3)))
    iris_r = 0.92 * eye_ry
    ix2 = ((ax - col(eye_dx)) / col(iris_r)) ** 2
    iy2 = ((v - col(eye_y)) / col(iris_r)) ** 2
    ki = iris_r * S / 2
    iris = _ramp(col(-ki) * ix2 + (col(0.5 + ki) - col(ki) * iy2))
    iris *= white                                # the lids cover the iris
    over("eyes", iris, np.broadcast_to(_IRIS, (B, 3)))
    kp = 0.45 * iris_r * S / 2                   # pupil: radius 0.45 iris_r
    pupil = _ramp(col(-kp / 0.2025) * ix2 + (col(0.5 + kp) - col(kp / 0.2025) * iy2))
    darken("eyes", pupil, 0.85)

    # ---- nose shadow ----
    nose = ellipse("nose", cx, cy + 0.22 * ry, 0.10 * rx, 0.045 * ry)
    darken("nose", nose, 0.22)

    # ---- mouth: a curved band, thinner at the corners ----
    u, v = uv("mouth")
    mw = _MOUTH_W * rx
    mx = (u - col(cx)) / col(mw)
    mouth_y = col(S * (cy + 0.50 * ry + 0.5 * curve)) - col(S * curve) * mx * mx
    mouth_h = col(S * _MOUTH_H * ry) * (f32(1.0) - f32(0.6) * mx * mx) + f32(0.5)
    mouth = _ramp(mouth_h - np.abs(v * f32(S) - mouth_y))
    mouth *= _ramp((f32(1.0) - np.abs(mx)) * col(S * mw) + f32(0.5))
    over("mouth", mouth, 0.7 * _LIPS + 0.3 * skin)

    # ---- light on the head: a directional term, darker towards the rim (separable) ----
    u, v = uv("hair")
    dx = (u - col(cx)) / col(rx)
    dy = (v - col(cy)) / col(ry)
    shade = (col(light * light_c) * dx - f32(0.14) * dx * dx + f32(0.06)) \
        + (col(light * light_s) * dy - f32(0.14) * dy * dy)
    shade *= head
    shade += f32(1.0)
    rows, cols = win["hair"]
    region = planes[:, :, rows, cols]
    region *= shade

    # ---- to uint8 (round half up, clipped) ----
    planes += f32(0.5)
    np.clip(planes, 0.0, 255.0, out=planes)
    for c in range(3):
        out[..., c] = planes[c]


def _chunk(size: int) -> int:
    """Images rendered at once: small enough for the work arrays to stay in cache.
    (Which images share a chunk never changes any image.)"""
    return max(1, _CHUNK_PIXELS // (size * size))


def render_faces(factors: np.ndarray, image_size: int = 96) -> np.ndarray:
    """Draw the faces given by ``factors`` (n, F) in [0, 1]: uint8 ``(n, S, S, 3)``.

    A pure function of each row of ``factors`` (values outside [0, 1] are clipped); the
    same factors give the same picture, up to pixel sampling, at any ``image_size``
    (a positive multiple of 16; otherwise :class:`SpecError`).
    """
    size = _check_size(image_size)
    factors = np.asarray(factors, dtype=np.float32)
    require(factors.ndim == 2 and factors.shape[1] == N_FACTORS,
            f"factors has shape {factors.shape}; expected (n, {N_FACTORS}) with columns {FACTOR_NAMES}")
    require(bool(np.all(np.isfinite(factors))), "factors must be finite")
    factors = np.clip(factors, 0.0, 1.0)
    out = np.empty((len(factors), size, size, 3), np.uint8)
    chunk = _chunk(size)
    for s in range(0, len(factors), chunk):
        _render_chunk(factors[s:s + chunk], size, out[s:s + chunk])
    return out


def _generate_into(out: np.ndarray, seed: int, start: int, label: str | None = None) -> None:
    """Fill ``out`` (n, S, S, 3) uint8 with synthetic images ``start ..`` of ``seed``,
    printing progress to stderr when ``label`` is given."""
    n, size = len(out), out.shape[1]
    report = _Progress(label, n) if label else None
    chunk = _chunk(size)
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        _render_chunk(synthetic_factors(m, seed, start + s), size, out[s:s + m])
        if report:
            report.update(s + m)


def synthetic_faces(n: int, image_size: int = 96, seed: int = 0,
                    start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic images ``start .. start+n-1`` of ``seed``: ``(images, factors)``.

    ``images`` is uint8 ``(n, S, S, 3)`` (divide by 255 for [0, 1]); ``factors`` is
    float32 ``(n, len(FACTOR_NAMES))`` in [0, 1). Image ``i`` of seed ``s`` is the same
    whatever else is generated: ``synthetic_faces(10, seed=3, start=5)[0][2]`` equals
    ``synthetic_faces(1, seed=3, start=7)[0][0]`` exactly.
    """
    size = _check_size(image_size)
    factors = synthetic_factors(n, seed, start)
    images = render_faces(factors, size)
    return images, factors


# --------------------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------------------


class DataWarning(UserWarning):
    """Something about the data was repaired or left out (skipped files, rebuilt caches)."""


class ImageSet:
    """Images as uint8 ``(N, S, S, 3)`` (an ndarray or a read-only ``np.memmap``).

    ``factors``: float32 ``(N, F)`` ground truth (synthetic only) with ``factor_names``;
    ``names``: the source file of each image (readers only); ``skipped``: ``(path, reason)``
    of each file the read that made this set left out; ``notes``: other things that read
    did (e.g. modes converted to RGB).
    """

    def __init__(self, images: np.ndarray, factors: np.ndarray | None = None, name: str = "",
                 skipped: Sequence[tuple[str, str]] | None = None,
                 names: Sequence[str] | None = None, notes: Sequence[str] | None = None,
                 factor_names: Sequence[str] | None = None) -> None:
        require(isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim == 4
                and images.shape[3] == 3 and images.shape[1] == images.shape[2],
                f"images must be a uint8 array (N, S, S, 3); got "
                f"{getattr(images, 'dtype', type(images).__name__)} {getattr(images, 'shape', '')}",
                DataError)
        if factors is not None:
            factors = np.asarray(factors, np.float32)
            require(factors.ndim == 2 and len(factors) == len(images),
                    f"factors has shape {factors.shape}; expected ({len(images)}, F)", DataError)
        if names is not None:
            require(len(names) == len(images),
                    f"{len(names)} names for {len(images)} images", DataError)
        self.images = images
        self.factors = factors
        self.name = name
        self.skipped = list(skipped or [])
        self.names = list(names) if names is not None else None
        self.notes = list(notes or [])
        self.factor_names = tuple(factor_names) if factor_names is not None else (
            FACTOR_NAMES if factors is not None and factors.shape[1] == N_FACTORS else None)

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        kind = "memmap" if isinstance(self.images, np.memmap) else "array"
        return (f"ImageSet({self.name!r}, {len(self)} images of {self.image_size}x{self.image_size}, "
                f"{kind}, {len(self.skipped)} skipped)")

    @property
    def image_size(self) -> int:
        """Side of the (square) images in pixels."""
        return int(self.images.shape[1])

    def subset(self, index: slice | Sequence[int] | np.ndarray, name: str | None = None) -> "ImageSet":
        """The images at ``index`` (a slice keeps a memmap a memmap) with their factors/names."""
        images = self.images[index]
        pick = np.arange(len(self))[index]
        return ImageSet(images,
                        None if self.factors is None else self.factors[index],
                        self.name if name is None else name, self.skipped,
                        None if self.names is None else [self.names[i] for i in pick],
                        self.notes, self.factor_names)

    def as_float(self, indices: slice | Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """float32 ``(k, S, S, 3)`` in [0, 1] (``uint8 / 255``) of the images at ``indices``
        (all when None), in the order given."""
        if indices is None:
            data = np.asarray(self.images)
        elif isinstance(indices, slice):
            data = np.asarray(self.images[indices])
        else:
            idx = np.asarray(indices, dtype=np.int64).reshape(-1)
            order = np.argsort(idx, kind="stable")   # read a memmap front to back
            data = np.empty((len(idx),) + self.images.shape[1:], np.uint8)
            data[order] = self.images[idx[order]]
        result = data.astype(np.float32)
        result /= np.float32(255.0)
        return result

    def batches(self, batch_size: int, shuffle: bool = False, seed: int = 0) -> Iterator[np.ndarray]:
        """float32 [0, 1] batches of ``batch_size`` (the last one may be smaller) covering
        every image exactly once; with ``shuffle`` in the order of
        ``np.random.default_rng(seed).permutation(N)`` (same seed, same batches)."""
        batch_size = _check_count("batch_size", batch_size, allow_zero=False)
        n = len(self)
        order = np.random.default_rng(seed).permutation(n) if shuffle else None
        for s in range(0, n, batch_size):
            yield self.as_float(order[s:s + batch_size] if shuffle else slice(s, s + batch_size))


# --------------------------------------------------------------------------------------
# Progress and the uint8 cache
# --------------------------------------------------------------------------------------


class _Progress:
    """Prints ``label: done/n (pct%), rate images/s`` to stderr about every 10%."""

    def __init__(self, label: str, n: int) -> None:
        self.label, self.n, self.t0, self.next = label, n, time.perf_counter(), 0.1

    def update(self, done: int) -> None:
        if self.n and (done / self.n >= self.next or done == self.n):
            rate = done / max(time.perf_counter() - self.t0, 1e-9)
            print(f"[vaebench.data] {self.label}: {done:,}/{self.n:,} images "
                  f"({100 * done // self.n}%), {rate:,.0f} images/s", file=sys.stderr, flush=True)
            while self.next <= done / self.n:
                self.next += 0.1


def _digest(images: np.ndarray, budget_bytes: int = 64 << 20) -> str:
    """A checksum of the shape and of every image, or of evenly spaced images (first and
    last included) totalling about ``budget_bytes`` when the array is bigger: checks a
    cache entry in milliseconds without reading all of a huge one."""
    h = hashlib.blake2b(repr(tuple(images.shape)).encode(), digest_size=20)
    n = len(images)
    if n:
        per_image = max(1, int(np.prod(images.shape[1:])))
        k = min(n, max(32, budget_bytes // per_image))
        picks = np.arange(n) if k == n else np.unique(np.linspace(0, n - 1, k).astype(np.int64))
        for s in range(0, len(picks), 1024):
            h.update(np.ascontiguousarray(images[picks[s:s + 1024]]).tobytes())
    return h.hexdigest()


def _fsync(path: Path, directory: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _entries(cache_dir: Path, stem: str) -> list[tuple[int, Path]]:
    """Cache entries ``{stem}-n{count}.npy`` as (count, path), smallest count first.
    Temporary files (``.*.tmp``) never match."""
    found = []
    for p in cache_dir.glob(f"{stem}-n*.npy"):
        tail = p.name[len(stem) + 2:-4]
        if tail.isdigit():
            found.append((int(tail), p))
    return sorted(found)


def _load_meta(path: Path) -> tuple[Any, Exception | None]:
    """The parsed ``.json`` metadata of a cache entry and None, or None and the error
    reading or parsing it raised (reported by ``_open_entry``)."""
    try:
        return json.loads(path.with_suffix(".json").read_text()), None
    except Exception as exc:  # noqa: BLE001 - a damaged entry is reported when opened
        return None, exc


def _open_entry(path: Path, key: str,
                loaded: tuple[Any, Exception | None]) -> tuple[np.ndarray, dict] | None:
    """Open a cache entry read-only, or return None (with a DataWarning, deleting it)
    when it is damaged: missing or unparsable metadata, a truncated or foreign ``.npy``,
    or sampled images that no longer match the digest recorded when it was written.
    ``loaded`` is ``_load_meta(path)``."""
    meta_path = path.with_suffix(".json")
    try:
        meta, error = loaded
        if error is not None:
            raise error
        require(meta.get("key") == key, "its metadata belongs to another data set", DataError)
        images = np.load(path, mmap_mode="r", allow_pickle=False)
        require(images.dtype == np.uint8 and list(images.shape) == meta["shape"],
                f"it holds {images.dtype} {images.shape}, expected uint8 {tuple(meta['shape'])}",
                DataError)
        require(_digest(images) == meta["digest"], "its contents do not match their checksum",
                DataError)
        return images, meta
    except Exception as exc:  # noqa: BLE001 - any failure means "not a valid entry"
        reason = str(exc) if isinstance(exc, DataError) else f"{type(exc).__name__}: {exc}"
        warnings.warn(f"cache entry {path} is damaged ({reason}); rebuilding it", DataWarning,
                      stacklevel=3)
        for p in (meta_path, path):
            try:
                p.unlink()
            except OSError:
                pass
        return None


def _cached(cache_dir: str | Path | None, stem: str, key: str, count: int | None, max_count: int,
            size: int, build: Callable[[np.ndarray], tuple[int, dict]]) -> tuple[np.ndarray, dict]:
    """The uint8 array of ``count`` images (all there are when None) of the data set
    ``key``, from a cache entry when one holds them, else built.

    ``build(out)`` fills the first rows of ``out`` (``(max_count, size, size, 3)``) and
    returns how many it filled and JSON-able metadata (``complete``: nothing more exists).
    An entry with more rows serves a smaller ``count`` (the result is its prefix).
    Entries are written to a temporary ``.*.tmp`` file in ``cache_dir``, fsynced and
    renamed into place, data first and metadata last, so a killed run leaves nothing
    that loads; damaged entries are detected (see ``_open_entry``) and rebuilt.
    """
    shape = (max_count, size, size, 3)
    if cache_dir is None:
        out = np.empty(shape, np.uint8)
        filled, meta = build(out)
        return out[:filled], meta
    cache_dir = Path(cache_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cache_dir={str(cache_dir)!r} cannot be created ({exc}); "
                        "pass a writable folder or cache_dir=None") from exc
    for have, path in _entries(cache_dir, stem):
        loaded = _load_meta(path)
        if count is not None and have < count and not _peek_complete(loaded):
            continue   # too small and not everything there is
        opened = _open_entry(path, key, loaded)
        if opened is not None and (count is not None or opened[1].get("complete")):
            images, meta = opened
            return (images if count is None else images[:count]), meta

    _remove_stale_temporaries(cache_dir, stem)
    tmp_paths: list[Path] = []

    def temp() -> Path:   # like mkstemp, but with the umask's permissions (a shared cache)
        while True:
            path = cache_dir / f".{stem}.{os.getpid()}-{secrets.token_hex(6)}.tmp"
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                continue
            tmp_paths.append(path)
            return path

    try:
        first = temp()
        out = np.lib.format.open_memmap(first, mode="w+", dtype=np.uint8, shape=shape)
        filled, meta = build(out)
        if filled < max_count:  # a reader skipped files: keep only the filled prefix
            second = temp()
            small = np.lib.format.open_memmap(second, mode="w+", dtype=np.uint8,
                                              shape=(filled,) + shape[1:])
            for s in range(0, filled, 4096):
                e = min(filled, s + 4096)
                small[s:e] = out[s:e]
            del out
            out, first = small, second
        out.flush()
        meta = dict(meta, key=key, shape=list(out.shape), digest=_digest(out))
        del out
        _fsync(first)
        final = cache_dir / f"{stem}-n{filled}.npy"
        meta_tmp = temp()
        meta_tmp.write_text(json.dumps(meta))
        _fsync(meta_tmp)
        os.replace(first, final)
        os.replace(meta_tmp, final.with_suffix(".json"))
        _fsync(cache_dir, directory=True)
    finally:
        for p in tmp_paths:
            try:
                p.unlink()
            except OSError:
                pass
    images = np.load(final, mmap_mode="r", allow_pickle=False)
    return (images if count is None else images[:count]), meta


def _remove_stale_temporaries(cache_dir: Path, stem: str, age_s: float = 6 * 3600) -> None:
    """Delete this data set's temporary files untouched for ``age_s`` (left by killed runs;
    a live writer touches its file continuously)."""
    for p in cache_dir.glob(f".{stem}.*.tmp"):
        try:
            if time.time() - p.stat().st_mtime > age_s:
                p.unlink()
        except OSError:
            pass


def _peek_complete(loaded: tuple[Any, Exception | None]) -> bool:
    """Whether ``_load_meta``'s metadata says the entry holds everything there is."""
    meta, error = loaded
    if error is not None:
        return False
    try:
        return bool(meta.get("complete"))
    except Exception:  # noqa: BLE001 - a damaged entry is reported when opened
        return False


# --------------------------------------------------------------------------------------
# Synthetic data sets
# --------------------------------------------------------------------------------------


def _synthetic_set(n: int, size: int, seed: int, start: int, name: str,
                   cache_dir: str | Path | None, progress: bool) -> ImageSet:
    key = spec_hash({"source": "synthetic", "generator": GENERATOR_VERSION,
                     "seed": seed, "start": start, "image_size": size})
    stem = f"synthetic-{size}px-seed{seed}-start{start}-{key}"
    label = f"{name} ({size}x{size})" if progress and n >= _PROGRESS_MIN else None

    def build(out: np.ndarray) -> tuple[int, dict]:
        _generate_into(out, seed, start, label)
        return len(out), {"complete": False}

    images, _ = _cached(cache_dir, stem, key, n, n, size, build)
    return ImageSet(images, synthetic_factors(n, seed, start), name)


# --------------------------------------------------------------------------------------
# Image files
# --------------------------------------------------------------------------------------

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
READER_VERSION = 1
_MODE_NAMES = {"L": "greyscale (L)", "1": "black-and-white (1)", "P": "palette (P)",
               "CMYK": "CMYK", "RGBA": "RGBA (alpha over white)", "LA": "greyscale+alpha (LA)",
               "PA": "palette+alpha (PA)", "I;16": "16-bit greyscale", "I": "32-bit greyscale",
               "YCbCr": "YCbCr"}


def _image_files(folder: Path) -> list[Path]:
    """Image files under ``folder`` (recursively; hidden files and folders left out),
    sorted by their path relative to ``folder``."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(Path(root) / name)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _to_rgb(im: Any) -> Any:
    """RGB version of a PIL image of any mode: greyscale/CMYK/palette/YCbCr by PIL's
    conversion, alpha composited over white, 16/32-bit greyscale scaled by 1/257."""
    from PIL import Image

    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(im, dtype=np.float64)
        return Image.fromarray(np.clip(a / 257.0 + 0.5, 0, 255).astype(np.uint8), "L").convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def _decode(path: Path, size: int) -> tuple[np.ndarray | None, str | None, str | None]:
    """Decode one file to uint8 (size, size, 3): ``(pixels, None, mode)`` or
    ``(None, reason, None)``. Never raises for a bad file.

    EXIF orientation is applied; then the centred square of side s = min(W, H) (left
    ``(W - s) // 2``, top ``(H - s) // 2``; for CelebA's 178x218 that is rows 20..198)
    is cut out and resized to ``size`` with PIL's bilinear filter, which for reductions
    averages over the whole footprint (antialiased; no pixel outside the square is used).
    Files smaller than ``size`` on their short side are skipped (``too small (WxH < S)``),
    never upscaled.
    """
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            w, h = im.size
            if min(w, h) < size:
                return None, f"too small ({w}x{h} < {size})", None
            mode = im.mode
            im = ImageOps.exif_transpose(im)
            w, h = im.size
            if im.mode != "RGB":
                im = _to_rgb(im)
            s = min(w, h)
            left, top = (w - s) // 2, (h - s) // 2
            im = im.crop((left, top, left + s, top + s))   # no pixel outside it is used
            if s != size:
                im = im.resize((size, size), Image.Resampling.BILINEAR)
            pixels = np.asarray(im, dtype=np.uint8)
        if pixels.shape != (size, size, 3):
            return None, f"decoded to shape {pixels.shape}, expected ({size}, {size}, 3)", None
        return pixels, None, mode
    except Exception as exc:  # noqa: BLE001 - every failure of one file is a counted skip
        return None, f"unreadable ({type(exc).__name__}: {exc})", None


def _folder_key(kind: str, folder: Path, files: Sequence[Path], size: int) -> str:
    """A key that changes when any file is added, removed, resized or touched."""
    h = hashlib.sha256(str(folder.resolve()).encode())
    for p in files:
        try:
            st = p.stat()
            h.update(f"{p.relative_to(folder).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{p.relative_to(folder).as_posix()}\0missing\n".encode())
    return spec_hash({"source": kind, "reader": READER_VERSION, "image_size": size,
                      "files": h.hexdigest()})


def _read_files(files: Sequence[Path], folder: Path, size: int, limit: int | None,
                cache_dir: str | Path | None, progress: bool, name: str, kind: str,
                extra_notes: Sequence[str] = (), stacklevel: int = 3) -> ImageSet:
    """Decode ``files`` in order until ``limit`` images are usable (all when None) into an
    :class:`ImageSet`, cached under ``cache_dir``; bad files are counted skips (one
    DataWarning, attributed ``stacklevel`` frames up)."""
    size = _check_size(size)
    if limit is not None:
        limit = _check_count("limit", limit, allow_zero=False)
    key = _folder_key(kind, folder, files, size)
    stem = f"{kind}-{name.replace('/', '_')}-{size}px-{key}"
    max_count = len(files) if limit is None else min(limit, len(files))

    def build(out: np.ndarray) -> tuple[int, dict]:
        label = f"{name} ({folder})" if progress and len(out) >= _DECODE_PROGRESS_MIN else None
        report = _Progress(label, len(out)) if label else None
        filled, used, skipped, converted = 0, [], [], []
        pos, block = 0, 256
        workers = max(1, min(8, os.cpu_count() or 1))
        with ThreadPoolExecutor(workers) as pool:
            while filled < len(out) and pos < len(files):
                chunk = files[pos:pos + min(block, len(out) - filled + 16)]
                for path, (pixels, reason, mode) in zip(chunk, pool.map(lambda p: _decode(p, size), chunk)):
                    pos += 1
                    rel = path.relative_to(folder).as_posix()
                    if pixels is None:
                        skipped.append((rel, reason, pos - 1))
                        continue
                    out[filled] = pixels
                    used.append((rel, pos - 1))
                    filled += 1
                    if mode != "RGB":
                        converted.append([mode, pos - 1])
                    if filled == len(out):
                        break
                if report:
                    report.update(filled)
        if filled == 0:
            examples = "; ".join(f"{p}: {r}" for p, r, _ in skipped[:3])
            raise DataError(f"none of the {len(files)} image files in {folder} is usable "
                            f"(e.g. {examples}); expected readable RGB/greyscale images at least "
                            f"{size}x{size}")
        meta = {"complete": pos >= len(files), "names": [r for r, _ in used],
                "file_index": [i for _, i in used],
                "skipped": [[p, r, i] for p, r, i in skipped], "converted": converted}
        return filled, meta

    images, meta = _cached(cache_dir, stem, key, limit, max_count, size, build)
    n = len(images)
    last = meta["file_index"][n - 1] if n else -1
    if n < len(meta["file_index"]):   # a prefix of a bigger entry: only its files count
        skipped = [(p, r) for p, r, i in meta["skipped"] if i < last]
    else:
        skipped = [(p, r) for p, r, _ in meta["skipped"]]
    notes = list(extra_notes)
    modes: dict[str, int] = {}
    for mode, i in meta["converted"]:
        if i <= last:
            modes[mode] = modes.get(mode, 0) + 1
    if modes:
        parts = ", ".join(f"{k} {_MODE_NAMES.get(m, m)}" for m, k in sorted(modes.items()))
        notes.append(f"converted to RGB: {parts} image(s)")
    if skipped:
        reasons: dict[str, int] = {}
        for _, r in skipped:
            r0 = r.split(" (")[0]
            reasons[r0] = reasons.get(r0, 0) + 1
        summary = ", ".join(f"{k} {r}" for r, k in sorted(reasons.items()))
        warnings.warn(f"{folder}: skipped {len(skipped)} of {len(skipped) + n} image files "
                      f"({summary}); see ImageSet.skipped", DataWarning, stacklevel=stacklevel)
    return ImageSet(images, None, name, skipped, meta["names"][:n], notes)


def _check_folder(path: str | Path, what: str) -> Path:
    folder = Path(path)
    require(folder.exists(), f"{what} {str(folder)!r} does not exist", DataError)
    require(folder.is_dir(), f"{what} {str(folder)!r} is not a folder", DataError)
    return folder


def read_image_folder(path: str | Path, image_size: int, limit: int | None = None,
                      cache_dir: str | Path | None = None, progress: bool = True) -> ImageSet:
    """Every .jpg/.jpeg/.png/.bmp/.webp file under ``path`` (recursively, hidden files left
    out), in sorted order, as uint8 ``(N, S, S, 3)``: the centred square crop resized
    bilinearly to ``image_size`` (see ``_decode``). At most ``limit`` images.

    Greyscale, CMYK, palette and alpha images are converted to RGB (counted in
    ``notes``). Corrupt files and files smaller than ``image_size`` are skipped, listed
    in ``skipped`` and reported in one :class:`DataWarning`. A missing folder, a folder
    with no image files, or one where every file is bad raises :class:`DataError`.
    The decoded array is cached in ``cache_dir`` (keyed by the files' names, sizes and
    times), so later runs decode nothing.
    """
    folder = _check_folder(path, "image folder")
    files = _image_files(folder)
    if not files:
        others = sum(len(f) for _, _, f in os.walk(folder))
        raise DataError(f"image folder {str(folder)!r} holds no image files ({others} other files); "
                        f"expected files ending in {', '.join(IMAGE_EXTENSIONS)}")
    return _read_files(files, folder, image_size, limit, cache_dir, progress,
                       f"folder-{folder.name}", "folder")


# --------------------------------------------------------------------------------------
# CelebA
# --------------------------------------------------------------------------------------

CELEBA_SPLITS = {"train": (0,), "valid": (1,), "test": (2,), "train+valid": (0, 1), "all": (0, 1, 2)}


def _celeba_images_dir(root: Path) -> Path:
    images = root / "img_align_celeba"
    if images.is_dir() and (images / "img_align_celeba").is_dir() and not any(images.glob("*.jpg")):
        images = images / "img_align_celeba"   # the Kaggle zip nests the folder twice
    if not images.is_dir() and root.name == "img_align_celeba":
        images = root
    require(images.is_dir(),
            f"CelebA folder {str(root)!r} has no img_align_celeba/ folder; expected the official "
            f"layout {root}/img_align_celeba/000001.jpg ... (178x218 JPEGs) and optionally "
            f"{root}/list_eval_partition.txt", DataError)
    return images


def _read_partition(root: Path) -> tuple[dict[str, int] | None, Path | None]:
    """``{file name: 0 train / 1 valid / 2 test}`` from list_eval_partition.txt (or the
    Kaggle .csv), looked for in ``root``, ``root/Eval`` and ``root``'s parent."""
    candidates = [root / "list_eval_partition.txt", root / "Eval" / "list_eval_partition.txt",
                  root / "list_eval_partition.csv", root.parent / "list_eval_partition.txt"]
    for file in candidates:
        if not file.is_file():
            continue
        table: dict[str, int] = {}
        for number, line in enumerate(file.read_text(errors="replace").splitlines(), 1):
            fields = line.replace(",", " ").split()
            if not fields or (number == 1 and not fields[-1].isdigit()):
                continue  # blank line or the .csv header
            require(len(fields) == 2 and fields[1] in ("0", "1", "2"),
                    f"{file}:{number}: {line!r} is not '<image> <0|1|2>' (0 train, 1 valid, 2 test)",
                    DataError)
            table[fields[0]] = int(fields[1])
        return table, file
    return None, None


class _CelebaListing(NamedTuple):
    """A CelebA folder listed once: its image folder, sorted image files and partition."""

    root: Path
    images_dir: Path
    files: list[Path]
    table: dict[str, int] | None
    table_file: Path | None


def _celeba_listing(root: Path, partition: tuple[dict[str, int] | None, Path | None] | None = None
                    ) -> _CelebaListing:
    """List the checked CelebA folder ``root`` (``partition``: ``_read_partition(root)``
    when the caller has parsed it already; otherwise it is parsed after the listing)."""
    images_dir = _celeba_images_dir(root)
    files = _image_files(images_dir)
    require(bool(files), f"{images_dir} holds no image files; expected CelebA's 000001.jpg ... "
            "202599.jpg", DataError)
    table, table_file = _read_partition(root) if partition is None else partition
    return _CelebaListing(root, images_dir, files, table, table_file)


def read_celeba(path: str | Path, image_size: int, split: str = "train", limit: int | None = None,
                cache_dir: str | Path | None = None, progress: bool = True) -> ImageSet:
    """CelebA's aligned images of ``split`` as uint8 ``(N, S, S, 3)``, at most ``limit``.

    Layout: ``path/img_align_celeba/000001.jpg ...`` (178x218 JPEGs), optionally with
    ``path/list_eval_partition.txt`` (lines ``000001.jpg 0``; 0 train, 1 valid, 2 test).
    ``split`` is 'train', 'valid', 'test', 'train+valid' or 'all'. Without the partition
    file 'train' and 'all' use every image (with a :class:`DataWarning` saying so) and the
    others raise :class:`DataError`.

    Crop and resize: the central 178x178 square (rows 20..198 of 218, the usual CelebA
    face crop; in general the centred square of side min(W, H)) resized with PIL's
    antialiased bilinear filter to ``image_size``. Bad files are handled as in
    :func:`read_image_folder`; the decoded array is cached once in ``cache_dir``.
    """
    require(split in CELEBA_SPLITS, f"split={split!r}; use one of {sorted(CELEBA_SPLITS)}", SpecError)
    root = _check_folder(path, "CelebA folder")
    return _read_celeba(_celeba_listing(root), image_size, split, limit, cache_dir, progress,
                        stacklevel=3)


def _read_celeba(listing: _CelebaListing, image_size: int, split: str, limit: int | None,
                 cache_dir: str | Path | None, progress: bool, stacklevel: int) -> ImageSet:
    """:func:`read_celeba` of a listed folder; its warnings are attributed ``stacklevel``
    frames up (2: the caller of this function)."""
    root, images_dir, files, table, table_file = listing
    notes = []
    if table is None:
        require(split in ("train", "all"),
                f"split={split!r} needs {root}/list_eval_partition.txt (lines '000001.jpg 0'; "
                "0 train, 1 valid, 2 test); without it only 'train' and 'all' (every image)",
                DataError)
        message = f"no list_eval_partition.txt in {root}: split={split!r} uses all {len(files)} images"
        warnings.warn(message, DataWarning, stacklevel=stacklevel)
        notes.append(message)
        selected = files
    else:
        codes = CELEBA_SPLITS[split]
        selected = [p for p in files if table.get(p.name) in codes]
        present = {p.name for p in files}
        missing = sum(1 for k, c in table.items() if c in codes and k not in present)
        if missing:
            notes.append(f"{missing} images of split={split!r} listed in {table_file} are not in {images_dir}")
        require(bool(selected), f"no image of split={split!r} in {images_dir} is listed in "
                f"{table_file} with partition {codes}", DataError)
    return _read_files(selected, images_dir, image_size, limit, cache_dir, progress,
                       f"celeba-{split}", "celeba", notes, stacklevel=stacklevel + 1)


# --------------------------------------------------------------------------------------
# Data sets from a DataSpec
# --------------------------------------------------------------------------------------


def _tail_split(everything: ImageSet, spec: DataSpec, where: str) -> tuple[ImageSet, ImageSet]:
    """Train = the first images, test = the last ``n_test`` (10% when None)."""
    n = len(everything)
    n_test = spec.n_test if spec.n_test is not None else max(1, n // 10)
    require(n > n_test, f"{where} has {n} usable images; n_test={n_test} needs at least "
            f"{n_test + 1} (n_test for testing, the rest for training)", DataError)
    available = n - n_test
    n_train = available if spec.n_train is None else spec.n_train
    if n_train > available:
        warnings.warn(f"{where}: n_train={n_train} asked, only {available} images are left "
                      f"after the {n_test} test images; training on {available}", DataWarning,
                      stacklevel=3)
        n_train = available
    base = everything.name
    return (everything.subset(slice(0, n_train), f"{base}-train"),
            everything.subset(slice(n - n_test, n), f"{base}-test"))


def load_dataset(spec: DataSpec, cache_dir: str | Path | None = None,
                 progress: bool = True) -> tuple[ImageSet, ImageSet]:
    """``(train, test)`` image sets for ``spec``.

    synthetic: train is images ``[0, n_train)`` of ``spec.seed``, test ``n_test`` images
    from ``TEST_START`` on (so it does not change with ``n_train``); both carry factors.
    celeba: with the partition file, train is the first ``n_train`` of split 'train'
    (continuing into 'valid' when ``n_train`` is larger, i.e. the first n_train files of
    CelebA's numbering) and test the first ``n_test`` of 'test'; without it, test is the
    last ``n_test`` images (10% when None) and train the first ``n_train`` of the rest.
    folder: like celeba without a partition file.

    With ``cache_dir`` the uint8 arrays are cached as ``.npy`` files named from the spec
    and returned as read-only memmaps; an entry with more images serves a smaller
    request. Progress goes to stderr when ``progress``.
    """
    require(isinstance(spec, DataSpec), f"spec={spec!r} must be a DataSpec", SpecError)
    size = spec.image_size
    if spec.source == "synthetic":
        assert spec.n_train is not None and spec.n_test is not None
        return (_synthetic_set(spec.n_train, size, spec.seed, 0, "synthetic-train", cache_dir, progress),
                _synthetic_set(spec.n_test, size, spec.seed, TEST_START, "synthetic-test",
                               cache_dir, progress))
    assert spec.path is not None
    if spec.source == "folder":
        everything = read_image_folder(spec.path, size, cache_dir=cache_dir, progress=progress)
        return _tail_split(everything, spec, f"image folder {spec.path!r}")
    root = _check_folder(spec.path, "CelebA folder")
    partition = _read_partition(root)   # parsed before the folder is listed, as always
    listing = _celeba_listing(root, partition)   # listed once for both splits
    table = listing.table
    if table is None:   # _read_celeba warns that there is no partition file
        everything = _read_celeba(listing, size, "all", None, cache_dir, progress, stacklevel=2)
        return _tail_split(everything, spec, f"CelebA folder {spec.path!r} (no partition file)")
    n_split_train = sum(1 for c in table.values() if c == 0)
    split = "train" if spec.n_train is None or spec.n_train <= n_split_train else "train+valid"
    train = _read_celeba(listing, size, split, spec.n_train, cache_dir, progress, stacklevel=2)
    test = _read_celeba(listing, size, "test", spec.n_test, cache_dir, progress, stacklevel=2)
    for part, want in ((train, spec.n_train), (test, spec.n_test)):
        if want is not None and len(part) < want:
            warnings.warn(f"CelebA {part.name}: n={want} asked, only {len(part)} usable images",
                          DataWarning, stacklevel=2)
    return train, test
