"""C3b — beyond the posts: the AE's latent radius peak grows as √z_dim (vaebench's
generalisation of C3).

Claim: the posts measure the radius peak at one latent size (z_dim = 256: R ≈ 16.5–16.75,
√256 = 16) and explain it by E[R²] = Σ E[z_j²] ≈ z_dim. If that explanation holds as a law
rather than by chance at d = 256, the peak follows √d at every d: ln(peak) against ln(d) has
slope 0.5 (CLAIMS.md, C3: "sweep z_dim ∈ {64, 128, 256, 512} and fit the log-log slope of the
peak (0.5 if the claim generalises)"). This is vaebench's statement, not the posts': its
verdict never touches C3's.

Models: the posts' AE (``scale.ae(z_dim=d)``) for every d of ``scale.zdim_sweep`` with every
seed of ``scale.seeds``, all in one ``trained.many`` call (at d = ``scale.z_dim`` these are
C3's and C1's store entries). Each run's statistic is the KDE mode of its radii
(``latent.radius_peak``, Gaussian KDE, Scott bandwidth) on ``scale.n_analysis`` training images.

Sub-claim and primary check (fixed before any run, never tuned to pass):
- C3b.1 the radius peak grows as z_dim^0.5: per seed, the OLS slope of ln(peak) on ln(d)
  over the sweep's runs of that seed (one slope per seed; the seeds' runs are independent
  of each other, so the slopes are independent replicates), t interval across seeds
  (``stats.across_runs``), 90 % for support, 95 % for refutation (m = 1). Tolerance: [0.4, 0.6].
  Why ±0.1: over the posts' range 64 → 512 an exponent off by 0.1 moves peak/√d by
  8^0.1 ≈ ×1.23, as far as C3's band for "near √d" reaches (0.85–1.25); a smaller margin
  would ask more of a law than C3 asks of one point. (Over 64 → 256: ×1.15.)
Secondary (shown, never voting): the same slope for √M (M = E[R²]; 0.5 ⇔ the mean per-axis
second moment does not change with d), peak/√d and M/d per z_dim over seeds, each run's peak.

Preconditions: every sweep run finite and converged (``diagnostics.CONVERGED``: loss and
probe radius no longer drifting): a slope over radii still moving measures training time,
not z_dim.

Equilibrium (pre-registered): the check is also decided on each seed's slope predicted from
the same seed's slope at ⌈E/3⌉, ⌈2E/3⌉ and E epochs (:mod:`vaebench.claims.settled`); a verdict
the remaining change could cross is "still moving". The slope's own trajectory, not each run's
peak: a relaxation the z_dims share cancels in the slope, whose own approach can be slower
(C2b's docstring and tests show the case).
Scale: smoke (CI, machinery only), cpu (default: a shortened sweep to fit 2 cores; with two
z_dims a seed's slope is ln(peak ratio) / ln(z_dim ratio)), full (the posts' range 64 … 512).
The sweep of each scale is ``scale.zdim_sweep``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from vaebench import claims as experiments
from vaebench import latent, stats
from vaebench.claims import health as diagnostics
from vaebench.claims.record import Claim, ClaimRecorder
from vaebench.errors import StatsError, require
from vaebench.stats import Check, Estimate, SubClaim
from vaebench.stats.design import Prior

SLOPE = "log-log slope of the radius peak vs z_dim (one per seed)"
SQRT_M_SLOPE = "log-log slope of √M vs z_dim, M = E[R²] (one per seed)"
SLOPE_BAND = (0.4, 0.6)
N_BOOT = 200                      # bootstrap replicates of one run's KDE peak (shown, never voting)

CLAIM = Claim(
    id="C3b",
    title="beyond the posts: the AE's radius peak grows as √z_dim",
    quote=("(vaebench) the posts' peak near √z_dim at z_dim = 256, with their explanation E[R²] = Σ E[z_j²] ≈ "
           "z_dim, holds at every z_dim: ln(peak) grows with slope 0.5 in ln(z_dim)"),
    source="vaebench's generalisation of C3 (../shared/CLAIMS.md, C3: 'Go beyond: sweep z_dim')",
    posts={"radius peak (z_dim 256)": "16.5–16.75 (√256 = 16); other z_dim not measured in the posts"},
    subclaims=(SubClaim("C3b.1", "the radius peak grows as z_dim^0.5", SLOPE, posts="only z_dim 256 measured"),),
    generalises="C3",
)

#: the design table's input, stated before any run (``vaebench.stats.design``)
PRIORS = {"C3b.1": Prior(0.03, "tests/test_claim_c3b.py (per-seed slope SD)", half_width=0.1)}


def seed_slopes(dims: Sequence[float], values) -> np.ndarray:
    """Per row of ``values`` (seeds × z_dims, positive), the OLS slope of ln(value) on ln(d)."""
    x = np.log(np.asarray(dims, dtype=np.float64))
    y = np.asarray(values, dtype=np.float64)
    require(x.ndim == 1 and np.unique(x).size >= 2, f"dims={list(dims)} needs at least two distinct z_dims",
            StatsError)
    require(y.ndim == 2 and y.shape[1] == x.size, f"values has shape {y.shape}; pass (seeds, {x.size} z_dims)",
            StatsError)
    require(bool(np.all(np.isfinite(y)) and np.all(y > 0)), "values must be finite and positive", StatsError)
    xc = x - x.mean()
    return np.log(y) @ xc / float(xc @ xc)




def decide(dims: Sequence[float], peaks, level: float, precondition: str | None = None,
           sqrt_m=None) -> list[Check]:
    """The checks from per-run radius peaks (pure: no model, no data).

    ``peaks`` (and the optional ``sqrt_m``, √E[R²] per run): one row per seed, one column per
    z_dim of ``dims``; every run of a row shares its seed.
    """
    peaks = np.asarray(peaks, dtype=np.float64).reshape(-1, len(dims))
    return decide_slopes(measured_slopes(dims, peaks, sqrt_m), int(peaks.size), level, precondition)


def measured_slopes(dims: Sequence[float], peaks, sqrt_m=None) -> dict:
    """The seeds' slopes (:func:`seed_slopes`) of ``peaks`` and, when given, of ``sqrt_m``:
    ``{"slope": [...], "sqrt_m_slope": [...]}``, what the equilibrium settles on. A seed with a
    run not finite (unusable at an earlier budget) has a NaN slope."""
    def slopes(values) -> list[float]:
        rows = np.asarray(values, dtype=np.float64).reshape(-1, len(dims))
        return [float(seed_slopes(dims, r[None])[0]) if np.all(np.isfinite(r)) else math.nan for r in rows]

    out = {"slope": slopes(peaks)}
    if sqrt_m is not None:
        out["sqrt_m_slope"] = slopes(sqrt_m)
    return out


def decide_slopes(measured: dict, n_runs: int, level: float, precondition: str | None = None) -> list[Check]:
    """The checks from the seeds' slopes (:func:`measured_slopes`) of ``n_runs`` sweep runs."""
    meta = dict(unit="runs", n_runs=n_runs, precondition=precondition)
    tol = (f"t CI over seeds inside [{SLOPE_BAND[0]}, {SLOPE_BAND[1]}]: an exponent off by 0.1 moves peak/√d "
           "by ×1.23 over 64 → 512")
    checks = [stats.check_within(SLOPE, stats.across_runs(measured["slope"], level), *SLOPE_BAND, tolerance=tol,
                                 subclaim="C3b.1", role="primary",
                                 posts="0.5 if the peak is at √z_dim for every z_dim (posts: z_dim 256 only)",
                                 **meta)]
    if "sqrt_m_slope" in measured:
        checks.append(stats.check_within(SQRT_M_SLOPE, stats.across_runs(measured["sqrt_m_slope"], level),
                                         *SLOPE_BAND, tolerance=f"t CI over seeds inside {list(SLOPE_BAND)}",
                                         subclaim="C3b.1", **meta))
    return checks


