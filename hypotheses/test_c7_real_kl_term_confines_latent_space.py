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

Sub-claims and primary checks (fixed before any run, never tuned to pass; m = 4, each
primary interval two-sided at claim.level = 1 − 0.05/4; one value per run, t interval
across runs, ``stats.*_across_runs``):

- C7a a real KL term: per-run KL share fact·KL / total loss on the first min(n_analysis,
  4000) training images (inference mode); CI inside [1 %, 10 %]. Why: the posts' 3 % within
  a factor of about 3 either way — a KL term that is real but minor; below 1 % it is too weak
  to shape the latent space (C1's regime is a share of 1e-6), above 10 % it dominates the
  loss. fact is applied × H·W/9216 (``ModelSpec.kl_weight``), so the KL/reconstruction
  balance, and with it the expected share, is the posts' at every image size.
- C7b confinement: per seed, KDE mode of R(z) of the VAE over that of the AE
  (``latent.radius_peak``); geometric-mean ratio, paired t across seeds; CI below 0.75 ("far
  inside": the AE's codes sit in a shell at least a third farther out, at R ≈ 16 eight of the
  posts' 0.5-wide histogram bins, which no seed-to-seed wobble of a peak makes). Theory note: if the
  aggregate posterior matches N(0, I), E[R(z)²] = z_dim, so R(z) peaks near √z_dim whatever
  the KL weight — confinement is then a statement about the AE's codes lying farther out; in
  the posts' own setting the AE peaks at 16.75 ≈ √256, so this check can fail there. The peak
  of R(mu), which the KL pulls in, is shown.
- C7c random z decode to something an AE does not give: per seed, decoded z ~ N(0, I)
  (256 points, the same for every model) quality VAE − AE; paired t across seeds; CI above
  0. Shown (secondary): the VAE's own quality across runs against 0.3 (C1's boundary for "no
  faces", so that "decodable" here and "not decodable" there are judged on one scale), and
  the diversity of its decodes (total pixel variance over that of real held-out images,
  against 0.5: the posts' "variations in perspective, face forms and hairstyles").
- C7d quality falls monotonically as r grows: z ~ U[−r, r]^d for r in (0.5, 1, 2, 3, 4, 6, 8)
  (128 decodes per r, the same z for every model; per-coordinate sd r/√3, so r = 2 is closest
  to the prior); per run, Kendall's τ between r and the run's mean quality at each r (0 when
  the quality is the same at every r: no trend); CI across runs below −0.5. Why −0.5: τ < −0.5
  means more than three quarters of the 21 pairs of radii are ordered as the claim says
  (larger r, lower quality); a curve that rises up to the prior's scale and only then falls
  (an inverted U peaking at the third of the seven radii) has τ ≈ −0.43 and is not a
  monotone decline, whereas a sign test on a rank correlation (the first design) passed it.
  Shown: Page's L trend test with runs as blocks (it too can pass an inverted U, so it does
  not vote), the AE's τ, the mean quality per r and one image grid per r (like post XI).

Preconditions: every model of a check finite, converged and, for the VAE, not collapsed
(``diagnostics``: a VAE with fewer than 5 active units decodes every z to about one average
face, typical of its own reconstructions, which are that face too; C7c/C7d could then pass and
C7a/C7b fail on a model that is not the working VAE of post XI). Otherwise the check is
inconclusive with the reason. C7a and C7d use the VAEs, C7b and C7c both models.
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
from vaebench.claims.record import Claim, to_uint8
from vaebench.errors import StatsError, require
from vaebench.models import decode
from vaebench.stats import Check, Estimate, SubClaim

FACT = 5.0
KL_SHARE_RANGE = (0.01, 0.10)   # C7a
PEAK_RATIO_MAX = 0.75           # C7b
TAU_MAX = -0.5                  # C7d
VAE_QUALITY_MIN = 0.3           # C7c, secondary (= C1's "no faces" boundary)
DIVERSITY_MIN = 0.5             # C7c, secondary
RADII_R = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
N_RANDOM, N_PER_R = 256, 128

KL_CHECK = "KL share fact·KL / total loss (t CI across runs)"
PEAK_CHECK = "radius peak ratio VAE R(z) / AE R(z) (paired by seed)"
QUALITY_CHECK = "decoded z ~ N(0, I): quality VAE − AE (paired by seed)"
TREND_CHECK = "Kendall tau of mean quality vs r, z ~ U[−r, r] (VAE, t CI across runs)"

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
        SubClaim("C7b", "the VAE's codes are confined far inside the AE's (radius peak ratio < 0.75)", PEAK_CHECK,
                 posts="confined close to the origin; AE peak 16.75"),
        SubClaim("C7c", "random z ~ N(0, I) decode to better images for the VAE than for the AE", QUALITY_CHECK,
                 posts="VAE: recognisable faces; AE: none"),
        SubClaim("C7d", "decoded quality falls monotonically as the box half-width r grows", TREND_CHECK,
                 posts="ever weirder images as r grows"),
    ),
)


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


