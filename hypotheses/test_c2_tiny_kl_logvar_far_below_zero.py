"""C2 — with a tiny KL weight, logvar ≪ 0 and z ≈ mu (post XIII).

Claim (quote, post XIII): "A VAE with tiny KL-loss produces tiny logvar values [...] The
average value of logvar is pretty pleasing: Such big negative values indeed render the
logvar-impact on the position of our z-points negligible. [...] All the above data
confirm that a trained VAE with a very small KL-loss primarily uses mu-values to set the
position of its z-points."

Posts' figures (post XIII, seeds/000_73ebeab37ce6d73c.txt, section "Some values of logvar,
(z – mu), z-radii and z-radius-deviations"; 170,000 images × 256 components, fact = 1e-5):
logvar mean −13.68 (second run −13.43), max −2.02 (second run 3.38, for 1–3 components),
min −24.66; max |z − mu| = 0.26; only 5 of 43.5 million components with
0.05 < |z − mu| < 2; relative radius difference |R(z) − R(mu)| / R(mu): mean 6.1e-5, max
7.2e-4 (second run: mean 6.6e-5, max 1.25e-2). The posts' own yardstick: "Negative values
logvar < -3 would be optimal" and "only a few components [with] abs(mu – z) > 0.05".

Models: the VAEs of claim C1 (``scale.vae()``, fact = 1e-5, every seed of ``scale.seeds``
— the same store entries) and, beyond the posts, one VAE (seed ``scale.seeds[0]``) per
fact in ``scale.fact_sweep``. mu, logvar and z = mu + exp(logvar/2)·eps (eps ~ N(0, 1),
seeded) of the first ``scale.n_analysis`` training images.

Statistics and tolerances (fixed before any run, never tuned to pass). The unit of
replication is the training run: each check takes one value per seed and a t interval over
seeds (so it speaks for "a VAE with tiny KL", not for one run); per-run values with
within-run CIs over images are shown beside them (seed ``scale.seeds[0]`` as statistics,
all seeds in a table).

1. "logvar far below 0", operationalised as the mean logvar over all components: CI below
   −5. Why −5: it puts the sampling noise sd exp(logvar/2) below 0.08, less than a tenth of a
   unit-scale latent coordinate, and is two units beyond the posts' own "< −3 would be
   optimal"; the posts' −13.7 clears it by far. Also shown per run: the 1 % and 99 %
   quantiles (exact order-statistic CIs over components — components of one image are not
   independent, so read them as descriptive), max and min.
2. z ≈ mu, component level: fraction of components with |z − mu| > 0.05; CI below 1 %.
   Why: the posts' criterion is "only a few components"; one in a hundred is already
   generous (they saw 1e-7), while a model with mean logvar −5 would have about half of
   its components beyond 0.05 — so this check is the stricter of the two, as it should be
   for the claim "z ≈ mu".
3. z ≈ mu, radius level: mean relative radius difference |R(z) − R(mu)| / R(mu); CI below
   1e-3. Why: a relative difference of 0.1 % is 30 times below the resolution of the posts'
   radius histograms (bins of 0.5 at R ≈ 16, i.e. 3 %), so histograms of R(z) and R(mu) are
   the same plot; the posts saw 6e-5. The max is shown beside it.
4. Beyond the posts — logvar follows ln(fact) with slope ≈ 1: for small β the optimal
   posterior variance is about σ² ≈ β / (β + h), h the curvature of the reconstruction loss
   along a latent axis, so mean logvar ≈ ln(fact) − ln h. OLS slope of the per-model mean
   logvar against ln(fact) over the sweep models (plus the extra C1 seeds at fact = 1e-5 as
   replicates), t interval; tolerance: CI inside [0.5, 1.5]. Why: across the sweep ln(fact)
   spans ln(1000) ≈ 6.9; a slope off by 0.5 would need ln h to drift by ≈ 3.5, i.e. the
   curvature to change 30-fold across the sweep, which is not the mechanism the theory
   describes (h depends on fact only weakly, through the decoder).

Scales — what changes below full: (a) fewer optimisation steps: cpu has 8 epochs × 125
steps = 1,000 Adam steps, the posts 24 × 1,329 ≈ 32,000. logvar is driven down by the
reconstruction gradient 0.5·h·σ², which vanishes as σ² → 0, and that signal is buried in
the eps-noise of the same gradient (signal/noise ∝ σ), so logvar drifts ever more slowly:
at fewer steps it sits *above* its equilibrium, and the more so the smaller fact is — this
biases the sweep slope below 1. (b) 32×32 images give a reconstruction loss summed over 9×
fewer pixels, so h is smaller and the equilibrium ln(fact/h) is roughly ln 9 ≈ 2 units
higher than at 96×96 (about −11.5 instead of −13.7). Neither moves the tolerances: if a
scale cannot reach the posts' regime the honest verdict there is refuted or inconclusive,
and the per-epoch logvar curves and "Δ over the last epoch" statistics show whether the
runs were still moving. smoke (2 epochs, 512 images, z_dim 32, two sweep points) exercises
the machinery only; its numbers mean nothing.

Observed in the first cpu run (tolerances unchanged): mean logvar −7.9 (below −5: passes),
but the upper tail reaches −5.7 (99 % quantile), where the noise sd is ≈ 0.06, so 5.4 % of
components have |z − mu| > 0.05 (fails the 1 % bound); relative radius difference 7.4e-4
(passes). The sweep slope is 0.70 [0.41, 0.99]: below the theory's 1, as (a) predicts — the
fact = 1e-6 and 1e-5 logvar curves coincide for the first five epochs (the descent is
limited by the optimiser, not by fact) and the small-fact models were still falling in the
last epoch (−0.21 at 1e-6 against −0.016 at 1e-3).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from vaebench import experiments, latent, stats
from vaebench.record import Claim
from vaebench.stats import Check, Estimate

CLAIM = Claim(
    id="C2",
    title="With a tiny KL weight, logvar ≪ 0 and z ≈ mu",
    quote=("A VAE with tiny KL-loss produces tiny logvar values [...] The average value of logvar is pretty "
           "pleasing: Such big negative values indeed render the logvar-impact on the position of our z-points "
           "negligible. [...] All the above data confirm that a trained VAE with a very small KL-loss primarily "
           "uses mu-values to set the position of its z-points."),
    source="post XIII, 'Variational Autoencoder with Tensorflow 2.8' (seeds/000_73ebeab37ce6d73c.txt), "
           "section 'Some values of logvar, (z – mu), z-radii and z-radius-deviations'",
    posts={"mean logvar": "−13.68 (second run −13.43)",
           "max / min logvar": "−2.02 / −24.66 (second run 3.38 / −22.78)",
           "max |z − mu|": "0.26",
           "components with |z − mu| > 0.05": "5 of 43.5 million",
           "|R(z) − R(mu)| / R(mu)": "mean 6.1e-5, max 7.2e-4 (second run 6.6e-5, 1.25e-2)",
           "slope of mean logvar vs ln(fact)": "not in the posts; theory ≈ 1"},
)

LOGVAR_MAX = -5.0            # check 1
DZ_LEVEL = 0.05              # the posts' |z − mu| level
DZ_FRACTION_MAX = 0.01       # check 2
REL_RADIUS_MAX = 1e-3        # check 3
SLOPE_RANGE = (0.5, 1.5)     # check 4


CODE_KEYS = ("mu", "logvar", "z")   # a run is analysed only if all of these are finite


def _run_summary(codes: dict) -> dict:
    """Per-run statistics of one VAE's codes (within-run CIs over images/components)."""
    mu, lv, z = (np.asarray(codes[k], dtype=np.float64) for k in ("mu", "logvar", "z"))
    flat = lv.ravel()
    per_image = lv.mean(axis=1)
    dz = np.abs(z - mu)
    k = int(np.sum(dz > DZ_LEVEL))
    r_mu, r_z = latent.radii(mu), latent.radii(z)
    rel = np.abs(r_z - r_mu) / np.maximum(r_mu, 1e-30)
    return {
        "mean": stats.bootstrap(per_image, lambda v: v.mean(axis=-1), n_boot=1000, seed=0, vectorized=True),
        "q01": stats.quantile_ci(flat, 0.01), "q99": stats.quantile_ci(flat, 0.99),
        "max": float(flat.max()), "min": float(flat.min()),
        "dz_max": float(dz.max()), "dz_k": k, "dz_n": int(dz.size),
        "dz_fraction": stats.rate_ci(k, int(dz.size)),
        "rel_mean": stats.mean_ci(rel), "rel_max": float(rel.max()),
    }


