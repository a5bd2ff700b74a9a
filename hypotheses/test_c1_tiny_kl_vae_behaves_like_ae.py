"""C1 — a VAE with a tiny KL weight behaves like an AE (post XIII).

Claim (quote, post XIII, conclusion): "A trained VAE with only a tiny KL-loss contribution
will under normal circumstances behave similar to an AE with the same hidden
(convolutional) layers. [...] The VAE creates a z-point distribution which shows the same
dependency on the radius as an AE. We see similar indications and patterns of clustering.
And the VAE fails to produce human faces from random z-points in the latent space – as a
comparable AE."

Posts' figures (post XIII, seeds/000_73ebeab37ce6d73c.txt): fact = 1e-5 gives kl_loss
≈ 0.0178 against a reconstruction loss ≈ 4550 (< 4e-6); AE total loss 4515, VAE 4553–4555
over four runs (+0.85 %); radius histograms peak at R = 16.75 (AE) and "a bit below" 16
(VAE), "very comparable" form and width; MiniBatchKMeans inertia curves (2 ≤ k ≤ 80) "look
pretty similar"; random z (normal; uniform in [−2, 2] and [−10, 10]) decode to no faces for
either model.

Models: the AE without BatchNorm (``scale.ae()``) and the VAE with BatchNorm and fact = 1e-5
(``scale.vae()``), each trained with every seed of ``scale.seeds``. Latent statistics use the
codes of the first ``scale.n_analysis`` training images (the VAE's sampled z, the posts'
"z-points"). Every statistic below is computed once per run; the interval is across runs.

The entropy floor F is the mean BCE of a perfect reconstruction of the training images (the
targets' binary entropy, summed over pixels as the loss is). No model goes below it, and at
32×32 it is most of the loss, so margins on the loss are relative to the *excess* loss
(last-epoch reconstruction loss − F), the part models can change.

Sub-claims and primary checks (fixed before any run, never tuned to pass; each primary
check is supported when its 1 − 2α = 90 % interval lies inside its tolerance, refuted when its
1 − α/m = 1 − 0.05/5 interval lies outside, :mod:`vaebench.stats.verdict`):

- C1a the KL term is negligible: per VAE run fact·KL / excess loss (last epoch); geometric
  mean over runs with the t interval of the logs (a share is positive and right-skewed: on
  the linear scale a t interval over 3 runs errs on the side of support), below 0.02 — a
  tenth of C1b's 20 % margin, so the KL term is small next to any
  reconstruction difference C1b can see; a working KL term (C7, fact = 5: a few % of the
  *total* loss) exceeds it many times over.
- C1b the reconstruction loss is equivalent to the AE's: ratio of the geometric-mean excess
  losses VAE / AE, Welch t interval on the logs across runs, inside [0.8, 1.25] — the
  conventional equivalence range for a ratio of geometric means (bioequivalence's 80–125 %),
  applied to the part of the loss the models can change. The posts' +0.85 % of the total is
  shown beside it (the old margin, ±2 % of the total loss, could not fail where the floor is
  most of the loss: it spanned several times the whole excess).
- C1c the radius distribution has the same form and width: per run the relative width of
  R = ‖z‖, IQR(R) / median(R) (the spread of R / median R: free of the latent scale, which
  nothing in an AE's loss fixes, and robust to a few far-out codes); ratio of geometric
  means VAE / AE, Welch t on the logs, inside [0.8, 1.25] (the equivalence convention of
  C1b). The posts' words ("same form and width") are about shape; the first design decided
  on the location of the peak, which an AE's free latent scale moves. Shown (secondary): the
  per-run KDE mode of R (``latent.radius_peak``), ratio VAE / AE against [1/1.1, 1.1] (the
  posts call 16.75 vs ≈ 16, −4 %, "the same" and 19.75 vs 16.3, +21 %, "another minimum").
- C1d the clustering is alike: per run the mean over k of 1 − inertia(k)/inertia(2)
  (MiniBatchKMeans, 2 ≤ k ≤ 80 every second k on a seeded 3,000-point subsample; 2 ≤ k ≤ 20 at
  smoke): how much clustering explains beyond two clusters, the part of the curve models
  change. Ratio VAE / AE as C1b, inside [0.8, 1.25] (the same equivalence convention: the posts
  give no number).
- C1e random z decode to no faces for either model: per run, quality = 2 × mean conformal
  p-value of 256 decoded z against *that run's own reconstructions of held-out images*
  (``experiments.reconstruction_scorer``; real faces as this decoder makes them score ≈ 1,
  garbage ≈ 0), the worst (largest) over z ~ N(0, I), U[−2, 2]^d, U[−10, 10]^d. One t interval
  per model across its runs at level 1 − (1 − L)/2, so that the worst model's
  interval [max of lows, max of highs] holds the check's level L (union bound); below 0.3. Why this
  scorer: the real-image scorer penalises blur, so there a decoder making blurry faces from
  random z would still score low and the check could not fail. Why 0.3: a mean p-value of 0.15
  means the typical random decode is less typical than 85 % of the decoder's own faces.

Secondary (shown, never voting): fact·KL / total loss (the posts' statistic); the excess and
total losses per model; the relative total-loss gap (the posts' +0.85 %); the radius sd ratio;
the W1 distances of radius distributions and the L1 distances of normalised inertia curves as
between-model / seed-to-seed ratios with the exact permutation p over run labels
(``stats.between_within_permutation``; pairs sharing a run are never treated as independent;
its smallest p is 0.1 at 3 + 3 runs); inertia elbows; quality per distribution and with the
real-image scorer; the scorer's validation on held-out reconstructions. Not tested: t-SNE
("looks alike", a picture without a statistic; C6 draws t-SNE).

Preconditions: every run of the models a sub-claim reads must be finite and CONVERGED
(``diagnostics``: loss, probe radius, mean logvar; unknown convergence does not pass), and
the VAE runs NOT_COLLAPSED — C1 is about trained models as the posts had them, and a model
still moving has no final radius, loss or decoder. C1b also needs the excess loss of every
run to change by at most 4 % per epoch over the diagnostics' window (C1b's 20 % margin over 5
more epochs, the diagnostics' convention for the radius): the diagnostics' limit of 1 % of
the *whole* loss per epoch can be as large as the whole excess where the floor is most of the
loss. A failed precondition makes the sub-claim inconclusive with the reason.

Equilibrium (pre-registered): each primary check is also decided on the values of its own
per-run statistic predicted from the same runs at ⌈E/3⌉, ⌈2E/3⌉ and E epochs (every
statistic above recomputed on the stored earlier models; :mod:`vaebench.claims.settled`,
:mod:`vaebench.stats.equilibrium`); a verdict the remaining change could cross is "still
moving", and a run apart from the others in a statistic a check reads is inconclusive.
C1b–C1d (VAE / AE) are settled on the per-seed ratio (a :class:`vaebench.claims.settled.Contrast`:
a relaxation the two models of a seed share cancels in it) when both models have the same
usable seeds, else on each model's runs apart (:func:`settled_on`).

Scale (``vaebench.config.scales.SCALES``): smoke (CI, machinery only: its numbers mean nothing), cpu
(default: synthetic 32×32 faces, z_dim 256, 3 seeds), full (the posts' setting on the embedded
data, 4 seeds). With 3 runs per model the 99 % intervals are wide: C1b–C1d are supported only
when the runs of each model agree to a few per cent (tests/test_claim_c1.py measures it).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from vaebench import claims as experiments
from vaebench import latent, stats
from vaebench.claims import health as diagnostics
from vaebench.claims.record import Claim
from vaebench.claims.settled import Contrast
from vaebench.errors import StatsError, require
from vaebench.models import decode
from vaebench.stats import Check, Estimate, SubClaim
from vaebench.stats.design import Prior

MODELS = ("AE", "VAE")
LOSS_RATIO_MAX = 1.25                                   # C1b, C1d: ratio inside [1/1.25, 1.25] = [0.8, 1.25]
KL_EXCESS_SHARE_MAX = 0.1 * (1 - 1 / LOSS_RATIO_MAX)    # C1a: a tenth of C1b's 20 % margin = 0.02
EXCESS_DRIFT_MAX = (1 - 1 / LOSS_RATIO_MAX) / 5         # C1b precondition: 4 % per epoch
PEAK_RATIO_MAX = 1.10                                   # C1c, secondary (location)
WIDTH_RATIO_MAX = LOSS_RATIO_MAX                        # C1c: relative width ratio inside [0.8, 1.25]
DROP_RATIO_MAX = LOSS_RATIO_MAX                         # C1d
RANDOM_Z_QUALITY_MAX = 0.3                              # C1e
RANDOM_Z = (("z ~ N(0, I)", "normal", None), ("z ~ U[−2, 2]", "uniform", 2.0), ("z ~ U[−10, 10]", "uniform", 10.0))

#: the per-run statistic each primary check rests on (its equilibrium is judged on that alone)
RESTS_ON = {"kl": "kl_share", "excess": "excess", "width": "width", "drop": "drop", "quality": "quality"}
#: the VAE / AE ratios, settled on the per-seed ratio where the runs pair up (:func:`settled_on`)
PAIRED = ("excess", "width", "drop")
NAMES = {"kl": "fact·KL / loss above the entropy floor (VAE, geometric mean over runs)",
         "excess": "reconstruction loss above the entropy floor, VAE / AE",
         "peak": "radius peak, VAE / AE",
         "width": "relative width of the radius distribution IQR(R) / median(R), VAE / AE",
         "drop": "mean inertia drop 1 − inertia(k)/inertia(2) over k, VAE / AE",
         "quality": "random-z decode quality, worst model (worst of N(0, I), U[−2, 2], U[−10, 10] per run)"}

CLAIM = Claim(
    id="C1",
    title="A VAE with tiny KL weight (fact = 1e-5) behaves like an AE",
    quote=("A trained VAE with only a tiny KL-loss contribution will under normal circumstances behave similar "
           "to an AE with a the same hidden (convolutional) layers. [...] The VAE creates a z-point distribution "
           "which shows the same dependency on the radius as an AE. We see similar indications and patterns of "
           "clustering. And the VAE fails to produce human faces from random z-points in the latent space – as a "
           "comparable AE."),
    source="post XIII, 'Variational Autoencoder with Tensorflow 2.8' (seeds/000_73ebeab37ce6d73c.txt), "
           "sections on the VAE with tiny KL-loss and the conclusion",
    posts={"fact·KL / total loss": "0.0178 / 4550 < 4e-6",
           "final loss": "AE 4515; VAE 4553–4555 over four runs (+0.85 %)",
           "radius peak": "AE 16.75; VAE close to 16, 'a bit lower', same form and width",
           "inertia curves": "alike; no pronounced elbow (38–42 if forced)",
           "random z decoded": "no faces for either model (normal; uniform [−2, 2], [−10, 10])"},
    subclaims=(
        SubClaim("C1a", "the KL term is negligible", NAMES["kl"], posts="0.0178 / 4550 < 4e-6 of the total"),
        SubClaim("C1b", "the final reconstruction loss is equivalent to the AE's", NAMES["excess"],
                 posts="VAE 4553–4555 vs AE 4515 (total, +0.85 %)"),
        SubClaim("C1c", "the radius distribution has the AE's form and width", NAMES["width"],
                 posts="same form and width"),
        SubClaim("C1d", "the clustering (inertia curve) is alike", NAMES["drop"], posts="curves look alike"),
        SubClaim("C1e", "random z decode to no faces, for either model", NAMES["quality"], posts="no faces"),
    ),
)

#: the design table's inputs, stated before any run (``vaebench.stats.design``), from the
#: between-run CVs of tests/test_claim_c1.py. The ratios are judged on the log scale (Welch
#: over the AE's and the VAE's runs); as a one-sample prior their SD is √(cv_AE² + cv_VAE²)
#: in ln units (an approximation: Welch's degrees of freedom are fewer than n − 1)
PRIORS = {
    "C1a": Prior(0.29, "ln units: CV 0.3 of the KL share, tests/test_claim_c1.py", margin=5.3),  # ln(0.02 / 1e-4)
    "C1b": Prior(0.112, "ln units: CVs 0.05 (AE), 0.10 (VAE), tests/test_claim_c1.py", half_width=0.223),
    "C1c": Prior(0.058, "ln units: CVs 0.03 (AE), 0.05 (VAE), tests/test_claim_c1.py", half_width=0.223),
    "C1d": Prior(0.094, "ln units: CVs 0.05 (AE), 0.08 (VAE), tests/test_claim_c1.py", half_width=0.223),
    "C1e": Prior(0.05, "quality SD 0.05, tests/test_claim_c1.py", margin=0.28),   # 0.3 − the expected 0.02
}


# --------------------------------------------------------------------------- pure parts (tested on planted inputs)





def _values(measured: Mapping, stat: str, model: str) -> np.ndarray:
    require(stat in measured and model in measured[stat],
            f"measured[{stat!r}][{model!r}] is missing; pass one value per run of each model", StatsError)
    return np.asarray(measured[stat][model], dtype=np.float64).ravel()


def _across(fn, *arrays: np.ndarray, level: float, positive: bool = False) -> Estimate:
    """``fn(*arrays, level)``, or a NaN estimate when a model has fewer than 2 finite runs
    (the check is then inconclusive; the precondition says why)."""
    if any(a.size < 2 or not np.all(np.isfinite(a)) or (positive and not np.all(a > 0)) for a in arrays):
        return Estimate(math.nan, math.nan, math.nan, level, "fewer than 2 usable runs of a model",
                        sum(a.size for a in arrays))
    return fn(*arrays, level=level)


def relative_width(radii: Sequence[float]) -> float:
    """IQR(R) / median(R): the width of the radius distribution in units of its median."""
    q1, med, q3 = np.percentile(np.asarray(radii, dtype=np.float64), [25, 50, 75])
    return float((q3 - q1) / med) if med > 0 else math.nan


def log_across_runs(values: np.ndarray, level: float) -> Estimate:
    """Geometric mean of positive per-run values with the t interval of their logs."""
    e = stats.across_runs(np.log(values), level)
    return Estimate(math.exp(e.value), math.exp(e.low), math.exp(e.high), level, "geometric mean, " + e.method, e.n)




def worst_of(estimates: Sequence[Estimate], level: float) -> Estimate:
    """The estimate of the largest of several means from their intervals, each at level
    1 − (1 − ``level``)/len: [max of lows, max of highs] covers the largest mean with
    probability ≥ ``level`` (union bound)."""
    if any(math.isnan(e.value) for e in estimates):
        return Estimate(math.nan, math.nan, math.nan, level, "a model has fewer than 2 usable runs")
    return Estimate(max(e.value for e in estimates), max(e.low for e in estimates),
                    max(e.high for e in estimates), level,
                    f"worst of {len(estimates)} models, t over runs each (union bound)",
                    sum(e.n or 0 for e in estimates))


def decide(measured: Mapping[str, Mapping[str, Sequence[float]]], level: float,
           preconditions: Mapping[str, str | None] | None = None) -> list[Check]:
    """C1's primary checks from per-run statistics (pure: no model, no data).

    ``measured[stat][model]``: one value per usable run of ``model`` ('AE', 'VAE'), for
    ``stat`` in 'kl_share' (VAE only: fact·KL / excess loss), 'excess' (last-epoch
    reconstruction loss − entropy floor), 'width' (IQR(R) / median(R)), 'peak' (radius peak,
    optional, secondary), 'drop' (mean inertia drop over
    k), 'quality' (worst random-z quality). ``preconditions``: 'AE' and 'VAE' (why that model's
    runs fail CONVERGED / NOT_COLLAPSED, were left out or lie below the floor) and 'loss' (why
    C1b's excess loss has not settled); None or absent when they pass.
    """
    pre = dict(preconditions or {})
    both = diagnostics.joined(pre.get("AE"), pre.get("VAE"))
    meta = {"role": "primary", "unit": "runs"}

    def n(stat: str, *models: str) -> int:
        return sum(_values(measured, stat, m).size for m in models)

    kl = _values(measured, "kl_share", "VAE")
    checks = [stats.check_below(
        NAMES["kl"], _across(log_across_runs, kl, level=level, positive=True), KL_EXCESS_SHARE_MAX,
        tolerance=f"t CI of the geometric mean over runs below {KL_EXCESS_SHARE_MAX:g} (a tenth of C1b's 20 % margin)",
        posts="0.0178 / 4550 < 4e-6 of the total", subclaim="C1a", n_runs=kl.size, precondition=pre.get("VAE"),
        **meta)]

    for stat, sid, hi, tol, posts, extra in (
            ("excess", "C1b", LOSS_RATIO_MAX, "ratio of geometric means, Welch t CI inside [0.8, 1.25]",
             "+0.85 % of the total (4553–4555 vs 4515)", pre.get("loss")),
            ("width", "C1c", WIDTH_RATIO_MAX, "ratio of geometric means, Welch t CI inside [0.8, 1.25]",
             "same form and width", None),
            ("drop", "C1d", DROP_RATIO_MAX, "ratio of geometric means, Welch t CI inside [0.8, 1.25]",
             "curves look alike", None)):
        est = _across(stats.ratio_across_runs, _values(measured, stat, "VAE"), _values(measured, stat, "AE"),
                      level=level, positive=True)
        checks.append(stats.check_within(NAMES[stat], est, 1 / hi, hi, tolerance=tol, posts=posts, subclaim=sid,
                                         n_runs=n(stat, *MODELS), precondition=diagnostics.joined(both, extra), **meta))

    if "peak" in measured:
        est = _across(stats.ratio_across_runs, _values(measured, "peak", "VAE"), _values(measured, "peak", "AE"),
                      level=level, positive=True)
        checks.append(stats.check_within(
            NAMES["peak"], est, 1 / PEAK_RATIO_MAX, PEAK_RATIO_MAX, posts="≈ 16 / 16.75 ≈ 0.96", unit="runs",
            tolerance="ratio of geometric means, Welch t CI inside [1/1.1, 1.1] (shown: location, not shape)",
            n_runs=n("peak", *MODELS), precondition=both))
    each = 1 - (1 - level) / len(MODELS)
    worst = worst_of([_across(stats.across_runs, _values(measured, "quality", m), level=each) for m in MODELS],
                     level)
    checks.append(stats.check_below(
        NAMES["quality"], worst, RANDOM_Z_QUALITY_MAX,
        tolerance=f"worst model's t CI over runs below {RANDOM_Z_QUALITY_MAX:g} (own-reconstruction scorer; "
                  "held-out reconstructions ≈ 1)",
        posts="no faces", subclaim="C1e", n_runs=n("quality", *MODELS), precondition=both, **meta))
    return checks




def settled_on(ok: Mapping[str, Sequence[int]]) -> dict:
    """What each primary check's equilibrium is judged on (``rests_on``): C1b–C1d on the
    per-seed VAE / AE ratio when ``ok`` (each model's usable seeds) pairs the runs seed by
    seed, else on each model's series apart; C1a and C1e on their own series."""
    paired = list(ok["AE"]) == list(ok["VAE"])
    return {NAMES[name]: [Contrast((stat, "VAE"), (stat, "AE"), ratio=True) if paired and name in PAIRED else stat]
            for name, stat in RESTS_ON.items()}


def _curve_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(a) - np.asarray(b))))


