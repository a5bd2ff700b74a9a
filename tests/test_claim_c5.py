"""Claim C5's decision on planted inputs whose truth is known (hypotheses/test_c5_*.py).

The parameter counts are planted from the layer arithmetic (not from Keras); the memory
footprints, step times and per-run qualities are simulated with the structure the
benchmark and the training runs give them: a round's slow phase shared by its steps,
occasional load spikes on single steps, normal between-run spread of the quality.
Error rates are at the cpu scale's run count (``SCALES['cpu'].seeds``) and round counts
(``bench_config(SCALES['cpu']).claim_rounds``, ``MEMORY_ROUNDS``).
"""
import numpy as np
import pytest
from claimsim import at, load_claim, mc_slack, result, verdict_rates

from vaebench import bench as vb
from vaebench.claims import health as diagnostics
from vaebench.config import SCALES

C5 = load_claim("test_c5_dense_bottleneck_cuts_encoder_parameters")
CLAIM = C5.CLAIM
BASE, DENSE, D384 = C5.BASE, C5.DENSE, C5.DENSE384
CPU = SCALES["cpu"]
N_RUNS = len(CPU.seeds)
N_ROUNDS = vb.bench_config(CPU).claim_rounds
N_REP = 500
#: nominal α plus three Monte-Carlo standard errors of a rate near α over N_REP replicates
LIMIT = 0.05 + mc_slack(0.05, N_REP)


def _conv(k, cin, cout):
    return k * k * cin * cout + cout


def _dense(n_in, n_out):
    return n_in * n_out + n_out


def posts_counts(batchnorm: bool) -> dict:
    """The posts' VAE at 96×96 by hand: 4 × Conv2D (32, 64, 128, 256), Flatten 6·6·256, mu and
    logvar (after an optional Dense); decoder Dense → 6·6·256, 4 × Conv2DTranspose (128, 64, 32, 3);
    BatchNorm keeps 4 numbers per channel (after each encoder conv, the first three decoder ones)."""
    convs = _conv(3, 3, 32) + _conv(3, 32, 64) + _conv(3, 64, 128) + _conv(3, 128, 256)
    bn_enc = 4 * (32 + 64 + 128 + 256) if batchnorm else 0
    bn_dec = 4 * (128 + 64 + 32) if batchnorm else 0

    def enc(z, dense=None):
        heads = 2 * _dense(dense or 9216, z)
        return convs + bn_enc + heads + (_dense(9216, dense) if dense else 0)

    def dec(z):
        return _dense(z, 9216) + _conv(3, 256, 128) + _conv(3, 128, 64) + _conv(3, 64, 32) + _conv(3, 32, 3) + bn_dec

    return {"encoder, z_dim 256": enc(256), "decoder, z_dim 256": dec(256),
            "encoder with Dense(256), z_dim 256": enc(256, 256), "encoder with Dense(384), z_dim 256": enc(256, 384),
            "encoder, z_dim 512": enc(512), "decoder, z_dim 512": dec(512)}


COUNTS_BN, COUNTS_PLAIN = posts_counts(True), posts_counts(False)
MU_LOGVAR_512 = 2 * 9216 * 512


def measurements(rng, mem_ratio=0.9, time_ratio=1.0, q_diff=0.0, counts=None, q_base=0.6, q_sd=0.05,
                 time_sd=0.05, mem_sd=0.003):
    """One simulated C5 study: the inputs of ``decide`` for every sub-claim."""
    base_mem = 700e6 * np.exp(rng.normal(0, mem_sd, C5.MEMORY_ROUNDS))
    memory = {BASE: base_mem, DENSE: base_mem * mem_ratio * np.exp(rng.normal(0, mem_sd, C5.MEMORY_ROUNDS)),
              D384: base_mem * 0.97 * np.exp(rng.normal(0, mem_sd, C5.MEMORY_ROUNDS))}
    phase = np.exp(rng.normal(0, 0.3, N_ROUNDS))          # a slow phase of the machine hits a whole round

    def steps(ratio):
        spikes = np.where(rng.random(N_ROUNDS) < 0.1, 3.0, 1.0)   # another process's load on one step
        return 0.09 * ratio * phase * spikes * np.exp(rng.normal(0, time_sd, N_ROUNDS))

    times = {BASE: steps(1.0), DENSE: steps(time_ratio), D384: steps(time_ratio)}
    base = q_base + rng.normal(0, 0.1, N_RUNS)
    quality = {BASE: base, DENSE: base + q_diff + rng.normal(0, q_sd, N_RUNS)}
    loss = 700 + rng.normal(0, 5, N_RUNS)
    reconstruction = {BASE: loss, DENSE: loss * (1 + rng.normal(0, 0.003, N_RUNS))}
    return {"counts": dict(COUNTS_BN if counts is None else counts), "mu_logvar": MU_LOGVAR_512, "memory": memory,
            "state": {"Dense(256)": (26_752_512, 26_752_512)}, "step_times": times, "quality": quality,
            "reconstruction": reconstruction}


