"""C6 — an AE's latent space is filamentary, with voids ("curse of high dimensionality II",
and post XIII).

Claim (quotes). "Curse II": "The “meaningful” z-points for our CelebA data obviously get
positioned on long, very thin and basically one-dimensional filaments which surround voids.
And the voids are relatively large regarding their area/volume. [...] Whenever you chose a
randomly positioned z-point the chance that you end up in an unpopulated region of the
z-space or in a void and not on a filament is extremely big." "There is one dominant
component and the importance smooths out to an almost constant value after the first 10
components." Post XIII: "A VAE with a tiny KL-loss will show the same fragmentation."

Posts' figures (z_dim 256, 170,000 CelebA images; curse II's figures): per-axis densities
mostly Gaussian at 0; PCA explained-variance plot with one dominant component, flat after
≈ 10; scatter plots of the (PC1, PC2) plane at full extent and zoomed to squares of side 5,
…, 0.5 ("(−0.25, −0.25) … (0.25, 0.25)") around the centre showing thin curved lines around
voids; the same in PCA planes (1, 18) and (8, 35) and in the raw axes (52, 221); t-SNE
with perplexity 30 / early exaggeration 12 and 10 / 16 showing islands and gaps (also post
XIII). No number is given for any of these: the test turns the pictures into statistics
against a null that has no filaments.

Models: the AE of C1 (``scale.ae()``, seed ``scale.seeds[0]``; latent key ``'z'``) and the
VAE of C7 (``scale.vae(fact=5.0)``, same seed), both encoded on ``scale.n_analysis``
training images; held-out points are the encoded TEST split. For the VAE the checks use
``'mu'``, the encoder's deterministic map: the sampled ``z = mu + σ·ε`` adds Gaussian noise
of the posterior width, which fills voids by construction and would make the contrast with
the AE trivially favourable; the ``'z'`` numbers are shown as statistics. The tiny-KL VAE
of C1 (``scale.vae()``, ``'mu'``) is shown too (the posts: "shows the same"), without a vote.

The null: N(m̂, Σ̂) fitted to the same latents (``latent.gaussian_null``), with the same
number of points — it has the data's mean, covariance (so its PCA spectrum) and radius
scale, and no filaments or voids. Every geometric statistic is compared with the same
statistic on the null, never with an absolute value, because in 256 dimensions with 10⁴
points the estimators themselves are biased (TwoNN finds ≈ 80, not 256, for the null).

Statistics and tolerances (fixed before any run, never tuned to pass):

- Intrinsic dimension ratio: TwoNN (censored MLE, ``latent.twonn``) of the AE's latents
  over that of its null; CI from the two χ² CIs combined on the log scale (independent
  samples). Tolerance: CI below 0.5. Why: "far below" — the data fill less than half the
  dimensions a Gaussian with their covariance fills at the nearest-neighbour scale. The
  Levina–Bickel MLE (k = 20, a larger scale) is shown beside it. The posts' "basically
  one-dimensional" is not a check: at the nearest-neighbour scale of 10⁴ points a thin
  tube has the dimension of its cross-section too, so TwoNN cannot tell a string from a
  thin tube; the dimension is shown beside the posts' words.
- Void ratio (``latent.void_probe``, probes drawn from the null, as many as held-out
  points): median NN distance of probes to the training latents over that of held-out
  latents; two-sample bootstrap CI. The null itself gives ≈ 1 (shown: the null as data
  with a null held-out set). Tolerance: CI above 2. Why: "≫ 1" — a typical random point of
  the data's own Gaussian is at least twice as far from any data point as a real unseen
  point is.
- Void fraction: fraction of probes farther from the data than the 99 % quantile of the
  held-out NN distances (null ≈ 0.01). Tolerance: CI above 0.5. Why: the posts' "extremely
  big" chance to land in a void, read as weakly as possible: most random points do.
- PCA (``latent.pca_spectrum``, block bootstrap CIs): λ1/λ2, tolerance CI above 2 ("one
  dominant component": at least twice the variance of the next; sampling noise alone gives
  ≈ 1.05); flatness (geometric over arithmetic mean) of λ11 … λd, tolerance CI above 0.8
  ("almost constant after 10": a log-sd of the tail eigenvalues below ≈ 0.67; a power law
  λ_k ∝ 1/k over k = 11 … 256 gives ≈ 0.7, an isotropic sample of the same size ≈ 0.99,
  shown). This is the posts' own reading of their plot — "Most of the coordinates show
  rather similar Gaussian distributions and thus contribute in almost the same manner" —
  i.e. a tail of similar, non-negligible eigenvalues; a tail falling by orders of magnitude
  near zero would also look "constant" on their linear plot, but would not be that.
- The VAE contrast ("much closer to the null"): for the dimension ratio and for the void
  ratio, the VAE's distance from its null on the log scale, |ln ratio_VAE|, over the AE's,
  |ln ratio_AE|; Monte-Carlo CI from the log-normal approximations of the four CIs.
  Tolerance: CI below 0.5 — the VAE is less than half as far from its null as the AE.
- Shown without a vote: the inertia curves (MiniBatchKMeans, k = 2 … 78 every 4th k) and the
  gap statistic (k = 1 … 10) of the AE, its null and the VAE; t-SNE with the posts' two
  parameter sets on a subsample, AE beside its null; the posts' scatter views (PCA plane
  at full extent and zoomed, planes (1, 18) and (8, 35), the two broadest raw axes), each
  beside its null. The (PC1, PC2) zoom squares have sides 5, 2, 1, 0.5 times u = √(tr Σ̂ / d),
  the RMS per-axis sd (≈ 1 in the posts, where the squares were 5 … 0.5), so a zoom means
  the same at any latent scale; the other planes are zoomed to ± 0.5 sd of each of their
  axes (their two axes can differ in scale by orders of magnitude, where a square shows
  nothing). PCA axes are 1-based as in the posts and capped at d; raw axes are 0-based.

Scale: smoke (512 images, z_dim 32, 2 epochs — machinery only; planes (8, 35) become (8,
32)); cpu (default: 16,000 synthetic 32×32 faces, z_dim 256, 8 epochs, 10⁴ analysed
points, t-SNE on 2,000); full (the posts' sizes, 2·10⁴ analysed points, TwoNN on 10⁴). The
synthetic faces are drawn from 16 uniform generative factors, so their image manifold has
at most 16 dimensions; on them the check asks whether the AE keeps that low dimension in
its 256-dimensional latent space instead of filling it, which is the mechanism the posts
propose for CelebA.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from vaebench import experiments, latent, stats
from vaebench.record import Claim
from vaebench.stats import Estimate

CLAIM = Claim(
    id="C6",
    title="an AE's latent space is filamentary, with voids",
    quote=("The “meaningful” z-points for our CelebA data obviously get positioned on long, very thin and "
           "basically one-dimensional filaments which surround voids. [...] Whenever you chose a randomly "
           "positioned z-point the chance that you end up in an unpopulated region of the z-space or in a void "
           "and not on a filament is extremely big. [PCA:] There is one dominant component and the importance "
           "smooths out to an almost constant value after the first 10 components."),
    source=("'curse of high dimensionality II' (seeds/001_d8730745b7dc8ccb.txt: per-axis densities, PCA, "
            "zoomed PCA planes, planes (1, 18), (8, 35), raw axes (52, 221), t-SNE) and post XIII "
            "(seeds/000_73ebeab37ce6d73c.txt: t-SNE, tiny-KL VAE)"),
    posts={"PCA": "one dominant component; almost constant after ≈ 10 components",
           "PCA-plane zoom": "squares of side 5 … 0.5 at the centre: thin curved lines around voids",
           "other planes": "PCA (1, 18), (8, 35) and raw axes (52, 221): lines and voids",
           "t-SNE": "perplexity 30 / exaggeration 12 and 10 / 16: islands and gaps",
           "dimension": "basically one-dimensional filaments",
           "random points": "almost always fall into voids",
           "tiny-KL VAE": "shows the same fragmentation"},
)

DIM_RATIO_MAX = 0.5
VOID_RATIO_MIN = 2.0
VOID_FRACTION_MIN = 0.5
PCA_RATIO_MIN = 2.0
FLATNESS_MIN = 0.8
FLATNESS_AFTER = 10
CLOSER_MAX = 0.5
TWONN_POINTS = 10_000
MLE_K = 20
N_BOOT = 200
N_DRAWS = 20_000
TSNE_POINTS = 2000
TSNE_PARAMS = ((30.0, 12.0), (10.0, 16.0))  # (perplexity, early exaggeration), the posts' two sets
INERTIA_KS = tuple(range(2, 81, 4))
INERTIA_POINTS = 3000
GAP_KS = tuple(range(1, 11))
GAP_REFS = 5
GAP_POINTS = 2000
ZOOM_SIDES = (5.0, 2.0, 1.0, 0.5)
PLANES = ((1, 18), (8, 35))  # 1-based PCA axes, as in the posts
SCATTER_POINTS = 3000


# --------------------------------------------------------------------------- helpers

_finite = experiments.finite_rows


def _closer(r_vae: Estimate, r_ae: Estimate, seed: int) -> Estimate:
    """|ln r_vae| / |ln r_ae| with a Monte-Carlo CI from log-normal approximations."""
    rng = np.random.default_rng(seed)
    lv = math.log(r_vae.value) + experiments.log_se(r_vae) * rng.standard_normal(N_DRAWS)
    la = math.log(r_ae.value) + experiments.log_se(r_ae) * rng.standard_normal(N_DRAWS)
    with np.errstate(divide="ignore", invalid="ignore"):
        draws = np.abs(lv) / np.abs(la)
    draws = draws[np.isfinite(draws)]
    value = abs(math.log(r_vae.value)) / max(abs(math.log(r_ae.value)), 1e-300)
    lo, hi = np.quantile(draws, [(1 - r_ae.level) / 2, (1 + r_ae.level) / 2])
    return Estimate(value, min(lo, value), max(hi, value), r_ae.level,
                    "|ln VAE ratio| / |ln AE ratio|, Monte Carlo", r_ae.n)


def _geometry(z: np.ndarray, held: np.ndarray, seed: int, full: bool = True) -> dict:
    """Intrinsic dimension and void probes of ``z`` against its matched Gaussian null."""
    null = latent.gaussian_null(z, seed=seed + 1)
    tw = latent.twonn(z, max_points=TWONN_POINTS, seed=seed)
    tw_null = latent.twonn(null, max_points=TWONN_POINTS, seed=seed)
    out = {"null": null, "twonn": tw, "twonn_null": tw_null,
           "dim_ratio": experiments.lognormal_ratio(tw, tw_null),
           "void": latent.void_probe(z, held, seed=seed, n_boot=1000)}
    if full:
        mle = latent.mle_dimension(z, k=MLE_K, n_boot=N_BOOT, seed=seed, max_points=TWONN_POINTS)
        mle_null = latent.mle_dimension(null, k=MLE_K, n_boot=N_BOOT, seed=seed, max_points=TWONN_POINTS)
        null_held = latent.gaussian_null(z, n=held.shape[0], seed=seed + 2)
        out.update({"mle": mle, "mle_null": mle_null, "mle_ratio": experiments.lognormal_ratio(mle, mle_null),
                    "void_null": latent.void_probe(null, null_held, seed=seed, n_boot=1000),
                    "pca": latent.pca_spectrum(z, n_boot=N_BOOT, seed=seed, k=FLATNESS_AFTER)})
    return out


def _frame(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean, principal axes (columns, by falling variance) and the RMS per-axis sd u."""
    mean = z.mean(axis=0)
    cov = np.atleast_2d(np.cov(z, rowvar=False))
    lam, vec = np.linalg.eigh(cov)
    order = np.argsort(lam)[::-1]
    return mean, vec[:, order], float(math.sqrt(max(np.trace(cov), 1e-300) / z.shape[1]))


