"""C6 — an AE's latent space is filamentary, with voids ("curse of high dimensionality II",
and post XIII).

Claim (quotes). "Curse II": "The “meaningful” z-points for our CelebA data obviously get
positioned on long, very thin and basically one-dimensional filaments which surround voids.
[...] Whenever you chose a randomly positioned z-point the chance that you end up in an
unpopulated region of the z-space or in a void and not on a filament is extremely big."
"There is one dominant component and the importance smooths out to an almost constant value
after the first 10 components." Post XIII: a VAE's data points "fill the latent space
densely and without gaps between clusters or filaments [...] most of the latent space of
an AE is empty or only sparsely populated [...] in contrast to a VAE's latent space".

Posts' figures (z_dim 256, 170,000 CelebA images): per-axis densities mostly Gaussian at 0;
a PCA explained-variance plot with one dominant component, flat after ≈ 10; the (PC1, PC2)
plane at full extent and zoomed to squares of side 5 … 0.5, planes (1, 18), (8, 35) and raw
axes (52, 221), all showing thin curved lines around voids; t-SNE (perplexity 30 /
exaggeration 12 and 10 / 16) with islands and gaps. No number is given for any of these.

Models, every seed of ``scale.seeds``, in one ``trained.many`` call: the AE (``scale.ae()``,
latents ``'z'``), the VAE of post XI / C7 (``scale.vae(fact=5.0)``, latents ``'mu'``: the
sampled z adds posterior noise that fills voids by construction) and the tiny-KL VAE of C1
(``scale.vae()``, ``'mu'``, shown only). Per run: ``scale.n_analysis`` training images
encoded, held-out points = the encoded test split.

Training runs are the unit. ``run_statistics`` measures each run's latents against their
own matched Gaussian null N(m̂, Σ̂) (``latent.gaussian_null``, as many points; redrawn per
run, so its sampling noise is part of the between-run spread); the interval is the t
interval across runs (``stats.across_runs``; on the logs for ratios, i.e. of the geometric
mean); 90 % for support, 1 − 0.05/5 for refutation. Point-bootstrap intervals within one model are not
used: in 256 dimensions they are 1.4–2.4× narrower than the spread over repeated data sets.
Every geometric statistic is a ratio to the null's, never an absolute value: with 10⁴ points
in 256 dimensions the estimators are biased (TwoNN finds ≈ 80, not 256, for the null).

Sub-claims and primary checks (fixed before any run, never tuned to pass):
- C6a filament dimension: per-run TwoNN dimension (censored MLE, ``latent.twonn``) over its
  null's; CI of the geometric mean below 0.5 ("far below": fewer than half the dimensions
  a Gaussian with the same covariance fills at the nearest-neighbour scale; the null gives 1).
  "Basically one-dimensional" is not checked: at the neighbour scale of 10⁴ points a thin
  tube has the dimension of its cross-section, so TwoNN cannot tell a string from a tube;
  the dimension is shown beside the posts' words.
- C6b voids: per-run void ratio (``latent.void_probe``: median NN distance to the training
  latents of probes drawn from the null over that of held-out latents); CI above 2 ("≫ 1":
  a random point of the data's own Gaussian is at least twice as far from the data as an
  unseen real point; the null gives 1).
- C6c one dominant component: per-run PCA λ1/λ2; CI above 2 (at least twice the next
  component's variance; sampling noise alone gives ≈ 1.05).
- C6d flat after 10: per-run spectral flatness (geometric over arithmetic mean) of
  λ11 … λd; CI of the mean above 0.8 (a log-sd of the tail below ≈ 0.67; λ_k ∝ 1/k gives
  ≈ 0.7, an isotropic sample of the same size ≈ 0.99, shown). The posts' own reading: the
  coordinates "contribute in almost the same manner". No tail (z_dim < 12): inconclusive.
- C6e the VAE fills the voids: geometric-mean void ratio of the VAE over the square root of
  the AE's (``stats.ratio_across_runs``, Welch t on the logs); CI below 1, i.e. the VAE's
  log void ratio is less than half the AE's ("much closer to the null", which sits at log 1
  = 0). Unpaired: an AE and a VAE of one seed share a data order, not a latent space.
  Decided only when C6b is supported (:func:`gated`): "the VAE fills the AE's voids" assumes
  the AE has voids; otherwise C6e is inconclusive with that reason, so a refuted C6b is not
  counted twice.
C6c/C6d (the PCA statement) are separate from C6a/C6b (the filament geometry): a textbook
filament — a closed curve — has λ1/λ2 ≈ 1, so the PCA shape never decides the geometry.
C6e is primary, not a claim of its own: the posts state the AE's emptiness "in contrast to a
VAE's latent space", and it guards C6a/C6b against a null that calls every trained encoder
filamentary.
Secondary (shown, or checks without a vote, at claim.level): Levina–Bickel MLE dimension
ratio (k = 20) below 0.5; void fraction (probes beyond the held-out 99 % NN distance; null
≈ 0.01) above 0.5 (the posts' "extremely big" chance, read weakly); the VAE's dimension
ratio over √(the AE's) above 1; the tiny-KL VAE's dimension ratio below 0.5 and void ratio
above 2 (post XIII: "shows the same"); per-run tables and spectra; for the first seed the
null's own void ratio (≈ 1), the posts' scatter views, t-SNE, inertia curves and the gap
statistic, each beside the null.
Preconditions (the default, every model's health, is waived for C6a–C6d, which read the AE
runs only): the AE runs converged (``diagnostics.CONVERGED``) for every check — the
geometry of an AE whose loss or latent radius still drifts is a moving target; for C6e also
the VAE runs converged and not collapsed (``NOT_COLLAPSED``): a collapsed VAE's mu is
noise around a point, which sits at its Gaussian null trivially. The tiny-KL VAE's
secondary checks ask the same of it.
Power: at the cpu scale's 3 runs the t quantile at 1 − 0.005 with 2 df is 9.9, so a check
decides only when the margin exceeds ≈ 5.7 between-run sds of its per-run statistic.
Equilibrium (pre-registered): each primary check is also decided on the per-run statistics
it reads predicted from the same runs at ⌈E/3⌉, ⌈2E/3⌉ and E epochs
(:mod:`vaebench.claims.settled`; C6e on its per-seed contrast VAE / √AE where the usable
seeds pair up, and gated on C6b's settled verdict); "still moving", or runs apart that
decide otherwise alone, is inconclusive.
Scale: smoke (CI, machinery only; planes (8, 35) become (8, 32)); cpu (16,000 synthetic
32×32 faces from 16 generative factors, z_dim 256, 10⁴ analysed points, t-SNE on 2,000);
full (the posts' sizes). On the synthetic faces the question is whether the AE keeps the
data's ≤ 16-dimensional manifold thin inside 256 dimensions, the mechanism the posts propose.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from vaebench import claims as experiments
from vaebench import latent, stats
from vaebench.claims import health as diagnostics
from vaebench.claims.record import Claim, ClaimRecorder
from vaebench.claims.settled import Contrast
from vaebench.stats import Check, Estimate, SubClaim
from vaebench.stats.design import Prior

DIM_RATIO_MAX = 0.5          # C6a
VOID_RATIO_MIN = 2.0         # C6b
PCA_RATIO_MIN = 2.0          # C6c
FLATNESS_MIN = 0.8           # C6d
FLATNESS_AFTER = 10
CLOSER = 0.5                 # C6e: the VAE's log void ratio below CLOSER × the AE's
VOID_FRACTION_MIN = 0.5      # secondary
TWONN_POINTS = 10_000
MLE_K = 20
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

DIM = "AE TwoNN dimension / its Gaussian null's (geometric mean over runs)"
VOID = "AE void ratio: NN distance of null probes / of held-out latents (geometric mean over runs)"
LAMBDA12 = "AE PCA λ1/λ2 (geometric mean over runs)"
FLAT = f"AE PCA flatness after component {FLATNESS_AFTER} (mean over runs)"
CLOSER_VOID = "VAE (fact 5, mu) void ratio / √(AE void ratio) (geometric means over runs)"

CLAIM = Claim(
    id="C6",
    title="an AE's latent space is filamentary, with voids",
    quote=("The “meaningful” z-points for our CelebA data obviously get positioned on long, very thin and "
           "basically one-dimensional filaments which surround voids. [...] Whenever you chose a randomly "
           "positioned z-point the chance that you end up in an unpopulated region of the z-space or in a void "
           "and not on a filament is extremely big. [PCA:] There is one dominant component and the importance "
           "smooths out to an almost constant value after the first 10 components. [Post XIII:] most of the "
           "latent space of an AE is empty or only sparsely populated [...] in contrast to a VAE's latent space"),
    source=("'curse of high dimensionality II' (seeds/001_d8730745b7dc8ccb.txt: per-axis densities, PCA, "
            "zoomed PCA planes, planes (1, 18), (8, 35), raw axes (52, 221), t-SNE) and post XIII "
            "(seeds/000_73ebeab37ce6d73c.txt: the VAE contrast, t-SNE, tiny-KL VAE)"),
    posts={"PCA": "one dominant component; almost constant after ≈ 10 components",
           "PCA-plane zoom": "squares of side 5 … 0.5 at the centre: thin curved lines around voids",
           "other planes": "PCA (1, 18), (8, 35) and raw axes (52, 221): lines and voids",
           "t-SNE": "perplexity 30 / exaggeration 12 and 10 / 16: islands and gaps",
           "dimension": "basically one-dimensional filaments",
           "random points": "almost always fall into voids",
           "VAE (fact 5)": "fills the latent space densely and without gaps",
           "tiny-KL VAE": "shows the same fragmentation"},
    subclaims=(
        SubClaim("C6a", f"the AE's latents have an intrinsic dimension far below their matched Gaussian's "
                        f"(ratio < {DIM_RATIO_MAX:g})", DIM, posts="basically one-dimensional filaments (no number)"),
        SubClaim("C6b", f"random points of the latents' own Gaussian fall into voids (their nearest latent is more "
                        f"than {VOID_RATIO_MIN:g}× farther than a held-out latent's)", VOID,
                 posts="random z-points almost always fall into voids"),
        SubClaim("C6c", f"the AE's PCA spectrum has one dominant component (λ1/λ2 > {PCA_RATIO_MIN:g})", LAMBDA12,
                 posts="one dominant component"),
        SubClaim("C6d", f"the AE's PCA spectrum is almost constant after the first {FLATNESS_AFTER} components "
                        f"(flatness > {FLATNESS_MIN:g})", FLAT, posts="almost constant after the first 10"),
        SubClaim("C6e", "a VAE with a real KL term (fact 5) fills the voids: its log void ratio is less than half "
                        "the AE's", CLOSER_VOID, posts="densely and without gaps, in contrast to an AE"),
    ),
)

#: prior between-run spreads (tests/test_claim_c6.py: LOG_SD 0.15 on the logs, FLAT_SD 0.01) and the expected margins:
#: the posts give no numbers, so the margins are the simulations' planted "clearly true" values (GOOD), said so
PRIORS = {
    "C6a": Prior(0.15, "ln units: LOG_SD 0.15, tests/test_claim_c6.py; margin ln(0.5/0.08), its planted truth",
                 margin=1.83),
    "C6b": Prior(0.15, "ln units: LOG_SD 0.15, tests/test_claim_c6.py; margin ln(50/2), its planted truth",
                 margin=3.22),
    "C6c": Prior(0.15, "ln units: LOG_SD 0.15, tests/test_claim_c6.py; margin ln(12/2), its planted truth",
                 margin=1.79),
    "C6d": Prior(0.01, "flatness sd 0.01 (FLAT_SD), tests/test_claim_c6.py; margin 0.93 − 0.8, its planted truth",
                 margin=0.13),
    "C6e": Prior(0.168, "ln units: √(0.15² + (0.15/2)²), VAE and ½·AE logs, tests/test_claim_c6.py (Welch, "
                        "unpaired: approximate); margin ½·ln 50, a VAE at its null", margin=1.96),
}

#: (per-run key, check name, sub-claim, "above"/"below", threshold, on the log scale, tolerance, posts)
PRIMARY = (
    ("dim_ratio", DIM, "C6a", "below", DIM_RATIO_MAX, True,
     f"t CI across runs (logs) below {DIM_RATIO_MAX:g}: under half the dimensions of its own Gaussian",
     "basically one-dimensional filaments (no number)"),
    ("void_ratio", VOID, "C6b", "above", VOID_RATIO_MIN, True,
     f"t CI across runs (logs) above {VOID_RATIO_MIN:g} ('≫ 1'; the null gives 1)",
     "random z-points almost always fall into voids"),
    ("pca_ratio12", LAMBDA12, "C6c", "above", PCA_RATIO_MIN, True,
     f"t CI across runs (logs) above {PCA_RATIO_MIN:g} (sampling noise alone ≈ 1.05)", "one dominant component"),
    ("pca_flatness", FLAT, "C6d", "above", FLATNESS_MIN, False,
     f"t CI across runs above {FLATNESS_MIN:g} (λ_k ∝ 1/k gives ≈ 0.7)", "almost constant after the first 10"),
)
#: secondary checks on one model's per-run values: (key, name, "above"/"below", threshold, log scale, posts)
SECONDARY = (
    ("mle_ratio", f"AE Levina–Bickel MLE (k={MLE_K}) dimension / its null's (geometric mean over runs)", "below",
     DIM_RATIO_MAX, True, "basically one-dimensional filaments"),
    ("void_fraction", "AE void fraction: null probes beyond the held-out 99 % NN distance (mean over runs)",
     "above", VOID_FRACTION_MIN, False, "chance to end up in a void 'extremely big'"),
)
TINY = (
    ("dim_ratio", "tiny-KL VAE (fact 1e-5, mu) TwoNN dimension / its null's (geometric mean over runs)", "below",
     DIM_RATIO_MAX, True, "shows the same fragmentation"),
    ("void_ratio", "tiny-KL VAE (fact 1e-5, mu) void ratio (geometric mean over runs)", "above", VOID_RATIO_MIN,
     True, "shows the same fragmentation"),
)
#: what each model's per-run dict holds for decide (the rest of run_statistics is for the views)
KEYS = ("dim_ratio", "mle_ratio", "void_ratio", "void_fraction", "pca_ratio12", "pca_flatness", "twonn",
        "twonn_null")


# --------------------------------------------------------------------------- per-run statistics and the decision

def run_statistics(z: np.ndarray, held: np.ndarray, seed: int = 0, mle: bool = True) -> dict:
    """One run's geometry against its matched Gaussian null: the floats named in :data:`KEYS`
    (``mle_ratio`` NaN without ``mle``), and the null, the void probe and the eigenvalues for
    the views. Point values only: the interval is taken across runs."""
    z, held = np.asarray(z, np.float64), np.asarray(held, np.float64)
    null = latent.gaussian_null(z, seed=seed + 1)
    tw = latent.twonn(z, max_points=TWONN_POINTS, seed=seed).value
    tw_null = latent.twonn(null, max_points=TWONN_POINTS, seed=seed).value
    void = latent.void_probe(z, held, seed=seed, n_boot=10)      # n_boot: the minimum; its within-run CI is unused
    pca = latent.pca_spectrum(z, n_boot=1, n_groups=1, seed=seed, k=FLATNESS_AFTER)   # the eigenvalues only
    flat = pca["flatness_after"]
    mle_ratio = float("nan")
    if mle:
        kw = dict(k=MLE_K, n_boot=10, seed=seed, max_points=TWONN_POINTS)
        mle_ratio = latent.mle_dimension(z, **kw).value / latent.mle_dimension(null, **kw).value
    return {"twonn": tw, "twonn_null": tw_null, "dim_ratio": tw / tw_null, "mle_ratio": mle_ratio,
            "void_ratio": void.ratio.value, "void_fraction": void.void_fraction.value,
            "pca_ratio12": pca["ratio12"].value, "pca_flatness": flat.value if flat is not None else float("nan"),
            "eigenvalues": pca["eigenvalues"], "null": null, "void": void}


def _values(values: Sequence[float], log: bool) -> np.ndarray:
    v = np.asarray([float(x) for x in values], dtype=np.float64)
    return v[np.isfinite(v) & (v > 0)] if log else v[np.isfinite(v)]


def _across(values: Sequence[float], level: float, log: bool) -> tuple[Estimate | None, int]:
    """The t interval across runs (of the logs, i.e. of the geometric mean, when ``log``) and
    the number of usable runs; None below two."""
    v = _values(values, log)
    if v.size < 2:
        return None, int(v.size)
    if not log:
        return stats.across_runs(v, level), int(v.size)
    e = stats.across_runs(np.log(v), level)
    return Estimate(math.exp(e.value), math.exp(e.low), math.exp(e.high), level, "geometric mean, " + e.method,
                    e.n), int(v.size)


def _check(name: str, est: Estimate | None, n: int, side: str, threshold: float, tolerance: str,
           posts: str | None, level: float, missing: str = "", **meta) -> Check:
    """``est`` held to ``threshold``; without an interval (``est`` None) inconclusive, ``missing`` saying why."""
    meta.update(unit="runs", n_runs=n)
    if est is None:
        nan = Estimate(float("nan"), float("nan"), float("nan"), level, "t over runs", n)
        why = missing or f"only {n} usable run(s); an interval across runs needs 2"
        return Check(name, nan, tolerance, None, why, posts, **meta)
    make = stats.check_below if side == "below" else stats.check_above
    return make(name, est, threshold, tolerance=tolerance, posts=posts, **meta)


def _closer(vae: Sequence[float], ae: Sequence[float], level: float) -> tuple[Estimate | None, int, str]:
    """gm(vae) / gm(ae)^CLOSER across runs (Welch t on the logs), the runs it rests on, and why
    there is no interval (fewer than two runs of either model)."""
    v, a = _values(vae, True), _values(ae, True)
    n = int(v.size + a.size)
    if min(v.size, a.size) < 2:
        return None, n, f"only {a.size} usable AE and {v.size} VAE run(s); an interval across runs needs 2 of each"
    return stats.ratio_across_runs(v, a ** CLOSER, level), n, ""


def decide(ae: Mapping[str, Sequence[float]], vae: Mapping[str, Sequence[float]], level: float,
           pre_ae: str | None = None, pre_vae: str | None = None,
           tiny: Mapping[str, Sequence[float]] | None = None, pre_tiny: str | None = None) -> list[Check]:
    """The five primary checks and the secondary ones from per-run values (pure: no model, no data).

    ``ae`` maps ``dim_ratio``, ``void_ratio``, ``pca_ratio12``, ``pca_flatness`` (and, for the
    secondary checks, ``mle_ratio``, ``void_fraction``) to one value per usable AE run; ``vae``
    maps ``void_ratio`` (and ``dim_ratio``) to one value per usable VAE (fact 5) run; ``tiny``
    the same for the tiny-KL VAE (secondary only). ``pre_*`` is why that model's runs are not
    what the claim is about (or None): ``pre_ae`` holds for every check, ``pre_vae`` for C6e.
    """
    checks = []
    for key, name, sub, side, threshold, log, tolerance, posts in PRIMARY:
        est, n = _across(ae[key], level, log)
        missing = ""
        if n < len(ae[key]):
            missing = (f"no PCA tail: z_dim < {FLATNESS_AFTER + 2}" if key == "pca_flatness" and n == 0 else
                       f"only {n} of {len(ae[key])} runs give a finite value; an interval across runs needs 2")
        checks.append(_check(name, est, n, side, threshold, tolerance, posts, level, missing, subclaim=sub,
                             role="primary", precondition=pre_ae))
    both = "; ".join(p for p in (pre_ae, pre_vae) if p) or None
    est, n, missing = _closer(vae["void_ratio"], ae["void_ratio"], level)
    checks.append(_check(CLOSER_VOID, est, n, "below", 1.0,
                         f"Welch t CI (logs) below 1: ln(VAE void ratio) < {CLOSER:g} × ln(AE void ratio), "
                         "the VAE less than half as far from its null (ratio 1) as the AE",
                         "densely and without gaps, in contrast to an AE", level, missing, subclaim="C6e",
                         role="primary", precondition=both))
    for key, name, side, threshold, log, posts in SECONDARY:
        if key in ae:
            est, n = _across(ae[key], level, log)
            checks.append(_check(name, est, n, side, threshold, f"t CI across runs {side} {threshold:g}", posts, level,
                                 precondition=pre_ae))
    if "dim_ratio" in vae:
        est, n, missing = _closer(vae["dim_ratio"], ae["dim_ratio"], level)
        checks.append(_check("VAE (fact 5, mu) dimension ratio / √(AE dimension ratio) (geometric means over runs)",
                             est, n, "above", 1.0, f"Welch t CI (logs) above 1: the VAE's |ln dimension ratio| "
                             f"below {CLOSER:g} × the AE's", None, level, missing, precondition=both))
    if tiny is not None:
        for key, name, side, threshold, log, posts in TINY:
            est, n = _across(tiny[key], level, log)
            checks.append(_check(name, est, n, side, threshold, f"t CI across runs (logs) {side} {threshold:g}", posts,
                                 level, precondition=pre_tiny))
    return checks


def gated(checks: Sequence[Check]) -> list[Check]:
    """``checks`` (both levels merged) with C6e inconclusive unless C6b is supported: the
    contrast "the VAE fills the voids" presupposes the AE's voids."""
    c6b = next((c for c in checks if c.role == "primary" and c.subclaim == "C6b"), None)
    if c6b is not None and c6b.verdict is stats.Verdict.SUPPORTED:
        return list(checks)
    why = (f"C6b (the AE has voids) is {c6b.verdict.value}: {c6b.why}" if c6b is not None else "C6b was not run")
    return [replace(c, precondition=diagnostics.joined(c.precondition, why + "; without the AE's voids there is "
                                                       "nothing for the VAE to fill"))
            if c.role == "primary" and c.subclaim == "C6e" else c for c in checks]


