"""C4 — clipping eps at |eps| ≤ 5 prevents training runaways (post XIII).

Claim (quote, post XIII): "So far I had nothing in our Python classes which would limit the
statistical variation of epsilon. [...] if abs(epsilon) >= 5: epsilon *= 5. / abs(epsilon)
[...] This stabilized everything. [...] after the limitation of epsilon fluctuations all
training runs found a loss minimum similar to the one of our simple AE – in the sense that
it creates a z-point density distribution around R ≈ 16."
Posts' figures: without clipping, of four VAE runs (fact = 1e-5) one settled at another
minimum (average radius 19.75 instead of ≈ 16) and one jumped at epoch 22 to a radius peak
of 66 with a KL spike (not repeated when restarted from epoch 18); with clipping all runs
found R ≈ 16 (how many is not said). Read as runaway rates p_U = 0.5 unclipped, p_C = 0
clipped.

Design: arm U (``scale.vae()``) and arm C (``scale.vae(eps_clip=5.0)``), each trained with
every seed of ``range(scale.runaway_runs)``; arm U shares its store entries with C1 where
the seeds coincide. The unit is the **twin pair**: a seed fixes the initial weights, the
shuffling and the eps stream, and the clip acts after the draw, so the twins of a seed
differ only in the draws beyond |eps| = 5 (2Φ(−5) ≈ 5.7e-7 of them). Each run gives one
indicator (runaway or not), each seed one pair (U, C).

The runaway event (pre-declared; unchanged), from the per-epoch history (``loss``, ``kl``,
``probe_radius_peak``: the fullest 0.5-wide bin of the radii of a fixed probe batch,
``probe_radius_mean``) and the store's ``stopped``; a run is a runaway when ANY holds
(epochs from 1):
(a) non-finite: training stopped on a non-finite loss, or a recorded loss or kl is NaN/inf;
(b) radius jump: for some epoch e ≥ 3, peak[e] > 1.5 × peak[e−1] AND peak[e] − peak[e−1] > 2.0
    AND mean[e] > 1.25 × mean[e−1] (the posts' 16 → 66; the extra conditions keep the
    bin-quantised peak of the probe batch from firing on noise: the whole distribution moves);
(c) KL spike: for some epoch e ≥ 3, kl[e] > 3 × median(kl[max(1, e−3) .. e−1]) (a local
    baseline: kl grows steadily while logvar descends);
(d) different minimum: the final probe_radius_mean differs by more than 15 % from the median
    final probe_radius_mean of the finite runs of both arms (the posts' 19.75 vs 16.28 is
    +21 %; seed-to-seed spread is a few percent).
Epochs 1–2 are left out of (b) and (c): the latent scale is still being set up.

Sub-claim and primary check (fixed before any run; m = 1: support interval at 1 − 2α = 0.90,
one-sided error ≤ α = 0.05; refutation interval at 1 − α = 0.95, one-sided error ≤ 0.025):
- C4a clipping prevents runaways: θ = p_C / p_U, the ratio of the runaway rates, with exact
  paired intervals over the twin pairs. Supported when the 90 % interval lies below 1 (the
  clipped rate is lower) and not above λ = 1/2; refuted when the 95 % interval lies above λ
  (the clip prevents fewer than half of the runaways: "stabilized everything" read at its
  weakest, "most"); a real reduction smaller than half reads as refuted; zero runaways in
  both arms is INCONCLUSIVE whatever the interval: there was nothing to prevent.
  The interval inverts exact unconditional tests (Suissa & Shuster 1985; Hsueh, Liu & Chen
  2001) of H0: p_C − θ0·p_U = 0 on a grid of θ0 (:data:`THETA_GRID`): the statistic is the
  per-pair contrast X = 1[C] − θ0·1[U] averaged over the pairs and divided by its standard
  error under the restricted maximum-likelihood cells (a score statistic); its p-value is
  the largest tail probability over the twin-pair multinomial (π11, π10, π01, π00) with
  p_C = θ0·p_U — every twin dependence, none assumed (grid :data:`NUISANCE_STEPS`). The bounds are
  connected (every grid θ0 beyond a bound is rejected), so support needs every θ0 ≥ 1 rejected.
  At θ0 = 1 the test is the exact
  unconditional McNemar test on the discordant pairs, more powerful than the conditional
  one. Largest exact error over every twin-pair distribution at 14 pairs:
  P(supported | p_C ≥ p_U) = 0.037 (≤ α), P(refuted | p_C ≤ p_U / 2) = 0.023 (≤ 0.025;
  tests/test_claim_c4.py).
Why paired: an unpaired exact test (Boschloo) assumes independent arms. Under negative twin
dependence its one-sided size exceeds its nominal level (0.037 at nominal 0.025, p = 0.3,
ρ = −0.4, 14 per arm); under positive dependence with p_C > 0 the paired test has more power
(p_U = 0.6, p_C = 0.2, ρ = 0.5, one-sided 0.05: 0.88 against 0.69), and only the pairing lets
concordant runaways refute. At the posts' p_C = 0 both have power 0.97 at 14 pairs; Boschloo
is shown as a secondary statistic.
Power (:func:`power`, exact: the decision of every table of n pairs weighted by its
multinomial probability; at p_C = 0 there are no concordant runaway pairs, so the twins'
dependence does not enter). P(supported) at p_C = 0 over the plausible range of the
unclipped rate (the posts saw 2 of 4; one of them a "different minimum" that might not
count), 14 pairs (full): p_U = 0.1 / 0.2 / 0.25 / 0.3 / 0.4 / 0.5 / 0.75 → 0.04 / 0.30 /
0.48 / 0.64 / 0.88 / 0.97 / 1.00; at p_U = 0.5, n = 8 … 16 pairs → 0.64 / 0.75 / 0.83 / 0.89
/ 0.93 / 0.95 / 0.97 / 0.98 / 0.99. So the full scale decides C4 when p_U ≥ 0.4 and cannot
when p_U ≤ 0.25. At 3 or 4 pairs (cpu) no table reaches one-sided 0.05 (all discordant has
probability 1/8, 1/16 under no effect): C4 is inconclusive by design there. Under no effect
(θ = 1, p = 0.5) 14 pairs refute with probability 0.37 (independent twins) to 0.91
(identical twins). Computed with ``PYTHONPATH=.:tests python -c "from claimsim import
load_claim; C4 = load_claim('test_c4_eps_clipping_prevents_runaways'); print([C4.power(14,
p)['supported'] for p in (0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75)])"``.
Secondary (shown): both rates with Clopper–Pearson CIs and their 95 % upper confidence
bounds; the twin-pair table; the conditional McNemar p; unpaired Boschloo and Fisher
one-sided p (they ignore the pairing: valid for non-negative twin dependence only); the
power of this design at the run count used, and of an unpaired Boschloo test at the same
one-sided level; how often the clip fired (Σ eps_tail over epochs × n_train × z_dim;
expected 2Φ(−5)); the largest twin difference of the final loss.
Preconditions: none on convergence or finiteness — runaways are the subject, a non-finite
run is an event, not a failed model (the default precondition, model health, is waived and
the waiver recorded). The check is inconclusive when the clip never fired in
the clipped arm (both arms then ran the same computation: smoke, 2 epochs of 512 images,
expects 0.02 clipped draws per run) or a run lacks the history the event definition reads.
Equilibrium: not judged. The statistic counts runaway events over the whole budget; it has no
final value to settle at, and a longer budget can only add events (the posts' runaway came at
epoch 22 of 24). The count is of the budget run, and the report says which budget that was.
Scale: smoke (machinery only), cpu (3 pairs: inconclusive by design, shows the machinery and
the event statistics), full (14 pairs, the posts' 24 epochs; power 0.97 at p_U = 0.5).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from scipy import special
from scipy.stats import binomtest, norm

from vaebench import claims as experiments
from vaebench import stats
from vaebench.claims.record import Claim
from vaebench.errors import StatsError
from vaebench.stats import Check, Estimate, SubClaim
from vaebench.stats.design import Stated

EPS_CLIP = 5.0
FIRST_EPOCH = 3  # (b), (c): epochs from 3 on, compared with earlier ones
PEAK_JUMP = 1.5  # (b)
PEAK_JUMP_ABS = 2.0  # (b)
MEAN_JUMP = 1.25  # (b)
KL_SPIKE = 3.0  # (c)
KL_WINDOW = 3  # (c)
OFF_MINIMUM = 0.15  # (d)
HISTORY_KEYS = ("loss", "kl", "probe_radius_peak", "probe_radius_mean", "eps_tail")
#: C4a's refutation edge: the clip prevents fewer than half of the runaways when θ = p_C / p_U > LAMBDA
LAMBDA = 0.5
P_UNCLIPPED_POSTS, P_CLIPPED_POSTS = 0.5, 0.0
#: the θ0 at which the exact tests are inverted (0.05 apart up to 1; the bounds are reported on this grid)
THETA_GRID = tuple(round(0.05 * i, 2) for i in range(21)) + (1.25, 1.5, 2.0, 3.0, 5.0, 10.0, math.inf)
#: grid of the nuisance on the null boundary: p_U in NUISANCE_STEPS[0] + 1 steps, π11 between its bounds in [1] + 1
NUISANCE_STEPS = (50, 20)

RATIO = "runaway-rate ratio clipped / unclipped (exact paired CI over twin seeds)"
CELLS = ("both ran away", "only unclipped", "only clipped", "neither")

CLAIM = Claim(
    id="C4",
    title="Clipping eps at |eps| ≤ 5 prevents training runaways",
    quote=(
        "So far I had nothing in our Python classes which would limit the statistical variation of epsilon. "
        "[...] This stabilized everything. [...] after the limitation of epsilon fluctuations all training runs "
        "found a loss minimum similar to the one of our simple AE – in the sense that it creates a z-point "
        "density distribution around R ≈ 16."
    ),
    source="post XIII, 'Variational Autoencoder with Tensorflow 2.8' (seeds/000_73ebeab37ce6d73c.txt), "
    "section 'Can this result be reproduced?'",
    posts={
        "unclipped runs": "2 of 4 misbehaved: one at average radius 19.75 instead of ≈ 16; one jumped to a "
        "radius peak of 66 with a KL spike at epoch 22",
        "clipped runs": "all found the R ≈ 16 minimum (number of runs not given)",
    },
    subclaims=(
        SubClaim(
            "C4a",
            "clipping eps at |eps| ≤ 5 prevents most training runaways "
            f"(p_C / p_U < 1 shown; refuted when > {LAMBDA:g} is shown)",
            RATIO,
            posts="0 clipped vs 2 of 4 unclipped",
        ),
    ),
)

#: P(C4a supported) at p_C = 0 over the plausible unclipped rates p_U, at the full scale's 14 pairs (:func:`power`;
#: tests/test_claim_c4.py recomputes them)
POWER_FULL = {0.1: 0.04, 0.2: 0.30, 0.25: 0.48, 0.3: 0.64, 0.4: 0.88, 0.5: 0.97, 0.75: 1.00}
#: what C4a can decide before any run: a paired exact binomial ratio, no between-run SD (the design table's row)
PRIORS = {
    "C4a": Stated(
        "exact paired binomial (power(), not a t margin)",
        "cpu, 3 pairs: no table reaches one-sided 0.05, cannot decide; full, 14 pairs, p_C = 0: P(supported) "
        + "/".join(f"{v:.2f}" for v in POWER_FULL.values()) + " at p_U = "
        + "/".join(f"{p:g}" for p in POWER_FULL) + " (posts: 2 of 4 unclipped)"),
}


# --------------------------------------------------------------------------- the runaway event


def _series(history: Mapping, key: str) -> np.ndarray:
    return np.asarray(history.get(key) or [], dtype=np.float64)


def runaway_events(history: Mapping, stopped: str | None) -> list[str]:
    """Events (a)–(c) of the module docstring for one run; (d) needs all runs (:func:`classify`)."""
    events = []
    loss, kl = _series(history, "loss"), _series(history, "kl")
    peak, mean = _series(history, "probe_radius_peak"), _series(history, "probe_radius_mean")
    if stopped or not np.all(np.isfinite(loss)) or not np.all(np.isfinite(kl)):
        events.append(f"(a) non-finite{': ' + stopped if stopped else ''}")
    with np.errstate(invalid="ignore", divide="ignore"):
        for e in range(FIRST_EPOCH, min(len(peak), len(mean)) + 1):  # e is 1-based
            p0, p1, m0, m1 = peak[e - 2], peak[e - 1], mean[e - 2], mean[e - 1]
            if p1 > PEAK_JUMP * p0 and p1 - p0 > PEAK_JUMP_ABS and m1 > MEAN_JUMP * m0:
                events.append(f"(b) radius jump at epoch {e}: peak {p0:.2f} → {p1:.2f}, mean {m0:.2f} → {m1:.2f}")
        for e in range(FIRST_EPOCH, len(kl) + 1):
            base = float(np.median(kl[max(0, e - 1 - KL_WINDOW) : e - 1]))
            if kl[e - 1] > KL_SPIKE * base:
                events.append(f"(c) KL spike at epoch {e}: {kl[e - 1]:.4g} > {KL_SPIKE:g} × {base:.4g}")
    return events


def classify(runs: Mapping[tuple, tuple[Mapping, str | None]]) -> tuple[dict, float]:
    """Events (a)–(d) of every run: ``runs`` maps (arm, seed) to (history, stopped). Returns the
    events per run and the median final probe mean radius that (d) compares with."""
    events = {key: runaway_events(h, stopped) for key, (h, stopped) in runs.items()}
    finals = {
        key: float(_series(h, "probe_radius_mean")[-1]) if h.get("probe_radius_mean") else math.nan
        for key, (h, _) in runs.items()
    }
    finite = [v for v in finals.values() if math.isfinite(v)]
    median = float(np.median(finite)) if finite else math.nan
    for key, v in finals.items():
        if math.isfinite(v) and median > 0 and abs(v / median - 1) > OFF_MINIMUM:
            events[key].append(f"(d) different minimum: final mean radius {v:.2f} vs median {median:.2f}")
    return events, median


def _max_ratio(x: np.ndarray, start: int = FIRST_EPOCH) -> float:
    """Largest epoch-to-epoch ratio x[e]/x[e−1] for 1-based e ≥ ``start`` (how near (b) and (c) came)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        r = x[start - 1 :] / x[start - 2 : -1] if len(x) >= start else np.array([])
    r = r[np.isfinite(r)]
    return float(r.max()) if r.size else math.nan


