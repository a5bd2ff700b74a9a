"""C7 — a real KL term confines the latent space and makes random z decodable (post XI).

Claim (quote, post XI): "the KL-loss enforced a distribution of the z-points which is
confined to a region relatively close to the origin. [...] In contrast to a pure AE we DO
get something from random z-points which we clearly can interpret as human faces. [...]
this proves that we get reasonable images only up to a certain distance from the origin".

Posts' figures (post XI, seeds/000_73ebeab37ce6d73c.txt, "Characteristics of the VAE
tested" and the image grids that follow): fact = 5 "led to a 3% contribution of the KL-loss
to the total loss"; total loss after ~24 epochs > 5015 against an AE's 4850 (another
configuration); z ~ N(0, 1) decodes to recognisable, blurry faces; z ~ U[−r, r]^256 for
r = 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 5, 8 gives ever weirder images as r grows. Post XIII's AE
radius peak for comparison: 16.75.

Models: the VAE with fact = 5 (``scale.vae(fact=5.0)``, BatchNorm) and the AE (``scale.ae()``,
the C1 entries), every seed of ``scale.seeds``, paired by seed. Per run: the latent codes of
the first ``scale.n_analysis`` training images (the VAE's z sampled, z = mu + exp(logvar/2)·ε).
Decoded quality is 2 × mean conformal p against the model's own reconstructions of held-out
images (``experiments.reconstruction_scorer``: held-out reconstructions ≈ 1 — shown, the
metric's validation — garbage ≈ 0), the scorer of C1: the validated real-image scorer
penalises blur and would mark the VAE's blurry faces down with the AE's garbage (shown).

Sub-claims and primary checks (fixed before any run, never tuned to pass; m = 4, 90 %
support and 1 − 0.05/4 refutation intervals; one value per run, t interval
across runs, ``stats.*_across_runs``):

- C7a a real KL term: per-run KL share fact·KL / total loss on the first min(n_analysis,
  4000) training images (inference mode); CI inside [1 %, 10 %]. Why: the posts' 3 % within
  a factor of about 3 either way — a KL term that is real but minor; below 1 % it is too weak
  to shape the latent space (C1's regime is a share of 1e-6), above 10 % it dominates the
  loss. fact is applied × H·W/9216 (``ModelSpec.kl_weight``), so the KL/reconstruction
  balance, and with it the expected share, is the posts' at every image size.
- C7b confinement by the prior: per VAE run E[R(z)²] / z_dim over the analysed codes (z
  sampled); geometric mean over runs (t interval of the logs); inside [0.8, 1.25]. Why: the
  KL term pulls the aggregate posterior towards N(0, I), for which E[R²] = z_dim, so the
  codes are confined to the prior's shell whatever an AE does; 1.25 (and 1/1.25) keeps the
  radius peak within ±12 % of √z_dim, inside C3's band for "near √z_dim" (0.85–1.25). The
  first design compared the VAE's radius peak with an AE's, whose latent scale nothing in
  its loss fixes (in the posts' setting the AE peaks at 16.75 ≈ √256 too), so its
  refutation said nothing about the VAE. Shown (secondary): the peak ratio VAE R(z) / AE
  R(z) against 0.75 (paired t across seeds) and the peak of R(mu).
- C7c random z decode to something an AE does not give: per seed, decoded z ~ N(0, I)
  (256 points, the same for every model) quality VAE − AE; paired t across seeds; CI above
  0. Shown (secondary): the VAE's own quality across runs against 0.3 (C1's boundary for "no
  faces", so that "decodable" here and "not decodable" there are judged on one scale), and
  the diversity of its decodes (total pixel variance over that of real held-out images,
  against 0.5: the posts' "variations in perspective, face forms and hairstyles").
- C7d quality falls monotonically as r grows: z ~ U[−r, r]^d for r in (0.5, 1, 2, 3, 4, 6, 8)
  (128 decodes per r, the same z for every model; per-coordinate sd r/√3, so r = 2 is closest
  to the prior). Per run, the OLS slope of decoded quality on ln r over every decode of the
  lower radii (0.5 … 3) and of the upper radii (3 … 8) — with the same number of decodes at
  each r this equals the slope of the per-r means; ln r because the radii are spaced about
  geometrically. The run's statistic is the larger (less negative) of the two slopes: the
  monotonicity criterion is that the quality falls over both halves of the range, so a
  curve that rises to the prior's scale and only then falls (an inverted U) has a positive
  statistic. Supported when its t CI across runs lies below 0, refuted when above 0 (one
  half rises in every run). The first design used Kendall's τ over the 7 radii: discrete,
  and with the zero-spread interval non-monotone in the data (every run τ = −1 gave
  inconclusive while (−1, −1, −0.905) gave supported); the slopes are continuous. Shown:
  the slope over all radii, Kendall's τ per run, Page's L trend test with runs as blocks
  (it too passes an inverted U, so it does not vote), the AE's τ, the mean quality per r
  and one image grid per r (like post XI).

Preconditions: every model of a check finite, converged and, for the VAE, not collapsed
(``diagnostics``: a VAE with fewer than 5 active units decodes every z to about one average
face, typical of its own reconstructions, which are that face too; C7c/C7d could then pass and
C7a/C7b fail on a model that is not the working VAE of post XI). Otherwise the check is
inconclusive with the reason. C7a, C7b and C7d use the VAEs, C7c both models.

Equilibrium (pre-registered): each primary check is also decided on its per-run statistic
(C7c: the seed's VAE − AE quality, a :class:`vaebench.claims.settled.Contrast`; C7d: each
point of the quality curve) predicted from the same runs at ⌈E/3⌉, ⌈2E/3⌉ and E epochs
(:mod:`vaebench.claims.settled`); "still moving" or a run apart is inconclusive.

Scale: smoke (CI: machinery only), cpu (32×32 synthetic faces, z_dim 256, 3 seeds: the t
quantile at 98.75 % with 2 degrees of freedom is 8.9, so a check is decided only when the runs
agree closely), full (96×96, 170,000 images, 24 epochs — the posts' setting on the embedded data).
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pytest
from scipy.stats import page_trend_test

from vaebench import claims as experiments
from vaebench import latent, stats
from vaebench.claims import health as diagnostics
from vaebench.claims.record import Claim, ClaimRecorder, to_uint8
from vaebench.claims.settled import Contrast
from vaebench.errors import StatsError, require
from vaebench.models import decode
from vaebench.stats import Check, Estimate, SubClaim
from vaebench.stats.design import Prior

FACT = 5.0
KL_SHARE_RANGE = (0.01, 0.10)   # C7a
R2_BAND = (0.8, 1.25)           # C7b: E[R(z)²] / z_dim
PEAK_RATIO_MAX = 0.75           # C7b, secondary (VAE peak / AE peak)
DECLINE_MAX = 0.0               # C7d: the larger of the two segment slopes of quality on ln r
SPLIT_R = 3.0                   # C7d: the lower segment is r ≤ SPLIT_R, the upper r ≥ SPLIT_R
VAE_QUALITY_MIN = 0.3           # C7c, secondary (= C1's "no faces" boundary)
DIVERSITY_MIN = 0.5             # C7c, secondary
RADII_R = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
N_RANDOM, N_PER_R = 256, 128

KL_CHECK = "KL share fact·KL / total loss (t CI across runs)"
CONFINE_CHECK = "VAE: E[R(z)²] / z_dim (geometric mean over runs)"
PEAK_CHECK = "radius peak ratio VAE R(z) / AE R(z) (paired by seed)"
QUALITY_CHECK = "decoded z ~ N(0, I): quality VAE − AE (paired by seed)"
TREND_CHECK = "larger of the slopes of quality on ln r over r ≤ 3 and r ≥ 3, z ~ U[−r, r] (VAE, across runs)"

CLAIM = Claim(
    id="C7",
    title="A real KL term (fact = 5) confines the latent space and makes random z decodable",
    quote=("the KL-loss enforced a distribution of the z-points which is confined to a region relatively close to "
           "the origin. [...] In contrast to a pure AE we DO get something from random z-points which we clearly "
           "can interpret as human faces. [...] this proves that we get reasonable images only up to a certain "
           "distance from the origin"),
    source="post XI, 'Variational Autoencoder with Tensorflow 2.8' (seeds/000_73ebeab37ce6d73c.txt), sections "
           "'Characteristics of the VAE tested' to 'Dependency of the creation of reasonable images on the distance "
           "from the origin'",
    posts={"KL share of the total loss": "≈ 3 % (fact = 5)",
           "total loss": "VAE > 5015 vs AE 4850 (another AE configuration)",
           "random z ~ N(0, 1)": "recognisable (blurry) faces; an AE gives none",
           "z ~ U[−r, r], r = 0.5 … 8": "ever weirder images as r grows",
           "AE radius peak (post XIII)": "16.75"},
    subclaims=(
        SubClaim("C7a", "fact = 5 makes the KL term a real but minor part of the loss (1–10 %)", KL_CHECK,
                 posts="≈ 3 %"),
        SubClaim("C7b", "the VAE's codes are confined by its prior (E[R²] / z_dim inside [0.8, 1.25])",
                 CONFINE_CHECK, posts="confined to a region relatively close to the origin"),
        SubClaim("C7c", "random z ~ N(0, I) decode to better images for the VAE than for the AE", QUALITY_CHECK,
                 posts="VAE: recognisable faces; AE: none"),
        SubClaim("C7d", "decoded quality falls monotonically as the box half-width r grows (over both halves of "
                 "the range of r)", TREND_CHECK, posts="ever weirder images as r grows"),
    ),
)

#: prior between-run spreads from tests/test_claim_c7.py's simulation; margins from the posts' figures where they give
#: one (the 3 % KL share, E[R²]/z_dim = 1 of the prior) else from that simulation's planted truth, said so
PRIORS = {
    "C7a": Prior(0.003, "KL share sd 10 % of 0.03, tests/test_claim_c7.py; margin: the posts' 3 % to the 1 % edge",
                 margin=0.02),
    "C7b": Prior(0.03, "ln units: log-sd 0.03 of E[R²]/z_dim, tests/test_claim_c7.py; truth 1, band ln 1.25",
                 half_width=0.223),
    "C7c": Prior(0.05, "paired quality VAE − AE: sd 0.05, tests/test_claim_c7.py; margin its planted 0.4",
                 margin=0.4),
    "C7d": Prior(0.041, "larger segment slope per ln r: sd 0.041, mean −0.085 simulated from tests/test_claim_c7.py's "
                        "curves (slope −0.12, 128 decodes per r)", margin=0.085),
}


def trend_tau(radii: Sequence[float], quality: Sequence[float]) -> float:
    """Kendall's τ-b between the radii and one run's mean quality at each (``scipy.stats.kendalltau``'s
    statistic, without its p-value); 0 for a flat curve (no pair ordered either way)."""
    x, y = np.asarray(radii, dtype=np.float64), np.asarray(quality, dtype=np.float64)
    require(x.shape == y.shape and x.ndim == 1 and x.size >= 2,
            f"radii {x.shape} and quality {y.shape} must be 1-D of one length >= 2", StatsError)
    i, j = np.triu_indices(x.size, 1)
    dx, dy = np.sign(x[j] - x[i]), np.sign(y[j] - y[i])
    den = math.sqrt(float(np.count_nonzero(dx)) * float(np.count_nonzero(dy)))
    return float(np.sum(dx * dy) / den) if den > 0 else 0.0


def _primary(kind, name: str, sub: str, n: int, estimate, bounds: tuple, level: float, tolerance: str, posts: str,
             pre: str | None) -> Check:
    """The primary check ``kind(name, estimate(), *bounds)`` of ``sub`` over ``n`` runs; with
    fewer than 2 runs an inconclusive check (an interval across runs needs two)."""
    meta = dict(subclaim=sub, role="primary", unit="runs", n_runs=n, precondition=pre)
    if n < 2:
        nan = float("nan")
        return Check(name, Estimate(nan, nan, nan, level, "t over runs", n), tolerance, None,
                     f"{n} usable run(s); an interval across runs needs 2", posts, **meta)
    return kind(name, estimate(), *bounds, tolerance=tolerance, posts=posts, **meta)


def slope_on_log_r(radii: Sequence[float], quality: Sequence[float]) -> float:
    """OLS slope of ``quality`` on ln ``radii`` (per unit of ln r)."""
    x, y = np.log(np.asarray(radii, dtype=np.float64)), np.asarray(quality, dtype=np.float64)
    require(x.shape == y.shape and x.ndim == 1 and x.size >= 2,
            f"radii {x.shape} and quality {y.shape} must be 1-D of one length >= 2", StatsError)
    return float(np.polyfit(x, y, 1)[0])


def decline(radii: Sequence[float], quality: Sequence[float], split: float = SPLIT_R) -> float:
    """C7d's per-run statistic: the larger of the slopes of quality on ln r over r ≤ ``split``
    and over r ≥ ``split`` (negative only when the quality falls over both halves)."""
    r = np.asarray(radii, dtype=np.float64)
    q = np.asarray(quality, dtype=np.float64)
    low, high = r <= split, r >= split
    require(low.sum() >= 2 and high.sum() >= 2, f"radii {list(r)} need two values on each side of {split}",
            StatsError)
    return max(slope_on_log_r(r[low], q[low]), slope_on_log_r(r[high], q[high]))


def log_across(values: Sequence[float], level: float) -> Estimate:
    """Geometric mean of positive per-run values with the t interval of their logs."""
    e = stats.across_runs(np.log(np.asarray(values, dtype=np.float64)), level)
    return Estimate(math.exp(e.value), math.exp(e.low), math.exp(e.high), level, "geometric mean, " + e.method, e.n)


def _c7a(measured: Mapping, level: float, pre: str | None) -> list[Check]:
    share = [float(v) for v in measured["kl_share"]]
    return [_primary(stats.check_within, KL_CHECK, "C7a", len(share), lambda: stats.across_runs(share, level),
                     KL_SHARE_RANGE, level, f"t CI across runs inside [{KL_SHARE_RANGE[0]:.0%}, "
                     f"{KL_SHARE_RANGE[1]:.0%}]", "≈ 3 %", pre)]


def _c7b(measured: Mapping, level: float, pre: str | None) -> list[Check]:
    r2 = [float(v) for v in measured["r2_ratio"]]
    checks = [_primary(stats.check_within, CONFINE_CHECK, "C7b", len(r2), lambda: log_across(r2, level), R2_BAND,
                       level, f"t CI of the geometric mean inside [{R2_BAND[0]:g}, {R2_BAND[1]:g}] (the prior "
                       "gives 1)", "confined close to the origin", pre)]
    pv, pa = measured.get("peak_vae", ()), measured.get("peak_ae", ())
    if len(pv) >= 2:
        checks.append(stats.check_below(
            PEAK_CHECK, stats.ratio_across_runs(pv, pa, 0.95, paired=True), PEAK_RATIO_MAX,
            tolerance=f"paired t CI below {PEAK_RATIO_MAX:g} (shown: an AE's latent scale is not fixed by its loss)",
            posts="AE peak 16.75 (post XIII)", unit="runs", n_runs=len(pv), precondition=pre))
    return checks


def _c7c(measured: Mapping, level: float, pre: str | None) -> list[Check]:
    qv, qa = measured["quality_vae"], measured["quality_ae"]
    checks = [_primary(stats.check_above, QUALITY_CHECK, "C7c", len(qv),
                       lambda: stats.difference_across_runs(qv, qa, level, paired=True), (0.0,), level,
                       "paired t CI across runs above 0 (own-reconstruction scorer)",
                       "VAE: recognisable faces; AE: none", pre)]
    side = dict(unit="runs", precondition=pre)
    if len(qv) >= 2:
        checks.append(stats.check_above(
            "decoded z ~ N(0, I): quality of the VAE (t CI across runs)", stats.across_runs(qv, 0.95),
            VAE_QUALITY_MIN, tolerance=f"CI above {VAE_QUALITY_MIN:g} (C1's boundary for 'no faces')",
            posts="recognisable faces", n_runs=len(qv), **side))
    div = list(measured.get("diversity", ()))
    if len(div) >= 2:
        checks.append(stats.check_above(
            "diversity of decoded z ~ N(0, I), VAE: pixel variance / that of real images",
            stats.across_runs(div, 0.95), DIVERSITY_MIN, tolerance=f"t CI across runs above {DIVERSITY_MIN:g}",
            posts="variations in perspective, face forms and hairstyles clearly visible", n_runs=len(div), **side))
    return checks


def _c7d(measured: Mapping, level: float, pre: str | None) -> list[Check]:
    radii = measured.get("radii", RADII_R)
    curves = [np.asarray(c, dtype=np.float64) for c in measured["quality_by_r"]]
    stat = [decline(radii, c) for c in curves]
    posts = "ever weirder images as r grows"
    checks = [_primary(stats.check_below, TREND_CHECK, "C7d", len(stat), lambda: stats.across_runs(stat, level),
                       (DECLINE_MAX,), level, "t CI across runs below 0 (quality falls over both halves of the "
                       "range of r)", posts, pre)]
    if len(curves) >= 2 and len(radii) >= 3:
        page = page_trend_test(np.stack(curves)[:, ::-1])        # predicted: quality rises as r falls
        checks.append(stats.check_below(
            "Page's L trend test, runs as blocks (p, quality falling with r)",
            Estimate.exact(float(page.pvalue), f"Page L = {page.statistic:g}"), 0.05,
            tolerance="p below 0.05 (a rank trend test: it passes an inverted U too, so it does not vote)",
            posts=posts, unit="runs", n_runs=len(curves), precondition=pre))
    return checks


def decide(measured: Mapping, level: float, preconditions: Mapping[str, str | None] | None = None) -> list[Check]:
    """The checks at ``level`` from per-run statistics (pure: no model, no data).

    ``measured`` (each key optional; a sub-claim whose key is missing gets no check):
    ``kl_share`` (per VAE run) for C7a; ``r2_ratio`` (E[R(z)²] / z_dim per VAE run) and,
    shown, ``peak_vae``, ``peak_ae`` (radius peaks per seed, paired) for C7b;
    ``quality_vae``, ``quality_ae`` (decoded N(0, I) quality per seed, paired) and
    ``diversity`` (per VAE run, secondary) for C7c; ``quality_by_r`` (per VAE run, its mean
    quality at each of ``radii``, default :data:`RADII_R`) for C7d. ``preconditions`` maps a
    sub-claim id to why its models are not what the claim is about.
    """
    pre = dict(preconditions or {})
    parts = (("kl_share", "C7a", _c7a), ("r2_ratio", "C7b", _c7b), ("quality_vae", "C7c", _c7c),
             ("quality_by_r", "C7d", _c7d))
    return [c for key, sid, part in parts if key in measured for c in part(measured, level, pre.get(sid))]


def _mode(r: np.ndarray) -> float:
    return latent.radius_peak(r, n_boot=1).value


def _total_variance(images: np.ndarray) -> float:
    """Sum over pixels and channels of the variance across images."""
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    return float(np.sum(np.var(flat, axis=0)))


def _quality(scorer, images: np.ndarray) -> float:
    return 2.0 * float(np.mean(scorer.scores(images)))


#: the per-run statistic (or curve) each primary check rests on: its equilibrium is judged on that alone
RESTS_ON = {KL_CHECK: ["kl_share"], CONFINE_CHECK: ["r2_ratio"],
            QUALITY_CHECK: [Contrast(("quality_vae",), ("quality_ae",))], TREND_CHECK: ["quality_by_r"]}
KEYS = ("seed", "kl_share", "kl_nats", "loss_gap", "r2_ratio", "peak_vae", "peak_ae", "peak_mu", "quality_vae",
        "quality_ae", "real_vae", "real_ae", "valid_vae", "valid_ae", "diversity", "quality_by_r", "quality_by_r_ae")


def _models(claim, scale, trained, session, seeds: list[int]):
    """The AE and VAE runs of every seed, their health recorded, and each sub-claim's precondition."""
    n = len(seeds)
    runs = trained.many([(scale.ae(), s) for s in seeds] + [(scale.vae(fact=FACT), s) for s in seeds])
    ae_runs, vae_runs = runs[:n], runs[n:]
    h_ae, h_vae = [session.health(t) for t in ae_runs], [session.health(t) for t in vae_runs]
    claim.model_health(*h_ae, *h_vae)
    need = (diagnostics.FINITE, diagnostics.CONVERGED, diagnostics.NOT_COLLAPSED)
    pre_vae = diagnostics.precondition(h_vae, *need)
    pre_both = diagnostics.precondition(h_ae + h_vae, *need)
    claim.describe_scale(**experiments.scale_info(scale), seeds=seeds,
                         models="VAE fact = 5 (BatchNorm) vs AE (no BatchNorm), paired by seed")
    claim.plot("Training curves (every seed)",
               experiments.history_panel("total loss per epoch", {
                   f"{label} seed {s}": t.history for label, ts in (("AE", ae_runs), ("VAE fact 5", vae_runs))
                   for s, t in zip(seeds, ts)}),
               experiments.history_panel("VAE: fact·KL per epoch",
                                         {f"seed {s}": t.history for s, t in zip(seeds, vae_runs)}, key="kl_loss"))
    return ae_runs, vae_runs, {"C7a": pre_vae, "C7b": pre_vae, "C7c": pre_both, "C7d": pre_vae}