# --------------------------------------------------------------------------- views (the first seed; shown only)

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

MODELS = ("ae", "vae", "tiny")
LATENT_KEY = {"ae": "z", "vae": "mu", "tiny": "mu"}
LABEL = {"ae": "AE", "vae": "VAE fact 5 (mu)", "tiny": "tiny-KL VAE fact 1e-5 (mu)"}


#: the per-run series each primary check rests on: its equilibrium is judged on those alone
RESTS_ON = {**{name: [("ae", key)] for key, name, *_ in PRIMARY},
            CLOSER_VOID: [("ae", "void_ratio"), ("vae", "void_ratio")]}
#: C6e's own statistic per seed, VAE void ratio / √(AE void ratio), when the usable seeds pair up
CLOSER_CONTRAST = Contrast(("vae", "void_ratio"), ("ae", "void_ratio"), ratio=True, power=CLOSER)


def settled_on(usable: Mapping[str, Sequence[int]]) -> dict:
    """``rests_on``: C6e on its per-seed contrast when the AE's and the VAE's usable seeds pair
    up (``usable``: model → seeds), else on each model's void ratios apart; C6a–C6d on the AE's."""
    paired = list(usable["ae"]) == list(usable["vae"])
    return {**RESTS_ON, CLOSER_VOID: [CLOSER_CONTRAST]} if paired else dict(RESTS_ON)


