"""The embedded data source: procedural synthetic faces with known generative factors.

Image ``i`` of seed ``s`` is a pure function of ``(s, i)`` (counter-based factors,
:func:`synthetic_factors`) drawn by :func:`render_faces`; no download, any image size
divisible by 16.

Public API: ``FACTOR_NAMES``, ``N_FACTORS``, ``GENERATOR_VERSION``, ``TEST_START``,
``synthetic_factors``, ``render_faces``, ``synthetic_faces``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from vaebench.config import check_count as _check_count
from vaebench.config import check_image_size as _check_size
from vaebench.errors import require
from vaebench.progress import Progress

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


class _Canvas:
    """The float32 colour planes ``(3, B, size, size)`` of a chunk of ``B`` images, with the
    drawing windows and the compositing operations the shapes use."""

    def __init__(self, n_images: int, size: int, full_frame: bool) -> None:
        self.B, self.size, self.S = n_images, size, float(size)
        full = (slice(0, size), slice(0, size))
        self.win = {k: full for k in _windows(size)} if full_frame else _windows(size)
        self.u_all = ((np.arange(size, dtype=np.float32) + np.float32(0.5)) / np.float32(size)).reshape(1, 1, size)
        self.v_all = self.u_all.reshape(1, size, 1)
        self.planes = np.empty((3, n_images, size, size), np.float32)

    def col(self, a: Any) -> np.ndarray:
        """A per-image scalar, broadcastable over (B, H, W)."""
        return np.broadcast_to(np.asarray(a, np.float32), (self.B,)).reshape(self.B, 1, 1)

    def uv(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Pixel-centre coordinates (u: (1, 1, W), v: (1, H, 1)) of window ``name``."""
        rows, cols = self.win[name]
        return self.u_all[:, :, cols], self.v_all[:, rows, :]

    def over(self, name: str, alpha: np.ndarray, colour: np.ndarray) -> None:
        """Composite a flat ``colour`` (B, 3) with coverage ``alpha`` over window ``name``."""
        rows, cols = self.win[name]
        tmp = np.empty_like(alpha)
        for c in range(3):
            plane = self.planes[c, :, rows, cols]
            np.subtract(self.col(colour[:, c]), plane, out=tmp)
            np.multiply(tmp, alpha, out=tmp)
            plane += tmp

    def darken(self, name: str, alpha: np.ndarray, amount: float) -> None:
        """Multiply window ``name`` by ``1 - amount * alpha`` (``alpha`` is overwritten)."""
        rows, cols = self.win[name]
        alpha *= np.float32(-amount)
        alpha += np.float32(1.0)
        region = self.planes[:, :, rows, cols]
        region *= alpha

    def ellipse(self, name: str, x0: Any, y0: Any, rad_x: Any, rad_y: Any) -> np.ndarray:
        """Coverage of a filled ellipse: clip(0.5 + k (1 - r^2)) with r^2 the normalised
        radius squared and k = min(rad) S / 2: about a one-pixel ramp across the edge."""
        col = self.col
        u, v = self.uv(name)
        k = np.minimum(rad_x, rad_y) * self.S / 2
        return self.coverage(k, ((u - col(x0)) / col(rad_x)) ** 2, ((v - col(y0)) / col(rad_y)) ** 2)

    def coverage(self, k: Any, x2: np.ndarray, y2: np.ndarray, k_centre: Any = None) -> np.ndarray:
        """clip(0.5 + k_centre − k (x2 + y2)): the coverage of an elliptical shape from the
        squared normalised coordinates ``x2``, ``y2`` (``k_centre`` defaults to ``k``)."""
        col = self.col
        return _ramp(col(-k) * x2 + (col(0.5 + (k if k_centre is None else k_centre)) - col(k) * y2))