def _inputs(scale, session) -> dict:
    """The images and latent draws every run is measured on (the same for every model)."""
    train_set, test_set = session.datasets()
    ref_images, val_images = experiments.heldout_split(test_set)
    return {"share_images": np.asarray(train_set.images[:min(scale.n_analysis, 4000, len(train_set))]),
            "ref": ref_images, "val": val_images, "real_val": val_images.astype(np.float32) / 255.0,
            "real_scorer": session.quality_scorer(),
            "z_normal": experiments.random_latents(min(N_RANDOM, len(test_set)), scale.z_dim, "normal", seed=100),
            "z_box": [experiments.random_latents(min(N_PER_R, len(test_set)), scale.z_dim, "uniform", r, seed=200 + i)
                      for i, r in enumerate(RADII_R)]}


def _decoded(per: dict, shown: dict, label: str, t, inputs: dict, first: bool) -> None:
    """Decoded-quality statistics of one model (``label`` 'vae' or 'ae') of one run."""
    scorer = experiments.reconstruction_scorer(t.model, inputs["ref"], seed=0)
    per[f"valid_{label}"].append(_quality(scorer, experiments.reconstruct(t.model, inputs["val"], seed=1)))
    images = decode(t.model, inputs["z_normal"])
    per[f"quality_{label}"].append(_quality(scorer, images))
    per[f"real_{label}"].append(_quality(inputs["real_scorer"], images))
    box = [decode(t.model, z) for z in inputs["z_box"]]
    per["quality_by_r" if label == "vae" else "quality_by_r_ae"].append([_quality(scorer, b) for b in box])
    if label == "vae":
        per["diversity"].append(_total_variance(images) / _total_variance(inputs["real_val"]))
    if first:
        shown[label] = to_uint8(images[:16])
        shown[f"{label}_box"] = [to_uint8(b[:8]) for b in box]