def _permutation_note(res) -> str:
    return (f"exact permutation p = {res.p_value:.3g} over {res.n_permutations} relabellings of "
            f"{res.n_a} + {res.n_b} runs (H0: the models' runs are exchangeable); shown, not voting")


# --------------------------------------------------------------------------- the test

@dataclass
class Study:
    """What one C1 test measured, per (model, seed): the runs, their health, which are usable
    (``ok[model]``: seeds), latent codes, radii, peaks, inertia curves and random-z quality."""

    seeds: list
    runs: dict
    health: dict
    floor: float
    ok: dict = field(default_factory=lambda: {m: [] for m in MODELS})
    lat: dict = field(default_factory=dict)
    recon: dict = field(default_factory=dict)
    measured: dict = field(default_factory=dict)
    r: dict = field(default_factory=dict)
    peaks: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)
    real_quality: dict = field(default_factory=dict)
    validation: dict = field(default_factory=dict)
    shown: dict = field(default_factory=dict)


def _usable(claim, session, st: Study) -> None:
    """Latent codes of the usable runs, and their last-epoch reconstruction loss."""
    for (m, s), t in st.runs.items():
        codes = session.latents(t)
        if experiments.usable_run(claim, t, codes, f"{m} seed {s}"):
            st.lat[m, s] = codes["z"]
            st.ok[m].append(s)
    st.recon = {k: experiments.last_epoch(st.runs[k].history, "reconstruction_loss") for k in st.lat}


