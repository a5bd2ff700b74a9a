"""The named scales (``smoke``, ``cpu``, ``full``): the only place where sizes are chosen;
tests and claims ask a scale for its specs. Also the posts' own setting, for the report."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from vaebench.config.specs import (
    DataSpec,
    ModelSpec,
    TrainSpec,
    _positive_int,
)
from vaebench.errors import require


@dataclass(frozen=True)
class Scale:
    """A named choice of every size the claims use.

    ``seeds``: seeds per model in seed studies (C1); ``fact_sweep``: KL weights of the
    logvar sweep (C2); ``zdim_sweep``: latent sizes of the radius-peak sweep (C3);
    ``runaway_runs``: runs per arm of the epsilon-clipping study (C4); ``pack``: how many
    models that share data and training settings train at once, as one Keras model (see
    :class:`vaebench.train.trainer.Pack`: a packed model gets the same weights as one trained
    alone, up to floating-point order, so ``pack`` is not part of any store key).
    """

    name: str
    data: DataSpec
    train: TrainSpec
    z_dim: int = 256
    seeds: tuple[int, ...] = (0, 1, 2)
    fact_sweep: tuple[float, ...] = (1e-6, 1e-5, 1e-4, 1e-3)
    zdim_sweep: tuple[int, ...] = (64, 128, 256, 512)
    runaway_runs: int = 4
    n_analysis: int = 10_000
    pack: int = 1
    description: str = ""

    def __post_init__(self) -> None:
        _positive_int("pack", self.pack)

    def ae(self, **changes: Any) -> ModelSpec:
        """The posts' AE (no BatchNorm) at this scale."""
        return replace(ModelSpec(kind="ae", z_dim=self.z_dim, batchnorm=False, fact=0.0), **changes)

    def vae(self, **changes: Any) -> ModelSpec:
        """The posts' VAE (BatchNorm, fact=1e-5) at this scale."""
        return replace(ModelSpec(kind="vae", z_dim=self.z_dim, batchnorm=True, fact=1e-5), **changes)

    def training(self, seed: int = 0, **changes: Any) -> TrainSpec:
        return replace(self.train, seed=seed, **changes)


SCALES: dict[str, Scale] = {
    "smoke": Scale(
        name="smoke",
        data=DataSpec(image_size=32, n_train=512, n_test=128),
        train=TrainSpec(epochs=2, batch_size=64, probe_size=128),
        z_dim=32,
        seeds=(0, 1),
        fact_sweep=(1e-5, 1e-3),
        zdim_sweep=(16, 32, 64),
        runaway_runs=2,
        n_analysis=512,
        pack=2,
        description="CI: every claim's machinery in seconds; numbers mean nothing",
    ),
    "cpu": Scale(
        name="cpu",
        data=DataSpec(image_size=32, n_train=12_000, n_test=2_000),
        train=TrainSpec(epochs=12, batch_size=128),
        z_dim=256,
        seeds=(0, 1, 2),
        fact_sweep=(1e-6, 1e-5, 1e-4),
        zdim_sweep=(64, 256),
        runaway_runs=3,
        n_analysis=10_000,
        description="default without a GPU: every claim with 3 training runs per model, 12 epochs of 12,000 "
                    "32x32 images (the budget at which the tiny-KL VAE's radius and logvar stop drifting); "
                    "sweeps shortened to fit 2 cores",
    ),
    "full": Scale(
        name="full",
        data=DataSpec(image_size=96, n_train=170_000, n_test=2_000),
        train=TrainSpec(epochs=24, batch_size=128, learning_rate=5e-4),
        z_dim=256,
        seeds=(0, 1, 2, 3),
        fact_sweep=(1e-6, 1e-5, 1e-4, 1e-3),
        zdim_sweep=(64, 128, 256, 512),
        runaway_runs=14,
        n_analysis=20_000,
        pack=4,
        description="the posts: 96x96, 170,000 images, z_dim 256, 24 epochs, batch 128, lr 5e-4",
    ),
}


def get_scale(name: str | None = None) -> Scale:
    """The scale called ``name``; ``None`` or ``'auto'`` picks ``full`` on a GPU, else ``cpu``.

    ``VAEBENCH_SCALE`` in the environment is used when ``name`` is None.
    """
    if name is None:
        name = os.environ.get("VAEBENCH_SCALE") or "auto"
    if name == "auto":
        import sys

        from vaebench.backend import accelerator_visible

        gpu = accelerator_visible()
        picked = SCALES["full" if gpu else "cpu"]
        print(f"[vaebench] scale: {picked.name} (auto: {'a GPU is' if gpu else 'no GPU is'} visible to the "
              "Keras backend; pass --vaebench-scale or set VAEBENCH_SCALE to choose)", file=sys.stderr, flush=True)
        return picked
    require(name in SCALES, f"scale={name!r} is not a scale; use one of {sorted(SCALES)} or 'auto'")
    return SCALES[name]


def check_budget(name: str, value: Any) -> int | None:
    """``value`` as an int when it is None or a whole number >= 1 (``'12'`` from a command
    line too), else :class:`SpecError` naming the option and value."""
    if value is None:
        return None
    text = str(value).strip()
    require(not isinstance(value, bool) and text.lstrip("+").isdigit() and int(text) >= 1,
            f"{name}={value!r} must be a whole number >= 1 (e.g. {name} 48); leave it out for the scale's")
    return int(text)


def with_budget(scale: Scale, epochs: int | None = None, runs: int | None = None) -> Scale:
    """``scale`` with another budget: ``epochs`` of training for every model, ``runs``
    training runs (seeds ``0 .. runs-1``) per model and per arm of C4. None keeps the
    scale's. A longer budget is new store entries; the store resumes them from the
    shorter ones it holds (:mod:`vaebench.store.modelstore`)."""
    epochs, runs = check_budget("epochs", epochs), check_budget("runs", runs)
    if epochs is not None:
        scale = replace(scale, train=replace(scale.train, epochs=epochs))
    if runs is not None:
        scale = replace(scale, seeds=tuple(range(runs)), runaway_runs=runs)
    return scale


def budget(scale: Scale, epochs_from: str = "scale", runs_from: str = "scale") -> dict:
    """The budget ``scale`` trains at, for results.json and the report: epochs, runs per
    model and per C4 arm, and where each came from (``'scale'`` or the option that set it)."""
    return {"epochs": scale.train.epochs, "runs_per_model": len(scale.seeds), "runs_per_arm": scale.runaway_runs,
            "epochs_from": epochs_from, "runs_from": runs_from}


def posts_setting() -> dict:
    """The posts' experiment as the ``full`` scale encodes it (CelebA, per ``CLAIMS.md``):
    what the plugin stores as ``environment['posts_setting']``."""
    full = SCALES["full"]
    return {"scale": full.name, "source": "celeba", "image_size": full.data.image_size,
            "train_images": full.data.n_train, "test_images": full.data.n_test, "epochs": full.train.epochs,
            "batch_size": full.train.batch_size, "learning_rate": full.train.learning_rate, "z_dim": full.z_dim,
            "runs_per_model": len(full.seeds), "runs_per_arm": full.runaway_runs}
