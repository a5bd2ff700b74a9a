"""M1 — training in mixed bfloat16 keeps the claims' statistics (a method check of vaebench).

Not a claim of the posts: the posts trained in float32 (TensorFlow 2.8 defaults). Mixed
precision is the largest single speed-up a modern GPU offers these convolutions, and
vaebench may only use it for the claims (``--vaebench-precision mixed_bfloat16``) if it does
not move the statistics the claims are judged on. The scales themselves train in float32.

What ``mixed_bfloat16`` means here (:mod:`vaebench.models.vae`): weights and Adam's state in
float32; convolutions, BatchNorm and hidden Dense layers compute in bfloat16; the heads that
feed the loss (mu, logvar or an AE's z, the sigmoid image) and the loss in float32.

Design: the posts' VAE (``scale.vae()``: BatchNorm, fact = 1e-5, the model of C1, C2 and C4)
trained with every seed of ``scale.seeds`` in both precisions; the float32 runs are C1's store
entries. A seed fixes the initial weights, the image order and the eps stream, so the two
runs of one seed ("twins") differ only by the precision: every primary check is paired by
seed (the t interval of the per-seed differences, ``paired=True``), one value per run.

Sub-claims and primary checks (fixed before any run; support intervals at 90 %, refutation
intervals at 1 − 0.05/3, two-sided). Each margin is half of the tolerance of the claim check it protects, on the scale
that check uses (half of a log-ratio margin for ratios), so a precision effect inside it cannot
by itself carry that check across its edge; the constants below name the protected claims:

- M1a the final reconstruction loss: per seed the loss above the entropy floor (last epoch's
  reconstruction loss − the BCE of a perfect reconstruction, as C1b), ratio bf16 / f32 of
  geometric means, paired; inside [1.25^−½, 1.25^½] = [0.894, 1.118] — half of C1b's
  [0.8, 1.25].
- M1b the radius peak: per seed the KDE mode of R (``latent.radius_peak``), ratio bf16 / f32,
  paired; inside [1.1^−½, 1.1^½] = [0.953, 1.049] — half of C1c's ±10 % (C3's band on
  peak / √z_dim and C4's jump thresholds, which read the same peak, are wider).
- M1c the mean logvar: per seed the mean over the analysed codes, difference bf16 − f32 in
  nats, paired; inside ±0.5 — half of the one nat by which mean logvar moves per unit of
  ln(fact) (the centre of C2b's slope band [0.5, 1.5], from σ² ≈ β / (β + h)): a precision
  effect inside it equals a change of fact by less than a factor e^0.5 ≈ 1.6, against the
  factor 10 between C2b's sweep points. (C2.1's bound, mean logvar below −5, is one-sided and
  has no width to halve; the posts' −13.7 lies 8.7 nats below it.)

Secondary (shown, never voting): per-seed values of both precisions; the W1 distance of the
radius distributions between precisions over that between seeds, with the exact permutation p
over run labels (``stats.between_within_permutation``: twins in different groups only lower
the observed between-precision distance, so the p errs on the large side); the mean W1 between
twins; training speed from the store (on a CPU bfloat16 is no faster).

Preconditions: every run of both precisions finite, CONVERGED and NOT_COLLAPSED
(``diagnostics``; unknown convergence does not pass), and for
M1a the loss above the floor settled (C1's 4 % per epoch): the claims read converged models,
and a precision effect on a model still moving is a difference of speeds, not of end points.
A failed precondition makes the sub-claim inconclusive with the reason.

Equilibrium (pre-registered): each primary check is also decided on its own per-seed
statistic, the twins' contrast (bf16 / f32, or bf16 − f32 for logvar: a
:class:`vaebench.claims.settled.Contrast`), predicted from the same twins at ⌈E/3⌉, ⌈2E/3⌉ and
E epochs (:mod:`vaebench.claims.settled`); "still moving" or a pair apart is inconclusive. Not
each precision apart: a relaxation the twins share cancels in their contrast.

Scale (``vaebench.config.scales.SCALES``): smoke (2 seeds: a paired interval with 1 degree of freedom;
machinery only), cpu (3 seeds, 32×32), full (4 seeds at the posts' scale on a GPU, where the
answer matters). Inconclusive says "not shown to be harmless": float32 then stays.
"""
from __future__ import annotations

import dataclasses
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
from vaebench.stats import Check, Estimate, SubClaim
from vaebench.stats.design import Prior

