"""M1 — training in mixed bfloat16 keeps the claims' statistics (a method check of vaebench).

Not a claim of the posts: the posts trained in float32 (TensorFlow 2.8 defaults). Mixed
precision is the largest single speed-up a modern GPU offers these convolutions, and
vaebench may only use it for the claims (``--vaebench-precision mixed_bfloat16``) if it
does not move the statistics the claims are judged on. This module measures that, at
whatever scale it runs, before anyone relies on it; the scales themselves train in
float32.

What ``mixed_bfloat16`` means here (:mod:`vaebench.models`): weights and Adam's state in
float32; convolutions, BatchNorm and hidden Dense layers compute in bfloat16 (8 bits of
mantissa); the heads that feed the loss — mu, logvar (or an AE's z) and the sigmoid
image — and the loss itself in float32. ``mixed_float16`` is not offered: it needs loss
scaling, whose skipped steps would couple the models of a pack.

Design: the posts' VAE (``scale.vae()``: BatchNorm, fact = 1e-5, the model of C1, C2 and
C4) trained with every seed of ``scale.seeds`` in both precisions. The float32 runs are
C1's store entries. A seed fixes the initial weights, the order of the images and the
epsilon stream, so the two runs of one seed ("twins") differ only by the precision: the
per-seed difference is a paired comparison. The VAE is the sensitive case: it has every
layer type of the AE plus the sampling path, where exp(logvar/2) ≈ 0.02 multiplies eps.

Statistics and tolerances (fixed before the first run; each margin is at most half of the
tolerance of the claim check the statistic feeds, so a precision effect inside it cannot
by itself flip that check):

1. Final reconstruction loss (last epoch's mean, as C1), per-seed relative difference
   (bf16 − f32) / f32: 90 % paired t interval inside ±1 % (TOST at α = 0.05). C1 holds the
   AE–VAE difference to ±2 %; the posts' difference was +0.85 %.
2. Radius distributions of the codes of ``scale.n_analysis`` training images: mean W1
   distance between precisions (seed i in float32 against seed j ≠ i in bfloat16) over the
   mean W1 distance between seeds within one precision (``stats.distance_vs_seed_noise``),
   CI below 2 — C1's rule for "the same distribution up to seed noise". Twins are left out
   of the between group: they share their start, and would make the precisions look closer
   than two independent runs are.
3. Radius peak (KDE mode, ``latent.radius_peak``), per-seed ratio bf16 / f32: 90 % paired t
   interval of the log ratio inside ±ln 1.05 — half of C1's ±10 % peak margin (C3 and C4
   read the same peak).
4. Mean logvar of the codes, per-seed difference bf16 − f32 in nats: 90 % paired t interval
   inside ±0.5 — C2 reads mean logvar (threshold −5; posts −13.68) and its slope over fact
   decades 2.3 nats apart.

Shown, not voting: the per-seed values of both precisions, the twin W1 distances, and the
training speed of both precisions from the store (images/s on this machine; on a CPU
bfloat16 is no faster, the point of it is the GPU's tensor cores).

Scale: at smoke (2 seeds, 2 epochs, 32×32) a mechanical run only — with two seeds a paired
t interval has 1 degree of freedom, and the verdict is recorded, not enforced; at cpu 3
seeds (32×32, 16k images, 8 epochs); at full 4 seeds at the posts' scale on a GPU, where
the answer matters. With few seeds an inconclusive verdict is the expected outcome when
the effect is small but the seed spread is large: it says "not shown to be harmless", and
then float32 stays the choice.
"""
from __future__ import annotations

import dataclasses
import math
from itertools import combinations, permutations

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from vaebench import experiments, latent, stats
from vaebench.record import Claim
from vaebench.stats import Estimate

