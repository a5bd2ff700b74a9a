"""Quality of decoded images (C1, C5, C7): spectral features, the conformal
:class:`QualityScorer` and its validation. Nothing here renders.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from vaebench.errors import StatsError, require
from vaebench.latent.geometry import _positive
from vaebench.stats.estimate import Estimate, bootstrap

__all__ = [
    "power_spectrum_features",
    "spectral_slope",
    "QualityScorer",
    "QualityResult",
    "image_quality",
    "quality_vs_reference",
]


# --------------------------------------------------------------------------- image quality


def _as_images(images: Any, name: str = "images", min_n: int = 1) -> np.ndarray:
    try:
        arr = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise StatsError(f"{name} cannot be read as numbers ({exc})") from exc
    require(
        arr.ndim == 4 and arr.shape[-1] == 3,
        f"{name} has shape {arr.shape}; pass float images of shape (N, H, W, 3)",
        StatsError,
    )
    require(arr.shape[0] >= min_n, f"{name} holds {arr.shape[0]} images; at least {min_n} needed", StatsError)
    require(min(arr.shape[1:3]) >= 8, f"{name} are {arr.shape[1]}x{arr.shape[2]}; need >= 8x8", StatsError)
    require(bool(np.all(np.isfinite(arr))), f"{name} hold NaN/inf pixels", StatsError)
    lo, hi = float(arr.min()), float(arr.max())
    require(
        lo >= -1e-3 and hi <= 1 + 1e-3,
        f"{name} have pixel values in [{lo:.3g}, {hi:.3g}]; scale them to [0, 1]",
        StatsError,
    )
    return arr


_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _band_index(h: int, w: int, n_bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Band of each rfft2 frequency (−1 = unused) and the bands' centre frequencies."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fy**2 + fx**2)
    edges = np.geomspace(1.0 / min(h, w), 0.5, n_bands + 1)
    band = np.searchsorted(edges, f * (1 + 1e-9), side="right") - 1
    band[(f < edges[0] * (1 - 1e-9)) | (f > 0.5 * (1 + 1e-9))] = -1
    band[band >= n_bands] = n_bands - 1
    band[f == 0] = -1
    counts = np.bincount(band[band >= 0].ravel(), minlength=n_bands)
    require(
        bool(np.all(counts > 0)), f"images of {h}x{w} are too small for n_bands={n_bands}; use fewer bands", StatsError
    )
    centres = np.sqrt(edges[:-1] * edges[1:])
    return band, centres


def power_spectrum_features(images: Any, n_bands: int = 8, batch: int = 256) -> np.ndarray:
    """log10 of the mean power of each image's luma in ``n_bands`` log-spaced radial
    frequency bands from 1/size to 0.5 cycles per pixel, shape (N, n_bands).

    The luma is mean-subtracted and Hann-windowed (no edge artefacts). A constant image
    has power 0 in every band, floored at 1e-12 (log10 = −12).
    """
    arr = _as_images(images)
    _positive("n_bands", n_bands, integer=True)
    return _spectrum_features(arr, n_bands, batch)


def _spectrum_features(arr: np.ndarray, n_bands: int, batch: int = 256, band: np.ndarray | None = None) -> np.ndarray:
    """:func:`power_spectrum_features` of images already checked by ``_as_images``
    (``band``: ``_band_index``'s first result, when the caller has it)."""
    n, h, w, _ = arr.shape
    if band is None:
        band, _ = _band_index(h, w, n_bands)
    window = np.outer(np.hanning(h + 2)[1:-1], np.hanning(w + 2)[1:-1]).astype(np.float32)
    sel = band >= 0
    bidx = band[sel]
    counts = np.bincount(bidx, minlength=n_bands).astype(np.float64)
    out = np.empty((n, n_bands))
    for start in range(0, n, batch):
        luma = arr[start : start + batch] @ _LUMA
        luma = luma - luma.mean(axis=(1, 2), keepdims=True)
        spec = np.abs(np.fft.rfft2(luma * window)) ** 2 / (h * w)
        flat = spec[:, sel]
        sums = np.zeros((flat.shape[0], n_bands))
        for b in range(n_bands):
            sums[:, b] = flat[:, bidx == b].sum(axis=1)
        out[start : start + batch] = np.log10(sums / counts + 1e-12)
    return out


def spectral_slope(images: Any, n_bands: int = 8) -> np.ndarray:
    """Per-image exponent α of the radial power spectrum, |F(f)|² ∝ f^(−α), fitted by
    least squares over the bands of :func:`power_spectrum_features`.

    Natural images have α ≈ 2; white noise α ≈ 0; blur makes the spectrum fall much
    faster (α ≫ 4). Constant images give NaN (no spectrum to fit).
    """
    arr = _as_images(images)
    _positive("n_bands", n_bands, integer=True)
    return _spectral_slope(arr, n_bands)


def _spectral_slope(arr: np.ndarray, n_bands: int) -> np.ndarray:
    """:func:`spectral_slope` of images already checked by ``_as_images``."""
    band, centres = _band_index(arr.shape[1], arr.shape[2], n_bands)
    feats = _spectrum_features(arr, n_bands, band=band)
    lf = np.log10(centres)
    lf = lf - lf.mean()
    slope = (feats - feats.mean(axis=1, keepdims=True)) @ lf / float(lf @ lf)
    alpha = -slope
    alpha[np.all(feats <= -11.9, axis=1)] = np.nan
    return alpha


def _downsample(arr: np.ndarray, grid: int) -> np.ndarray:
    """Area-average each image onto a grid×grid×3 raster (any H, W), flattened."""
    n, h, w, c = arr.shape
    ys = np.linspace(0, h, grid + 1).round().astype(int)
    xs = np.linspace(0, w, grid + 1).round().astype(int)
    rows = np.add.reduceat(arr, ys[:-1], axis=1) / np.diff(ys)[None, :, None, None]
    cells = np.add.reduceat(rows, xs[:-1], axis=2) / np.diff(xs)[None, None, :, None]
    return cells.reshape(n, grid * grid * c).astype(np.float64)


@dataclass(frozen=True)
class QualityResult:
    """Per-image scores and their summary."""

    scores: np.ndarray
    summary: Estimate
    method: str

    def to_dict(self) -> dict:
        return {
            "summary": self.summary.to_dict(),
            "method": self.method,
            "n": int(self.scores.size),
            "scores_mean": float(np.mean(self.scores)),
        }


class QualityScorer:
    """Typicality of images relative to a reference set of real images.

    Design. Each image is described by two feature blocks, each standardised on the
    reference:

    * ``spectrum`` — its radial power spectrum, log10 power in ``n_bands`` log-spaced
      bands (:func:`power_spectrum_features`), each band z-scored over the reference.
      It sees noise (too much high-frequency power), blur (too little), constant
      images (none at all) and ringing;
    * ``layout`` — its coarse layout and colour: the image area-averaged to
      ``grid × grid × 3`` and projected on the first ``n_components`` principal
      components of the reference, whitened. It sees images whose arrangement of light
      and colour is unlike any real one.

    In each block the distance of an image to the reference is its mean Euclidean
    distance to the ``k`` nearest reference images, divided by the median
    leave-one-out distance of the reference images themselves. The non-conformity of
    an image is the larger of its two block distances (so one block cannot dilute the
    other: uniform noise has a typical coarse layout — mid grey — but an impossible
    spectrum). ``fit`` computes the leave-one-out non-conformity of every reference
    image, the calibration set, and an image's score is its conformal p-value
    (1 + #{calibration values >= its value}) / (n_ref + 1): held-out real images get
    scores uniform on (0, 1]; images unlike every real one get 1/(n_ref + 1).
    :meth:`score` summarises a set as 2 × mean score, so real images score ≈ 1 and
    garbage ≈ 0.

    Validation (tests/test_latent.py): with smooth procedural face-like images as the
    reference, held-out ones score ≈ 1, while uniform noise, heavily blurred copies of
    the held-out images, pixel-shuffled copies and constant images score < 0.1. Blur
    is penalised by design, so a blurry-but-recognisable VAE sample scores between
    real images and garbage: use the score to rank models and sampling radii, not as an
    absolute grade.
    """

    def __init__(self, k: int = 5, n_bands: int = 8, n_components: int = 16, grid: int = 8):
        for name, v in (("k", k), ("n_bands", n_bands), ("n_components", n_components), ("grid", grid)):
            _positive(name, v, integer=True)
        self.k, self.n_bands, self.n_components, self.grid = k, n_bands, n_components, grid
        self._fitted = False

    # -- fitting
    def fit(self, reference: Any) -> "QualityScorer":
        """Fit the standardisation, PCA and calibration on real images (>= 20 advised)."""
        from sklearn.neighbors import NearestNeighbors

        ref = _as_images(reference, "reference", min_n=max(self.k + 2, 10))
        self.shape_ = ref.shape[1:]
        spec = _spectrum_features(ref, self.n_bands)
        self.spec_mean_ = spec.mean(axis=0)
        self.spec_sd_ = np.maximum(spec.std(axis=0, ddof=1), 1e-6)
        pix = _downsample(ref, self.grid)
        self.pix_mean_ = pix.mean(axis=0)
        _, s, vt = np.linalg.svd(pix - self.pix_mean_, full_matrices=False)
        m = int(min(self.n_components, ref.shape[0] - 1, pix.shape[1]))
        scale = s[:m] / math.sqrt(ref.shape[0] - 1)
        keep = scale > 1e-8
        require(bool(np.any(keep)), "the reference images are all identical; pass varied real images", StatsError)
        self.components_ = vt[:m][keep]
        self.pix_scale_ = scale[keep]
        self.nn_, self.block_median_ = [], []
        loo = []
        for block in self._standardised(spec, pix):
            nn = NearestNeighbors(n_neighbors=self.k + 1).fit(block)
            dist, _ = nn.kneighbors(block)
            d = dist[:, 1:].mean(axis=1)  # leave-one-out: drop the image itself
            med = float(np.median(d))
            med = med if med > 0 else 1.0
            self.nn_.append(nn)
            self.block_median_.append(med)
            loo.append(d / med)
        self.calibration_ = np.sort(np.max(np.stack(loo), axis=0))
        self._fitted = True
        return self

    def _need_fit(self) -> None:
        require(self._fitted, "the QualityScorer is not fitted; call .fit(reference_images)", StatsError)

    def _standardised(self, spec: np.ndarray, pix: np.ndarray) -> list[np.ndarray]:
        """The two blocks from spectrum features and downsampled images."""
        spec = (spec - self.spec_mean_) / self.spec_sd_
        pix = (pix - self.pix_mean_) @ self.components_.T
        pix = pix / self.pix_scale_
        return [spec, pix]

    def _blocks_of(self, arr: np.ndarray) -> list[np.ndarray]:
        return self._standardised(_spectrum_features(arr, self.n_bands), _downsample(arr, self.grid))

    def _checked(self, images: Any, prechecked: bool = False) -> np.ndarray:
        """``images`` checked (``prechecked``: already by ``_as_images``) and of the
        reference's size, on a fitted scorer."""
        self._need_fit()
        arr = images if prechecked else _as_images(images)
        require(
            arr.shape[1:] == self.shape_,
            f"images are {arr.shape[1:]} but the reference was {self.shape_}; resize them to the reference size",
            StatsError,
        )
        return arr

    def _block_distances(self, arr: np.ndarray) -> dict[str, np.ndarray]:
        """Per block, each image's k-NN distance over the reference's median LOO distance."""
        blocks = self._blocks_of(arr)
        out = {}
        for name, block, nn, med in zip(("spectrum", "layout"), blocks, self.nn_, self.block_median_):
            dist, _ = nn.kneighbors(block, n_neighbors=self.k)
            out[name] = dist.mean(axis=1) / med
        return out

    def distances(self, images: Any) -> np.ndarray:
        """Non-conformity of each image: the larger of its two block distances
        (≈ 1 for a typical real image)."""
        return self._distances(self._checked(images))

    def _distances(self, arr: np.ndarray) -> np.ndarray:
        d = self._block_distances(arr)
        return np.maximum(d["spectrum"], d["layout"])

    def scores(self, images: Any) -> np.ndarray:
        """Per-image conformal p-values in (0, 1] (uniform for real images)."""
        return self._scores(self._checked(images))

    def _scores(self, arr: np.ndarray) -> np.ndarray:
        d = self._distances(arr)
        cal = self.calibration_
        above = cal.size - np.searchsorted(cal, d, side="left")
        return (1.0 + above) / (cal.size + 1.0)

    def score(self, images: Any, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> Estimate:
        """2 × mean conformal p-value, bootstrap CI over images (real ≈ 1, garbage ≈ 0)."""
        return self.result(images, n_boot, seed, level).summary

    def result(self, images: Any, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> QualityResult:
        """Per-image scores and their summary (see :meth:`score`)."""
        return self._result(self._checked(images), n_boot, seed, level)

    def _result(self, arr: np.ndarray, n_boot: int, seed: int, level: float) -> QualityResult:
        p = self._scores(arr)
        if p.size >= 2:
            est = bootstrap(p, lambda v: 2.0 * v.mean(axis=-1), n_boot=n_boot, level=level, seed=seed, vectorized=True)
        else:
            est = Estimate(2 * float(p[0]), 0.0, 2.0, level, "single image", 1)
        summary = Estimate(
            est.value, est.low, est.high, level, "typicality (2 × mean conformal p), bootstrap", int(p.size)
        )
        return QualityResult(p, summary, "reference typicality")


def _reference_free_scores(arr: np.ndarray, alpha0: float, width: float) -> np.ndarray:
    alpha = _spectral_slope(arr, 8)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.exp(-0.5 * (np.log(alpha / alpha0) / width) ** 2)
    return np.where(np.isfinite(score) & (alpha > 0), score, 0.0)


def image_quality(
    images: Any,
    reference: Any = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    alpha0: float = 2.5,
    width: float = 0.4,
) -> QualityResult:
    """Quality scores of decoded images in [0, 1] with a summary Estimate.

    * With ``reference`` (real images, or a fitted :class:`QualityScorer`): the
      reference typicality of :class:`QualityScorer` — the recommended, validated score.
    * Without: a reference-free score from the spectral exponent α
      (:func:`spectral_slope`): exp(−½ (ln(α/alpha0)/width)²), 1 at α = alpha0 (2.5,
      between natural photographs, α ≈ 2, and smooth rendered or slightly soft images,
      α ≈ 3), 0.6 at α ≈ 1.7 or 3.7, ≈ 0 for noise (α ≈ 0), heavy blur (α ≫ 5) and
      constant images (no spectrum). The summary is the mean score with a bootstrap CI.
      It judges only the spectrum, not content: prefer the reference score.
    """
    arr = _as_images(images)
    if reference is not None:
        scorer = reference if isinstance(reference, QualityScorer) else QualityScorer().fit(reference)
        return scorer._result(scorer._checked(arr, prechecked=True), n_boot, seed, level)
    _positive("alpha0", alpha0)
    _positive("width", width)
    scores = _reference_free_scores(arr, alpha0, width)
    if scores.size >= 2:
        est = bootstrap(scores, lambda v: v.mean(axis=-1), n_boot=n_boot, level=level, seed=seed, vectorized=True)
    else:
        est = Estimate(float(scores[0]), 0.0, 1.0, level, "single image", 1)
    summary = Estimate(est.value, est.low, est.high, level, "spectral-slope score, bootstrap", int(scores.size))
    return QualityResult(scores, summary, "spectral slope")


def quality_vs_reference(
    images: Any, reference: Any, heldout: Any, k: int = 5, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> Estimate:
    """Median feature-space distance of held-out real images to ``reference`` over that
    of ``images`` (see :class:`QualityScorer` for the features): ≈ 1 when the images are
    as close to real ones as real held-out images are, → 0 for images unlike real ones.
    Two-sample bootstrap CI over images and held-out images.
    """
    scorer = reference if isinstance(reference, QualityScorer) else QualityScorer(k=k).fit(reference)
    d_img = scorer.distances(images)
    d_held = scorer.distances(heldout)
    require(
        d_img.size >= 2 and d_held.size >= 2,
        "quality_vs_reference needs at least 2 images and 2 held-out images",
        StatsError,
    )
    est = bootstrap(
        (d_held, d_img),
        lambda h, i: np.median(h, axis=-1) / np.median(i, axis=-1),
        n_boot=n_boot,
        level=level,
        seed=seed,
        paired=False,
        vectorized=True,
    )
    return Estimate(est.value, est.low, est.high, level, "held-out/image median NN distance, bootstrap", est.n)