PRECISION = "mixed_bfloat16"
PRECISIONS = ("float32", PRECISION)
#: the tolerances M1 protects (restated from the claim modules; update them together)
C1B_LOSS_RATIO_MAX = 1.25          # C1b: excess-loss ratio inside [1/1.25, 1.25]
C1C_PEAK_RATIO_MAX = 1.10          # C1c: radius peak ratio inside [1/1.1, 1.1]
C2B_NATS_PER_LN_FACT = 1.0         # C2b: mean logvar moves ≈ 1 nat per unit of ln(fact) (centre of its SLOPE_RANGE)
C1B_EXCESS_DRIFT_MAX = (1 - 1 / C1B_LOSS_RATIO_MAX) / 5   # C1b's precondition: 4 % per epoch
#: M1's margins: half of those
LOSS_RATIO_MAX = math.sqrt(C1B_LOSS_RATIO_MAX)
PEAK_RATIO_MAX = math.sqrt(C1C_PEAK_RATIO_MAX)
LOGVAR_MARGIN = 0.5 * C2B_NATS_PER_LN_FACT

NAMES = {"excess": "loss above the entropy floor, bf16 / f32, paired by seed",
         "peak": "radius peak, bf16 / f32, paired by seed",
         "logvar": "mean logvar, bf16 − f32 (nats), paired by seed"}

CLAIM = Claim(
    id="M1",
    title="Mixed bfloat16 training keeps the claims' statistics (method check, not a claim of the posts)",
    quote=("vaebench's own assumption before it trains the claims' models in mixed precision: training the "
           "posts' VAE in mixed bfloat16 instead of float32 moves none of the statistics the claims are "
           "judged on by more than half of their tolerance."),
    source="vaebench (the posts trained in float32 with TensorFlow 2.8; CLAIMS.md C1, C2, C3, C4)",
    posts={"precision": "float32 (the posts' TensorFlow default)"},
    subclaims=(
        SubClaim("M1a", "bf16 keeps the final reconstruction loss (within half of C1b's margin)", NAMES["excess"]),
        SubClaim("M1b", "bf16 keeps the radius peak (within half of C1c's margin)", NAMES["peak"]),
        SubClaim("M1c", "bf16 keeps the mean logvar (within half a nat)", NAMES["logvar"]),
    ),
)

#: prior spreads of the per-seed bf16 − f32 differences: √2 × the twin divergence of tests/test_claim_m1.py
#: (TWIN_SD; the seed effect cancels in the pairing); truth: no precision effect, at the centre of each band
PRIORS = {
    "M1a": Prior(0.0424, "ln units: √2 × twin sd 0.03, tests/test_claim_m1.py", half_width=math.log(LOSS_RATIO_MAX)),
    "M1b": Prior(0.0283, "ln units: √2 × twin sd 0.02, tests/test_claim_m1.py", half_width=math.log(PEAK_RATIO_MAX)),
    "M1c": Prior(0.283, "nats: √2 × twin sd 0.2, tests/test_claim_m1.py", half_width=LOGVAR_MARGIN),
}


# --------------------------------------------------------------------------- pure parts (tested on planted inputs)







def decide(measured: Mapping[str, Mapping[str, Sequence[float]]], level: float,
           preconditions: Mapping[str, str | None] | None = None) -> list[Check]:
    """M1's primary checks from per-seed statistics (pure: no model, no data).

    ``measured[stat][precision]``: one value per seed, in the same seed order for both
    precisions ('float32', 'mixed_bfloat16'), for ``stat`` in 'excess' (loss above the entropy
    floor), 'peak' (radius peak) and 'logvar' (mean logvar). ``preconditions``: 'float32' and
    'mixed_bfloat16' (why that precision's runs fail their preconditions or were left out) and 'loss'
    (why M1a's excess loss has not settled); None or absent when they pass.
    """
    pre = dict(preconditions or {})
    both = diagnostics.joined(*(pre.get(p) for p in PRECISIONS))
    checks = []
    for stat, sid, lo, hi, tol, extra in (
            ("excess", "M1a", 1 / LOSS_RATIO_MAX, LOSS_RATIO_MAX,
             f"paired t CI of the ratio inside [{1 / LOSS_RATIO_MAX:.3f}, {LOSS_RATIO_MAX:.3f}] (half of C1b's)",
             pre.get("loss")),
            ("peak", "M1b", 1 / PEAK_RATIO_MAX, PEAK_RATIO_MAX,
             f"paired t CI of the ratio inside [{1 / PEAK_RATIO_MAX:.3f}, {PEAK_RATIO_MAX:.3f}] (half of C1c's)",
             None),
            ("logvar", "M1c", -LOGVAR_MARGIN, LOGVAR_MARGIN,
             f"paired t CI inside ±{LOGVAR_MARGIN:g} nat (half of C2b's nat per unit ln fact)", None)):
        require(stat in measured and all(p in measured[stat] for p in PRECISIONS),
                f"measured[{stat!r}] needs one value per seed for each of {PRECISIONS}", StatsError)
        a, b = (np.asarray(measured[stat][p], dtype=np.float64).ravel() for p in (PRECISION, "float32"))
        require(a.size == b.size, f"measured[{stat!r}]: {a.size} bf16 and {b.size} float32 values; "
                                  "pass the twins of the same seeds", StatsError)
        ratio = stat != "logvar"
        usable = a.size >= 2 and np.all(np.isfinite(a)) and np.all(np.isfinite(b)) and (
            not ratio or (np.all(a > 0) and np.all(b > 0)))
        if usable:
            fn = stats.ratio_across_runs if ratio else stats.difference_across_runs
            est = fn(a, b, level, paired=True)
        else:
            est = Estimate(math.nan, math.nan, math.nan, level, "fewer than 2 usable seeds", a.size)
        checks.append(stats.check_within(NAMES[stat], est, lo, hi, tolerance=tol, subclaim=sid, role="primary",
                                         unit="runs", n_runs=2 * a.size, precondition=diagnostics.joined(both, extra)))
    return checks