def _pair(d: int, a: int, b: int) -> tuple[int, int]:
    """0-based indices of the 1-based axes (a, b), capped at d (and kept distinct)."""
    i, j = min(a - 1, d - 1), min(b - 1, d - 1)
    if i == j:
        i = max(0, j - 1)
    return i, j


def _plane_panels(name: str, pts: dict[str, np.ndarray], i: int, j: int, unit: float | None, sides,
                  axis_name: str, centre: tuple[float, float] = (0.0, 0.0), seed: int = 0) -> list[dict]:
    """Overview and zoomed scatter panels of the plane (i, j), one panel per point set.

    With ``unit`` the zooms are squares of side ``side * unit`` drawn to equal scale (the
    posts' zoom sequence); with ``unit=None`` they are rectangles of ± side/2 sd of each
    axis around ``centre`` (a plane whose axes differ in scale by orders of magnitude has
    no informative square window).
    """
    panels = []
    base = 1 if axis_name == "PC" else 0  # PCA axes 1-based as in the posts, raw axes 0-based indices
    first = next(iter(pts.values()))
    sds = np.std(first[:, [i, j]], axis=0, ddof=1)
    for side in [None, *sides]:
        for label, p in pts.items():
            kw = {}
            title = f"{label}: {name}, full extent"
            if side is not None:
                hx, hy = (side * unit / 2,) * 2 if unit is not None else tuple(side * sds / 2)
                kw = {"xlim": (centre[0] - hx, centre[0] + hx), "ylim": (centre[1] - hy, centre[1] + hy)}
                title = (f"{label}: {name}, side {side:g}u = {side * unit:.3g}" if unit is not None else
                         f"{label}: {name}, ± {side / 2:g} sd per axis")
            panels.append(experiments.scatter_panel(
                title, {label: (p[:, i], p[:, j])}, max_points=SCATTER_POINTS if side is None else 5000,
                seed=seed, equal=side is not None and unit is not None, xlabel=f"{axis_name} {i + base}",
                ylabel=f"{axis_name} {j + base}", size=1.0 if side is None else 3.0, **kw))
    return panels