def _preconditions(st: Study) -> dict:
    """Why each model's runs (and C1b's excess loss) cannot carry a verdict; None where they can."""
    needs = {"AE": (diagnostics.CONVERGED,), "VAE": (diagnostics.CONVERGED, diagnostics.NOT_COLLAPSED)}
    return diagnostics.group_preconditions(st.runs, st.health, st.ok, st.floor, needs, EXCESS_DRIFT_MAX)


def _losses_and_radii(st: Study, scale) -> None:
    """Per-run KL share, excess loss, radius peak and width, and inertia drop."""
    ok, last = st.ok, experiments.last_epoch
    st.measured["kl_share"] = {"VAE": [last(st.runs["VAE", s].history, "kl_loss") / (st.recon["VAE", s] - st.floor)
                                       for s in ok["VAE"]]}
    st.measured["excess"] = {m: [st.recon[m, s] - st.floor for s in ok[m]] for m in MODELS}
    st.r = {k: latent.radii(z) for k, z in st.lat.items()}
    st.peaks = {k: latent.radius_peak(rr, n_boot=200, seed=0) for k, rr in st.r.items()}
    st.measured["peak"] = {m: [st.peaks[m, s].value for s in ok[m]] for m in MODELS}
    st.measured["width"] = {m: [relative_width(st.r[m, s]) for s in ok[m]] for m in MODELS}
    ks = range(2, 81, 2) if scale.name != "smoke" else range(2, 21, 2)
    st.curves = {k: latent.inertia_curve(z, ks=ks, seed=0, n_init=1, max_points=3000) for k, z in st.lat.items()}
    st.measured["drop"] = {m: [1.0 - float(np.mean(st.curves[m, s]["normalised"])) for s in ok[m]] for m in MODELS}


