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