def _measure(claim, session, runs: dict) -> tuple[dict, dict]:
    """Per-run statistics and (training, held-out) latents of every usable run of ``runs``
    (model → seed → run); a run left out is noted on ``claim``."""
    per_run, latents = {m: {} for m in MODELS}, {m: {} for m in MODELS}
    for i, m in enumerate(MODELS):
        k = LATENT_KEY[m]
        for s, t in runs[m].items():
            codes = session.latents(t)
            if not experiments.usable_run(claim, t, codes, f"{LABEL[m]} seed {s}", keys=(k,)):
                continue
            held = experiments.finite_rows(session.latents(t, split="test")[k], claim, f"{LABEL[m]} seed {s} test")
            z = np.asarray(codes[k], np.float64)
            per_run[m][s] = run_statistics(z, held, seed=1000 * i + s, mle=m == "ae")
            latents[m][s] = (z, held)
    return per_run, latents


@pytest.mark.gpu
def test_c6_ae_latent_space_is_filamentary(claim, scale, trained, vaebench_session):
    session = vaebench_session
    seeds = list(scale.seeds)
    specs = {"ae": scale.ae(), "vae": scale.vae(fact=5.0), "tiny": scale.vae()}
    got = trained.many([(specs[m], s) for m in MODELS for s in seeds])
    runs = {m: dict(zip(seeds, got[i * len(seeds):(i + 1) * len(seeds)])) for i, m in enumerate(MODELS)}
    claim.describe_scale(**experiments.scale_info(scale), seeds=seeds, heldout="test split",
                         models="AE (scale.ae(), 'z'), VAE fact 5 ('mu'), tiny-KL VAE fact 1e-5 ('mu', shown only)")
    health = {m: {s: session.health(t) for s, t in runs[m].items()} for m in MODELS}
    claim.model_health(*(h for m in MODELS for h in health[m].values()))
    for sid in ("C6a", "C6b", "C6c", "C6d"):
        claim.waive_health(sid, "reads the AE runs only, whose convergence is its own precondition; the VAEs are "
                                "read by C6e and the secondary checks")
    pre = {"ae": diagnostics.precondition(health["ae"].values(), diagnostics.CONVERGED),
           "vae": diagnostics.precondition(health["vae"].values(), diagnostics.CONVERGED, diagnostics.NOT_COLLAPSED),
           "tiny": diagnostics.precondition(health["tiny"].values(), diagnostics.CONVERGED,
                                            diagnostics.NOT_COLLAPSED)}

    # single-threaded BLAS/OpenMP: on these arrays thread pools cost more than they save on a busy 2-core machine
    with threadpool_limits(limits=1):
        per_run, latents = _measure(claim, session, runs)
        measured = {m: {key: [v[key] for v in per_run[m].values()] for key in KEYS} for m in MODELS}

        def earlier(k: int) -> dict:    # the same usable runs trained k epochs (notes to a scratch recorder)
            at = {m: {s: session.at_epochs(runs[m][s], k) for s in per_run[m]} for m in MODELS}
            got = _measure(ClaimRecorder(claim.claim), session, at)[0]
            return {m: {key: [v[key] for v in got[m].values()] for key in KEYS} for m in MODELS}

        claim.checks_at_equilibrium_measured(
            lambda m, level: decide(m["ae"], m["vae"], level, pre["ae"], pre["vae"], m["tiny"], pre["tiny"]),
            measured, earlier, runs["ae"][seeds[0]].entry.train.epochs,
            keys=sorted({p for paths in RESTS_ON.values() for p in paths}),
            rests_on=settled_on({m: list(per_run[m]) for m in MODELS}), then=gated)
        _show_runs(claim, scale, per_run, health)
        first = next(iter(per_run["ae"]), None)
        if first is not None:
            _views(claim, scale, latents["ae"][first], per_run["ae"][first],
                   latents["vae"].get(first), per_run["vae"].get(first), first)