def _random_z_quality(st: Study, zs: list, ref_images, val_images, real_scorer) -> None:
    """Every usable run's decodes of the same random z, scored against its own reconstructions
    (and the real images); the first seed's decodes kept for the figures."""
    for m, s in st.lat:
        model = st.runs[m, s].model
        scorer = experiments.reconstruction_scorer(model, ref_images, seed=0)
        recon_val = experiments.reconstruct(model, val_images, seed=1)
        st.validation[m, s] = (scorer.score(recon_val, n_boot=200).value,
                               real_scorer.score(recon_val, n_boot=200).value)
        first = s == st.ok[m][0]
        for i, z in enumerate(zs):
            images = decode(model, z)
            st.quality[m, s, i] = scorer.score(images, n_boot=200, seed=i).value
            st.real_quality[m, s, i] = real_scorer.score(images, n_boot=200, seed=i).value
            if first:
                st.shown[m, i] = experiments.images_panel(f"{m} seed {s}: decoded {RANDOM_Z[i][0]}", images[:16])
        if first:
            st.shown[m, "recon"] = experiments.images_panel(f"{m} seed {s}: reconstructions", recon_val[:8])
    st.measured["quality"] = {m: [max(st.quality[m, s, i] for i in range(len(zs))) for s in st.ok[m]]
                              for m in MODELS}