def _per_run(claim, session, models: dict) -> dict:
    """Each usable run's radius peak, √E[R²] and codes, by (z_dim, seed)."""
    per: dict[tuple[int, int], dict] = {}
    for (d, s), run in models.items():
        codes = session.latents(run)
        if experiments.usable_run(claim, run, codes, f"AE z_dim {d} seed {s}"):
            z = np.asarray(codes["z"], dtype=np.float64)
            r = latent.radii(z)
            per[d, s] = {"peak": latent.radius_peak(r, n_boot=N_BOOT, seed=s),
                         "sqrt_m": math.sqrt(float(np.mean(r ** 2))), "z": z}
    return per


@pytest.mark.gpu
def test_c3b_peak_scales_as_sqrt_zdim(claim, scale, trained, vaebench_session):
    dims, seeds = sorted(set(scale.zdim_sweep)), list(scale.seeds)
    claim.describe_scale(**experiments.scale_info(scale), zdim_sweep=dims, seeds=seeds)
    wanted = [(d, s) for s in seeds for d in dims]
    models = dict(zip(wanted, trained.many([(scale.ae(z_dim=d), s) for d, s in wanted])))
    health = [vaebench_session.health(models[k]) for k in wanted]
    claim.model_health(*health)
    pre = diagnostics.precondition(health, diagnostics.CONVERGED)
    per = _per_run(claim, vaebench_session, models)
    complete = [s for s in seeds if all((d, s) in per for d in dims)]
    if len(complete) < len(seeds):
        claim.note(f"seeds {[s for s in seeds if s not in complete]} are left out of the slopes: a run of theirs "
                   "is unusable")
    peaks = np.array([[per[d, s]["peak"].value for d in dims] for s in complete]).reshape(-1, len(dims))
    sqrt_m = np.array([[per[d, s]["sqrt_m"] for d in dims] for s in complete]).reshape(-1, len(dims))

    def earlier(k: int) -> dict:        # the same runs trained k epochs (a store hit; notes to a scratch recorder)
        at = _per_run(ClaimRecorder(claim.claim), vaebench_session,
                      {(d, s): vaebench_session.at_epochs(models[d, s], k) for d in dims for s in complete})
        nan = {"peak": Estimate.exact(math.nan), "sqrt_m": math.nan}      # a run not usable at k epochs
        return measured_slopes(dims, [[at.get((d, s), nan)["peak"].value for d in dims] for s in complete],
                               [[at.get((d, s), nan)["sqrt_m"] for d in dims] for s in complete])

    claim.checks_at_equilibrium_measured(
        lambda m, level: decide_slopes(m, int(peaks.size), level, pre), measured_slopes(dims, peaks, sqrt_m), earlier,
        models[wanted[0]].entry.train.epochs, keys=("slope", "sqrt_m_slope"), rests_on={SLOPE: ["slope"]})
    if not complete:
        return
    _secondary(claim, dims, per, peaks, sqrt_m)
    _plots(claim, dims, per, complete, peaks, sqrt_m)