def _show_runs(claim, scale, per_run: dict, health: dict) -> None:
    """Across-run statistics (95 % t CIs, shown), the per-run table and the spectra of every run."""
    st = claim.statistic
    for m, key, name, log, posts in (
            ("ae", "twonn", "AE TwoNN dimension", False, "basically one-dimensional"),
            ("ae", "twonn_null", "AE's Gaussian null: TwoNN dimension", False, None),
            ("vae", "dim_ratio", "VAE (fact 5, mu) TwoNN dimension / its null's", True, None),
            ("vae", "void_ratio", "VAE (fact 5, mu) void ratio", True, "densely and without gaps"),
            ("vae", "void_fraction", "VAE (fact 5, mu) void fraction", False, None),
            ("vae", "pca_ratio12", "VAE (fact 5, mu) PCA λ1/λ2", True, None)):
        est, _ = _across([v[key] for v in per_run[m].values()], 0.95, log)
        if est is not None:
            st(f"{name} ({'geometric ' if log else ''}mean over runs, 95 % t CI)", est, posts=posts)
    if scale.data.source == "synthetic":
        from vaebench.data import N_FACTORS
        st("synthetic faces: generative factors (upper bound of the data manifold's dimension)", float(N_FACTORS))
    rows = [[LABEL[m], s, f"{v['twonn']:.2f}", f"{v['twonn_null']:.2f}", f"{v['dim_ratio']:.3f}",
             f"{v['mle_ratio']:.3f}", f"{v['void_ratio']:.3g}", f"{v['void_fraction']:.3f}", f"{v['pca_ratio12']:.3g}",
             f"{v['pca_flatness']:.3f}", ", ".join(health[m][s].flags) or "ok"]
            for m in MODELS for s, v in per_run[m].items()]
    claim.plot("Per-run geometry against each run's own Gaussian null", {
        "type": "table", "title": "one row per training run (the unit of every interval)",
        "columns": ["model", "seed", "TwoNN", "null TwoNN", "dimension ratio", f"MLE ratio (k={MLE_K})",
                    "void ratio", "void fraction", "λ1/λ2", f"flatness after {FLATNESS_AFTER}", "health"],
        "rows": rows})
    d = scale.z_dim
    series = []
    for m in ("ae", "vae"):
        for s, v in per_run[m].items():
            lam = v["eigenvalues"]
            series.append({"label": f"{LABEL[m]} seed {s}", "x": list(range(1, lam.size + 1)),
                           "y": experiments.short_floats(np.maximum(lam, 1e-12) / lam.sum(), relative=True)})
    n = max(scale.n_analysis, d + 1)
    iso = np.linalg.eigvalsh(np.cov(np.random.default_rng(5).standard_normal((n, d)), rowvar=False))[::-1]
    series.append({"label": "isotropic Gaussian", "x": list(range(1, d + 1)),
                   "y": experiments.short_floats(iso / iso.sum(), relative=True), "linestyle": ":"})
    if d >= FLATNESS_AFTER + 2:
        st("isotropic Gaussian of the analysed size: flatness of the PCA tail",
           latent.spectral_flatness(iso[FLATNESS_AFTER:]), note="the ceiling sampling noise leaves")
    else:
        claim.note(f"z_dim {d} < {FLATNESS_AFTER + 2}: no PCA tail to judge (C6d is inconclusive)")
    claim.plot("PCA spectrum of every run (posts: one dominant component, almost constant after ≈ 10)",
               {"type": "lines", "title": "PCA explained variance ratio", "xlabel": "component", "ylabel": "ratio",
                "logy": True, "series": series, "vlines": [{"x": FLATNESS_AFTER + 0.5, "label": f"{FLATNESS_AFTER}"}]})