def _measured_at(session, st: Study, k: int, scale, zs, ref_images, val_images, real_scorer) -> dict:
    """The per-run statistics of the same usable runs trained ``k`` epochs (the earlier
    budgets of the equilibrium check; a store hit)."""
    at = Study(st.seeds, {key: session.at_epochs(t, k) for key, t in st.runs.items()}, {}, st.floor, ok=st.ok)
    at.lat = {key: session.latents(at.runs[key])["z"] for key in st.lat}
    at.recon = {key: experiments.last_epoch(at.runs[key].history, "reconstruction_loss") for key in at.lat}
    _losses_and_radii(at, scale)
    _random_z_quality(at, zs, ref_images, val_images, real_scorer)
    return at.measured


@pytest.mark.gpu
def test_c1_tiny_kl_vae_behaves_like_ae(claim, scale, trained, vaebench_session):
    session, seeds = vaebench_session, list(scale.seeds)
    got = trained.many([(scale.ae(), s) for s in seeds] + [(scale.vae(), s) for s in seeds])
    runs = dict(zip([(m, s) for m in MODELS for s in seeds], got))
    train_set, test_set = session.datasets()
    claim.describe_scale(**experiments.scale_info(scale), seeds=seeds,
                         models="AE (no BatchNorm) and VAE (BatchNorm, fact = 1e-5)")
    st = Study(seeds, runs, {k: session.health(t) for k, t in runs.items()},
               experiments.entropy_floor(train_set.images))
    claim.model_health(*st.health.values())
    _usable(claim, session, st)
    pre = _preconditions(st)
    _losses_and_radii(st, scale)
    ref_images, val_images = experiments.heldout_split(test_set)
    real_scorer = session.quality_scorer()
    zs = [experiments.random_latents(min(256, len(test_set)), scale.z_dim, dist, rr, seed=100 + i)
          for i, (_, dist, rr) in enumerate(RANDOM_Z)]
    _random_z_quality(st, zs, ref_images, val_images, real_scorer)

    scored = (scale, zs, ref_images, val_images, real_scorer)
    claim.checks_at_equilibrium_measured(
        lambda m, level: decide(m, level, pre), st.measured, lambda k: _measured_at(session, st, k, *scored),
        epochs=got[0].entry.train.epochs, keys=tuple(RESTS_ON.values()), rests_on=settled_on(st.ok))
    _secondary_losses(claim, st)
    _secondary_alike(claim, st)
    _secondary_per_model(claim, st)
    claim.statistic("quality of real held-out images, real-image scorer",
                    real_scorer.score(val_images.astype(np.float32) / 255.0), posts="(metric validation: ≈ 1)")
    _plot_curves_and_radii(claim, st, scale)
    _plot_images(claim, st, val_images, len(zs))
    _plot_table(claim, st)