def precondition(histories: Mapping[tuple, Mapping], clipped: str = "clipped") -> str | None:
    """Why the twin pairs cannot show what clipping does (None when they can): a run lacks
    the history the event definition reads, or the clip never fired in the ``clipped`` arm."""
    missing = [f"{a} seed {s}" for (a, s), h in histories.items() if any(not h.get(k) for k in HISTORY_KEYS)]
    if missing:
        return f"history without {'/'.join(HISTORY_KEYS)}: {', '.join(missing)}"
    fired = sum(float(np.nansum(_series(h, "eps_tail"))) for (a, _), h in histories.items() if a == clipped)
    if fired <= 0:
        return (
            f"the clip never fired (0 draws with |eps| > {EPS_CLIP:g} in the clipped arm): both arms ran the "
            "same computation, so they cannot show what clipping does"
        )
    return None


# --------------------------------------------------------------------------- exact paired inference


def pair_counts(unclipped: Sequence[bool], clipped: Sequence[bool]) -> tuple[int, int, int, int]:
    """(both, only unclipped, only clipped, neither) over twin pairs (index i of each arm: one seed)."""
    u, c = np.asarray(unclipped, bool), np.asarray(clipped, bool)
    if u.shape != c.shape or u.ndim != 1 or u.size == 0:
        raise StatsError(f"twin indicators need one value per seed in each arm; got {u.shape} and {c.shape}")
    return int(np.sum(u & c)), int(np.sum(u & ~c)), int(np.sum(~u & c)), int(np.sum(~u & ~c))