def _views(claim, scale, ae_lat, ae_geo, vae_lat, vae_geo, seed: int) -> None:
    """The posts' pictures for one seed, each beside the Gaussian null (no vote)."""
    z_ae, h_ae = ae_lat
    null = ae_geo["null"]
    void_null = _null_calibration(claim, z_ae, h_ae, null, seed)
    curves, gaps = _clustering(claim, z_ae, null, vae_lat, vae_geo, seed)
    tab_ae = _axis_densities(claim, z_ae, vae_lat, seed)
    _scatter_views(claim, scale.z_dim, z_ae, null, tab_ae, seed)
    _tsne_views(claim, z_ae, null, seed)
    _voids_and_clusters(claim, ae_geo, vae_lat, vae_geo, void_null, curves, gaps, seed)


def _null_calibration(claim, z_ae, h_ae, null, seed: int):
    """The null's own void statistics (≈ 1 and ≈ 0.01 by construction), shown."""
    st = claim.statistic
    null_held = latent.gaussian_null(z_ae, n=h_ae.shape[0], seed=seed + 2)
    void_null = latent.void_probe(null, null_held, seed=seed, n_boot=10)
    st(f"null calibration, seed {seed}: void ratio of the null (null data, null held-out)", void_null.ratio.value,
       note="≈ 1 by construction")
    st(f"null calibration, seed {seed}: void fraction of the null", void_null.void_fraction.value, note="≈ 0.01")
    return void_null


