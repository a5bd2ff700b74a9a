"""C3 — the latent radius distribution of the posts' AE peaks near √z_dim (posts XIII and
"curse II").

Claim (quotes). Post XIII: "There seems to be a peak around R = 16.75." "Curse II": "Still, we
find a pronounced peak at a radius of R=16.5 [...] the expectation value for the distance
according to an Euclidean L2-metric would be avg_radius = sqrt(256) = 16." Post XIII: "almost
all points are locates in a multidimensional sphere shell between 12 < R < 24. And more than
50% between 14 ≤ R ≤ 19." "Curse II": "Most curves look like typical Gaussians with a peak at
the coordinate value 0.0 with a half-width of around 2 [...] There are around 5 coordinate
directions where the distribution has a peak significantly off the origin (52, 130, 171,
200, 221)."

Posts' figures (z_dim = 256, 170,000 CelebA images, radius histogram in bins of 0.5 for
0 < R < 35): peak 16.5–16.75 (peak/√256 = 1.03–1.05); almost all in 12 < R < 24; > 50 % in
14 ≤ R ≤ 19; per-axis densities Gaussian at 0 with sd ≈ 1, about five axes off-centre,
twelve broad ones listed. The explanation offered: E[R²] = Σ_j E[z_j²] ≈ z_dim · 1.

Models: the posts' AE (``scale.ae()``, the AE of C1, same store entries) with every seed of
``scale.seeds``, encoded on ``scale.n_analysis`` training images (latent key ``'z'``).
The posts' numbers are for d = 256; every band below is the posts' in units of √d, so the
test means the same at every z_dim (smoke: 32; cpu and full: 256, the posts' shells exactly).

Unit of evidence: the training run. Each run gives one value of each statistic
(:func:`run_statistics`); every check's interval is the t interval across runs
(``stats.across_runs``); a primary's at 1 − 2α = 90 % for support and 1 − 0.05/3 for refutation.

Sub-claims and primary checks (fixed before any run, never tuned to pass). C3b is not a
sub-claim: it is vaebench's z_dim sweep, a claim of its own (test_c3b_...), which never
votes here. Primary are the posts' three statements about the radius distribution itself;
m = 3 (refutation level 1 − 0.05/3) keeps the intervals workable at a few runs.
- C3a the radius distribution peaks near √z_dim (the headline): KDE mode of R per run
  (Gaussian KDE, Scott bandwidth, ``latent.radius_peak``) / √d; interval inside
  [0.85, 1.25]. Why: "near √d" must exclude a per-axis scale off by √2 either way (peak/√d
  0.71 or 1.41, E[z_j²] = 0.5 or 2); 0.85 is about halfway in log from 1 to 0.71; the upper
  edge is a little wider (1.25, not 1.19) because broad, off-centre axes, which the posts
  report, can only push R outwards. The posts' 1.03–1.05 lies well inside; a chi with d dof
  (z ~ N(0, I)) peaks at √(d−1) ≈ 0.998 √d.
- C3c E[R²] = Σ E[z_j²] ≈ z_dim (the posts' explanation): M/d per run with M the mean of R²
  over the run's points; interval inside [0.85², 1.25²] = [0.7225, 1.5625], the band of C3a
  squared, since a peak in C3a's band at R ≈ √M needs M/d in this one. Primary because it is
  a statement of its own: a peak at √d can sit beside M ≫ d when a few axes carry a long tail.
- C3d more than half the points lie in the shell 14 ≤ R ≤ 19 (0.875√d ≤ R ≤ 1.1875√d):
  fraction per run; interval above 0.5, the posts' "more than 50 %". Primary: it is the
  posts' one number about the width of the shell, which the peak's position does not imply.
Secondary (shown, never voting): fraction in 0.75√d < R < 1.5√d (12 < R < 24) above 0.9
("almost all" read weakly: nine in ten; the posts give no number); fraction of "standard"
axes (|mean| ≤ 1, 2/3 ≤ sd ≤ 1.5: sd within a factor 1.5 of 1, |mean| ≤ 1 the posts'
"off the origin", as in ``latent.broad_axes``) above 0.5 ("most coordinates": read off
figures); peak/√M inside [0.95, 1.05] (R concentrates at √E[R²]: where it does, C3a and C3c
say the same, where not, they part); the count of broad axes (sd > 1.5 or |mean| > 1) beside the posts' "around 5"; the
histogram-bin peak (the posts' own statistic); the sd of R (a chi's → 1/√2); each run's KDE
peak with its bootstrap CI over that run's points; the matched Gaussian N(m̂, Σ̂) of the
first seed.

Preconditions: every AE run finite and converged (``diagnostics.CONVERGED``: loss and probe
radius no longer drifting), since every check is about where the radii have settled; a run
still moving makes each check inconclusive with the reason.

Equilibrium (pre-registered): the AE's radius scale drifts while it trains, so each primary
check is also decided on the values predicted from the runs at ⌈E/3⌉, ⌈2E/3⌉ and E epochs
(:mod:`vaebench.stats.equilibrium`); "still moving" or a run apart is inconclusive.
Scale: smoke (CI: the machinery only, numbers mean nothing), cpu (default: synthetic 32×32
faces, z_dim 256), full (the posts: 170,000 images at 96×96, 24 epochs). The synthetic faces
are not CelebA: whether a briefly trained AE on them has the posts' per-axis scale is exactly
what is measured.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pytest

from vaebench import claims as experiments
from vaebench import latent, stats
from vaebench.claims import health as diagnostics
from vaebench.claims.record import Claim
from vaebench.errors import StatsError, require
from vaebench.stats import Check, SubClaim
from vaebench.stats.design import Prior

PEAK = "radius peak / √z_dim (KDE mode, one per run)"
SECOND = "M / z_dim, M = E[R²] = Σ E[z_j²] (one per run)"
NARROW = "fraction with 0.875√d ≤ R ≤ 1.1875√d (posts: 14 ≤ R ≤ 19; one per run)"
WIDE_NAME = "fraction with 0.75√d < R < 1.5√d (posts: 12 < R < 24; one per run)"
STANDARD_NAME = "fraction of standard axes: |mean| ≤ 1, 2/3 ≤ sd ≤ 1.5 (one per run)"
CONCENTRATES = "radius peak / √M (one per run)"

CLAIM = Claim(
    id="C3",
    title="the AE's latent radius distribution peaks near √z_dim",
    quote=("There seems to be a peak around R = 16.75. [...] we find a pronounced peak at a radius of "
           "R=16.5 [...] the expectation value for the distance [...] would be avg_radius = sqrt(256) = 16. "
           "[...] almost all points are locates in a multidimensional sphere shell between 12 < R < 24. "
           "And more than 50% between 14 ≤ R ≤ 19."),
    source=("post XIII (seeds/000_73ebeab37ce6d73c.txt, radius histogram) and 'curse of high "
            "dimensionality II' (seeds/001_d8730745b7dc8ccb.txt, per-axis densities and radius histogram)"),
    posts={"radius peak (z_dim 256)": "16.5 (curse II), 16.75 (XIII); √256 = 16",
           "12 < R < 24": "almost all points",
           "14 ≤ R ≤ 19": "more than 50 %",
           "per-axis densities": "most Gaussian at 0, half-width ≈ 2 (sd ≈ 1)",
           "broad / off-centre axes": "around 5 of 256 off-centre (52, 130, 171, 200, 221); 12 broad listed",
           "explanation": "E[R²] = Σ E[z_j²] ≈ 256 ⇒ R ≈ 16"},
    subclaims=(
        SubClaim("C3a", "the AE's radius distribution peaks near √z_dim", PEAK,
                 posts="16.5–16.75 / 16 = 1.03–1.05"),
        SubClaim("C3c", "E[R²] = Σ E[z_j²] ≈ z_dim (the posts' explanation of the peak)", SECOND, posts="≈ 1"),
        SubClaim("C3d", "more than half the points lie in the shell 14 ≤ R ≤ 19 (in units of √d)", NARROW,
                 posts="more than 50 %"),
    ),
)

#: the design table's inputs, stated before any run (``vaebench.stats.design``): prior
#: between-run SDs and the room from the nearer edge at the expected values of
#: tests/test_claim_c3.py (peak / √d 1.03, M / d 1.06, narrow-shell fraction 0.70)
PRIORS = {
    "C3a": Prior(0.02, "tests/test_claim_c3.py (SPREAD)", margin=0.18),
    "C3c": Prior(0.04, "tests/test_claim_c3.py (SPREAD)", margin=0.3375),
    "C3d": Prior(0.03, "tests/test_claim_c3.py (SPREAD)", margin=0.20),
}

N_BOOT = 200                      # bootstrap replicates of one run's KDE peak (shown, never voting)
PEAK_BAND = (0.85, 1.25)          # peak / √d
M_BAND = (PEAK_BAND[0] ** 2, PEAK_BAND[1] ** 2)  # M / d
WIDE = (12 / 16, 24 / 16)         # the posts' 12 < R < 24 in units of √256
NARROW_SHELL = (14 / 16, 19 / 16)  # the posts' 14 ≤ R ≤ 19
MORE_THAN_HALF = 0.5
ALMOST_ALL = 0.9
STANDARD_SD = (2 / 3, 1.5)        # a "standard" axis: sd within a factor 1.5 of 1 ...
STANDARD_MEAN = 1.0               # ... and |mean| <= 1
MOST = 0.5
AT_SQRT_M = (0.95, 1.05)
#: the per-run statistics decide() reads (the first three are the primaries')
RUN_KEYS = ("peak_ratio", "M_ratio", "narrow", "wide", "standard", "peak_over_sqrtM")


# --------------------------------------------------------------------------- per-run statistics and the decision

def run_statistics(z: np.ndarray, seed: int = 0) -> dict:
    """The statistics of one run from its latent codes ``z`` (n, d): the floats of
    :data:`RUN_KEYS`, plus ``broad`` (indices of broad axes), ``hist_peak``, ``r_sd``, ``peak``
    (the KDE mode with its bootstrap CI over this run's points), ``r`` and ``table``."""
    z = np.asarray(z, dtype=np.float64)
    require(z.ndim == 2 and z.shape[0] >= 10, f"z has shape {z.shape}; pass (n >= 10, d) latent codes", StatsError)
    d = z.shape[1]
    root = math.sqrt(d)
    r = latent.radii(z)
    peak = latent.radius_peak(r, n_boot=N_BOOT, seed=seed)
    m = float(np.mean(r ** 2))
    tab = latent.axis_table(z)
    standard = (np.abs(tab["mean"]) <= STANDARD_MEAN) & (tab["sd"] >= STANDARD_SD[0]) & (tab["sd"] <= STANDARD_SD[1])
    return {"peak_ratio": peak.value / root, "M_ratio": m / d,
            "narrow": float(np.mean((r >= NARROW_SHELL[0] * root) & (r <= NARROW_SHELL[1] * root))),
            "wide": float(np.mean((r > WIDE[0] * root) & (r < WIDE[1] * root))),
            "standard": float(standard.mean()), "peak_over_sqrtM": peak.value / math.sqrt(m),
            "broad": latent.broad_axes(z), "hist_peak": latent.histogram_peak(r, 0.5),
            "r_sd": float(np.std(r, ddof=1)), "peak": peak, "r": r, "table": tab}




#: every check: (statistic key, name, sub-claim, role, kind, bounds, tolerance, posts)
CHECKS = (
    ("peak_ratio", PEAK, "C3a", "primary", "within", PEAK_BAND,
     f"t CI over runs inside [{PEAK_BAND[0]}, {PEAK_BAND[1]}]: excludes a per-axis scale off by √2",
     "16.5–16.75 / 16 = 1.03–1.05"),
    ("M_ratio", SECOND, "C3c", "primary", "within", M_BAND,
     f"t CI over runs inside [{M_BAND[0]:.4g}, {M_BAND[1]:.4g}] (C3a's band squared)", "≈ 1 (E[z_j²] ≈ 1 per axis)"),
    ("narrow", NARROW, "C3d", "primary", "above", (MORE_THAN_HALF,), f"t CI over runs above {MORE_THAN_HALF}",
     "more than 50 %"),
    ("wide", WIDE_NAME, "C3d", None, "above", (ALMOST_ALL,), f"t CI over runs above {ALMOST_ALL} ('almost all')",
     "almost all"),
    ("standard", STANDARD_NAME, "C3c", None, "above", (MOST,), f"t CI over runs above {MOST} ('most coordinates')",
     "most axes Gaussian at 0 with sd ≈ 1"),
    ("peak_over_sqrtM", CONCENTRATES, "C3c", None, "within", AT_SQRT_M,
     f"t CI over runs inside {list(AT_SQRT_M)}: the peak sits at √E[R²]", None),
)


def decide(runs: Mapping[str, Sequence[float]], level: float, precondition: str | None = None) -> list[Check]:
    """The checks from per-run statistics (pure: no model, no data).

    ``runs`` maps each of :data:`RUN_KEYS` to one value per run; the three primaries'
    (``peak_ratio``, ``M_ratio``, ``narrow``) are required, the secondaries' optional.
    """
    have = {k: list(runs[k]) for k in RUN_KEYS if k in runs}
    require(all(k in have for k in RUN_KEYS[:3]), f"runs needs {RUN_KEYS[:3]}; got {sorted(runs)}", StatsError)
    require(len({len(v) for v in have.values()}) == 1, "every statistic in runs needs one value per run",
            StatsError)
    meta = dict(unit="runs", n_runs=len(have["peak_ratio"]), precondition=precondition)
    checks = []
    for key, name, sub, role, kind, bounds, tolerance, posts in CHECKS:
        if key not in have:
            continue
        make = stats.check_within if kind == "within" else stats.check_above
        extra = {"role": role} if role else {}
        extra.update({"posts": posts} if posts else {})
        checks.append(make(name, stats.across_runs(have[key], level), *bounds, subclaim=sub, tolerance=tolerance,
                           **extra, **meta))
    return checks


# --------------------------------------------------------------------------- the posts' experiment


@pytest.mark.gpu
def test_c3_radius_peak_near_sqrt_zdim(claim, scale, trained, vaebench_session):
    claim.describe_scale(**experiments.scale_info(scale), seeds=list(scale.seeds))
    runs = trained.many([(scale.ae(), s) for s in scale.seeds])
    health = [vaebench_session.health(t) for t in runs]
    claim.model_health(*health)
    pre = diagnostics.precondition(health, diagnostics.CONVERGED)
    per: dict[int, dict] = {}
    zs: dict[int, np.ndarray] = {}
    for s, run in zip(scale.seeds, runs):
        codes = vaebench_session.latents(run)
        if experiments.usable_run(claim, run, codes, f"AE seed {s}"):
            zs[s] = np.asarray(codes["z"], dtype=np.float64)
            per[s] = run_statistics(zs[s], seed=s)
    seeds = list(per)
    by_seed = dict(zip(scale.seeds, runs))
    claim.checks_at_equilibrium_of(
        lambda values, level: decide(values, level, pre),
        lambda t: run_statistics(np.asarray(vaebench_session.latents(t)["z"], np.float64), seed=t.entry.train.seed),
        [by_seed[s] for s in seeds], [per[s] for s in seeds], RUN_KEYS, vaebench_session,
        apart={PEAK: "peak_ratio", SECOND: "M_ratio", NARROW: "narrow"})
    if not seeds:
        return
    _secondary(claim, per, math.sqrt(scale.z_dim))
    null = _matched_gaussian(claim, per, zs[seeds[0]], seeds[0])
    _plot_radii(claim, per, zs, null, scale.z_dim)
    _plot_axes(claim, per, zs, seeds[0])


# --------------------------------------------------------------------------- secondary: shown, never voting

def _secondary(claim, per: dict, root: float) -> None:
    seeds, shown = list(per), 0.95  # secondary statistics: 95 % t intervals over runs
    claim.statistic("broad / off-centre axes (sd > 1.5 or |mean| > 1), over runs",
                    stats.across_runs([len(per[s]["broad"]) for s in seeds], shown),
                    posts="≈ 5 off-centre, 12 broad of 256")
    claim.statistic("histogram-bin peak (bins of 0.5, the posts' statistic), over runs",
                    stats.across_runs([per[s]["hist_peak"] for s in seeds], shown),
                    posts="16.5–16.75 (d = 256)", note=f"√d = {root:.3g}")
    claim.statistic("sd of R, over runs", stats.across_runs([per[s]["r_sd"] for s in seeds], shown),
                    note="a chi with d dof (z ~ N(0, I)) has sd → 1/√2 ≈ 0.71")
    for s in seeds:
        broad = per[s]["broad"]
        claim.statistic(f"seed {s}: radius KDE peak (bootstrap over the points of this one run)", per[s]["peak"],
                        posts="16.5–16.75 (d = 256)",
                        note="broad axes " + ", ".join(map(str, broad[:30])) + (" …" if len(broad) > 30 else ""))


def _matched_gaussian(claim, per: dict, z: np.ndarray, s0: int) -> np.ndarray:
    """The first seed's matched Gaussian N(m̂, Σ̂): does the mean and covariance alone place the peak?"""
    null = latent.gaussian_null(z, seed=11)
    null_st = run_statistics(null, seed=11)
    claim.statistic(f"matched Gaussian N(m̂, Σ̂) of seed {s0}: peak / √d", null_st["peak_ratio"],
                    note=f"AE seed {s0}: {per[s0]['peak_ratio']:.3f}; equal ⇒ mean and covariance alone place the peak")
    claim.statistic(f"matched Gaussian of seed {s0}: sd of R", null_st["r_sd"], note=f"AE: {per[s0]['r_sd']:.3f}")
    claim.note(
        "Why the peak sits where it does: where peak/√M ≈ 1, R concentrates at √E[R²], so the peak's "
        "distance from √d is entirely the distance of Σ E[z_j²] from d (C3c); nothing in an AE's loss "
        "fixes that per-axis scale, so it is an empirical fact about training, not a law."
    )
    return null


# --------------------------------------------------------------------------- figures

def _plot_radii(claim, per: dict, zs: dict, null: np.ndarray, d: int) -> None:
    """The posts' histogram (bins of 0.5, with the first seed's matched Gaussian) and bins of 0.05."""
    seeds, root = list(per), math.sqrt(d)
    lat = {f"AE seed {s}": zs[s] for s in seeds}
    lat[f"Gaussian N(m̂, Σ̂) of seed {seeds[0]}"] = null
    hist = experiments.radius_panel(f"radius histogram, bins of 0.5 (z_dim {d})", lat,
                                    marks={"√d": root, "0.75√d": WIDE[0] * root, "1.5√d": WIDE[1] * root})
    lo_r, hi_r = np.quantile(np.concatenate([per[s]["r"] for s in seeds]), [0.005, 0.995])
    edges = np.arange(np.floor(lo_r / 0.05), np.ceil(hi_r / 0.05) + 1) * 0.05
    fine = {
        "type": "hist", "title": "same, bins of 0.05 (the posts' second view), central 99 %",
        "xlabel": "radius R = ||z||", "ylabel": "fraction of points",
        "series": [{"label": f"AE seed {s}", "edges": experiments.short_floats(edges, 6),
                    "counts": experiments.short_floats(np.histogram(per[s]["r"], edges)[0] / per[s]["r"].size)}
                   for s in seeds],
        "vlines": [{"x": root, "label": "√d"}, {"x": NARROW_SHELL[0] * root, "label": "0.875√d"},
                   {"x": NARROW_SHELL[1] * root, "label": "1.1875√d"}],
    }
    claim.plot("Radius distribution (posts: bins of 0.5, peak 16.5–16.75 for √256 = 16)", hist, fine, ncols=2)


def _broad_axes_table(tab: dict, s0: int) -> dict:
    top = np.argsort(-np.maximum(tab["sd"] / STANDARD_SD[1], np.abs(tab["mean"]) / STANDARD_MEAN))[:12]
    cols = ("mean", "sd", "second_moment", "skew", "excess_kurtosis")
    rows = [[int(j)] + [f"{tab[c][j]:+.3f}" for c in cols] for j in top]
    rows.append(["median of all axes"] + [f"{np.median(tab[c]):+.3f}" for c in cols])
    return {"type": "table",
            "title": f"AE seed {s0}: the 12 broadest axes (posts: e.g. 52 centre 5.0 width 8; "
                     "130 centre −2.0 width 9; 200 centre 0.5 width 11)",
            "columns": ["axis", "mean", "sd", "E[z²]", "skew", "excess kurtosis"], "rows": rows}


def _plot_axes(claim, per: dict, zs: dict, s0: int) -> None:
    """The per-axis densities the posts drew: the broadest axes, the most off-centre one and typical ones."""
    tab = per[s0]["table"]
    axes, labels = experiments.axes_to_show(tab, n_typical=3)
    dens = experiments.axis_density_panel(f"per-axis number density (bins of 0.25), AE seed {s0}", zs[s0], axes,
                                          labels=labels)
    meansd = experiments.scatter_panel("per-axis mean and sd (all axes, all seeds)",
                                       {f"seed {s}": (per[s]["table"]["mean"], per[s]["table"]["sd"]) for s in per},
                                       xlabel="axis mean", ylabel="axis sd", size=8)
    meansd["hlines"] = [{"y": 1.0}, {"y": STANDARD_SD[1]}, {"y": STANDARD_SD[0]}]
    meansd["vlines"] = [{"x": -STANDARD_MEAN}, {"x": STANDARD_MEAN}]
    claim.plot("Per-axis densities (posts: Gaussians at 0 with sd ≈ 1, a few broad off-centre axes)",
               dens, meansd, _broad_axes_table(tab, s0), ncols=2)