@functools.lru_cache(maxsize=8)
def _outcomes(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Every table (n11, n10, n01, n00) of n twin pairs and its log multinomial coefficient."""
    k = np.array(
        [(a, b, c, n - a - b - c) for a in range(n + 1) for b in range(n + 1 - a) for c in range(n + 1 - a - b)],
        dtype=np.float64,
    )
    return k, special.gammaln(n + 1) - special.gammaln(k + 1).sum(axis=1)


def _log_pmf(n: int, pi: np.ndarray) -> np.ndarray:
    """Log multinomial probabilities of every table of n pairs (rows) under each cell vector of ``pi`` (columns)."""
    k, logcoef = _outcomes(n)
    pi = np.atleast_2d(np.asarray(pi, dtype=np.float64))
    logp = np.where(pi > 0, np.log(np.where(pi > 0, pi, 1.0)), -1e4)  # a cell of probability 0 kills its tables
    return logcoef[:, None] + sum(k[:, j, None] * logp[None, :, j] for j in range(4))  # faster than k @ logp.T


def cells(p_u: float, p_c: float, rho: float = 0.0) -> np.ndarray:
    """Twin-pair cell probabilities (π11, π10, π01, π00) for runaway rates ``p_u``, ``p_c`` and the
    twins' indicator correlation ``rho`` (phi coefficient; clamped to the feasible range)."""
    both = p_u * p_c + rho * math.sqrt(p_u * (1 - p_u) * p_c * (1 - p_c))
    both = min(max(both, max(0.0, p_u + p_c - 1.0)), min(p_u, p_c))
    return np.array([both, p_u - both, p_c - both, 1.0 - p_u - p_c + both])


def _null_boundary(theta0: float) -> np.ndarray:
    """Cell vectors with p_C = θ0·p_U (θ0 = inf: p_U = 0), on the :data:`NUISANCE_STEPS` grid."""
    nu, nf = NUISANCE_STEPS
    if math.isinf(theta0):
        pc = np.linspace(0.0, 1.0, nu + 1)
        return np.stack([0 * pc, 0 * pc, pc, 1 - pc], axis=1)
    pu = np.linspace(0.0, min(1.0, 1.0 / theta0) if theta0 > 0 else 1.0, nu + 1)
    pc = theta0 * pu
    lo, hi = np.maximum(0.0, pu + pc - 1.0), np.minimum(pu, pc)
    f = np.linspace(0.0, 1.0, nf + 1)
    both = (lo[:, None] + f[None, :] * (hi - lo)[:, None]).ravel()
    pu, pc = np.repeat(pu, nf + 1), np.repeat(pc, nf + 1)
    return np.clip(np.stack([both, pu - both, pc - both, 1.0 - pu - pc + both], axis=1), 0.0, 1.0)


@functools.lru_cache(maxsize=256)
def _pvalues(n: int, theta0: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact unconditional p-values of every table of n pairs for H0: θ = θ0, against θ > θ0 and
    against θ < θ0: the largest tail probability over the null boundary.

    The statistic is the score statistic of the contrast X = 1[C] − θ0·1[U] (θ0 = inf: −1[U]):
    its mean over the pairs divided by its standard error under the table's restricted maximum
    likelihood cells (the most likely boundary grid point); ±inf when that variance is 0.
    """
    k, _ = _outcomes(n)
    a = np.array([-1.0, -1.0, 0.0, 0.0]) if math.isinf(theta0) else np.array([1 - theta0, -theta0, 1.0, 0.0])
    boundary = _null_boundary(theta0)
    logp = _log_pmf(n, boundary)  # tables × nuisance
    restricted = boundary[np.argmax(logp, axis=1)]
    var = np.maximum(restricted @ (a * a) - (restricted @ a) ** 2, 0.0)
    mean = k @ a / n
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(
            var > 1e-12, mean * math.sqrt(n) / np.sqrt(np.where(var > 1e-12, var, 1.0)), np.sign(mean) * np.inf
        )
    t = np.round(np.where(np.abs(mean) <= 1e-12, 0.0, t), 9)  # ties stay ties
    prob = np.exp(logp)
    out = []
    for s in (t, -t):  # large t: θ > θ0; small t: θ < θ0
        order = np.argsort(-s, kind="stable")
        cum = np.cumsum(prob[order], axis=0)
        last = np.searchsorted(-s[order], -s[order], side="right") - 1  # the last table tied with each
        p = np.empty(len(s))
        p[order] = cum[last].max(axis=1)
        out.append(np.minimum(p, 1.0))
    return out[0], out[1]


@functools.lru_cache(maxsize=16)
def _bounds(n: int, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper confidence bounds on θ for every table of n pairs (connected on :data:`THETA_GRID`),
    each one-sided at (1 + level) / 2."""
    a = (1.0 - level) / 2.0
    grid = np.array(THETA_GRID)
    above = np.stack([_pvalues(n, float(g))[0] < a for g in grid[:-1]], axis=1)  # rejects θ ≤ g
    below = np.stack([_pvalues(n, float(g))[1] < a for g in grid[1:]], axis=1)  # rejects θ ≥ g
    n_low = np.cumprod(above, axis=1).sum(axis=1)  # leading rejected grid points from 0 up
    n_high = np.cumprod(below[:, ::-1], axis=1).sum(axis=1)  # trailing rejected grid points from inf down
    low = np.where(n_low > 0, grid[:-1][np.maximum(n_low - 1, 0)], 0.0)
    high = np.where(n_high > 0, grid[1:][::-1][np.maximum(n_high - 1, 0)], math.inf)
    return low, high


def _table_index(n: int, counts: tuple[int, int, int, int]) -> int:
    k, _ = _outcomes(n)
    return int(np.flatnonzero(np.all(k == np.asarray(counts, dtype=np.float64), axis=1))[0])


def ratio_interval(counts: tuple[int, int, int, int], level: float) -> Estimate:
    """θ̂ = k_C / k_U with the exact paired interval of the module docstring at ``level``."""
    n = int(sum(counts))
    low, high = _bounds(n, float(level))
    i = _table_index(n, counts)
    k_u, k_c = counts[0] + counts[1], counts[0] + counts[2]
    value = k_c / k_u if k_u else (math.inf if k_c else math.nan)
    return Estimate(
        value,
        min(low[i], value) if math.isfinite(value) else low[i],
        max(high[i], value) if math.isfinite(value) else high[i],
        level,
        "exact unconditional paired (twin seeds)",
        n,
    )


def _verdicts(n: int, levels: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Supported and refuted, as booleans per table of n pairs: :func:`decide` at the support
    level and at the refutation level ``levels``, paired as :func:`vaebench.stats.both_levels` does."""
    k, _ = _outcomes(n)
    events = k[:, :3].sum(axis=1) > 0
    low_s, high_s = _bounds(n, float(levels[0]))
    low_r, _ = _bounds(n, float(levels[1]))
    refuted = events & (low_r >= LAMBDA)
    return events & (high_s <= 1.0) & (low_s < LAMBDA) & ~refuted, refuted


def power(
    n: int, p_u: float = P_UNCLIPPED_POSTS, p_c: float = P_CLIPPED_POSTS, rho: float = 0.0,
    levels: tuple[float, float] | None = None,
) -> dict[str, float]:
    """Exact probabilities of C4a's verdicts with ``n`` twin pairs: every table weighted by its
    multinomial probability under :func:`cells` (p_u, p_c, rho); no simulation. ``levels``:
    (support, refutation), the design's by default."""
    w = np.exp(_log_pmf(n, cells(p_u, p_c, rho))[:, 0])
    levels = levels or (CLAIM.design.support_level, CLAIM.design.refute_level)
    sup, ref = _verdicts(n, levels)
    return {"supported": float(w @ sup), "refuted": float(w @ ref), "inconclusive": float(w @ (~sup & ~ref))}


def decide(
    unclipped: Sequence[bool], clipped: Sequence[bool], level: float, precondition: str | None = None
) -> list[Check]:
    """C4a's primary check from the runaway indicators of the twins (index i of each arm: seed i)."""
    counts = pair_counts(unclipped, clipped)
    n = sum(counts)
    est = ratio_interval(counts, level)
    k_u, k_c = counts[0] + counts[1], counts[0] + counts[2]
    side = (1 - level) / 2
    tolerance = (
        f"supported: exact paired {level:.0%} CI of p_C / p_U below 1; refuted: CI above {LAMBDA:g} (the "
        f"clip prevents fewer than half of the runaways); no runaway in either arm: inconclusive"
    )
    seen = f"{k_u}/{n} unclipped vs {k_c}/{n} clipped runaways (twin pairs {counts})"
    if k_u == 0 and k_c == 0:
        passed, reason = None, (f"no runaway in either arm (0 of {n} and 0 of {n}): there was nothing for the clip "
                                "to prevent, so the data cannot speak to the claim")
    elif est.low >= LAMBDA:
        passed, reason = False, (f"{seen}: the ratio exceeds {LAMBDA:g} at one-sided level {side:g}, so the clip "
                                 f"prevents fewer than half of the runaways (CI {est})")
    elif est.high <= 1.0:
        passed, reason = True, f"{seen}: the clipped rate is lower (CI {est} lies below 1)"
    else:
        passed, reason = None, f"{seen}: CI {est} straddles 1 and {LAMBDA:g}; {n} pairs cannot decide"
    return [Check(RATIO, est, tolerance, passed, reason, posts="0 clipped vs 2 of 4 unclipped", subclaim="C4a",
                  role="primary", unit="pairs of runs", n_runs=2 * n, precondition=precondition)]


def unpaired_power(n: int, level: float | None = None) -> float:
    """Power at the posts' rates of an unpaired one-sided Boschloo test at the same one-sided
    level as C4a's support (``level``: two-sided, the design's support level by default)."""
    level = CLAIM.design.support_level if level is None else level
    return stats.power_two_rates(
        P_UNCLIPPED_POSTS, P_CLIPPED_POSTS, n, n, alpha=(1 - level) / 2, test="boschloo", alternative="greater"
    )


# --------------------------------------------------------------------------- the test


@pytest.mark.gpu
def test_c4_eps_clipping_prevents_runaways(claim, scale, trained, vaebench_session):
    n = scale.runaway_runs
    seeds = list(range(n))
    got = trained.many([(scale.vae(), s) for s in seeds] + [(scale.vae(eps_clip=EPS_CLIP), s) for s in seeds])
    arms = {"unclipped": dict(zip(seeds, got[:n])), "clipped": dict(zip(seeds, got[n:]))}
    claim.describe_scale(**experiments.scale_info(scale), runs_per_arm=n, seeds=seeds,
                         arms="VAE fact = 1e-5, eps unclipped vs clipped at |eps| ≤ 5 (twins share a seed)")
    claim.model_health(*(vaebench_session.health(t) for runs in arms.values() for t in runs.values()))
    claim.waive_health("C4a", "runaways are the subject: a non-finite or unsettled run is an event, not a failed model")

    runs = {(a, s): (t.history, t.stopped) for a, rs in arms.items() for s, t in rs.items()}
    events, median_final = classify(runs)
    for (a, s), ev in events.items():
        if ev:
            claim.note(f"{a} seed {s}: " + "; ".join(ev))
    ran_away = {a: [bool(events[a, s]) for s in seeds] for a in arms}
    pre = precondition({key: h for key, (h, _) in runs.items()})
    for check in stats.both_levels(claim.claim.design, lambda level: decide(
            ran_away["unclipped"], ran_away["clipped"], level, pre)):
        claim.check(check)
    _secondary_rates(claim, pair_counts(ran_away["unclipped"], ran_away["clipped"]), n)
    _secondary_eps_and_twins(claim, arms, scale)
    _plots(claim, arms, events, median_final)


# --------------------------------------------------------------------------- secondary: shown, never voting

def _secondary_rates(claim, counts: tuple, n: int) -> None:
    """Each arm's runaway rate, the paired and unpaired tests, and the design's power."""
    k_u, k_c = counts[0] + counts[1], counts[0] + counts[2]
    for arm, k, posts in (("unclipped", k_u, "2 of 4"), ("clipped", k_c, "0 (all runs at R ≈ 16)")):
        claim.statistic(f"runaway rate, {arm} (Clopper–Pearson)", stats.rate_ci(k, n), posts=posts,
                        note=f"95 % upper confidence bound {stats.rate_upper_bound(k, n):.3f}")
        claim.statistic(f"95 % upper confidence bound on the {arm} rate", stats.rate_upper_bound(k, n))
    claim.statistic("twin pairs (seeds)", float(n), note=", ".join(f"{c}: {v}" for c, v in zip(CELLS, counts)))
    if counts[1] + counts[2]:
        claim.statistic("exact conditional McNemar p, one-sided (discordant pairs, binomtest)",
                        binomtest(counts[1], counts[1] + counts[2], 0.5, alternative="greater").pvalue)
    for test in ("boschloo", "fisher"):
        rt = getattr(stats, test if test == "boschloo" else "fisher_exact")(k_u, n, k_c, n, alternative="greater")
        claim.statistic(f"unpaired {test.capitalize()} p, one-sided (U > C; ignores the twins)", rt.p_value)
    claim.statistic(f"power of C4a with {n} twin pairs at p_U = 0.5, p_C = 0 (exact)", power(n)["supported"],
                    note="the probability that this design supports the claim if the posts' rates are true")
    claim.statistic(f"power of an unpaired Boschloo test, {n} runs per arm, same one-sided level", unpaired_power(n))


def _secondary_eps_and_twins(claim, arms: dict, scale) -> None:
    """How often |eps| > 5 was drawn (and clipped), and how far twins' final losses differ."""
    expected = 2.0 * float(norm.sf(EPS_CLIP))
    for arm, what in (("clipped", "clip fired"), ("unclipped", "|eps| > 5 drawn, not clipped")):
        k = round(sum(float(np.nansum(_series(t.history, "eps_tail"))) for t in arms[arm].values()))
        draws = sum(len(t.history.get("loss") or []) for t in arms[arm].values()) * scale.data.n_train * scale.z_dim
        if draws > 0:
            claim.statistic(f"{arm}: fraction of eps draws with |eps| > {EPS_CLIP:g} ({what})",
                            stats.rate_ci(k, draws), posts=f"expected 2Φ(−5) = {expected:.3g}",
                            note=f"{k:,} of {draws:,} draws")
    last = experiments.last_epoch
    twin = [abs(last(arms["clipped"][s].history, "loss") / last(arms["unclipped"][s].history, "loss") - 1)
            for s in arms["clipped"]]
    twin = [v for v in twin if math.isfinite(v)]
    if twin:
        claim.statistic("largest relative difference of final loss between twins", max(twin),
                        note="same seed: same initial weights, shuffling and eps stream")


# --------------------------------------------------------------------------- figures

def _event_row(s, a: str, run, events: dict) -> list:
    h, last = run.history, experiments.last_epoch
    return [s, a, run.stopped or "", f"{last(h, 'probe_radius_mean'):.2f}", f"{last(h, 'probe_radius_peak'):.2f}",
            f"{_max_ratio(_series(h, 'probe_radius_peak')):.3f}", f"{_max_ratio(_series(h, 'kl')):.3f}",
            f"{int(np.nansum(_series(h, 'eps_tail')))}", "; ".join(events[a, s]) or "none"]


def _plots(claim, arms: dict, events: dict, median_final: float) -> None:
    seeds = list(arms["unclipped"])
    hist = {f"{a} seed {s}": arms[a][s].history for a in arms for s in seeds}
    claim.plot(
        "Training runs of both arms",
        experiments.history_panel("probe radius peak per epoch", hist, key="probe_radius_peak"),
        experiments.history_panel("probe mean radius per epoch", hist, key="probe_radius_mean"),
        experiments.history_panel("KL (unweighted) per epoch", hist, key="kl", logy=True),
        experiments.history_panel("total loss per epoch", hist, key="loss"))
    claim.plot("Twin runs and events", {
        "type": "table",
        "title": f"runaway events (definition in the module docstring); median final mean radius {median_final:.2f}",
        "columns": ["seed", "arm", "stopped", "final mean radius", "final radius peak",
                    "max peak ratio e/e−1 (e ≥ 3)", "max kl ratio e/e−1 (e ≥ 3)", "|eps| > 5 draws", "events"],
        "rows": [_event_row(s, a, arms[a][s], events) for s in seeds for a in arms]})