def _clustering(claim, z_ae, null, vae_lat, vae_geo, seed: int) -> tuple[dict, dict]:
    """Inertia curves and the gap statistic of the AE, the VAE and their nulls."""
    st = claim.statistic
    sets = {"AE": z_ae, "AE's null": null}
    if vae_lat is not None:
        sets.update({"VAE mu": vae_lat[0], "VAE's null": vae_geo["null"]})
    ks_in = [k for k in INERTIA_KS if k <= min(INERTIA_POINTS, z_ae.shape[0])]
    curves = {label: latent.inertia_curve(p, ks=ks_in, seed=0, n_init=1, max_points=INERTIA_POINTS)
              for label, p in sets.items()}
    gaps = {}
    for label in [k for k in sets if k != "VAE's null"]:
        gaps[label] = latent.gap_statistic(sets[label], ks=GAP_KS, n_refs=GAP_REFS, seed=0, n_init=1,
                                           max_points=GAP_POINTS)
        el = latent.elbow(curves[label]["k"], curves[label]["normalised"])
        st(f"{label} (seed {seed}): gap-statistic k_opt", float(gaps[label]["k_opt"]),
           note=f"inertia elbow k = {el['k']:.0f}, strength {el['strength']:.2f} (0 = none)")
    return curves, gaps


