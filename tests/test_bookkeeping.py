"""vaebench.claims.bookkeeping: what a claim records about its setting and runs."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from vaebench.claims import bookkeeping


class Notes:
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)


def test_usable_run_needs_no_early_stop_and_finite_codes():
    claim = Notes()
    good = SimpleNamespace(stopped=None)
    assert bookkeeping.usable_run(claim, good, {"z": np.zeros((3, 2))}, "ok")
    assert not bookkeeping.usable_run(claim, good, {"z": np.array([[np.nan, 0.0]])}, "nan run")
    assert not bookkeeping.usable_run(claim, SimpleNamespace(stopped="loss diverged"), {"z": np.zeros(2)}, "stopped")
    assert claim.notes == ["nan run is left out: non-finite latent codes", "stopped is left out: loss diverged"]


def test_finite_rows_drops_and_counts_rows_with_nan_or_inf():
    claim = Notes()
    z = np.array([[1.0, 2.0], [np.inf, 0.0], [3.0, np.nan], [4.0, 5.0]])
    assert np.array_equal(bookkeeping.finite_rows(z, claim, "AE"), np.array([[1.0, 2.0], [4.0, 5.0]]))
    assert claim.notes == ["AE: dropped 2 latent points holding NaN/inf"]


def test_last_epoch_is_nan_without_values():
    assert bookkeeping.last_epoch({"loss": [3.0, 2.5]}, "loss") == 2.5
    assert math.isnan(bookkeeping.last_epoch({"loss": []}, "loss"))
    assert math.isnan(bookkeeping.last_epoch({}, "kl"))


def test_models_ran_describes_the_specs_a_test_asked_for():
    from vaebench.config import DataSpec, ModelSpec, TrainSpec

    data = DataSpec(source="folder", path="/data/digits", image_size=32, n_train=1437, n_test=360)
    ae, vae = ModelSpec(kind="ae", z_dim=2, fact=0.0, architecture="mlp"), ModelSpec(z_dim=2, architecture="mlp")
    served = [(data, m, TrainSpec(epochs=40, seed=s)) for m in (ae, vae) for s in (0, 1)] + \
        [(data, ae, TrainSpec(epochs=40, seed=0))]                    # asked twice: one model
    assert bookkeeping.models_ran(served, "tensorflow") == {
        "source": "folder", "path": "/data/digits", "image_size": 32, "train_images": 1437, "architecture": "mlp",
        "kind": ["ae", "vae"], "z_dim": 2, "epochs": 40, "runs_per_model": 2, "models": 4, "precision": "float32",
        "backend": "tensorflow"}
    assert bookkeeping.models_ran([]) == {}