def _nn_hist(title: str, sets: dict[str, np.ndarray]) -> dict:
    top = max(float(np.quantile(v, 0.995)) for v in sets.values())
    edges = np.linspace(0.0, top, 61)
    return {"type": "hist", "title": title, "xlabel": "distance to the nearest training latent",
            "ylabel": "fraction", "series": [
                {"label": k, "edges": experiments.short_floats(edges, 5),
                 "counts": experiments.short_floats(np.histogram(v, edges)[0] / v.size)}
                for k, v in sets.items()]}


# --------------------------------------------------------------------------- the test

@pytest.mark.gpu
def test_c6_ae_latent_space_is_filamentary(claim, scale, trained, vaebench_session):
    s0 = scale.seeds[0]
    d = scale.z_dim
    dat, tr = scale.data, scale.train
    claim.describe_scale(scale=scale.name, data=f"{dat.source} n_train={dat.n_train} n_test={dat.n_test}",
                         image_size=dat.image_size, z_dim=d, epochs=tr.epochs, batch_size=tr.batch_size,
                         seeds=[s0], n_analysis=scale.n_analysis, heldout="test split",
                         models="AE (scale.ae()), VAE fact 5 ('mu'), tiny-KL VAE fact 1e-5 ('mu', no vote)")
    ae, vae, tiny = trained.many([(scale.ae(), s0), (scale.vae(fact=5.0), s0), (scale.vae(), s0)])
    # Session.latents draws each split's VAE epsilon from its own seed, so held-out sampled z
    # does not sit next to a training twin
    lat = {name: (vaebench_session.latents(m), vaebench_session.latents(m, split="test"))
           for name, m in (("ae", ae), ("vae", vae), ("tiny", tiny))}
    z_ae = _finite(lat["ae"][0]["z"], claim, "AE train")
    h_ae = _finite(lat["ae"][1]["z"], claim, "AE test")
    mu_vae = _finite(lat["vae"][0]["mu"], claim, "VAE mu train")
    h_vae = _finite(lat["vae"][1]["mu"], claim, "VAE mu test")

    # the analysis runs with single-threaded BLAS/OpenMP: on these small arrays thread pools cost more
    # than they save, and on a busy 2-core machine MiniBatchKMeans was 10-40x slower with them
    with threadpool_limits(limits=1):
        _analyse(claim, scale, d, dat, z_ae, h_ae, mu_vae, h_vae, lat)


