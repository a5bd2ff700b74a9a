"""C7 — a real KL term confines the latent space and makes random z decodable (post XI).

Claim (quote, post XI): "the KL-loss enforced a distribution of the z-points which is
confined to a region relatively close to the origin. [...] In contrast to a pure AE we DO
get something from random z-points which we clearly can interpret as human faces. [...]
this proves that we get reasonable images only up to a certain distance from the origin".

Posts' figures (post XI, seeds/000_73ebeab37ce6d73c.txt, "Characteristics of the VAE
tested" and the image grids that follow): fact = 5 "led to a 3% contribution of the KL-loss
to the total loss"; total loss after ~24 epochs > 5015 against an AE's 4850 (another
configuration); z ~ N(0, 1) (``np.random.normal``) decodes to recognisable, blurry faces;
z ~ U[−r, r]^256 for r = 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 5, 8 gives ever weirder images as r
grows (one grid per r). Post XIII's AE radius peak for comparison: 16.75.

Models: the VAE with fact = 5 (``scale.vae(fact=5.0)``, BatchNorm, seed ``scale.seeds[0]``)
against the AE (``scale.ae()``, same seed — the C1 entry). Latent codes of the first
``scale.n_analysis`` training images; the VAE's z is sampled (z = mu + exp(logvar/2)·eps).

Statistics and tolerances (fixed before any run, never tuned to pass):

1. KL share fact·KL / total loss, evaluated with the trained model on the first
   min(n_analysis, 4000) training images (inference mode), ratio of means with a bootstrap
   CI over images; the last-epoch training-history value (the posts' kind of number) is
   shown beside it. Tolerance: CI inside [1 %, 10 %]. Why: the posts' 3 % within a factor of
   about 3 either way — a KL term that is real but minor. Below 1 % the KL is too weak to
   shape the latent space (C1's regime is 1e-6); above 10 % the KL dominates the loss. (The
   first design also counted on this lower bound to guard checks 3–5 against posterior
   collapse; the first cpu run showed that it cannot: a 1 % share at fact = 5 was only
   1.3 nats per image. Check 6 is that guard.) Scale: the reconstruction loss sums over the pixels,
   so at 32×32 (cpu, smoke) it is 9× smaller than at 96×96 and the same fact = 5 weighs the
   KL 9× more; the model answers by encoding fewer nats, but the share will be larger than
   the posts'. If it leaves [1 %, 10 %] at the smaller scales that is a finding about fact
   not being scale-free, not a reason to move the tolerance.
2. Radius peak ratio VAE/AE: KDE modes of R(z) (``latent.radius_peak``), ratio with a
   two-sample bootstrap CI over images (200 resamples). Tolerance: CI below 0.75 ("far
   inside": the AE's codes sit in a shell at least a third farther out; C1 shows radius
   peaks varying by ~10 % between seeds, so a ratio near 1 is not confinement). Theory
   note: if the aggregate posterior matches the prior N(0, I), E[R(z)²] = z_dim, so R(z)
   peaks near √z_dim whatever the KL weight — the confinement is then a statement about the
   AE's codes lying farther out. In the posts' own setting the AE peaks at 16.75 ≈ √256, so
   at the full scale this check may well fail; the peak of R(mu) (shown) is the quantity the
   KL pulls in.
3. Decoded random z ~ N(0, I) (n = 256, the same z for both models), VAE quality − AE
   quality with a two-sample bootstrap CI. Quality = 2 × mean conformal p-value against the
   model's own reconstructions of held-out images (``experiments.reconstruction_scorer``:
   held-out reconstructions score ≈ 1 — shown as the metric's validation — garbage ≈ 0),
   the scorer of C1, chosen because the validated real-image scorer penalises blur and would
   mark the VAE's blurry faces down with the AE's garbage; the real-image scorer's numbers
   are shown beside it. Tolerance: CI above 0 (the VAE higher, CI-separated).
4. The VAE's decoded N(0, I) quality itself: CI above 0.3 — the boundary C1 uses for "no
   faces", so that "decodable" here and "not decodable" there are judged on one scale.
5. Quality falling with r: z ~ U[−r, r]^d for r in (0.5, 1, 2, 3, 4, 6, 8), 128 decodes per
   r (per-coordinate sd r/√3, so r = 2 is closest to the prior); Spearman's rho between r
   and the per-image quality (VAE), bootstrap CI over images. Tolerance: CI below 0 — the
   claim is the direction (quality falls as r grows); per-image conformal scores are noisy
   (uniform for typical images), so the size of rho is not an effect size. The mean quality
   per r with CIs, the AE's rho and one image grid per r (like post XI) are shown.
6. Added after the first cpu run, because checks 3–5 compare decodes with the model's own
   reconstructions and so cannot fail for a collapsed VAE (every z and every image decoding
   to one average face): the variety the posts point to ("The variations in perspective,
   face forms and hairstyles are also clearly visible"). Diversity = total pixel variance
   of the VAE's decoded z ~ N(0, I) over that of real held-out images, two-sample bootstrap
   CI (300 resamples); tolerance: CI above 0.5 — the decodes must differ from each other at
   least half as much as real faces do (a blurry decoder keeps the coarse layout and colour,
   which carry most of the pixel variance of face images; a collapsed one keeps ≈ none). The
   same ratio for the VAE's held-out reconstructions (its ceiling) and for the AE's decodes
   is shown beside it.

Scale: smoke (512 images, 2 epochs: mechanics only), cpu (synthetic 32×32, 16,000 images,
z_dim 256, 8 epochs), full (96×96, 170,000 images, 24 epochs — the posts' setting on the
embedded data).

Observed in the first cpu run (tolerances unchanged; check 6 added, see above): the fact = 5
VAE is nearly collapsed — KL 1.3–1.4 nats per image, mean logvar ≈ 0, R(mu) peaking at 1.6 —
which on 32×32 synthetic faces is what fact = 5 buys (KL share 1.0 %, on the edge of the
tolerance, against the posts' 3 %). Its R(z) peaks at 16.1 ≈ √256 and the AE's at 14.9, so
the radius ratio is 1.08 (fails), as the theory note expects; its decodes are typical of its
reconstructions (checks 3–5 pass) but barely differ from each other (diversity 0.14, fails).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from vaebench import experiments, latent, stats
from vaebench.models import decode
from vaebench.record import Claim
from vaebench.stats import Check, Estimate

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
)

FACT = 5.0
KL_SHARE_RANGE = (0.01, 0.10)   # check 1
PEAK_RATIO_MAX = 0.75           # check 2
VAE_QUALITY_MIN = 0.3           # check 4 (= C1's "no faces" boundary)
DIVERSITY_MIN = 0.5             # check 6
RADII_R = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)


def _mode(r: np.ndarray) -> float:
    return latent.radius_peak(r, n_boot=1).value


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    return float(spearmanr(x, y)[0])


def _total_variance(images: np.ndarray) -> float:
    """Sum over pixels and channels of the variance across images (rows of a flat array)."""
    return float(np.sum(np.var(images, axis=0)))


def _diversity(images: np.ndarray, real: np.ndarray) -> Estimate:
    """Total pixel variance of ``images`` over that of ``real`` images, two-sample bootstrap."""
    a = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    b = np.asarray(real, dtype=np.float32).reshape(len(real), -1)
    return stats.bootstrap((a, b), lambda x, y: _total_variance(x) / _total_variance(y), n_boot=300, seed=0,
                           paired=False)


@pytest.mark.gpu
def test_c7_real_kl_term_confines_latent_space(claim, scale, trained, vaebench_session):
    session = vaebench_session
    s0 = scale.seeds[0]
    ae_t, vae_t = trained.many([(scale.ae(), s0), (scale.vae(fact=FACT), s0)])
    train_set, test_set = session.datasets()
    claim.describe_scale(**experiments.scale_info(scale), seeds=[s0],
                         models="VAE fact = 5 (BatchNorm) vs AE (no BatchNorm)")
    claim.plot("Training curves",
               experiments.history_panel("total loss per epoch", {"AE": ae_t.history, "VAE fact 5": vae_t.history}),
               experiments.history_panel("VAE: fact·KL per epoch", {"VAE fact 5": vae_t.history}, key="kl_loss"))
    for label, tr in (("AE", ae_t), ("VAE", vae_t)):
        if tr.stopped:
            claim.note(f"{label} stopped: {tr.stopped}")

    # 1. KL share.
    n_share = min(scale.n_analysis, 4000, len(train_set))
    terms = experiments.loss_terms(vae_t.model, np.asarray(train_set.images[:n_share]), seed=0)
    share = stats.bootstrap((terms["kl_loss"], terms["total"]), lambda a, b: a.mean(axis=-1) / b.mean(axis=-1),
                            n_boot=1000, seed=0, vectorized=True)
    claim.check(stats.check_within(
        "KL share fact·KL / total loss (training images, inference mode)", share, *KL_SHARE_RANGE,
        tolerance=f"bootstrap CI inside [{KL_SHARE_RANGE[0]:.0%}, {KL_SHARE_RANGE[1]:.0%}]", posts="≈ 3 %"))
    h, last = vae_t.history, experiments.last_epoch
    if h.get("kl_loss") and h.get("loss"):
        claim.statistic("KL share from the training history (last epoch)", last(h, "kl_loss") / last(h, "loss"),
                        posts="≈ 3 %")
        claim.statistic("KL (nats) per image, last epoch", last(h, "kl"))
    if ae_t.history.get("loss") and h.get("loss"):
        claim.statistic("total loss (VAE − AE) / AE, last epoch", last(h, "loss") / last(ae_t.history, "loss") - 1,
                        posts="(5015 − 4850) / 4850 ≈ +3.4 % (different AE)")

    # 2. Radius peak ratio.
    lat_v = session.latents(vae_t)
    lat_a = session.latents(ae_t)
    r_v, r_mu, r_a = latent.radii(lat_v["z"]), latent.radii(lat_v["mu"]), latent.radii(lat_a["z"])
    ratio = stats.bootstrap((r_v, r_a), lambda a, b: _mode(a) / _mode(b), n_boot=200, seed=0, paired=False)
    claim.check(stats.check_below(
        "radius peak ratio VAE R(z) / AE R(z)", ratio, PEAK_RATIO_MAX,
        tolerance=f"bootstrap CI below {PEAK_RATIO_MAX:g} ('far inside')",
        posts="VAE confined close to the origin; AE peak 16.75 (post XIII)"))
    sq = math.sqrt(scale.z_dim)
    claim.statistic("radius peak, AE", latent.radius_peak(r_a, n_boot=200, seed=0), posts="16.75 (post XIII)")
    claim.statistic("radius peak, VAE R(z)", latent.radius_peak(r_v, n_boot=200, seed=0),
                    note=f"√z_dim = {sq:.2f}: E[R(z)²] = z_dim if the aggregate posterior matches N(0, I)")
    claim.statistic("radius peak, VAE R(mu)", latent.radius_peak(r_mu, n_boot=200, seed=0))
    claim.statistic("VAE mean logvar", float(np.mean(lat_v["logvar"])))
    claim.plot("Radius distributions (bins of 0.5)",
               experiments.radius_panel("R = ||z||", {"AE z": lat_a["z"], "VAE z (sampled)": lat_v["z"],
                                                      "VAE mu": lat_v["mu"]}, marks={"√z_dim": sq}))

    # 3.–4. Decoded random z: VAE vs AE.
    ref_images, val_images = experiments.heldout_split(test_set)
    real_scorer = session.quality_scorer()
    scorers, results, decoded, decodes, recons = {}, {}, [], {}, {}
    recon_panels = [experiments.images_panel("real held-out images", val_images[:8])]
    n_random = min(256, len(test_set))
    z_normal = experiments.random_latents(n_random, scale.z_dim, "normal", seed=100)
    for label, tr in (("AE", ae_t), ("VAE", vae_t)):
        scorers[label], recon_val = experiments.validated_reconstruction_scorer(claim, label, tr.model, ref_images,
                                                                                val_images, real_scorer)
        images = decode(tr.model, z_normal)
        decodes[label], recons[label] = images, recon_val
        results[label] = scorers[label].result(images, seed=0)
        claim.statistic(f"{label}: decoded z ~ N(0, I), own-reconstruction scorer", results[label].summary,
                        posts="faces" if label == "VAE" else "no faces")
        claim.statistic(f"{label}: decoded z ~ N(0, I), real-image scorer", real_scorer.score(images, seed=0))
        recon_panels.append(experiments.images_panel(f"{label} reconstructions", recon_val[:8]))
        decoded.append(experiments.images_panel(f"{label}: decoded z ~ N(0, I)", images[:16]))
    diff = stats.bootstrap((results["VAE"].scores, results["AE"].scores),
                           lambda a, b: 2.0 * (a.mean(axis=-1) - b.mean(axis=-1)), n_boot=1000, seed=0,
                           paired=False, vectorized=True)
    claim.check(stats.check_above(
        "decoded z ~ N(0, I): quality VAE − AE", diff, 0.0,
        tolerance="two-sample bootstrap CI above 0 (own-reconstruction scorer)",
        posts="VAE: recognisable faces; AE: none"))
    claim.check(stats.check_above(
        "decoded z ~ N(0, I): quality of the VAE", results["VAE"].summary, VAE_QUALITY_MIN,
        tolerance=f"CI above {VAE_QUALITY_MIN:g} (C1's boundary for 'no faces')", posts="recognisable faces"))
    real_val = val_images.astype(np.float32) / 255.0
    claim.check(stats.check_above(
        "diversity of decoded z ~ N(0, I), VAE: pixel variance / that of real images",
        _diversity(decodes["VAE"], real_val), DIVERSITY_MIN,
        tolerance=f"bootstrap CI above {DIVERSITY_MIN:g} (added after the first cpu run: guards checks 3–5 "
                  "against posterior collapse)",
        posts="variations in perspective, face forms and hairstyles clearly visible"))
    claim.statistic("diversity of the VAE's held-out reconstructions (its ceiling)",
                    _diversity(recons["VAE"], real_val))
    claim.statistic("diversity of decoded z ~ N(0, I), AE", _diversity(decodes["AE"], real_val))
    claim.statistic("VAE: KL per image in nats (training images, inference mode)", stats.mean_ci(terms["kl"]),
                    note="a collapsed posterior has KL ≈ 0")
    claim.plot("Real held-out images and their reconstructions", *recon_panels, ncols=3)
    claim.plot("Decoded random z ~ N(0, I) (same z for both models)", *decoded, ncols=2)

    # 5. Quality against the half-width r of a uniform box.
    n_r = min(128, len(test_set))
    rs, per_r = {"VAE": [], "AE": []}, {"VAE": [], "AE": []}
    r_panels = []
    for i, rr in enumerate(RADII_R):
        z = experiments.random_latents(n_r, scale.z_dim, "uniform", rr, seed=200 + i)
        for label, tr in (("VAE", vae_t), ("AE", ae_t)):
            res, shown = experiments.decoded_result(tr.model, z, scorers[label], n_show=8, seed=i)
            rs[label].append(np.full(res.scores.size, rr))
            per_r[label].append(res)
            if label == "VAE":
                r_panels.append(experiments.images_panel(f"VAE: z ~ U[−{rr:g}, {rr:g}]", shown))
    trend = {}
    for label in ("VAE", "AE"):
        x = np.concatenate(rs[label])
        y = np.concatenate([res.scores for res in per_r[label]])
        # Every decode scoring the same (e.g. all at the floor) leaves rho undefined: no trend to measure.
        trend[label] = (stats.bootstrap((x, y), _spearman, n_boot=1000, seed=0, paired=True)
                        if np.ptp(y) > 0 else None)
    name, tol, posts = ("Spearman rho of quality vs r, z ~ U[−r, r] (VAE)",
                        "bootstrap CI below 0 (quality falls as r grows)", "ever weirder images as r grows")
    if trend["VAE"] is None:
        claim.check(Check(name, Estimate.exact(float("nan")), tol, None,
                          "every decode got the same score at every r: rho is undefined", posts))
    else:
        claim.check(stats.check_below(name, trend["VAE"], 0.0, tolerance=tol, posts=posts))
    if trend["AE"] is not None:
        claim.statistic("Spearman rho of quality vs r (AE, for contrast)", trend["AE"])
    else:
        claim.note("AE: every decode of z ~ U[−r, r] got the same score at every r (rho undefined)")
    claim.plot("Quality of decoded z ~ U[−r, r] against r", {
        "type": "lines", "title": "2 × mean conformal p (own-reconstruction scorer), 95 % CI",
        "xlabel": "half-width r", "ylabel": "quality",
        "series": [{"label": label, "x": list(RADII_R), "y": [res.summary.value for res in per_r[label]],
                    "low": [res.summary.low for res in per_r[label]],
                    "high": [res.summary.high for res in per_r[label]]} for label in ("VAE", "AE")],
        "vlines": [{"x": math.sqrt(3.0), "label": "per-coordinate sd 1 (r = √3)"}]})
    claim.plot("VAE: decoded z ~ U[−r, r], one grid per r (cf. post XI)", *r_panels, ncols=2)