# --------------------------------------------------------------------------- secondary: shown, never voting

def _shown(values):
    return stats.across_runs(values) if len(values) >= 2 else Estimate.exact(float(np.mean(values)))


def _shown_ratio(a, b):
    if min(len(a), len(b)) >= 2:
        return stats.ratio_across_runs(a, b)
    return Estimate.exact(float(np.exp(np.mean(np.log(a)) - np.mean(np.log(b)))))


def _secondary_losses(claim, st: Study) -> None:
    ok, last = st.ok, experiments.last_epoch
    if ok["VAE"]:
        claim.statistic(
            "fact·KL / total loss, VAE (across runs)",
            _shown([last(st.runs["VAE", s].history, "kl_loss") / last(st.runs["VAE", s].history, "loss")
                     for s in ok["VAE"]]),
            posts="0.0178 / 4550 < 4e-6")
    claim.statistic("entropy floor (BCE of a perfect reconstruction, per image)", st.floor,
                    note="the part of the loss no model can change")
    for m in MODELS:
        if ok[m]:
            claim.statistic(f"final reconstruction loss, {m} (across runs)", _shown([st.recon[m, s] for s in ok[m]]),
                            posts="4515" if m == "AE" else "4553–4555")
            claim.statistic(f"loss above the entropy floor, {m} (across runs)", _shown(st.measured["excess"][m]))


