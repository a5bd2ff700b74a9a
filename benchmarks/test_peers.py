"""vaebench's training path against its peers, each arm in a process of its own, interleaved
(issue 22, item 1; :mod:`vaebench.bench.peerproc`): vaebench (``PackTrainer.fit_epoch``, a
pack of one, with the default and with the device feed), a bare Keras ``fit`` fed by
``tf.data`` with autotuning off, bare Keras ``fit`` on the JAX and torch backends, the same VAE
in PyTorch eager and under ``torch.compile``. Each process sets its threads (``threads`` for
OpenMP, MKL, OpenBLAS, TensorFlow's intra- and inter-op pools, ``torch.set_num_threads``;
``OMP_WAIT_POLICY=PASSIVE``) and states them in its record; torch arms run in
``$VAEBENCH_TORCH_PYTHON`` where set (torch is no dependency of vaebench). An arm whose
package is missing is recorded as skipped with the reason.

Recorded in ``extra_info``: per arm, images/s over all rounds and per round, its speed over
vaebench's (geometric mean of the paired per-round ratios, t interval of the log), its
settings, and the fraction of this CPU's SGEMM rate it reaches (``peers.sgemm_peak``: its own
process, OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset there only, the BLAS kernel named). Nothing
asserts on seconds.

    VAEBENCH_TORCH_PYTHON=/path/to/python pytest benchmarks/test_peers.py --benchmark-only \\
        --benchmark-json=peers.json

``$VAEBENCH_PEER_ARMS`` (names of ``peerproc.ARMS`` separated by ``;``: names hold commas) runs a subset.

Sizes: at every scale but ``smoke`` the posts' VAE (z_dim 256, batch 128) at 32×32 (16 steps,
2,048 images an epoch) and 96×96 (4 steps, 512 images), one warm-up epoch, 5 rounds; at
``smoke`` the scale's own model, 2 steps, 2 rounds.
"""
from __future__ import annotations

import os

import pytest

from vaebench import bench as vb
from vaebench.bench import peerproc, peers


def _sizes(scale, image_size):
    if scale.name == "smoke":
        return {"image_size": scale.data.image_size, "steps": 2, "rounds": 2, "spec": scale.vae(),
                "batch": scale.train.batch_size}
    steps = 16 if image_size == 32 else 4
    return {"steps": steps, "rounds": 5, "spec": scale.vae(z_dim=vb.POSTS_Z_DIM), "batch": vb.POSTS_BATCH_SIZE}


@pytest.mark.parametrize("image_size", [32, 96], ids=lambda s: f"{s}px")
def test_peer_throughput(benchmark, scale, image_size):
    """One benchmark round = all interleaved rounds of every arm (the arms time themselves)."""
    sizes = _sizes(scale, image_size)
    if "image_size" in sizes and image_size != sizes["image_size"]:
        pytest.skip(f"the smoke scale runs at its own {sizes['image_size']}px")
    spec, batch, threads = sizes["spec"], sizes["batch"], 2
    config = peerproc.child_config("vaebench", spec, image_size, batch, sizes["steps"], threads)
    result: dict = {}
    benchmark.group = f"peers: own processes, {sizes['steps']} steps {image_size}px batch {batch}"
    names = peerproc.arm_names(os.environ.get("VAEBENCH_PEER_ARMS"))
    benchmark.pedantic(lambda: result.update(peerproc.run_peers(names, config, sizes["rounds"],
                                                                threads)), rounds=1, iterations=1)
    flops = peers.training_flops(spec, image_size)
    peak = peers.sgemm_peak(2048, threads=threads)           # its own process, the BLAS overrides unset there
    benchmark.extra_info.update(
        vb.benchmark_info(
            spec, image_size, batch, label="VAE", scale=scale.name,
            measure="each arm in its own process, interleaved rounds of one timed epoch per arm after "
                    "one warm-up epoch",
            arms=peerproc.peer_table(result, flops, peak["gflops"]),
            round_seconds={name: arm["seconds"] for name, arm in result["arms"].items()},
            skipped=result["skipped"], steps=sizes["steps"], rounds=sizes["rounds"], threads=threads,
            training_flops_per_image=flops, sgemm_gflops=peak["gflops"], sgemm=peak,
        )
    )
