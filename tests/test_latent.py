"""Known-answer tests of vaebench.latent: radii, axes, PCA, intrinsic dimension, voids,
clustering, t-SNE and the decoded-image quality score."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats as sps
from scipy.ndimage import gaussian_filter
from threadpoolctl import threadpool_limits

from vaebench import latent as L
from vaebench.errors import StatsError
from vaebench.stats import bootstrap

FAST = settings(max_examples=30, deadline=None)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These problems are small: one BLAS/OpenMP thread is fastest, and it keeps the
    runtime stable when other processes share the (2-core) machine."""
    with threadpool_limits(1):
        yield


def embed(x: np.ndarray, dim: int, seed: int) -> np.ndarray:
    """Embed points isometrically in ``dim`` dimensions by a random orthogonal map."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, x.shape[1])))
    return x @ q.T


def trefoil(n: int, seed: int) -> np.ndarray:
    t = np.random.default_rng(seed).uniform(0, 2 * np.pi, n)
    return np.c_[np.sin(t) + 2 * np.sin(2 * t), np.cos(t) - 2 * np.cos(2 * t), -np.sin(3 * t)]


def filaments(n: int, dim: int, n_curves: int, seed: int) -> np.ndarray:
    """Points on a few smooth random closed curves (random Fourier curves) in ``dim``-D."""
    rng = np.random.default_rng(seed)
    parts = []
    harmonics = np.arange(1, 4)
    for _ in range(n_curves):
        s = rng.uniform(0, 1, n // n_curves)
        amp = rng.standard_normal((dim, 3)) / harmonics
        phase = rng.uniform(0, 2 * np.pi, (dim, 3))
        parts.append(2 * np.sum(amp * np.sin(2 * np.pi * s[:, None, None] * harmonics + phase),
                                axis=2))
    pts = np.vstack(parts)
    return pts[rng.permutation(pts.shape[0])]


# --------------------------------------------------------------------------- radii

def test_radii_hand_values_and_nan_passthrough():
    z = np.array([[3.0, 4.0], [0.0, 0.0], [-1.0, 0.0]])
    assert L.radii(z).tolist() == [5.0, 0.0, 1.0]
    r = L.radii(np.array([[np.nan, 1.0], [1.0, 0.0]]))
    assert math.isnan(r[0]) and r[1] == 1.0
    with pytest.raises(StatsError, match=r"shape \(3,\)"):
        L.radii(np.ones(3))


def test_radius_histogram_on_hand_array():
    r = np.array([0.1, 0.4, 0.5, 0.99, 1.0, 1.7, 3.2])
    edges, counts = L.radius_histogram(r)
    # bins [0,.5) [.5,1) [1,1.5) [1.5,2) [2,2.5) [2.5,3) [3,3.5), counted by hand
    assert counts.tolist() == [2, 2, 1, 1, 0, 0, 1]
    assert edges.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    edges, counts = L.radius_histogram(r, r_max=2.0)
    assert counts.tolist() == [2, 2, 1, 1] and edges[-1] == 2.0  # 3.2 is past r_max
    assert L.histogram_peak(r) == 0.25  # tie between the first two bins: the first wins
    assert L.histogram_peak(np.array([16.6, 16.7, 16.9, 12.0])) == 16.75
    assert L.histogram_peak(np.array([1e30, 1e30, 1.0])) > 1e29  # a diverged run still works
    with pytest.raises(StatsError, match="negative"):
        L.radius_histogram(np.array([-1.0, 2.0]))
    with pytest.raises(StatsError, match="bin_width=0"):
        L.radius_histogram(r, bin_width=0)
    with pytest.raises(StatsError, match="0 values"):
        L.radius_histogram(np.array([]))


@FAST
@given(hnp.arrays(np.float64, st.integers(1, 60), elements=st.floats(0, 40)),
       st.sampled_from([0.25, 0.5, 1.0]))
def test_radius_histogram_counts_everything_and_agrees_with_peak(r, width):
    edges, counts = L.radius_histogram(r, width)
    assert counts.sum() == r.size and np.allclose(np.diff(edges), width)
    i = int(np.argmax(counts))
    assert L.histogram_peak(r, width) == pytest.approx(edges[i] + width / 2)


@pytest.mark.parametrize("k", [16, 64, 256])
def test_radius_peak_of_standard_normal_is_sqrt_k_minus_1(k):
    z = np.random.default_rng(k).standard_normal((20_000, k))
    r = L.radii(z)
    est = L.radius_peak(r, n_boot=200)
    assert est.contains(math.sqrt(k - 1)), str(est)
    assert est.width < 0.4
    # the chi distribution's sd tends to 1/sqrt(2)
    sd = bootstrap(r, lambda v: v.std(axis=-1, ddof=1), n_boot=200, vectorized=True)
    assert sd.contains(sps.chi(k).std())
    assert abs(sd.value - 1 / math.sqrt(2)) < 0.03


def test_radius_peak_matches_scipy_gaussian_kde_and_is_seeded():
    r = np.sqrt(np.random.default_rng(3).chisquare(16, 500))
    kde = sps.gaussian_kde(r)  # Scott's bandwidth, as radius_peak
    grid = np.linspace(r.min(), r.max(), 100_001)
    mode = grid[np.argmax(kde(grid))]
    est = L.radius_peak(r, n_boot=50)
    h = L.kde_bandwidth(r)
    assert h == pytest.approx(kde.factor * r.std(ddof=1))
    assert abs(est.value - mode) < h / 20
    assert L.radius_peak(r, n_boot=50) == est
    assert L.radius_peak(r, n_boot=50, bandwidth="silverman").value != est.value
    with pytest.raises(StatsError, match="bandwidth='wide'"):
        L.radius_peak(r, bandwidth="wide")
    with pytest.raises(StatsError, match="5 values"):
        L.radius_peak(r[:5])


def test_fraction_in():
    r = np.array([11.0, 12.5, 14.0, 16.0, 19.0, 19.5, 25.0, 30.0])
    est = L.fraction_in(r, 14, 19)
    assert est.value == 3 / 8 and est.low < 3 / 8 < est.high
    r = L.radii(np.random.default_rng(4).standard_normal((4000, 256)))
    assert L.fraction_in(r, 12, 24).low > 0.99


# --------------------------------------------------------------------------- axes

def test_axis_table_on_hand_array():
    z = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 9.0]])
    t = L.axis_table(z)
    assert t["mean"].tolist() == [3.0, 5.0]
    assert t["sd"] == pytest.approx([2.0, math.sqrt(13.0)])
    assert t["second_moment"] == pytest.approx([35 / 3, 101 / 3])
    assert t["min"].tolist() == [1.0, 2.0] and t["max"].tolist() == [5.0, 9.0]
    assert t["mean_se"] == pytest.approx(t["sd"] / math.sqrt(3))


def test_second_moment_sum_and_broad_axes():
    rng = np.random.default_rng(5)
    z = rng.standard_normal((5000, 64))
    m = L.second_moment_sum(z)
    assert m.contains(64.0) and m.scale(1 / 64).inside(0.97, 1.03)
    z[:, 3] *= 2.0   # broad
    z[:, 5] += 1.5   # off-centre
    z[:, 7] *= 1.3   # not broad enough
    assert L.broad_axes(z) == [3, 5]
    with pytest.raises(StatsError, match="sd_threshold=-1"):
        L.broad_axes(z, sd_threshold=-1)


# --------------------------------------------------------------------------- PCA

def test_pca_spectrum_known_covariance():
    rng = np.random.default_rng(6)
    var = np.ones(16)
    var[:2] = [9.0, 3.0]
    z = rng.standard_normal((20_000, 16)) * np.sqrt(var)
    p = L.pca_spectrum(z, n_boot=100)
    assert p["ratio12"].contains(3.0)
    assert p["eigenvalues"] == pytest.approx(np.linalg.eigvalsh(np.cov(z.T))[::-1])
    assert p["explained_variance_ratio"].sum() == pytest.approx(1.0)
    # diag(9, 1, 1, ...): lambda2 is the largest of 15 noise eigenvalues, biased up a little
    var[1] = 1.0
    p = L.pca_spectrum(rng.standard_normal((20_000, 16)) * np.sqrt(var), n_boot=100)
    assert p["ratio12"].inside(9 * 0.9, 9 * 1.02)
    assert p["flatness_after"].value > 0.99  # flat after the first component


def test_pca_flatness_separates_flat_from_falling_spectra():
    rng = np.random.default_rng(7)
    flat = L.pca_spectrum(rng.standard_normal((3000, 32)), n_boot=50)["flatness_after"]
    falling = L.pca_spectrum(rng.standard_normal((3000, 32)) * 0.8 ** np.arange(32),
                             n_boot=50)["flatness_after"]
    assert flat.low > 0.95 and falling.high < 0.5
    assert L.spectral_flatness([2.0, 2.0, 2.0]) == pytest.approx(1.0)
    assert L.pca_spectrum(np.ones((10, 12)) + np.eye(10, 12), k=11)["flatness_after"] is None


# --------------------------------------------------------------------------- intrinsic dimension

@pytest.fixture(scope="module")
def curve_256():
    return embed(trefoil(2000, 0), 256, 0)


@pytest.fixture(scope="module")
def gauss10_256():
    return embed(np.random.default_rng(1).standard_normal((3000, 10)), 256, 1)


@pytest.mark.parametrize("method", ["mle", "fit"])
def test_twonn_closed_curve_is_one_dimensional(curve_256, method):
    est = L.twonn(curve_256, method=method, n_boot=200)
    assert est.inside(0.85, 1.15), str(est)


@pytest.mark.parametrize("method", ["mle", "fit"])
def test_twonn_ten_dimensional_gaussian(gauss10_256, method):
    est = L.twonn(gauss10_256, method=method, n_boot=200)
    # TwoNN reads a Gaussian (non-uniform density) slightly low at N = 3000
    assert 8.5 <= est.value <= 11.5, str(est)


def test_mle_dimension_curve_and_gaussian(curve_256, gauss10_256):
    assert L.mle_dimension(curve_256, n_boot=200).inside(0.85, 1.15)
    est = L.mle_dimension(gauss10_256, k=10, n_boot=200)
    assert 8.5 <= est.value <= 11.5, str(est)


def test_twonn_ignores_duplicates_and_similarity_transforms(curve_256):
    base = L.twonn(curve_256)
    doubled = L.twonn(np.vstack([curve_256, curve_256[:500]]))
    assert doubled.value == pytest.approx(base.value)
    moved = L.twonn(3.7 * embed(curve_256, 300, 9) + 5.0)
    assert moved.value == pytest.approx(base.value, rel=1e-6)


def test_intrinsic_dimension_errors():
    with pytest.raises(StatsError, match="2 points"):
        L.twonn(np.random.default_rng(0).normal(size=(2, 5)))
    with pytest.raises(StatsError, match="distinct points"):
        L.twonn(np.ones((10, 3)))
    with pytest.raises(StatsError, match="2-D"):
        L.twonn(np.arange(10.0))
    with pytest.raises(StatsError, match="NaN"):
        L.mle_dimension(np.array([[0.0, np.nan]] * 30))
    with pytest.raises(StatsError, match="k=2"):
        L.mle_dimension(np.random.default_rng(0).normal(size=(30, 3)), k=2)
    with pytest.raises(StatsError, match="discard=0.95"):
        L.twonn(np.random.default_rng(0).normal(size=(30, 3)), discard=0.95)


# --------------------------------------------------------------------------- Gaussian null, voids

def test_gaussian_null_matches_mean_and_covariance():
    rng = np.random.default_rng(8)
    a = rng.standard_normal((6, 6))
    z = rng.multivariate_normal(np.arange(6.0), a @ a.T, 4000)
    g = L.gaussian_null(z, n=20_000, seed=1)
    assert g.shape == (20_000, 6)
    assert np.allclose(g.mean(axis=0), z.mean(axis=0), atol=0.1)
    assert np.allclose(np.cov(g.T), np.cov(z.T), atol=0.15 * np.abs(np.cov(z.T)).max())
    assert np.array_equal(L.gaussian_null(z, seed=2), L.gaussian_null(z, seed=2))
    assert L.gaussian_null(z).shape == z.shape


def test_void_probe_gaussian_null_reads_one():
    rng = np.random.default_rng(9)
    a = rng.standard_normal((64, 64)) / 8
    z = rng.multivariate_normal(np.zeros(64), a @ a.T + 0.5 * np.eye(64), 2500)
    res = L.void_probe(z[:2000], z[2000:], n_boot=300)
    assert res.ratio.contains(1.0) or res.ratio.inside(0.85, 1.15), str(res.ratio)
    assert res.void_fraction.high < 0.05
    json.dumps(res.to_dict())


def test_void_probe_filaments_are_full_of_voids():
    f = filaments(2500, 64, 4, seed=10)
    res = L.void_probe(f[:2000], f[2000:], n_boot=300)
    assert res.ratio.low > 3, str(res.ratio)
    assert res.void_fraction.low > 0.5
    # the contrast with the matched null, as C6 asks: local dimension far below the null's
    assert L.twonn(f[:2000]).high < 0.3 * L.twonn(L.gaussian_null(f[:2000])).low


def test_void_probe_options_and_errors():
    rng = np.random.default_rng(11)
    z = rng.standard_normal((600, 8))
    box = L.void_probe(z[:500], z[500:], probes="box", n_boot=100)
    assert box.probes == "box" and box.ratio.low > 1  # a box is larger than the cloud
    given_pts = L.void_probe(z[:500], z[500:], probes=rng.standard_normal((50, 8)), n_boot=100)
    assert given_pts.probe_nn.size == 50
    with pytest.raises(StatsError, match="coincide"):
        L.void_probe(z, z[:100])
    with pytest.raises(StatsError, match="d=3"):
        L.void_probe(z, rng.standard_normal((10, 3)))
    with pytest.raises(StatsError, match="probes='grid'"):
        L.void_probe(z[:500], z[500:], probes="grid")


# --------------------------------------------------------------------------- clustering, t-SNE

def blobs(n_blobs: int, per: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10, 10, (n_blobs, dim))
    return np.vstack([c + 0.3 * rng.standard_normal((per, dim)) for c in centres])


def test_inertia_curve_and_elbow_find_the_blobs():
    z = blobs(6, 100, 5, seed=12)
    curve = L.inertia_curve(z, ks=range(2, 13), seed=0)
    assert curve["normalised"][0] == 1.0 and curve["k"].tolist() == list(range(2, 13))
    assert curve["inertia"][4] < 0.05 * curve["inertia"][0]  # k = 6 explains the blobs
    e = L.elbow(curve["k"], curve["normalised"])
    assert e["k"] == 6 and e["strength"] > 0.4
    straight = L.elbow([1, 2, 3, 4], [4.0, 3.0, 2.0, 1.0])
    assert straight["strength"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(StatsError, match="increasing"):
        L.inertia_curve(z, ks=[4, 2])
    with pytest.raises(StatsError, match="exceeds"):
        L.inertia_curve(z[:5], ks=[2, 10])


def test_gap_statistic_picks_the_number_of_blobs():
    z = blobs(4, 60, 3, seed=13)
    gap = L.gap_statistic(z, ks=range(1, 8), n_refs=5, seed=0)
    assert gap["k_opt"] == 4
    assert gap["gap"].shape == gap["sd"].shape == (7,)
    uniform = np.random.default_rng(14).uniform(size=(240, 3))
    assert L.gap_statistic(uniform, ks=range(1, 6), n_refs=5, reference="box")["k_opt"] == 1


def test_tsne_embedding_subsamples_and_is_seeded():
    z = blobs(3, 80, 10, seed=15)
    a = L.tsne_embedding(z, perplexity=20, max_points=150, seed=1, max_iter=300)
    b = L.tsne_embedding(z, perplexity=20, max_points=150, seed=1, max_iter=300)
    assert a["embedding"].shape == (150, 2) and a["index"].shape == (150,)
    assert np.array_equal(a["index"], b["index"]) and np.allclose(a["embedding"], b["embedding"])
    with pytest.raises(StatsError, match="perplexity=300"):
        L.tsne_embedding(z, perplexity=300)


# --------------------------------------------------------------------------- image quality

def face_like(n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """Smooth procedural face-like images: shaded background, a soft skin ellipse with a
    lighting gradient, two eyes and a mouth. float32 (n, size, size, 3) in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = (np.mgrid[0:size, 0:size] / (size - 1) * 2 - 1)

    def soft_mask(cx, cy, ax, ay, softness):
        d = ((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2
        return (1 / (1 + np.exp(np.clip((d - 1) / softness, -50, 50))))[..., None]

    out = np.empty((n, size, size, 3), np.float32)
    for i in range(n):
        gx, gy = rng.uniform(-0.15, 0.15, 2)
        img = rng.uniform(0.1, 0.9, 3) + (gx * xx + gy * yy)[..., None]
        cx, cy = rng.normal(0, 0.08, 2)
        shade = 1 + 0.25 * (xx * rng.uniform(-1, 1) - 0.5 * yy)
        skin = np.array([0.85, 0.65, 0.5]) * rng.uniform(0.5, 1.1) * shade[..., None]
        m = soft_mask(cx, cy, rng.uniform(0.45, 0.6), rng.uniform(0.6, 0.8), 0.08)
        img = img * (1 - m) + m * skin
        eye = rng.uniform(0.0, 0.3, 3)
        for side in (-1, 1):
            m = soft_mask(cx + side * rng.uniform(0.18, 0.26), cy - rng.uniform(0.12, 0.22),
                          0.09, 0.06, 0.15)
            img = img * (1 - m) + m * eye
        m = soft_mask(cx, cy + rng.uniform(0.3, 0.42), rng.uniform(0.12, 0.22), 0.05, 0.2)
        img = img * (1 - m) + m * np.array([0.6, 0.2, 0.2])
        out[i] = np.clip(img, 0, 1)
    return out


@pytest.fixture(scope="module")
def image_sets():
    rng = np.random.default_rng(16)
    reference, heldout = face_like(400, seed=0), face_like(150, seed=1)
    return {
        "reference": reference,
        "heldout": heldout,
        "noise": rng.random((100, 32, 32, 3)).astype(np.float32),
        "blur": gaussian_filter(heldout, sigma=(0, 3, 3, 0)),
        "constant": np.broadcast_to(rng.random((50, 1, 1, 3)), (50, 32, 32, 3)).astype(np.float32),
        "shuffled": heldout.reshape(150, -1, 3)[:, rng.permutation(1024)].reshape(heldout.shape),
    }


@pytest.fixture(scope="module")
def scorer(image_sets):
    return L.QualityScorer().fit(image_sets["reference"])


def test_quality_scorer_real_high_garbage_low(image_sets, scorer):
    held = scorer.result(image_sets["heldout"], n_boot=300)
    assert held.summary.contains(1.0) or held.summary.low > 0.8, str(held.summary)
    # held-out real images get uniform conformal p-values
    assert sps.kstest(held.scores, "uniform").pvalue > 0.001
    for name in ("noise", "blur", "constant", "shuffled"):
        est = scorer.score(image_sets[name], n_boot=300)
        assert est.high < 0.1, f"{name}: {est}"
        assert np.mean(scorer.scores(image_sets[name]) > 0.05) < 0.05


def test_quality_vs_reference_ratio(image_sets, scorer):
    held = L.quality_vs_reference(image_sets["heldout"][:75], scorer, image_sets["heldout"][75:],
                                  n_boot=300)
    assert held.contains(1.0)
    for name in ("noise", "blur", "constant"):
        bad = L.quality_vs_reference(image_sets[name], scorer, image_sets["heldout"], n_boot=300)
        assert bad.high < 0.5, f"{name}: {bad}"


def test_reference_free_quality_from_spectral_slope(image_sets):
    real = L.image_quality(image_sets["heldout"], n_boot=300)
    assert real.summary.low > 0.6, str(real.summary)
    for name in ("noise", "blur", "constant"):
        bad = L.image_quality(image_sets[name], n_boot=300)
        assert bad.summary.high < 0.1, f"{name}: {bad.summary}"
    via_reference = L.image_quality(image_sets["noise"], reference=image_sets["reference"])
    assert via_reference.method == "reference typicality" and via_reference.summary.high < 0.1


@pytest.mark.parametrize("alpha", [0.0, 2.0, 3.0])
def test_spectral_slope_recovers_power_law_exponent(alpha):
    rng = np.random.default_rng(17)
    size = 64
    f = np.sqrt(np.fft.fftfreq(size)[:, None] ** 2 + np.fft.fftfreq(size)[None, :] ** 2)
    f[0, 0] = 1.0
    amp = f ** (-alpha / 2)
    imgs = []
    for _ in range(20):
        field = np.real(np.fft.ifft2(amp * np.exp(2j * np.pi * rng.random((size, size)))))
        field = (field - field.min()) / (field.max() - field.min())
        imgs.append(np.repeat(field[..., None], 3, axis=2))
    slopes = L.spectral_slope(np.array(imgs, dtype=np.float32))
    assert abs(np.median(slopes) - alpha) < 0.35


def test_image_quality_errors(image_sets, scorer):
    with pytest.raises(StatsError, match=r"shape \(32, 32, 3\)"):
        L.image_quality(image_sets["heldout"][0])
    with pytest.raises(StatsError, match="scale them to"):
        L.image_quality(image_sets["heldout"] * 255)
    with pytest.raises(StatsError, match="not fitted"):
        L.QualityScorer().score(image_sets["heldout"])
    with pytest.raises(StatsError, match="reference was"):
        scorer.score(np.zeros((3, 16, 16, 3), np.float32))
