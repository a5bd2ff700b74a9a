"""vaebench's training path against its peers on the same machine, in one run (issue 14,
item 3): a bare Keras ``fit`` fed by ``tf.data`` with autotuning off, and, where PyTorch is
importable, the same VAE in PyTorch eager (:func:`torch_vae`). Benchmarks measure, tests
check: nothing here asserts on seconds.

* :func:`training_flops` — floating-point operations of one training step per image:
  the multiply-adds of every convolution, transposed convolution and dense layer of the
  forward pass, × 2 (a multiply-add is two operations) × 3 (the backward pass costs about
  twice the forward: gradients of the inputs and of the weights).
* :func:`sgemm_rate` — this CPU's float32 matrix-product rate (NumPy ``matmul`` of two
  ``n × n`` matrices with ``threads`` BLAS threads), the peak the fraction is taken of.
* :func:`sgemm_peak` — the same rate measured in a subprocess of its own, the way the
  environment notes say: ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` (set on some machines
  for older OpenBLAS builds; they slow a current NumPy) unset there only, with
  ``OMP_WAIT_POLICY=PASSIVE``, and the BLAS kernel that ran named (threadpoolctl, else
  NumPy's build config).
* :func:`arm_epoch` — one arm of :data:`ARM_NAMES` built in this process, for a process of
  its own (:mod:`vaebench.bench.peerproc`, the benchmark's way: issue 22 found arms timed in
  one process measuring their thread pools' competition).
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

from vaebench.config import ModelSpec
from vaebench.errors import require


def layer_macs(model) -> int:
    """Multiply-adds of one image through the Conv2D, Conv2DTranspose and Dense layers of the
    functional ``model`` (nested models included)."""
    from keras import layers

    total = 0
    for layer in model.layers:
        if hasattr(layer, "layers"):
            total += layer_macs(layer)
        elif isinstance(layer, layers.Conv2DTranspose):
            kh, kw, _, cin = layer.kernel.shape
            h, w = layer.input.shape[1:3]
            total += int(h * w * kh * kw * cin * layer.filters)
        elif isinstance(layer, layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            h, w = layer.output.shape[1:3]
            total += int(h * w * kh * kw * cin * cout)
        elif isinstance(layer, layers.Dense):
            total += int(np.prod(layer.kernel.shape))
    return total


def training_flops(spec: ModelSpec, image_size: int) -> int:
    """Operations of one training step per image: forward multiply-adds × 2 × 3 (see the module doc)."""
    from vaebench.models.registry import get_architecture

    encoder, decoder = get_architecture(spec.architecture).build(spec, image_size)
    return 6 * (layer_macs(encoder) + layer_macs(decoder))


def sgemm_rate(n: int = 2048, threads: int = 2, repeats: int = 5) -> float:
    """GFLOP/s of float32 ``n × n`` matrix products (the best of ``repeats``) with ``threads``
    BLAS threads (threadpoolctl limits them where it is installed)."""
    require(n > 0 and repeats > 0 and threads > 0, f"n={n}, threads={threads}, repeats={repeats} must be > 0")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        threadpool_limits = None
    limit = threadpool_limits(limits=threads, user_api="blas") if threadpool_limits else None
    try:
        a @ b                                            # warm-up: the BLAS threads start
        best = min(_seconds(lambda: a @ b) for _ in range(repeats))
    finally:
        if limit is not None:
            limit.unregister()
    return 2.0 * n ** 3 / best / 1e9


#: variables unset in the SGEMM subprocess only (never in tests or CI runs)
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

_SGEMM_CHILD = """
import json, os, sys
from vaebench.bench.peers import BLAS_OVERRIDES, sgemm_rate, blas_in_use
n, threads, repeats = map(int, sys.argv[1:4])
rate = sgemm_rate(n, threads=threads, repeats=repeats)
print(json.dumps({"gflops": rate, "blas": blas_in_use(), "overrides_there": [k for k in BLAS_OVERRIDES
                                                                             if k in os.environ]}))
"""


def sgemm_peak(n: int = 2048, threads: int = 2, repeats: int = 5, timeout: float = 300.0) -> dict:
    """:func:`sgemm_rate` in a subprocess with :data:`BLAS_OVERRIDES` unset and
    ``OMP_WAIT_POLICY=PASSIVE``: ``{"gflops", "threads", "blas" (the kernel in use), "env"
    (the thread settings of that process), "unset" (the overrides this process had)}``."""
    import json
    import os
    import subprocess
    import sys

    require(n > 0 and repeats > 0 and threads > 0, f"n={n}, threads={threads}, repeats={repeats} must be > 0")
    env = {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}
    env.update(OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", _SGEMM_CHILD, str(n), str(threads), str(repeats)], env=env,
                         capture_output=True, text=True, timeout=timeout)
    require(out.returncode == 0, f"the SGEMM subprocess failed (exit {out.returncode}): {out.stderr[-500:]}")
    record = json.loads(out.stdout.strip().splitlines()[-1])
    record.update(threads=threads, env={k: env[k] for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS",
                                                            "OPENBLAS_NUM_THREADS")},
                  unset={k: os.environ[k] for k in BLAS_OVERRIDES if k in os.environ})
    return record


def blas_in_use() -> list[dict]:
    """The BLAS libraries this process has loaded, with their kernel (threadpoolctl's
    ``internal_api``, ``version``, ``architecture``, ``num_threads``); without threadpoolctl,
    NumPy's build config."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        config = np.show_config(mode="dicts") if "mode" in np.show_config.__code__.co_varnames else {}
        return [{"numpy_build": config.get("Build Dependencies", {}).get("blas", {})}]
    keys = ("internal_api", "version", "architecture", "threading_layer", "num_threads")
    return [{k: lib.get(k) for k in keys} for lib in threadpool_info() if lib.get("user_api") == "blas"]