def _analyse(claim, scale, d, dat, z_ae, h_ae, mu_vae, h_vae, lat) -> None:
    g_ae = _geometry(z_ae, h_ae, seed=100)
    g_vae = _geometry(mu_vae, h_vae, seed=200)
    g_vz = _geometry(_finite(lat["vae"][0]["z"], claim, "VAE z train"),
                     _finite(lat["vae"][1]["z"], claim, "VAE z test"), seed=300, full=False)
    g_tiny = _geometry(_finite(lat["tiny"][0]["mu"], claim, "tiny-KL VAE mu train"),
                       _finite(lat["tiny"][1]["mu"], claim, "tiny-KL VAE mu test"), seed=400, full=False)
    pca = g_ae["pca"]

    # ---- checks: the AE against its null
    claim.check(stats.check_below(
        "AE intrinsic dimension / matched Gaussian's (TwoNN)", g_ae["dim_ratio"], DIM_RATIO_MAX,
        tolerance=f"CI below {DIM_RATIO_MAX}: fills less than half the dimensions of its own Gaussian",
        posts="basically one-dimensional filaments (no number)"))
    claim.check(stats.check_above(
        "AE void ratio (median NN distance: null probes / held-out latents)", g_ae["void"].ratio, VOID_RATIO_MIN,
        tolerance=f"CI above {VOID_RATIO_MIN} ('≫ 1'; the null gives ≈ 1)",
        posts="random z-points almost always fall into voids"))
    claim.check(stats.check_above(
        "AE void fraction (probes beyond the held-out 99 % NN distance)", g_ae["void"].void_fraction,
        VOID_FRACTION_MIN, tolerance=f"CI above {VOID_FRACTION_MIN} (most probes; the null gives ≈ 0.01)",
        posts="chance to end up in a void 'extremely big'"))
    claim.check(stats.check_above(
        "AE PCA λ1/λ2", pca["ratio12"], PCA_RATIO_MIN,
        tolerance=f"CI above {PCA_RATIO_MIN} (one dominant component)", posts="one dominant component"))
    if pca["flatness_after"] is not None:
        claim.check(stats.check_above(
            f"AE PCA flatness of λ{FLATNESS_AFTER + 1}…λ{d}", pca["flatness_after"], FLATNESS_MIN,
            tolerance=f"CI above {FLATNESS_MIN} (geometric/arithmetic mean; λ_k ∝ 1/k gives ≈ 0.7)",
            posts="almost constant after the first 10 components"))
    else:
        claim.note(f"z_dim {d} < {FLATNESS_AFTER + 2}: no PCA tail to judge")

    # ---- checks: the VAE (fact 5, mu) sits much closer to its null
    closer_dim = _closer(g_vae["dim_ratio"], g_ae["dim_ratio"], seed=1)
    closer_void = _closer(g_vae["void"].ratio, g_ae["void"].ratio, seed=2)
    claim.check(stats.check_below(
        "VAE (fact 5, mu) vs AE: |ln dimension ratio|, VAE over AE", closer_dim, CLOSER_MAX,
        tolerance=f"CI below {CLOSER_MAX}: the VAE less than half as far from its null as the AE",
        posts="(C6 design) a VAE at fact 5 sits much closer to the null"))
    claim.check(stats.check_below(
        "VAE (fact 5, mu) vs AE: |ln void ratio|, VAE over AE", closer_void, CLOSER_MAX,
        tolerance=f"CI below {CLOSER_MAX}", posts="(C6 design) a VAE at fact 5 sits much closer to the null"))

    # ---- statistics without a vote
    st = claim.statistic
    st("AE TwoNN dimension", g_ae["twonn"], posts="basically one-dimensional")
    st("AE's null TwoNN dimension", g_ae["twonn_null"])
    if dat.source == "synthetic":
        from vaebench.data import N_FACTORS
        st("synthetic faces: generative factors (upper bound of the data manifold's dimension)", float(N_FACTORS))
    st(f"AE dimension ratio, Levina–Bickel MLE k={MLE_K}", g_ae["mle_ratio"],
       note=f"AE {g_ae['mle']}; null {g_ae['mle_null']}")
    st("null calibration: void ratio of the null (null data, null held-out)", g_ae["void_null"].ratio,
       note="≈ 1 by construction")
    st("null calibration: void fraction of the null", g_ae["void_null"].void_fraction, note="≈ 0.01")
    st("VAE (fact 5, mu) dimension ratio (TwoNN)", g_vae["dim_ratio"],
       note=f"VAE {g_vae['twonn']}; null {g_vae['twonn_null']}")
    st(f"VAE (fact 5, mu) dimension ratio, MLE k={MLE_K}", g_vae["mle_ratio"])
    st("VAE (fact 5, mu) void ratio", g_vae["void"].ratio)
    st("VAE (fact 5, mu) void fraction", g_vae["void"].void_fraction)
    st("VAE (fact 5, sampled z) dimension ratio (TwoNN)", g_vz["dim_ratio"])
    st("VAE (fact 5, sampled z) void ratio", g_vz["void"].ratio)
    st("tiny-KL VAE (fact 1e-5, mu) dimension ratio (TwoNN)", g_tiny["dim_ratio"], posts="same as the AE")
    st("tiny-KL VAE (fact 1e-5, mu) void ratio", g_tiny["void"].ratio, posts="same as the AE")
    st("VAE (fact 5, mu) PCA λ1/λ2", g_vae["pca"]["ratio12"])
    iso = np.linalg.eigvalsh(np.cov(np.random.default_rng(5).standard_normal(z_ae.shape), rowvar=False))[::-1]
    if d >= FLATNESS_AFTER + 2:
        st("isotropic Gaussian of the same size: flatness of the PCA tail",
           latent.spectral_flatness(iso[FLATNESS_AFTER:]), note="the ceiling sampling noise leaves")

    # ---- clustering: inertia curves and the gap statistic
    ks_in = [k for k in INERTIA_KS if k <= min(INERTIA_POINTS, z_ae.shape[0])]
    curves, gaps = {}, {}
    for label, pts in (("AE", z_ae), ("AE's null", g_ae["null"]), ("VAE mu", mu_vae), ("VAE's null", g_vae["null"])):
        curves[label] = latent.inertia_curve(pts, ks=ks_in, seed=0, n_init=1, max_points=INERTIA_POINTS)
    for label, pts in (("AE", z_ae), ("AE's null", g_ae["null"]), ("VAE mu", mu_vae)):
        gaps[label] = latent.gap_statistic(pts, ks=GAP_KS, n_refs=GAP_REFS, seed=0, n_init=1, max_points=GAP_POINTS)
        el = latent.elbow(curves[label]["k"], curves[label]["normalised"])
        st(f"{label}: gap-statistic k_opt", float(gaps[label]["k_opt"]),
           note=f"inertia elbow k = {el['k']:.0f}, strength {el['strength']:.2f} (0 = none)")

    # ---- views: per-axis densities
    tab_ae = latent.axis_table(z_ae)   # also picks the raw axes drawn below
    axes, labels = experiments.axes_to_show(tab_ae, n_typical=2)
    vaxes, vlabels = experiments.axes_to_show(latent.axis_table(mu_vae), n_typical=2)
    # the posts' bins of 0.25 are for axes of sd ≈ 1; the VAE's mu is drawn at the same resolution relative
    # to its own scale (RMS per-axis sd)
    vbin = float(np.clip(0.25 * math.sqrt(np.var(mu_vae, axis=0).mean() / max(np.var(z_ae, axis=0).mean(), 1e-300)),
                         1e-4, 0.25))
    claim.plot("Per-axis densities (posts: most Gaussian at 0, a few broad off-centre axes)",
               experiments.axis_density_panel("AE: broadest, most off-centre and typical axes (bins of 0.25)", z_ae, axes,
                                              labels=labels),
               experiments.axis_density_panel(f"VAE fact 5 (mu): same choice, bins of {vbin:.2g} (scaled by RMS sd)",
                                              mu_vae, vaxes, bin_width=vbin, labels=vlabels), ncols=2)

    # ---- PCA spectrum
    def spectrum(label, p, band=False):
        lam = p["eigenvalues"]
        tot = float(lam.sum())
        s = {"label": label, "x": list(range(1, lam.size + 1)),
             "y": experiments.short_floats(np.maximum(lam, 1e-12) / tot, relative=True)}
        if band:
            s["low"] = experiments.short_floats(np.maximum(p["eigenvalue_low"], 1e-12) / tot, relative=True)
            s["high"] = experiments.short_floats(np.maximum(p["eigenvalue_high"], 1e-12) / tot, relative=True)
        return s
    spec = {"type": "lines", "title": "PCA explained variance ratio", "xlabel": "component", "ylabel": "ratio",
            "logy": True, "series": [spectrum("AE (95 % CI band)", pca, True), spectrum("VAE fact 5 (mu)", g_vae["pca"]),
                                     {"label": "isotropic Gaussian", "x": list(range(1, d + 1)),
                                      "y": experiments.short_floats(iso / iso.sum(), relative=True), "linestyle": ":"}],
            "vlines": [{"x": FLATNESS_AFTER + 0.5, "label": f"{FLATNESS_AFTER}"}]}
    head = min(d, 40)
    spec_lin = {"type": "lines", "title": f"first {head} components (linear, as the posts plot it)",
                "xlabel": "component", "ylabel": "ratio",
                "series": [{**spectrum("AE", pca), "x": list(range(1, head + 1)),
                            "y": experiments.short_floats(pca["explained_variance_ratio"][:head])}]}
    claim.plot("PCA spectrum (posts: one dominant component, almost constant after ≈ 10)", spec, spec_lin, ncols=2)

    # ---- the posts' scatter views, each beside the null
    mean, vec, unit = _frame(z_ae)
    pc = {"AE": (z_ae - mean) @ vec, "null": (g_ae["null"] - mean) @ vec}
    claim.plot(f"PCA plane (1, 2) of the AE, full extent and zoomed to squares of side 5, 2, 1, 0.5 u "
               f"(u = RMS axis sd = {unit:.3g}) — top row AE, bottom row its Gaussian null",
               *_plane_panels("PCA plane (1, 2)", {"AE": pc["AE"]}, 0, 1, unit, ZOOM_SIDES, "PC"),
               *_plane_panels("PCA plane (1, 2)", {"null": pc["null"]}, 0, 1, unit, ZOOM_SIDES, "PC"), ncols=5,
               caption="posts: thin curved lines around voids at every zoom; the null shows what no structure looks like")
    plane_panels = []
    for a, b in PLANES:
        i, j = _pair(d, a, b)
        plane_panels += _plane_panels(f"PCA ({i + 1}, {j + 1})", pc, i, j, None, (1.0,), "PC")
    claim.plot("PCA planes (1, 18) and (8, 35) (capped at z_dim), full extent and the central ± 0.5 sd of each "
               "axis; AE beside its null", *plane_panels, ncols=4)
    a1, a2 = (int(k) for k in np.argsort(-tab_ae["sd"])[:2])
    raw = {"AE": z_ae, "null": g_ae["null"]}
    claim.plot(f"Raw latent axes {a1} and {a2} (the two broadest; posts: axes 52 and 221), full extent and the "
               "central ± 0.5 sd of each axis; AE beside its null",
               *_plane_panels(f"axes ({a1}, {a2})", raw, a1, a2, None, (1.0,), "axis",
                              centre=(float(mean[a1]), float(mean[a2]))), ncols=4)

    # ---- t-SNE with the posts' two parameter sets, AE beside its null
    n_tsne = min(TSNE_POINTS, z_ae.shape[0])
    tsne_panels = []
    for perp, exag in TSNE_PARAMS:
        perp = min(perp, (n_tsne - 1) / 3)
        for label, pts in (("AE", z_ae), ("null", g_ae["null"])):
            emb = latent.tsne_embedding(pts, perplexity=perp, early_exaggeration=exag, seed=0, max_points=n_tsne)
            e = emb["embedding"]
            tsne_panels.append(experiments.scatter_panel(
                f"{label}: t-SNE perplexity {perp:g}, exaggeration {exag:g} (KL {emb['kl_divergence']:.2f})",
                {label: (e[:, 0], e[:, 1])}, max_points=5000, size=2.0))
            st(f"t-SNE KL divergence, {label}, perplexity {perp:g} / exaggeration {exag:g}", emb["kl_divergence"])
    claim.plot(f"t-SNE of {n_tsne} latents (posts: islands and gaps), AE beside its null", *tsne_panels, ncols=4)

    # ---- the VAE: PCA plane beside its null
    vmean, vvec, vunit = _frame(mu_vae)
    vpc = {"VAE mu": (mu_vae - vmean) @ vvec, "null": (g_vae["null"] - vmean) @ vvec}
    claim.plot(f"VAE fact 5 (mu): PCA plane (1, 2), full extent and sides 5u, 1u (u = {vunit:.3g}); "
               "VAE beside its null", *_plane_panels("PCA plane (1, 2)", vpc, 0, 1, vunit, (5.0, 1.0), "PC"), ncols=6)

    # ---- void probes and clustering
    claim.plot("Void probes: nearest-neighbour distance to the training latents",
               _nn_hist(f"AE (ratio {g_ae['void'].ratio.value:.2f})",
                        {"probes from the null": g_ae["void"].probe_nn, "held-out latents": g_ae["void"].heldout_nn}),
               _nn_hist(f"null as data (ratio {g_ae['void_null'].ratio.value:.2f})",
                        {"probes": g_ae["void_null"].probe_nn, "held-out null points": g_ae["void_null"].heldout_nn}),
               _nn_hist(f"VAE fact 5, mu (ratio {g_vae['void'].ratio.value:.2f})",
                        {"probes from the null": g_vae["void"].probe_nn, "held-out latents": g_vae["void"].heldout_nn}),
               ncols=3)
    inertia = {"type": "lines", "title": "MiniBatchKMeans inertia / inertia at k = 2", "xlabel": "k",
               "ylabel": "normalised inertia",
               "series": [{"label": k, "x": v["k"], "y": experiments.short_floats(v["normalised"])}
                          for k, v in curves.items()]}
    gap = {"type": "lines", "title": "gap statistic (± s_k)", "xlabel": "k", "ylabel": "gap",
           "series": [{"label": f"{k} (k_opt {v['k_opt']})", "x": v["k"], "y": experiments.short_floats(v["gap"]),
                       "low": experiments.short_floats(v["gap"] - v["sd"]),
                       "high": experiments.short_floats(v["gap"] + v["sd"])} for k, v in gaps.items()]}
    claim.plot("Clustering: inertia curves and gap statistic", inertia, gap, ncols=2)

    # ---- summary in words, from the numbers
    claim.note(
        f"AE: TwoNN dimension {g_ae['twonn'].value:.1f} against {g_ae['twonn_null'].value:.1f} for its Gaussian "
        f"(ratio {g_ae['dim_ratio'].value:.2f}); null probes lie {g_ae['void'].ratio.value:.2f}× farther from the "
        f"data than held-out latents (the null itself: {g_ae['void_null'].ratio.value:.2f}×), "
        f"{100 * g_ae['void'].void_fraction.value:.0f} % of them beyond the held-out 99 % distance. "
        f"VAE fact 5 (mu): dimension ratio {g_vae['dim_ratio'].value:.2f}, void ratio {g_vae['void'].ratio.value:.2f}; "
        f"tiny-KL VAE: {g_tiny['dim_ratio'].value:.2f} and {g_tiny['void'].ratio.value:.2f}.")