def _secondary_alike(claim, st: Study) -> None:
    """The total-loss gap, the radius sd ratio, and between-model / seed-to-seed distances."""
    ok = st.ok
    if min(len(ok["AE"]), len(ok["VAE"])) < 2:
        return
    loss_ae = [st.recon["AE", s] for s in ok["AE"]]
    gap = stats.difference_across_runs([st.recon["VAE", s] for s in ok["VAE"]], loss_ae)
    claim.statistic("(VAE − AE) / AE, total reconstruction loss", gap.scale(1 / float(np.mean(loss_ae))),
                    posts="+0.85 %", note="the old ±2 % margin: most of this loss is the entropy floor")
    claim.statistic("radius sd, VAE / AE (across runs)",
                    _shown_ratio([float(np.std(st.r["VAE", s])) for s in ok["VAE"]],
                           [float(np.std(st.r["AE", s])) for s in ok["AE"]]),
                    posts="very comparable width")
    order = [("AE", s) for s in ok["AE"]] + [("VAE", s) for s in ok["VAE"]]
    for name, items, dist in (
            ("radius distributions: mean W1(AE, VAE) / mean W1(seed, seed)",
             [st.r[k] for k in order], wasserstein_distance),
            ("normalised inertia curves: mean L1(AE, VAE) / mean L1(seed, seed)",
             [st.curves[k]["normalised"] for k in order], _curve_distance)):
        res = stats.between_within_permutation(stats.distance_matrix(items, dist), len(ok["AE"]))
        claim.statistic(name, res.ratio, posts="alike", note=_permutation_note(res))