def _face_params(factors: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image drawing parameters (float64, relative units) from the factors (B, F)."""
    f = factors.astype(np.float64)
    p = {"cx": _lerp(_CX, f[:, 0]), "cy": _lerp(_CY, f[:, 1]), "ry": _lerp(_RY, f[:, 2])}
    p["rx"] = p["ry"] * _lerp(_ASPECT, f[:, 3])
    p["skin"], p["hair"], p["hair_len"] = _palette(_SKIN, f[:, 4]), _palette(_HAIR, f[:, 5]), f[:, 6]
    p["eye_dx"] = p["rx"] * _lerp(_EYE_DX, f[:, 7])
    p["eye_rx"] = p["rx"] * _lerp(_EYE_RX, f[:, 8])
    p["eye_ry"] = _EYE_ASPECT * p["eye_rx"]
    p["eye_y"] = p["cy"] - 0.08 * p["ry"]
    p["curve"] = (2.0 * f[:, 9] - 1.0) * _CURVE * p["ry"]
    p["bg_a"] = _palette(_BACKGROUND, f[:, 10])
    p["bg_b"] = 0.62 * _palette(_BACKGROUND, f[:, 11])
    # directions (cos, sin) from a rational parametrisation: angles in about [-127, 127] deg
    t = 2.0 * f[:, 12] - 1.0
    p["bg_c"], p["bg_s"] = (1 - t * t) / (1 + t * t), 2 * t / (1 + t * t)
    t = 2.0 * f[:, 13] - 1.0
    p["light_c"], p["light_s"] = -(1 - t * t) / (1 + t * t), -2 * t / (1 + t * t)
    p["light"] = _lerp(_LIGHT, f[:, 14])
    p["clothes"] = _palette(_CLOTHES, f[:, 15])
    return p


def _draw_background(cv: _Canvas, p: dict[str, np.ndarray]) -> None:
    """A linear gradient between two colours along a direction, over the whole frame."""
    col, f32 = cv.col, np.float32
    u, v = cv.u_all, cv.v_all
    g = np.add(col(1.3 * p["bg_c"]) * (u - f32(0.5)), col(1.3 * p["bg_s"]) * (v - f32(0.5)) + f32(0.5))
    _ramp(g)
    for c in range(3):
        np.multiply(g, col(p["bg_b"][:, c] - p["bg_a"][:, c]), out=cv.planes[c])
        cv.planes[c] += col(p["bg_a"][:, c])


def _draw_hair_back(cv: _Canvas, p: dict[str, np.ndarray]) -> np.ndarray:
    """Hair behind the head (the top half a cap, the bottom half hair_length long);
    returns its coverage over the "hair" window."""
    col, S = cv.col, cv.S
    cx, cy, rx, ry = p["cx"], p["cy"], p["rx"], p["ry"]
    u, v = cv.uv("hair")
    hx, hy_top = rx * 1.14 + 0.012, ry * 1.10 + 0.012
    hy_bottom = ry * (0.12 + 1.55 * p["hair_len"])
    k = np.minimum(hx, hy_top) * S / 2
    dyh = (v - col(cy)) / np.where(v < col(cy), col(hy_top), col(hy_bottom))
    # (k·dyh)·dyh, not k·dyh², so not cv.coverage: the rounding differs and the images must not change
    hair_back = _ramp(col(-k) * ((u - col(cx)) / col(hx)) ** 2 + (col(0.5 + k) - col(k) * dyh * dyh))
    cv.over("hair", hair_back, p["hair"] * 0.92)
    return hair_back


def _draw_neck_and_body(cv: _Canvas, p: dict[str, np.ndarray]) -> None:
    """The neck (a separable box) and the shoulders."""
    col, S, f32 = cv.col, cv.S, np.float32
    cx, cy, rx, ry = p["cx"], p["cy"], p["rx"], p["ry"]
    u, v = cv.uv("neck")
    nx = _ramp((col(0.4 * rx) - np.abs(u - col(cx))) * f32(S) + f32(0.5))
    ny = _ramp((v - col(cy)) * f32(S))
    cv.over("neck", nx * ny, p["skin"] * 0.80)
    cv.over("body", cv.ellipse("body", cx, cy + ry + 0.40, 0.25 + rx, 0.34), p["clothes"])


def _draw_face(cv: _Canvas, p: dict[str, np.ndarray], head: np.ndarray) -> None:
    """The face, then the hair over the forehead (above a hairline that drops towards the
    temples); ``head`` (the hair's coverage) becomes the coverage of hair or face."""
    col, S, f32 = cv.col, cv.S, np.float32
    cx, cy, rx, ry = p["cx"], p["cy"], p["rx"], p["ry"]
    face = cv.ellipse("face", cx, cy, rx, ry)
    cv.over("face", face, p["skin"])
    (fr, fc), (hr, hc) = cv.win["face"], cv.win["hair"]
    inner = head[:, fr.start - hr.start:fr.stop - hr.start, fc.start - hc.start:fc.stop - hc.start]
    np.maximum(inner, face, out=inner)
    u, v = cv.uv("fringe")
    face_f = face[:, :cv.win["fringe"][0].stop - fr.start, :]
    hairline = col(S * (cy - 0.50 * ry)) + col(S * 0.62 * ry) * ((u - col(cx)) / col(rx)) ** 2
    fringe = _ramp(hairline - v * f32(S) + f32(0.5))
    fringe *= face_f
    cv.over("fringe", fringe, p["hair"])


def _draw_eyes(cv: _Canvas, p: dict[str, np.ndarray]) -> None:
    """Eyebrows, eye whites, irises and pupils: both sides at once, mirrored about the head centre."""
    col, S, f32, B = cv.col, cv.S, np.float32, cv.B
    eye_dx, eye_rx, eye_ry, eye_y, ry = p["eye_dx"], p["eye_rx"], p["eye_ry"], p["eye_y"], p["ry"]
    u, v = cv.uv("eyes")
    ax = np.abs(u - col(p["cx"]))               # (B, 1, W): distance from the midline
    bx = (ax - col(eye_dx)) / col(1.35 * eye_rx)
    brow_y = col(S * (eye_y - 1.9 * eye_ry - 0.025 * ry)) + col(S * 0.55 * eye_ry) * bx * bx
    brow_h = col(S * (0.30 * eye_ry + 0.012 * ry)) * (f32(1.0) - f32(0.5) * bx * bx) + f32(0.5)
    brow = _ramp(brow_h - np.abs(v * f32(S) - brow_y))
    brow *= _ramp((f32(1.0) - np.abs(bx)) * col(S * 1.35 * eye_rx) + f32(0.5))
    cv.over("eyes", brow, p["hair"] * 0.75)
    ke = eye_ry * S / 2
    white = cv.coverage(ke, ((ax - col(eye_dx)) / col(eye_rx)) ** 2, ((v - col(eye_y)) / col(eye_ry)) ** 2)
    cv.over("eyes", white, np.broadcast_to(_EYE_WHITE, (B, 3)))
    iris_r = 0.92 * eye_ry
    ix2 = ((ax - col(eye_dx)) / col(iris_r)) ** 2
    iy2 = ((v - col(eye_y)) / col(iris_r)) ** 2
    ki = iris_r * S / 2
    iris = cv.coverage(ki, ix2, iy2)
    iris *= white                                # the lids cover the iris
    cv.over("eyes", iris, np.broadcast_to(_IRIS, (B, 3)))
    kp = 0.45 * iris_r * S / 2                   # pupil: radius 0.45 iris_r
    pupil = cv.coverage(kp / 0.2025, ix2, iy2, k_centre=kp)
    cv.darken("eyes", pupil, 0.85)


def _draw_nose_and_mouth(cv: _Canvas, p: dict[str, np.ndarray]) -> None:
    """The nose shadow, and the mouth: a curved band, thinner at the corners."""
    col, S, f32 = cv.col, cv.S, np.float32
    cx, cy, rx, ry, curve = p["cx"], p["cy"], p["rx"], p["ry"], p["curve"]
    nose = cv.ellipse("nose", cx, cy + 0.22 * ry, 0.10 * rx, 0.045 * ry)
    cv.darken("nose", nose, 0.22)
    u, v = cv.uv("mouth")
    mw = _MOUTH_W * rx
    mx = (u - col(cx)) / col(mw)
    mouth_y = col(S * (cy + 0.50 * ry + 0.5 * curve)) - col(S * curve) * mx * mx
    mouth_h = col(S * _MOUTH_H * ry) * (f32(1.0) - f32(0.6) * mx * mx) + f32(0.5)
    mouth = _ramp(mouth_h - np.abs(v * f32(S) - mouth_y))
    mouth *= _ramp((f32(1.0) - np.abs(mx)) * col(S * mw) + f32(0.5))
    cv.over("mouth", mouth, 0.7 * _LIPS + 0.3 * p["skin"])


def _draw_light(cv: _Canvas, p: dict[str, np.ndarray], head: np.ndarray) -> None:
    """Light on the head (coverage ``head``): a directional term, darker towards the rim (separable)."""
    col, f32 = cv.col, np.float32
    light = p["light"]
    u, v = cv.uv("hair")
    dx = (u - col(p["cx"])) / col(p["rx"])
    dy = (v - col(p["cy"])) / col(p["ry"])
    shade = (col(light * p["light_c"]) * dx - f32(0.14) * dx * dx + f32(0.06)) \
        + (col(light * p["light_s"]) * dy - f32(0.14) * dy * dy)
    shade *= head
    shade += f32(1.0)
    rows, cols = cv.win["hair"]
    region = cv.planes[:, :, rows, cols]
    region *= shade


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
    cv = _Canvas(factors.shape[0], size, full_frame)
    p = _face_params(factors)
    _draw_background(cv, p)
    head = _draw_hair_back(cv, p)    # becomes the coverage of hair or face, for the light
    _draw_neck_and_body(cv, p)
    _draw_face(cv, p, head)
    _draw_eyes(cv, p)
    _draw_nose_and_mouth(cv, p)
    _draw_light(cv, p, head)
    # to uint8 (round half up, clipped)
    planes = cv.planes
    planes += np.float32(0.5)
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
    report = Progress(label, n) if label else None
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