#: what each primary check is settled on: the per-seed contrast of the twins (module docstring)
RESTS_ON = {name: [Contrast((stat, PRECISION), (stat, "float32"), ratio=stat != "logvar")]
            for stat, name in NAMES.items()}


# --------------------------------------------------------------------------- the test

@dataclass
class Study:
    """What one M1 test measured, per (precision, seed): runs, health, latent codes of the usable
    runs, the seeds whose twins are both usable (``ok``), last-epoch losses, radii and peaks."""

    seeds: list
    runs: dict
    health: dict
    floor: float
    codes: dict = field(default_factory=dict)
    ok: list = field(default_factory=list)
    last: dict = field(default_factory=dict)
    r: dict = field(default_factory=dict)
    peaks: dict = field(default_factory=dict)
    logvar: dict = field(default_factory=dict)
    measured: dict = field(default_factory=dict)


def _usable(claim, session, st: Study) -> None:
    for (p, s), run in st.runs.items():
        c = session.latents(run)
        if experiments.usable_run(claim, run, c, f"{p} seed {s}", keys=("z", "logvar")):
            st.codes[p, s] = c
    st.ok = [s for s in st.seeds if all((p, s) in st.codes for p in PRECISIONS)]
    if len(st.ok) < len(st.seeds):
        claim.note(f"seeds {[s for s in st.seeds if s not in st.ok]} are left out of the pairs: a twin is not usable")
    st.last = {k: experiments.last_epoch(st.runs[k].history, "reconstruction_loss") for k in st.runs}


def _preconditions(st: Study) -> dict:
    """Why each precision's runs (and C1b's excess loss) cannot carry a verdict; None where they can."""
    needs = {p: (diagnostics.CONVERGED, diagnostics.NOT_COLLAPSED) for p in PRECISIONS}
    coded = {p: [s for s in st.seeds if (p, s) in st.codes] for p in PRECISIONS}
    return diagnostics.group_preconditions(st.runs, st.health, {p: st.ok for p in PRECISIONS}, st.floor, needs,
                                           C1B_EXCESS_DRIFT_MAX, coded=coded)


def _measure(st: Study) -> None:
    st.r = {k: latent.radii(st.codes[k]["z"]) for k in st.codes}
    st.peaks = {k: latent.radius_peak(st.r[k], n_boot=200, seed=0) for k in st.r}
    st.logvar = {k: float(np.mean(st.codes[k]["logvar"])) for k in st.codes}
    st.measured = {
        "excess": {p: [st.last[p, s] - st.floor for s in st.ok] for p in PRECISIONS},
        "peak": {p: [st.peaks[p, s].value for s in st.ok] for p in PRECISIONS},
        "logvar": {p: [st.logvar[p, s] for s in st.ok] for p in PRECISIONS},
    }


def _measured_at(session, st: Study, k: int) -> dict:
    """The per-run statistics of the same usable twins trained ``k`` epochs (a store hit)."""
    at = Study(st.seeds, {key: session.at_epochs(run, k) for key, run in st.runs.items()}, {}, st.floor, ok=st.ok)
    at.codes = {key: session.latents(at.runs[key]) for key in st.codes}
    at.last = {key: experiments.last_epoch(at.runs[key].history, "reconstruction_loss") for key in at.runs}
    _measure(at)
    return at.measured