def decide(measured: Mapping, level: float, preconditions: Mapping[str, str | None] | None = None) -> list[Check]:
    """The checks from per-run statistics (pure: no model, no data).

    ``measured`` (each key optional; a sub-claim whose key is missing gets no check):
    ``kl_share`` (per VAE run) for C7a; ``peak_vae``, ``peak_ae`` (radius peaks per seed,
    paired) for C7b; ``quality_vae``, ``quality_ae`` (decoded N(0, I) quality per seed,
    paired) and ``diversity`` (per VAE run, secondary) for C7c; ``quality_by_r`` (per VAE run,
    its mean quality at each of ``radii``, default :data:`RADII_R`) for C7d.
    ``preconditions`` maps a sub-claim id to why its models are not what the claim is about.
    """
    pre = dict(preconditions or {})
    checks: list[Check] = []
    if "kl_share" in measured:
        share = [float(v) for v in measured["kl_share"]]
        checks.append(_primary(
            stats.check_within, KL_CHECK, "C7a", len(share), lambda: stats.across_runs(share, level), KL_SHARE_RANGE,
            level, f"t CI across runs inside [{KL_SHARE_RANGE[0]:.0%}, {KL_SHARE_RANGE[1]:.0%}]", "≈ 3 %",
            pre.get("C7a")))
    if "peak_vae" in measured:
        pv, pa = measured["peak_vae"], measured["peak_ae"]
        checks.append(_primary(
            stats.check_below, PEAK_CHECK, "C7b", len(pv), lambda: stats.ratio_across_runs(pv, pa, level, paired=True),
            (PEAK_RATIO_MAX,), level,
            f"paired t CI of the geometric-mean ratio below {PEAK_RATIO_MAX:g} ('far inside')",
            "VAE confined close to the origin; AE peak 16.75 (post XIII)", pre.get("C7b")))
    if "quality_vae" in measured:
        qv, qa = measured["quality_vae"], measured["quality_ae"]
        checks.append(_primary(
            stats.check_above, QUALITY_CHECK, "C7c", len(qv),
            lambda: stats.difference_across_runs(qv, qa, level, paired=True), (0.0,), level,
            "paired t CI across runs above 0 (own-reconstruction scorer)", "VAE: recognisable faces; AE: none",
            pre.get("C7c")))
        side = dict(unit="runs", precondition=pre.get("C7c"))
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
    if "quality_by_r" in measured:
        radii = measured.get("radii", RADII_R)
        curves = [np.asarray(c, dtype=np.float64) for c in measured["quality_by_r"]]
        taus = [trend_tau(radii, c) for c in curves]
        posts = "ever weirder images as r grows"
        checks.append(_primary(
            stats.check_below, TREND_CHECK, "C7d", len(taus), lambda: stats.across_runs(taus, level), (TAU_MAX,), level,
            f"t CI across runs below {TAU_MAX:g} (over 3/4 of the pairs of radii ordered as claimed)", posts,
            pre.get("C7d")))
        if len(curves) >= 2 and len(radii) >= 3:
            page = page_trend_test(np.stack(curves)[:, ::-1])        # predicted: quality rises as r falls
            checks.append(stats.check_below(
                "Page's L trend test, runs as blocks (p, quality falling with r)",
                Estimate.exact(float(page.pvalue), f"Page L = {page.statistic:g}"), 0.05,
                tolerance="p below 0.05 (a rank trend test: it passes an inverted U too, so it does not vote)",
                posts=posts, unit="runs", n_runs=len(curves), precondition=pre.get("C7d")))
    return checks


def _mode(r: np.ndarray) -> float:
    return latent.radius_peak(r, n_boot=1).value


def _total_variance(images: np.ndarray) -> float:
    """Sum over pixels and channels of the variance across images."""
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    return float(np.sum(np.var(flat, axis=0)))


def _quality(scorer, images: np.ndarray) -> float:
    return 2.0 * float(np.mean(scorer.scores(images)))