def _run_statistics(per: dict, s: int, ae_t, vae_t, lat_a: dict, lat_v: dict, inputs: dict, z_dim: int) -> None:
    """The per-run statistics of seed ``s`` that need no decoding."""
    per["seed"].append(s)
    terms = experiments.loss_terms(vae_t.model, inputs["share_images"], seed=s)
    per["kl_share"].append(float(terms["kl_loss"].mean() / terms["total"].mean()))
    per["kl_nats"].append(float(terms["kl"].mean()))
    per["loss_gap"].append(experiments.last_epoch(vae_t.history, "loss") / experiments.last_epoch(
        ae_t.history, "loss") - 1.0)
    z = np.asarray(lat_v["z"], dtype=np.float64)
    per["r2_ratio"].append(float(np.mean(np.sum(z * z, axis=1))) / z_dim)
    per["peak_vae"].append(_mode(latent.radii(lat_v["z"])))
    per["peak_mu"].append(_mode(latent.radii(lat_v["mu"])))
    per["peak_ae"].append(_mode(latent.radii(lat_a["z"])))


def _measure(claim, scale, session, seeds, ae_runs, vae_runs, inputs: dict) -> tuple[dict, dict]:
    """Per-run statistics of every usable seed, and what the figures show of the first."""
    per: dict[str, list] = {k: [] for k in KEYS}
    shown: dict = {}
    for s, ae_t, vae_t in zip(seeds, ae_runs, vae_runs):
        lat_a, lat_v = session.latents(ae_t), session.latents(vae_t)
        if not (experiments.usable_run(claim, ae_t, lat_a, f"AE seed {s}")
                and experiments.usable_run(claim, vae_t, lat_v, f"VAE seed {s}", keys=("z", "mu"))):
            continue
        first = not per["seed"]
        _run_statistics(per, s, ae_t, vae_t, lat_a, lat_v, inputs, scale.z_dim)
        for label, t in (("vae", vae_t), ("ae", ae_t)):
            _decoded(per, shown, label, t, inputs, first)
        if first:
            shown["first"] = s
            shown["lat"] = {"AE z": lat_a["z"], "VAE z (sampled)": lat_v["z"], "VAE mu": lat_v["mu"]}
    return per, shown