@pytest.mark.gpu
def test_m1_mixed_precision_keeps_claim_statistics(claim, scale, trained, vaebench_session):
    session, seeds, spec = vaebench_session, list(scale.seeds), scale.vae()
    train = {(p, s): dataclasses.replace(scale.training(s), precision=p) for p in PRECISIONS for s in seeds}
    keys = [(p, s) for p in PRECISIONS for s in seeds]
    runs = dict(zip(keys, trained.many([(spec, s, train[p, s]) for p, s in keys])))
    d, t = scale.data, scale.train
    claim.describe_scale(scale=scale.name, data=f"{d.source} {d.image_size}×{d.image_size}", n_train=d.n_train,
                         z_dim=scale.z_dim, epochs=t.epochs, batch_size=t.batch_size,
                         learning_rate=t.learning_rate, seeds=seeds, n_analysis=scale.n_analysis,
                         model="VAE, BatchNorm, fact = 1e-5 (the C1 VAE)", precisions=list(PRECISIONS))
    train_set, _ = session.datasets()
    st = Study(seeds, runs, {k: session.health(run) for k, run in runs.items()},
               experiments.entropy_floor(train_set.images))
    claim.model_health(*st.health.values())
    _usable(claim, session, st)
    pre = _preconditions(st)
    _measure(st)
    claim.checks_at_equilibrium_measured(lambda m, level: decide(m, level, pre), st.measured,
                                         lambda k: _measured_at(session, st, k), runs[keys[0]].entry.train.epochs,
                                         keys=tuple(NAMES), rests_on=RESTS_ON)
    _secondary(claim, st)
    _secondary_twins(claim, st)
    _plots(claim, st)


# --------------------------------------------------------------------------- secondary: shown, never voting

def _secondary(claim, st: Study) -> None:
    for p in PRECISIONS:
        for stat, name, posts in (("excess", "loss above the entropy floor", None), ("peak", "radius peak", None),
                                  ("logvar", "mean logvar", "−13.68 (float32, post XIII)")):
            values = st.measured[stat][p]
            if len(values) >= 2:
                claim.statistic(f"{name}, {p} (across seeds)", stats.across_runs(values),
                                posts=posts if p == "float32" else None)
    claim.statistic("entropy floor (BCE of a perfect reconstruction, per image)", st.floor)
    for p in PRECISIONS:
        speed = [float(st.runs[p, s].entry.meta.get("images_per_second") or 0.0) for s in st.seeds]
        claim.statistic(f"training speed, {p} (images/s per model, this machine)", float(np.mean(speed)),
                        note=f"pack sizes {sorted({st.runs[p, s].entry.meta.get('pack', 1) for s in st.seeds})}; "
                             "from the store entries, so measured when each model was trained")


def _secondary_twins(claim, st: Study) -> None:
    """Between-precision against seed-to-seed distances of the radius distributions."""
    ok, r = st.ok, st.r
    if len(ok) < 2:
        return
    order = [(p, s) for p in PRECISIONS for s in ok]
    res = stats.between_within_permutation(stats.distance_matrix([r[k] for k in order], wasserstein_distance), len(ok))
    claim.statistic("radius distributions: mean W1(f32, bf16) / mean W1(seed, seed)", res.ratio,
                    note=f"exact permutation p = {res.p_value:.3g} over {res.n_permutations} relabellings of "
                         f"{res.n_a} + {res.n_b} runs; twins split between the groups make p err on the large "
                         "side; shown, not voting")
    claim.statistic("mean W1 between twins (same seed, other precision)",
                    float(np.mean([wasserstein_distance(r["float32", s], r[PRECISION, s]) for s in ok])),
                    note="twins share initial weights, image order and eps")


# --------------------------------------------------------------------------- figures

def _table_row(st: Study, s, p: str) -> list:
    return [s, p, f"{st.last[p, s] - st.floor:.3f}", str(st.peaks[p, s]) if (p, s) in st.peaks else "—",
            f"{st.logvar[p, s]:.3f}" if (p, s) in st.logvar else "—", ", ".join(st.health[p, s].flags) or "ok"]


def _plots(claim, st: Study) -> None:
    claim.plot("Per-seed statistics", {
        "type": "table", "title": "float32 and mixed bfloat16 twins",
        "columns": ["seed", "precision", "loss above floor", "radius peak [95 % CI]", "mean logvar", "health"],
        "rows": [_table_row(st, s, p) for s in st.seeds for p in PRECISIONS]})
    if st.ok:
        claim.plot("Radius distributions, float32 against mixed bfloat16 (bins of 0.5)",
                   *[experiments.radius_panel(f"seed {s}", {p: st.codes[p, s]["z"] for p in PRECISIONS})
                     for s in st.ok],
                   ncols=min(len(st.ok), 3))
    every = {f"{p} seed {s}": st.runs[p, s].history for p in PRECISIONS for s in st.seeds}
    claim.plot("Training curves, float32 against mixed bfloat16",
               experiments.history_panel("reconstruction loss per epoch", every, key="reconstruction_loss"),
               experiments.history_panel("mean logvar of the probe batch per epoch", every, key="probe_logvar_mean"))