def _seconds(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def torch_vae(spec: ModelSpec, image_size: int):
    """The posts-conv VAE of ``spec`` as a ``torch.nn.Module`` (NCHW): the same layer widths,
    kernels, strides, BatchNorm and LeakyReLU(0.3) as :mod:`vaebench.models.vae`, with symmetric
    padding where Keras pads "same" on the right (the same operation count). ``forward(x)``
    returns the posts' loss of a batch of [0, 1] images."""
    import torch
    from torch import nn

    require(spec.kind == "vae" and spec.architecture == "posts-conv" and spec.dense is None,
            f"torch_vae builds the posts-conv VAE without a Dense layer, not {spec}")
    k, s, pad = spec.kernel, spec.stride, spec.kernel // 2
    side = image_size // spec.downsampling()
    act = lambda: nn.LeakyReLU(0.3)  # noqa: E731
    enc, cin = [], 3
    for f in spec.filters:
        enc += [nn.Conv2d(cin, f, k, s, pad)] + ([nn.BatchNorm2d(f)] if spec.batchnorm else []) + [act()]
        cin = f
    widths = list(reversed(spec.filters[:-1])) + [3]
    dec, cin = [], spec.filters[-1]
    for i, f in enumerate(widths):
        dec.append(nn.ConvTranspose2d(cin, f, k, s, pad, output_padding=s - 1))
        if i < len(widths) - 1:
            dec += ([nn.BatchNorm2d(f)] if spec.batchnorm else []) + [act()]
        cin = f
    flat = spec.filters[-1] * side * side
    fact = spec.kl_weight(image_size)

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.dec = nn.Sequential(*enc, nn.Flatten()), nn.Sequential(*dec)
            self.mu, self.logvar = nn.Linear(flat, spec.z_dim), nn.Linear(flat, spec.z_dim)
            self.dense = nn.Linear(spec.z_dim, flat)

        def forward(self, x):
            h = self.enc(x)
            mu, logvar = self.mu(h), self.logvar(h)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            logits = self.dec(self.dense(z).view(-1, spec.filters[-1], side, side))
            bce = nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none")
            reco = bce.mean(dim=1).sum(dim=(1, 2)).mean()
            kl = (-0.5 * (1 + logvar - mu.square() - logvar.exp()).sum(dim=1)).mean()
            return reco + fact * kl

    return VAE()


def arm_epoch(arm: str, spec: ModelSpec, image_size: int, images: np.ndarray, batch_size: int, threads: int,
              learning_rate: float = 5e-4) -> Callable[[], object]:
    """One epoch over ``images`` of the arm named ``arm`` (:data:`ARM_NAMES`), built in this
    process on its Keras backend (a process of its own: :mod:`vaebench.bench.peerproc`)."""
    require(arm in ARM_NAMES, f"arm={arm!r} is not a peer arm; use one of {ARM_NAMES}")
    if arm.startswith("vaebench"):
        from vaebench.bench.throughput import pack_trainer

        trainer = pack_trainer(spec, image_size, images, batch_size, pack=1, learning_rate=learning_rate,
                               probe_size=min(512, len(images)), feed=_arm_feed(arm))
        return trainer.fit_epoch
    if arm.startswith("torch"):
        return _torch_arm(spec, image_size, images, batch_size, threads, learning_rate, compiled=arm == "torch compile")
    from vaebench.bench.setup import compiled_model

    model = compiled_model(spec, image_size, seed=0, learning_rate=learning_rate)
    if arm == "keras fit + tf.data":
        import tensorflow as tf

        options = tf.data.Options()
        options.autotune.enabled = False
        data = tf.data.Dataset.from_tensor_slices(images).batch(batch_size).with_options(options).prefetch(2)
        return lambda: model.fit(data, epochs=1, shuffle=False, verbose=0)
    return lambda: model.fit(images, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)


#: the arms :func:`arm_epoch` builds (the Keras backend of each: :data:`vaebench.bench.peerproc.ARMS`)
ARM_NAMES = ("vaebench", "vaebench host feed", "vaebench device feed", "keras fit + tf.data", "keras fit, jax backend",
             "keras fit, torch backend", "torch eager", "torch compile")


def _arm_feed(arm: str) -> str | None:
    """The feed a vaebench arm names (``'… host feed'``, ``'… device feed'``), else None: the default."""
    return next((feed for feed in ("host", "device") if arm.endswith(f"{feed} feed")), None)


def _torch_arm(spec, image_size, images, batch_size, threads, learning_rate,
               compiled: bool = False) -> Callable[[], float]:
    import torch

    torch.manual_seed(0)
    net = torch_vae(spec, image_size)
    opt = torch.optim.Adam(net.parameters(), lr=learning_rate)
    if compiled:
        net = torch.compile(net)
    data = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))

    def epoch() -> float:
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        for start in range(0, len(data), batch_size):
            x = data[start:start + batch_size].float() / 255.0
            opt.zero_grad(set_to_none=True)
            loss = net(x)
            loss.backward()
            opt.step()
        float(loss.detach())
        return time.perf_counter() - t0

    return epoch