def _secondary_per_model(claim, st: Study) -> None:
    """Inertia elbow, random-z quality per distribution and both scorers' validation, per model."""
    for m in MODELS:
        ok = st.ok[m]
        if not ok:
            continue
        c = st.curves[m, ok[0]]
        el = latent.elbow(c["k"], c["normalised"])
        claim.statistic(f"inertia elbow {m} seed {ok[0]}: k", el["k"], posts="38–42 if forced",
                        note=f"elbow strength {el['strength']:.3f} (0 = straight line, ≈ 0.7 = right angle)")
        for i, (name, _, _) in enumerate(RANDOM_Z):
            claim.statistic(f"{m}: quality of decoded {name}, own-reconstruction scorer (across runs)",
                            _shown([st.quality[m, s, i] for s in ok]), posts="no faces")
            claim.statistic(f"{m}: quality of decoded {name}, real-image scorer (across runs)",
                            _shown([st.real_quality[m, s, i] for s in ok]))
        claim.statistic(f"{m}: held-out reconstructions, own-reconstruction scorer (across runs)",
                        _shown([st.validation[m, s][0] for s in ok]), note="validation of the metric: ≈ 1")
        claim.statistic(f"{m}: held-out reconstructions, real-image scorer (across runs)",
                        _shown([st.validation[m, s][1] for s in ok]),
                        note="how much the real-image scorer penalises this decoder's blur")


# --------------------------------------------------------------------------- figures

def _plot_curves_and_radii(claim, st: Study, scale) -> None:
    every = {f"{m} seed {s}": st.runs[m, s].history for m in MODELS for s in st.seeds}
    claim.plot(
        "Training curves",
        experiments.history_panel("reconstruction loss per epoch", every, key="reconstruction_loss"),
        experiments.history_panel("probe radius mean per epoch", every, key="probe_radius_mean"),
        experiments.history_panel("KL term fact·KL per epoch (VAE)",
                                  {f"VAE seed {s}": st.runs["VAE", s].history for s in st.seeds},
                                  key="kl_loss", logy=True))
    claim.plot(
        "Radius distributions (bins of 0.5, as in the posts)",
        experiments.radius_panel("R = ||z||, every seed", {f"{m} seed {s}": st.lat[m, s] for m, s in st.lat},
                                 marks={"√z_dim": math.sqrt(scale.z_dim)}))
    claim.plot(
        "MiniBatchKMeans inertia / inertia(k = 2)",
        {"type": "lines", "title": "normalised inertia", "xlabel": "k (clusters)", "ylabel": "inertia / inertia(k=2)",
         "series": [{"label": f"{m} seed {s}", "x": c["k"], "y": c["normalised"]} for (m, s), c in st.curves.items()]})


def _plot_images(claim, st: Study, val_images, n_z: int) -> None:
    panels = [experiments.images_panel("real held-out images", val_images[:8])]
    panels += [st.shown[m, "recon"] for m in MODELS if (m, "recon") in st.shown]
    claim.plot("Real held-out images and their reconstructions", *panels, ncols=3)
    claim.plot(
        "Decoded random latent points (same z for every run; first seed shown)",
        *[st.shown[m, i] for i in range(n_z) for m in MODELS if (m, i) in st.shown],
        ncols=2, caption="Left: AE, right: VAE; rows: z ~ N(0, I), U[−2, 2], U[−10, 10].")


def _table_row(st: Study, m: str, s) -> list:
    ok, measured = st.ok[m], st.measured
    here = s in ok
    return [
        m, s,
        f"{st.recon[m, s] - st.floor:.3f}" if (m, s) in st.recon else "—",
        f"{measured['kl_share']['VAE'][ok.index(s)]:.3g}" if m == "VAE" and here else "—",
        str(st.peaks[m, s]) if (m, s) in st.peaks else "—",
        f"{measured['drop'][m][ok.index(s)]:.4f}" if here else "—",
        f"{measured['quality'][m][ok.index(s)]:.3f}" if here else "—",
        ", ".join(st.health[m, s].flags) or "ok",
    ]


def _plot_table(claim, st: Study) -> None:
    claim.plot("Per-run summary", {
        "type": "table",
        "title": "per-run statistics (the units of every primary check)",
        "columns": ["model", "seed", "loss above floor", "fact·KL / excess", "radius peak [95 % CI]",
                    "mean inertia drop", "worst random-z quality", "health"],
        "rows": [_table_row(st, m, s) for m in MODELS for s in st.seeds]})