CLAIM = Claim(
    id="M1",
    title="Mixed bfloat16 training keeps the claims' statistics (method check, not a claim of the posts)",
    quote=("vaebench's own assumption before it trains the claims' models in mixed precision: training the "
           "posts' VAE in mixed bfloat16 instead of float32 moves none of the statistics the claims are "
           "judged on by more than half of their tolerance."),
    source="vaebench (the posts trained in float32 with TensorFlow 2.8; CLAIMS.md C1, C2, C3, C4)",
    posts={"precision": "float32 (the posts' TensorFlow default)"},
)

PRECISION = "mixed_bfloat16"
LOSS_MARGIN = 0.01                    # check 1: half of C1's 2 %
DISTANCE_RATIO_MAX = 2.0              # check 2: C1's rule
PEAK_MARGIN = 1.05                    # check 3: half of C1's 10 %
LOGVAR_MARGIN = 0.5                   # check 4: nats


def _paired(d: np.ndarray) -> Estimate:
    """The 90 % paired t interval of the mean per-seed difference (TOST at α = 0.05)."""
    return dataclasses.replace(stats.mean_ci(d, level=0.90), method="paired t over seeds, 90 % (TOST α = 0.05)")


@pytest.mark.gpu
def test_m1_mixed_precision_keeps_claim_statistics(claim, scale, trained, vaebench_session):
    session = vaebench_session
    seeds = list(scale.seeds)
    spec = scale.vae()
    mixed = {s: dataclasses.replace(scale.training(s), precision=PRECISION) for s in seeds}
    f32 = {s: dataclasses.replace(scale.training(s), precision="float32") for s in seeds}
    got = trained.many([(spec, s, f32[s]) for s in seeds] + [(spec, s, mixed[s]) for s in seeds])
    runs = {("float32", s): t for s, t in zip(seeds, got[:len(seeds)])}
    runs.update({(PRECISION, s): t for s, t in zip(seeds, got[len(seeds):])})
    d, t = scale.data, scale.train
    claim.describe_scale(scale=scale.name, data=f"{d.source} {d.image_size}×{d.image_size}", n_train=d.n_train,
                         z_dim=scale.z_dim, epochs=t.epochs, batch_size=t.batch_size,
                         learning_rate=t.learning_rate, seeds=seeds, n_analysis=scale.n_analysis,
                         model="VAE, BatchNorm, fact = 1e-5 (the C1 VAE)", precisions=["float32", PRECISION])

    codes = {}
    for key, run in runs.items():
        c = session.latents(run)
        z = experiments.finite_rows(c["z"], claim, f"{key[0]} seed {key[1]}")
        if run.stopped or len(z) < len(c["z"]):
            claim.note(f"{key[0]} seed {key[1]} stopped ({run.stopped or 'non-finite codes'}); its seed is left out")
            continue
        codes[key] = c
    ok = [s for s in seeds if ("float32", s) in codes and (PRECISION, s) in codes]
    if len(ok) < 2:
        claim.note(f"only {len(ok)} seed(s) finished finite in both precisions; nothing to compare")
        return
    precisions = ("float32", PRECISION)
    last = {k: float(runs[k].history["reconstruction_loss"][-1]) for k in runs}

    # 1. final reconstruction loss, paired relative difference
    rel = np.array([(last[PRECISION, s] - last["float32", s]) / last["float32", s] for s in ok])
    claim.check(stats.check_within(
        "final reconstruction loss, (bf16 − f32) / f32, paired by seed", _paired(rel), -LOSS_MARGIN, LOSS_MARGIN,
        tolerance=f"90 % paired t CI inside ±{LOSS_MARGIN:.0%} (half of C1's ±2 %)"))
    for p in precisions:
        claim.statistic(f"final reconstruction loss, {p} (mean over seeds)",
                        stats.mean_ci([last[p, s] for s in ok]))

    # 2. radius distributions: between precisions (other seeds) vs between seeds
    r = {k: latent.radii(codes[k]["z"]) for k in codes}
    between = [(r["float32", i], r[PRECISION, j]) for i, j in permutations(ok, 2)]
    within = [(r[p, i], r[p, j]) for p in precisions for i, j in combinations(ok, 2)]
    dr = stats.distance_vs_seed_noise(between, within, "wasserstein", n_boot=1000, seed=0)
    claim.check(stats.check_below(
        "radius distributions: W1(f32 seed i, bf16 seed j≠i) / W1(seed, seed)", dr.ratio, DISTANCE_RATIO_MAX,
        tolerance=f"CI below {DISTANCE_RATIO_MAX:g} (C1's rule: a precision effect within seed noise)"))
    claim.statistic("mean W1 between precisions (other seeds)", dr.between)
    claim.statistic("mean W1 between seeds (same precision)", dr.within)
    twins = [float(wasserstein_distance(r["float32", s], r[PRECISION, s])) for s in ok]
    claim.statistic("mean W1 between twins (same seed, other precision)", float(np.mean(twins)),
                    note="twins share initial weights, image order and eps; shown, not voting")

    # 3. radius peak, paired log ratio
    peaks = {k: latent.radius_peak(r[k], n_boot=200, seed=0) for k in r}
    log_ratio = _paired(np.array([math.log(peaks[PRECISION, s].value / peaks["float32", s].value) for s in ok]))
    ratio = Estimate(math.exp(log_ratio.value), math.exp(log_ratio.low), math.exp(log_ratio.high), log_ratio.level,
                     "geometric mean of per-seed ratios, paired t 90 % (TOST α = 0.05)", log_ratio.n)
    claim.check(stats.check_within(
        "radius peak, bf16 / f32, paired by seed", ratio, 1 / PEAK_MARGIN, PEAK_MARGIN,
        tolerance=f"90 % CI inside [1/{PEAK_MARGIN:g}, {PEAK_MARGIN:g}] (half of C1's ±10 %)"))
    for k in sorted(peaks, key=lambda k: (k[1], k[0])):
        claim.statistic(f"radius peak, {k[0]} seed {k[1]}", peaks[k])

    # 4. mean logvar, paired difference in nats
    logvar = {k: float(np.mean(codes[k]["logvar"])) for k in codes}
    claim.check(stats.check_within(
        "mean logvar, bf16 − f32 (nats), paired by seed",
        _paired(np.array([logvar[PRECISION, s] - logvar["float32", s] for s in ok])), -LOGVAR_MARGIN, LOGVAR_MARGIN,
        tolerance=f"90 % CI inside ±{LOGVAR_MARGIN:g} nat (C2: threshold −5, sweep points 2.3 nats apart)"))
    for p in precisions:
        claim.statistic(f"mean logvar, {p} (mean over seeds)", stats.mean_ci([logvar[p, s] for s in ok]),
                        posts="−13.68 (float32, post XIII)" if p == "float32" else None)

    speed = {p: [float(runs[p, s].entry.meta.get("images_per_second") or 0.0) for s in ok] for p in precisions}
    for p in precisions:
        claim.statistic(f"training speed, {p} (images/s per model, this machine)", float(np.mean(speed[p])),
                        note=f"pack sizes {sorted({runs[p, s].entry.meta.get('pack', 1) for s in ok})}; "
                             "from the store entries, so measured when each model was trained")

    claim.plot("Radius distributions, float32 against mixed bfloat16 (bins of 0.5)",
               *[experiments.radius_panel(f"seed {s}", {p: codes[p, s]["z"] for p in precisions}) for s in ok],
               ncols=min(len(ok), 3))
    claim.plot("Training curves, float32 against mixed bfloat16",
               experiments.history_panel("reconstruction loss per epoch",
                                         {f"{p} seed {s}": runs[p, s].history for p in precisions for s in ok},
                                         key="reconstruction_loss"),
               experiments.history_panel("mean logvar of the probe batch per epoch",
                                         {f"{p} seed {s}": runs[p, s].history for p in precisions for s in ok},
                                         key="probe_logvar_mean"))