def _secondary(claim, dims: list, per: dict, peaks: np.ndarray, sqrt_m: np.ndarray) -> None:
    for j, d in enumerate(dims):
        claim.statistic(f"z_dim {d}: peak / √d, over seeds", stats.across_runs(peaks[:, j] / math.sqrt(d), 0.95),
                        posts="1.03–1.05" if d == 256 else None)
        claim.statistic(f"z_dim {d}: M / d, over seeds", stats.across_runs(sqrt_m[:, j] ** 2 / d, 0.95),
                        posts="≈ 1 (d = 256)")
    for d, s in sorted(per, key=lambda k: (k[1], k[0])):
        claim.statistic(f"z_dim {d}, seed {s}: radius KDE peak (bootstrap over the points of this one run)",
                        per[d, s]["peak"], note=f"√d = {math.sqrt(d):.3g}")
    claim.note(
        "The peak follows √M = √E[R²] (C3's peak/√M), so it follows √z_dim exactly as far as the mean "
        "per-axis second moment M/d stays constant across z_dim: compare the two slopes."
    )


def _plots(claim, dims: list, per: dict, complete: list, peaks: np.ndarray, sqrt_m: np.ndarray) -> None:
    series = [{"label": f"KDE peak, seed {s} (slope {b:.3f})", "x": dims, "y": list(peaks[i]),
               "low": [per[d, s]["peak"].low for d in dims], "high": [per[d, s]["peak"].high for d in dims]}
              for i, (s, b) in enumerate(zip(complete, seed_slopes(dims, peaks)))]
    series += [{"label": f"√M, seed {complete[0]}", "x": dims, "y": list(sqrt_m[0]), "linestyle": "--"},
               {"label": "√z_dim", "x": dims, "y": [math.sqrt(d) for d in dims], "linestyle": ":"}]
    loglog = {"type": "lines", "title": "radius peak vs z_dim (one line per seed)", "xlabel": "z_dim",
              "ylabel": "radius", "series": series, "logx": True, "logy": True}
    ratios = {"type": "lines", "title": "peak/√d and M/d vs z_dim (mean over seeds)", "xlabel": "z_dim",
              "ylabel": "ratio", "logx": True, "hlines": [{"y": 1.0}],
              "series": [{"label": "peak / √d", "x": dims, "y": list((peaks / np.sqrt(dims)).mean(axis=0))},
                         {"label": "M / d", "x": dims, "y": list((sqrt_m**2 / np.asarray(dims)).mean(axis=0))}]}
    scaled = experiments.radius_panel(f"radius / √z_dim (bins of 0.02), seed {complete[0]}",
                                      {f"z_dim {d}": per[d, complete[0]]["z"] / math.sqrt(d) for d in dims},
                                      bin_width=0.02, marks={"1": 1.0})
    scaled["xlabel"] = "R / √z_dim"
    claim.plot("Beyond the posts: does the peak follow √z_dim?", loglog, ratios, scaled, ncols=3)