def _over_runs(values: list[float]) -> Estimate | None:
    return stats.mean_ci(np.asarray(values)) if len(values) >= 2 else None


def _check_runs(claim, name, values, threshold, tolerance, posts) -> None:
    est = _over_runs(values)
    if est is None:
        claim.check(Check(name, Estimate.exact(float(np.mean(values)) if values else float("nan")), tolerance,
                          None, f"only {len(values)} usable run(s); a CI over runs needs 2", posts))
    else:
        claim.check(stats.check_below(name, est, threshold, tolerance=tolerance, posts=posts))


@pytest.mark.gpu
def test_c2_tiny_kl_logvar_far_below_zero(claim, scale, trained, vaebench_session):
    session = vaebench_session
    seeds = list(scale.seeds)
    runs = dict(zip(seeds, trained.many([(scale.vae(), s) for s in seeds])))
    claim.describe_scale(**experiments.scale_info(scale), seeds=seeds,
                         model="VAE, BatchNorm, fact = 1e-5 (the C1 VAEs)")

    summaries, codes_of = {}, {}
    for s, t in runs.items():
        codes = session.latents(t)
        if experiments.usable_run(claim, t, codes, f"seed {s}", keys=CODE_KEYS):
            summaries[s] = _run_summary(codes)
            codes_of[s] = codes
    ok = list(summaries)

    _check_runs(claim, "mean logvar (mean over runs)", [summaries[s]["mean"].value for s in ok], LOGVAR_MAX,
                f"t CI over runs below {LOGVAR_MAX:g} (noise sd exp(logvar/2) < 0.08)", "−13.68, −13.43")
    _check_runs(claim, f"fraction of components with |z − mu| > {DZ_LEVEL:g} (mean over runs)",
                [summaries[s]["dz_fraction"].value for s in ok], DZ_FRACTION_MAX,
                f"t CI over runs below {DZ_FRACTION_MAX:g}", "5 / 43.5e6 ≈ 1.1e-7")
    _check_runs(claim, "mean |R(z) − R(mu)| / R(mu) (mean over runs)", [summaries[s]["rel_mean"].value for s in ok],
                REL_RADIUS_MAX, f"t CI over runs below {REL_RADIUS_MAX:g} (30× below the posts' 3 % histogram "
                                "bins)", "6.1e-5 (second run 6.6e-5)")

    if ok:
        s0 = ok[0]
        m = summaries[s0]
        claim.statistic(f"seed {s0}: mean logvar (bootstrap over images)", m["mean"], posts="−13.68")
        claim.statistic(f"seed {s0}: 1 % quantile of logvar", m["q01"])
        claim.statistic(f"seed {s0}: 99 % quantile of logvar", m["q99"])
        claim.statistic(f"seed {s0}: max logvar", m["max"], posts="−2.02 (second run 3.38)",
                        note="sample maximum: no distribution-free CI")
        claim.statistic(f"seed {s0}: min logvar", m["min"], posts="−24.66")
        claim.statistic(f"seed {s0}: max |z − mu|", m["dz_max"], posts="0.26")
        claim.statistic(f"seed {s0}: fraction |z − mu| > {DZ_LEVEL:g}", m["dz_fraction"], posts="≈ 1.1e-7",
                        note=f"{m['dz_k']} of {m['dz_n']:,} components")
        claim.statistic(f"seed {s0}: mean relative radius difference", m["rel_mean"], posts="6.1e-5")
        claim.statistic(f"seed {s0}: max relative radius difference", m["rel_max"], posts="7.2e-4 (1.25e-2)")
        claim.statistic("components analysed per run", float(m["dz_n"]), posts="43.5 million",
                        note=f"{scale.n_analysis} images × z_dim {scale.z_dim}")

        claim.plot("Per-run values", {
            "type": "table", "title": "logvar and z − mu per run (CIs within the run)",
            "columns": ["seed", "mean logvar", "1 % quantile", "99 % quantile", "max", "min", "max |z − mu|",
                        f"|z − mu| > {DZ_LEVEL:g}", "mean rel. radius diff.", "max rel. radius diff."],
            "rows": [[s, str(v["mean"]), str(v["q01"]), str(v["q99"]), f"{v['max']:.3f}", f"{v['min']:.3f}",
                      f"{v['dz_max']:.3g}", f"{v['dz_k']} / {v['dz_n']:,}", str(v["rel_mean"]),
                      f"{v['rel_max']:.3g}"] for s, v in summaries.items()]})
        lv_all = np.concatenate([codes_of[s]["logvar"].ravel() for s in ok])
        edges = np.linspace(math.floor(lv_all.min()), math.ceil(lv_all.max()) + 0.25, 80)
        series = []
        for s in ok:
            counts, _ = np.histogram(codes_of[s]["logvar"].ravel(), bins=edges)
            series.append({"label": f"seed {s}", "edges": edges, "counts": counts / max(1, counts.sum())})
        dz_series = []
        dz_edges = np.linspace(-8, 1, 73)
        for s in ok:
            d = np.abs(codes_of[s]["z"] - codes_of[s]["mu"]).ravel()
            counts, _ = np.histogram(np.log10(np.maximum(d, 1e-8)), bins=dz_edges)
            dz_series.append({"label": f"seed {s}", "edges": dz_edges, "counts": counts / max(1, counts.sum())})
        claim.plot("logvar and |z − mu| over all components",
                   {"type": "hist", "title": "logvar components", "xlabel": "logvar", "ylabel": "fraction",
                    "series": series, "vlines": [{"x": LOGVAR_MAX, "label": "tolerance −5"},
                                                 {"x": -13.68, "label": "posts' mean"}]},
                   {"type": "hist", "title": "log10 |z − mu|", "xlabel": "log10 |z − mu|", "ylabel": "fraction",
                    "series": dz_series, "vlines": [{"x": math.log10(DZ_LEVEL), "label": "0.05"}]})
    claim.plot("Mean logvar of the probe batch during training",
               experiments.history_panel("probe mean logvar per epoch", {f"seed {s}": runs[s].history for s in seeds},
                                         key="probe_logvar_mean"))