def _axis_densities(claim, z_ae, vae_lat, seed: int):
    """Per-axis densities of the AE (and the VAE's mu); returns the AE's axis table."""
    tab_ae = latent.axis_table(z_ae)   # also picks the raw axes drawn below
    axes, labels = experiments.axes_to_show(tab_ae, n_typical=2)
    panels = [experiments.axis_density_panel("AE: broadest, most off-centre and typical axes (bins of 0.25)", z_ae,
                                             axes, labels=labels)]
    if vae_lat is not None:
        mu_vae = vae_lat[0]
        vaxes, vlabels = experiments.axes_to_show(latent.axis_table(mu_vae), n_typical=2)
        # the posts' bins of 0.25 are for axes of sd ≈ 1; the VAE's mu is drawn at the same resolution relative
        # to its own scale (RMS per-axis sd)
        vbin = float(np.clip(0.25 * math.sqrt(np.var(mu_vae, axis=0).mean()
                                              / max(np.var(z_ae, axis=0).mean(), 1e-300)), 1e-4, 0.25))
        panels.append(experiments.axis_density_panel(
            f"VAE fact 5 (mu): same choice, bins of {vbin:.2g} (scaled by RMS sd)", mu_vae, vaxes, bin_width=vbin,
            labels=vlabels))
    claim.plot(f"Per-axis densities, seed {seed} (posts: most Gaussian at 0, a few broad off-centre axes)", *panels,
               ncols=2)
    return tab_ae