def _secondary(claim, scale, per: dict) -> None:
    across = stats.across_runs
    claim.statistic("VAE: KL per image in nats (t CI across runs)", across(per["kl_nats"]),
                    note="a collapsed posterior has KL ≈ 0")
    claim.statistic("total loss (VAE − AE) / AE, last epoch (t CI across runs)", across(per["loss_gap"]),
                    posts="(5015 − 4850) / 4850 ≈ +3.4 % (different AE)")
    sq = math.sqrt(scale.z_dim)
    claim.statistic("radius peak, AE (t CI across runs)", across(per["peak_ae"]), posts="16.75 (post XIII)")
    claim.statistic("radius peak, VAE R(z) (t CI across runs)", across(per["peak_vae"]),
                    note=f"√z_dim = {sq:.2f}: E[R(z)²] = z_dim if the aggregate posterior matches N(0, I)")
    claim.statistic("radius peak, VAE R(mu) (t CI across runs)", across(per["peak_mu"]))
    for label in ("vae", "ae"):
        claim.statistic(f"{label.upper()}: held-out reconstructions, own-reconstruction scorer (across runs)",
                        across(per[f"valid_{label}"]), note="validation of the metric: ≈ 1 by construction")
        claim.statistic(f"{label.upper()}: decoded z ~ N(0, I), real-image scorer (across runs)",
                        across(per[f"real_{label}"]), note="penalises the VAE's blur")
    claim.statistic("VAE: slope of quality on ln r over all radii (t CI across runs)",
                    across([slope_on_log_r(RADII_R, c) for c in per["quality_by_r"]]))
    claim.statistic("Kendall tau of quality vs r, VAE (t CI across runs; the first design's statistic)",
                    across([trend_tau(RADII_R, c) for c in per["quality_by_r"]]))
    claim.statistic("Kendall tau of quality vs r, AE (t CI across runs, for contrast)",
                    across([trend_tau(RADII_R, c) for c in per["quality_by_r_ae"]]))