def verdict(measured, pre=None):
    return result(CLAIM, at(C5.decide, measured, after=(pre,)))


def sub(res, sid):
    return next(s for s in res.subclaims if s.subclaim.id == sid)


# --------------------------------------------------------------------------- planted counts

def test_the_hand_arithmetic_gives_the_posts_figures_only_with_batchnorm():
    assert COUNTS_BN["encoder, z_dim 256"] == 5_109_440 and COUNTS_PLAIN["encoder, z_dim 256"] == 5_107_520
    res = result(CLAIM, at(C5.decide, {"counts": COUNTS_BN, "mu_logvar": MU_LOGVAR_512}), covered=["C5a"])
    assert res.verdict.value == "supported"
    plain = result(CLAIM, at(C5.decide, {"counts": COUNTS_PLAIN, "mu_logvar": MU_LOGVAR_512}),
                   covered=["C5a"])
    assert plain.verdict.value == "refuted"                       # 4,124,864 rounds to 4.12 M, not 4.13 M
    assert "Dense(384)" in sub(plain, "C5a").reason and "4,124,864" in sub(plain, "C5a").reason


def test_a_count_not_made_is_inconclusive():
    counts = dict(COUNTS_BN)
    del counts["encoder with Dense(256), z_dim 256"]
    res = result(CLAIM, at(C5.decide, {"counts": counts}), covered=["C5a"])
    assert res.verdict.value == "inconclusive" and "not counted" in sub(res, "C5a").reason


def test_the_identities_are_shown_not_voted():
    m = measurements(np.random.default_rng(1), mem_sd=1e-4, time_sd=0.02, q_sd=0.01)
    m["state"] = {"Dense(256)": (1, 26_752_512)}                 # a wrong byte count: the identity fails ...
    m["counts"]["decoder, z_dim 512"] = 4_000_000                  # ... and so does a secondary count
    res = verdict(m, {"C5b": None})
    assert res.verdict.value == "supported"                       # ... but neither votes
    assert any(c.role == "secondary" and c.verdict.value == "refuted" for c in res.checks)


# --------------------------------------------------------------------------- supported, refuted, inconclusive

def test_supported_case():
    res = verdict(measurements(np.random.default_rng(1), mem_sd=1e-4, time_sd=0.02, q_sd=0.01))
    assert res.verdict.value == "supported", res.reason
    units = {c.subclaim: c.unit for c in res.checks if c.role == "primary"}
    assert units["C5a"] == "exact" and units["C5d"] == "runs" and units["C5c"] == C5.ROUNDS


@pytest.mark.parametrize("change, sid", [({"time_ratio": 0.6}, "C5c"), ({"time_ratio": 1.6}, "C5c"),
                                         ({"mem_ratio": 1.0}, "C5b"), ({"q_diff": -0.5}, "C5d"),
                                         ({"counts": COUNTS_PLAIN}, "C5a")])
def test_refuted_cases(change, sid):
    res = verdict(measurements(np.random.default_rng(2), mem_sd=1e-4, time_sd=0.02, q_sd=0.01, **change))
    assert res.verdict.value == "refuted" and sub(res, sid).verdict.value == "refuted", res.reason


