"""vaebench's training path against its peers, measured side by side in one run (issue 14,
item 3): interleaved epochs of vaebench (``PackTrainer.fit_epoch``, a pack of one, with the host
feed and with the device feed), a bare
Keras ``fit`` fed by ``tf.data`` with autotuning off (TensorFlow backend), and the same VAE in
PyTorch eager where torch is importable. Recorded in ``extra_info``: images/s per arm, each
peer's speed over vaebench's (``benchtime.ratio_of_means`` of paired rounds, and
``median_ratio``), the model's training FLOPs per image and the fraction of this CPU's
2-thread SGEMM rate each arm reaches (measured in the same run, in a subprocess with
OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset there only; the BLAS kernel it ran is recorded). Nothing asserts on seconds.

    pytest benchmarks/test_peers.py --benchmark-only --benchmark-json=peers.json

Sizes: at every scale but ``smoke`` the posts' VAE (z_dim 256, batch 128) at 32×32 (2,048
images an epoch) and 96×96 (512 images an epoch), 3 timed rounds after one warm-up round;
at ``smoke`` the scale's own model, 256 images, 2 rounds.
"""
from __future__ import annotations

import pytest

from vaebench import bench as vb
from vaebench.bench import peers


def _sizes(scale):
    if scale.name == "smoke":
        return {"image_size": scale.data.image_size, "images": 256, "rounds": 2, "spec": scale.vae()}
    return {"images": None, "rounds": 3, "spec": scale.vae(z_dim=vb.POSTS_Z_DIM)}


@pytest.mark.parametrize("image_size", [32, 96], ids=lambda s: f"{s}px")
def test_peer_throughput(benchmark, scale, image_size):
    """One round = one epoch of each arm, rotating the order; the benchmark's time is the round's."""
    sizes = _sizes(scale)
    if "image_size" in sizes and image_size != sizes["image_size"]:
        pytest.skip(f"the smoke scale runs at its own {sizes['image_size']}px")
    spec, rounds = sizes["spec"], sizes["rounds"]
    batch = scale.train.batch_size if scale.name == "smoke" else vb.POSTS_BATCH_SIZE
    n = sizes["images"] or (2048 if image_size == 32 else 512)
    images = vb.make_batch(image_size, n, seed=7)
    arms = peers.peer_arms(spec, image_size, images, batch)
    for arm in arms.arms.values():      # warm-up: tracing, first allocations
        arm()
    times: dict[str, list[float]] = {name: [] for name in arms.arms}
    benchmark.group = f"peers: one epoch of each arm, {n} images {image_size}px batch {batch}"
    vb.pedantic_rounds(benchmark, lambda: vb.interleaved_round(arms.arms, times, returns_seconds=True), rounds, 0)
    flops = peers.training_flops(spec, image_size)
    peak = peers.sgemm_peak(2048, threads=2)           # its own process, the BLAS overrides unset there
    summary = peers.peer_summary(times, n, flops, peak["gflops"])
    benchmark.extra_info.update(
        vb.benchmark_info(
            spec,
            image_size,
            batch,
            label="VAE",
            scale=scale.name,
            measure="interleaved epochs of vaebench (PackTrainer.fit_epoch, host and device feed), "
            "bare keras fit on tf.data (autotune off) "
            "and torch eager where importable",
            arms=summary,
            round_seconds=times,
            training_flops_per_image=flops,
            sgemm_gflops_2_threads=peak["gflops"],
            sgemm=peak,
            torch_available=peers.torch_available(),
        )
    )