def _figures(claim, scale, per: dict, shown: dict, inputs: dict) -> None:
    first = shown["first"]
    claim.plot(f"Radius distributions, seed {first} (bins of 0.5)",
               experiments.radius_panel("R = ||z||", shown["lat"], marks={"√z_dim": math.sqrt(scale.z_dim)}))
    claim.plot(f"Decoded random z ~ N(0, I), seed {first} (same z for both models)",
               experiments.images_panel("real held-out images", inputs["val"][:16]),
               experiments.images_panel("VAE", shown["vae"]), experiments.images_panel("AE", shown["ae"]), ncols=3)
    curves = {"VAE": np.asarray(per["quality_by_r"]), "AE": np.asarray(per["quality_by_r_ae"])}
    claim.plot("Quality of decoded z ~ U[−r, r] against r", {
        "type": "lines", "title": "2 × mean conformal p (own-reconstruction scorer), one line per run",
        "xlabel": "half-width r", "ylabel": "quality",
        "series": [{"label": f"{label} seed {s}", "x": list(RADII_R), "y": list(c)}
                   for label, cs in curves.items() for s, c in zip(per["seed"], cs)],
        "vlines": [{"x": math.sqrt(3.0), "label": "per-coordinate sd 1 (r = √3)"}]})
    claim.plot(f"VAE: decoded z ~ U[−r, r], one grid per r, seed {first} (cf. post XI)",
               *[experiments.images_panel(f"r = {r:g}", b) for r, b in zip(RADII_R, shown["vae_box"])], ncols=2)