def test_no_accelerator_leaves_the_memory_sub_claim_inconclusive():
    m = measurements(np.random.default_rng(1), mem_sd=1e-4, time_sd=0.02, q_sd=0.01, mem_ratio=1.2)
    res = verdict(m, {"C5b": "no accelerator visible: the claim is about VRAM"})
    assert res.verdict.value == "inconclusive"                     # not refuted, whatever the ratio says
    assert "no accelerator" in sub(res, "C5b").reason
    m["memory"] = None                                             # no allocator figures at all
    assert sub(verdict(m), "C5b").verdict.value == "inconclusive"


def test_collapsed_vaes_leave_the_quality_sub_claim_inconclusive():
    rng = np.random.default_rng(3)
    history = {"loss": [800.0, 720.0, 715.0, 714.0, 714.0, 714.0]}
    codes = {"mu": rng.normal(0, 0.01, (200, 32)), "logvar": np.zeros((200, 32))}     # every image one code
    health = [diagnostics.health(f"vae fact=5 seed={s}", history, codes=codes) for s in range(N_RUNS)]
    pre = diagnostics.precondition(health, diagnostics.FINITE, diagnostics.CONVERGED, diagnostics.NOT_COLLAPSED)
    m = measurements(rng, mem_sd=1e-4, time_sd=0.02, q_sd=0.01, q_diff=-0.6)
    res = verdict(m, {"C5d": pre})
    assert res.verdict.value == "inconclusive" and "posterior collapse" in sub(res, "C5d").reason


def test_a_base_vae_without_faces_cannot_decide_quality():
    m = measurements(np.random.default_rng(4), mem_sd=1e-4, time_sd=0.02, q_sd=0.01, q_base=0.05)
    m["quality"][BASE] = np.full(N_RUNS, 0.04)
    m["quality"][DENSE] = np.full(N_RUNS, 0.05) + np.arange(N_RUNS) * 1e-3
    res = verdict(m)
    assert sub(res, "C5d").verdict.value == "inconclusive" and "not above 0.1" in sub(res, "C5d").reason


def test_too_few_runs_or_rounds_are_inconclusive():
    m = measurements(np.random.default_rng(5))
    m["quality"] = {BASE: [0.6], DENSE: [0.61]}
    m["step_times"] = {BASE: [0.09], DENSE: [0.09]}
    res = verdict(m)
    assert sub(res, "C5d").verdict.value == "inconclusive" and sub(res, "C5c").verdict.value == "inconclusive"


# --------------------------------------------------------------------------- error rates at the cpu scale

@pytest.mark.parametrize("time_ratio, q_diff", [(C5.RATIO_BAND[1], C5.QUALITY_MARGIN),
                                                (C5.RATIO_BAND[0], -C5.QUALITY_MARGIN)])
@pytest.mark.slow
def test_false_refutation_rate_at_the_tolerance_edges(time_ratio, q_diff):
    """The claim holds, every sub-claim on the edge of its tolerance (the worst case)."""
    rates = verdict_rates(CLAIM, lambda rng: at(C5.decide, measurements(
        rng, mem_ratio=C5.MEMORY_RATIO_MAX, time_ratio=time_ratio, q_diff=q_diff)), n_rep=N_REP, seed=10)
    assert rates["refuted"] <= LIMIT, rates


KEYS = {"C5b": ("memory",), "C5c": ("step_times",), "C5d": ("quality", "reconstruction")}


@pytest.mark.parametrize("sid, change", [("C5b", {"mem_ratio": C5.MEMORY_RATIO_MAX}),
                                         ("C5c", {"time_ratio": C5.RATIO_BAND[1]}),
                                         ("C5c", {"time_ratio": C5.RATIO_BAND[0]}),
                                         ("C5d", {"q_diff": C5.QUALITY_MARGIN})])
def test_false_support_rate_at_the_tolerance_edge(sid, change):
    """The claim is false: one sub-claim on the wrong edge of its tolerance. Under the
    intersection–union rule the claim's false-support rate is at most this sub-claim's,
    which is what is simulated (its inputs only, so 500 replicates stay fast)."""
    def simulate(rng):
        m = measurements(rng, **change)
        return at(C5.decide, {k: m[k] for k in KEYS[sid]})

    rates = verdict_rates(CLAIM, simulate, n_rep=N_REP, seed=20, covered=[sid], subclaim=sid)
    assert rates["supported"] <= LIMIT, rates