@pytest.mark.gpu
def test_c7_real_kl_term_confines_latent_space(claim, scale, trained, vaebench_session):
    session = vaebench_session
    seeds = list(scale.seeds)
    n = len(seeds)
    runs = trained.many([(scale.ae(), s) for s in seeds] + [(scale.vae(fact=FACT), s) for s in seeds])
    ae_runs, vae_runs = runs[:n], runs[n:]
    h_ae, h_vae = [session.health(t) for t in ae_runs], [session.health(t) for t in vae_runs]
    claim.model_health(*h_ae, *h_vae)
    need = (diagnostics.FINITE, diagnostics.CONVERGED, diagnostics.NOT_COLLAPSED)
    pre_vae = diagnostics.precondition(h_vae, *need)
    pre_both = diagnostics.precondition(h_ae + h_vae, *need)
    train_set, test_set = session.datasets()
    claim.describe_scale(**experiments.scale_info(scale), seeds=seeds,
                         models="VAE fact = 5 (BatchNorm) vs AE (no BatchNorm), paired by seed")
    claim.plot("Training curves (every seed)",
               experiments.history_panel("total loss per epoch", {
                   f"{label} seed {s}": t.history for label, ts in (("AE", ae_runs), ("VAE fact 5", vae_runs))
                   for s, t in zip(seeds, ts)}),
               experiments.history_panel("VAE: fact·KL per epoch",
                                         {f"seed {s}": t.history for s, t in zip(seeds, vae_runs)}, key="kl_loss"))

    share_images = np.asarray(train_set.images[:min(scale.n_analysis, 4000, len(train_set))])
    ref_images, val_images = experiments.heldout_split(test_set)
    real_val = val_images.astype(np.float32) / 255.0
    real_scorer = session.quality_scorer()
    z_normal = experiments.random_latents(min(N_RANDOM, len(test_set)), scale.z_dim, "normal", seed=100)
    z_box = [experiments.random_latents(min(N_PER_R, len(test_set)), scale.z_dim, "uniform", r, seed=200 + i)
             for i, r in enumerate(RADII_R)]
    keys = ("seed", "kl_share", "kl_nats", "loss_gap", "peak_vae", "peak_ae", "peak_mu", "quality_vae", "quality_ae",
            "real_vae", "real_ae", "valid_vae", "valid_ae", "diversity", "quality_by_r", "quality_by_r_ae")
    per: dict[str, list] = {k: [] for k in keys}
    shown: dict = {}
    first = None                     # the first usable seed: its images and radii are drawn
    for s, ae_t, vae_t in zip(seeds, ae_runs, vae_runs):
        lat_a, lat_v = session.latents(ae_t), session.latents(vae_t)
        if not (experiments.usable_run(claim, ae_t, lat_a, f"AE seed {s}")
                and experiments.usable_run(claim, vae_t, lat_v, f"VAE seed {s}", keys=("z", "mu"))):
            continue
        per["seed"].append(s)
        first = s if first is None else first
        terms = experiments.loss_terms(vae_t.model, share_images, seed=s)
        per["kl_share"].append(float(terms["kl_loss"].mean() / terms["total"].mean()))
        per["kl_nats"].append(float(terms["kl"].mean()))
        per["loss_gap"].append(experiments.last_epoch(vae_t.history, "loss") / experiments.last_epoch(
            ae_t.history, "loss") - 1.0)
        per["peak_vae"].append(_mode(latent.radii(lat_v["z"])))
        per["peak_mu"].append(_mode(latent.radii(lat_v["mu"])))
        per["peak_ae"].append(_mode(latent.radii(lat_a["z"])))
        for label, t in (("vae", vae_t), ("ae", ae_t)):
            scorer = experiments.reconstruction_scorer(t.model, ref_images, seed=0)
            per[f"valid_{label}"].append(_quality(scorer, experiments.reconstruct(t.model, val_images, seed=1)))
            images = decode(t.model, z_normal)
            per[f"quality_{label}"].append(_quality(scorer, images))
            per[f"real_{label}"].append(_quality(real_scorer, images))
            box = [decode(t.model, z) for z in z_box]
            per["quality_by_r" if label == "vae" else "quality_by_r_ae"].append([_quality(scorer, b) for b in box])
            if label == "vae":
                per["diversity"].append(_total_variance(images) / _total_variance(real_val))
            if s == first:
                shown[label] = to_uint8(images[:16])
                shown[f"{label}_box"] = [to_uint8(b[:8]) for b in box]
        if first == s:
            shown["lat"] = {"AE z": lat_a["z"], "VAE z (sampled)": lat_v["z"], "VAE mu": lat_v["mu"]}

    for check in stats.both_levels(claim.claim.design, lambda level: decide(
            per, level, {"C7a": pre_vae, "C7b": pre_both, "C7c": pre_both, "C7d": pre_vae})):
        claim.check(check)
    if len(per["kl_share"]) < 2:
        return
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
    claim.statistic("Kendall tau of quality vs r, AE (t CI across runs, for contrast)",
                    across([trend_tau(RADII_R, c) for c in per["quality_by_r_ae"]]))

    claim.plot(f"Radius distributions, seed {first} (bins of 0.5)",
               experiments.radius_panel("R = ||z||", shown["lat"], marks={"√z_dim": sq}))
    claim.plot(f"Decoded random z ~ N(0, I), seed {first} (same z for both models)",
               experiments.images_panel("real held-out images", val_images[:16]),
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