@pytest.mark.gpu
def test_c2_logvar_tracks_ln_fact(claim, scale, trained, vaebench_session):
    session = vaebench_session
    s0 = scale.seeds[0]
    base_fact = scale.vae().fact
    wanted = [(f, s0) for f in scale.fact_sweep]
    if base_fact in scale.fact_sweep:   # the C1 seeds at the base fact: replicates at no extra cost
        wanted += [(base_fact, s) for s in scale.seeds[1:]]
    runs = [(f, s, t) for (f, s), t in zip(wanted, trained.many([(scale.vae(fact=f), s) for f, s in wanted]))]
    claim.describe_scale(**experiments.scale_info(scale), seeds=[s0], fact_sweep=list(scale.fact_sweep),
                         replicates=f"seeds {list(scale.seeds[1:])} at fact = {base_fact:g}")

    xs, ys, rows, hist = [], [], [], {}
    for f, s, t in runs:
        codes = session.latents(t)
        h = t.history.get("probe_logvar_mean") or [float("nan")]
        drift = h[-1] - h[-2] if len(h) >= 2 else float("nan")
        if not experiments.usable_run(claim, t, codes, f"fact {f:g} seed {s}", keys=CODE_KEYS):
            continue
        lv = float(np.mean(codes["logvar"]))
        xs.append(math.log(f))
        ys.append(lv)
        rows.append([f"{f:g}", s, f"{lv:.3f}", f"{drift:+.3f}", f"{math.exp(math.log(f) - lv):.3g}"])
        hist[f"fact {f:g} seed {s}"] = t.history
        if s == s0:
            claim.statistic(f"fact {f:g}: mean logvar", lv, note=f"Δ over the last epoch (probe batch) {drift:+.3f}")

    if len(xs) < 3 or len(set(xs)) < 2:
        claim.check(Check("slope of mean logvar vs ln(fact)", Estimate.exact(float("nan")),
                          f"CI inside [{SLOPE_RANGE[0]:g}, {SLOPE_RANGE[1]:g}]", None,
                          f"{len(xs)} usable sweep models over {len(set(xs))} fact values; a slope with a CI needs "
                          "3 models and 2 values", "theory ≈ 1"))
        return
    fit = stats.linear_fit(xs, ys)
    claim.check(stats.check_within(
        "slope of mean logvar vs ln(fact)", fit["slope"], *SLOPE_RANGE,
        tolerance=f"OLS t CI inside [{SLOPE_RANGE[0]:g}, {SLOPE_RANGE[1]:g}] (theory: σ² ≈ fact / h ⇒ slope 1)",
        posts="not in the posts; theory ≈ 1"))
    claim.statistic("intercept (≈ −ln h, h the reconstruction curvature)", fit["intercept"])
    claim.statistic("R² of the fit", float(fit["r2"]))
    x_line = np.array([min(xs), max(xs)])
    xm, ym = float(np.mean(xs)), float(np.mean(ys))
    order = np.argsort(xs, kind="stable")
    claim.plot("Mean logvar against ln(fact)",
               {"type": "scatter", "title": "one point per model", "xlabel": "ln(fact)", "ylabel": "mean logvar",
                "series": [{"label": "models", "x": xs, "y": ys, "size": 30}]},
               {"type": "lines", "title": "fit and theory", "xlabel": "ln(fact)", "ylabel": "mean logvar",
                "series": [{"label": "models (sorted by fact)", "x": [xs[i] for i in order],
                            "y": [ys[i] for i in order]},
                           {"label": f"OLS slope {fit['slope'].value:.2f}", "x": x_line,
                            "y": fit["intercept"].value + fit["slope"].value * x_line},
                           {"label": "slope 1 through the mean (theory)", "x": x_line, "y": ym + (x_line - xm)}]},
               experiments.history_panel("probe mean logvar per epoch", hist, key="probe_logvar_mean"))
    claim.plot("Sweep models", {"type": "table", "title": "mean logvar per model",
                                "columns": ["fact", "seed", "mean logvar", "Δ last epoch (probe)",
                                            "implied h = fact / exp(logvar)"], "rows": rows})