def _scatter_views(claim, d: int, z_ae, null, tab_ae, seed: int) -> None:
    """The posts' scatter views (PCA planes, zooms, raw axes), each beside the null."""
    mean, vec, unit = _frame(z_ae)
    pc = {"AE": (z_ae - mean) @ vec, "null": (null - mean) @ vec}
    claim.plot(f"PCA plane (1, 2) of the AE (seed {seed}), full extent and zoomed to squares of side 5, 2, 1, 0.5 u "
               f"(u = RMS axis sd = {unit:.3g}) — top row AE, bottom row its Gaussian null",
               *_plane_panels("PCA plane (1, 2)", {"AE": pc["AE"]}, 0, 1, unit, ZOOM_SIDES, "PC"),
               *_plane_panels("PCA plane (1, 2)", {"null": pc["null"]}, 0, 1, unit, ZOOM_SIDES, "PC"), ncols=5,
               caption="posts: thin curved lines around voids at every zoom; "
                       "the null shows what no structure looks like")
    plane_panels = []
    for a, b in PLANES:
        i, j = _pair(d, a, b)
        plane_panels += _plane_panels(f"PCA ({i + 1}, {j + 1})", pc, i, j, None, (1.0,), "PC")
    claim.plot(
        "PCA planes (1, 18) and (8, 35) (capped at z_dim), full extent and the central ± 0.5 sd of each "
        "axis; AE beside its null",
        *plane_panels,
        ncols=2,
    )
    a1, a2 = (int(k) for k in np.argsort(-tab_ae["sd"])[:2])
    claim.plot(
        f"Raw latent axes {a1} and {a2} (the two broadest; posts: axes 52 and 221), full extent and the "
        "central ± 0.5 sd of each axis; AE beside its null",
        *_plane_panels(
            f"axes ({a1}, {a2})",
            {"AE": z_ae, "null": null},
            a1,
            a2,
            None,
            (1.0,),
            "axis",
            centre=(float(mean[a1]), float(mean[a2])),
        ),
        ncols=2,
    )



def _tsne_views(claim, z_ae, null, seed: int) -> None:
    """t-SNE with the posts' two parameter sets, AE beside its null."""
    n_tsne = min(TSNE_POINTS, z_ae.shape[0])
    tsne_panels = []
    for perp, exag in TSNE_PARAMS:
        perp = min(perp, (n_tsne - 1) / 3)
        for label, pts in (("AE", z_ae), ("null", null)):
            emb = latent.tsne_embedding(pts, perplexity=perp, early_exaggeration=exag, seed=0, max_points=n_tsne)
            e = emb["embedding"]
            tsne_panels.append(
                experiments.scatter_panel(
                    f"{label}: t-SNE perplexity {perp:g}, exaggeration {exag:g} (KL {emb['kl_divergence']:.2f})",
                    {label: (e[:, 0], e[:, 1])},
                    max_points=5000,
                    size=2.0,
                )
            )
    claim.plot(
        f"t-SNE of {n_tsne} latents (seed {seed}; posts: islands and gaps), AE beside its null", *tsne_panels, ncols=2
    )



def _voids_and_clusters(claim, ae_geo, vae_lat, vae_geo, void_null, curves: dict, gaps: dict, seed: int) -> None:
    """The VAE's PCA plane, the void probes and the clustering curves."""
    hists = [
        _nn_hist(
            f"AE (ratio {ae_geo['void'].ratio.value:.2f})",
            {"probes from the null": ae_geo["void"].probe_nn, "held-out latents": ae_geo["void"].heldout_nn},
        ),
        _nn_hist(
            f"null as data (ratio {void_null.ratio.value:.2f})",
            {"probes": void_null.probe_nn, "held-out null points": void_null.heldout_nn},
        ),
    ]
    if vae_lat is not None:
        vmean, vvec, vunit = _frame(vae_lat[0])
        vpc = {"VAE mu": (vae_lat[0] - vmean) @ vvec, "null": (vae_geo["null"] - vmean) @ vvec}
        claim.plot(
            f"VAE fact 5 (mu, seed {seed}): PCA plane (1, 2), full extent and sides 5u, 1u (u = {vunit:.3g}); "
            "VAE beside its null",
            *_plane_panels("PCA plane (1, 2)", vpc, 0, 1, vunit, (5.0, 1.0), "PC"),
            ncols=2,
        )
        hists.append(
            _nn_hist(
                f"VAE fact 5, mu (ratio {vae_geo['void'].ratio.value:.2f})",
                {"probes from the null": vae_geo["void"].probe_nn, "held-out latents": vae_geo["void"].heldout_nn},
            )
        )
    claim.plot(f"Void probes, seed {seed}: nearest-neighbour distance to the training latents", *hists, ncols=3)
    inertia = {
        "type": "lines",
        "title": "MiniBatchKMeans inertia / inertia at k = 2",
        "xlabel": "k",
        "ylabel": "normalised inertia",
        "series": [
            {"label": k, "x": v["k"], "y": experiments.short_floats(v["normalised"])} for k, v in curves.items()
        ],
    }
    gap = {
        "type": "lines",
        "title": "gap statistic (± s_k)",
        "xlabel": "k",
        "ylabel": "gap",
        "series": [
            {
                "label": f"{k} (k_opt {v['k_opt']})",
                "x": v["k"],
                "y": experiments.short_floats(v["gap"]),
                "low": experiments.short_floats(v["gap"] - v["sd"]),
                "high": experiments.short_floats(v["gap"] + v["sd"]),
            }
            for k, v in gaps.items()
        ],
    }
    claim.plot(f"Clustering, seed {seed}: inertia curves and gap statistic", inertia, gap, ncols=2)