@pytest.mark.gpu
def test_c7_real_kl_term_confines_latent_space(claim, scale, trained, vaebench_session):
    """Request models → per-run statistics → decide → secondary → figures."""
    seeds = list(scale.seeds)
    ae_runs, vae_runs, pre = _models(claim, scale, trained, vaebench_session, seeds)
    inputs = _inputs(scale, vaebench_session)
    per, shown = _measure(claim, scale, vaebench_session, seeds, ae_runs, vae_runs, inputs)
    pairs = dict(zip(seeds, zip(ae_runs, vae_runs)))

    def earlier(k: int) -> dict:        # the same usable runs trained k epochs (notes go to a scratch recorder)
        at = [[vaebench_session.at_epochs(pairs[s][i], k) for s in per["seed"]] for i in (0, 1)]
        return _measure(ClaimRecorder(claim.claim), scale, vaebench_session, per["seed"], *at, inputs)[0]

    keys = [k for read in RESTS_ON.values() for k in read]
    claim.checks_at_equilibrium_measured(lambda m, level: decide(m, level, pre), per, earlier,
                                         ae_runs[0].entry.train.epochs, keys=keys, rests_on=RESTS_ON)
    if len(per["kl_share"]) < 2:
        return
    _secondary(claim, scale, per)
    _figures(claim, scale, per, shown, inputs)
