"""vaebench.claims.panels: figure-panel data from small exact inputs."""
from __future__ import annotations

import numpy as np
import pytest

from vaebench.claims import panels
from vaebench.errors import SpecError


def test_short_floats_rounds_to_digits_of_the_largest_magnitude():
    x = np.array([123.456, 0.0123456, -7.891])
    assert np.array_equal(panels.short_floats(x, 4), np.array([123.5, 0.0, -7.9]))
    assert np.array_equal(panels.short_floats(x, 3, relative=True), np.array([123.0, 0.0123, -7.89]))
    assert np.array_equal(panels.short_floats(np.zeros(3)), np.zeros(3))


def test_hist_series_bins_radii_by_half_units_as_fractions():
    s = panels.hist_series("a", np.array([0.1, 0.2, 0.7, 1.4]), r_max=1.5)
    assert np.allclose(s["edges"], [0.0, 0.5, 1.0, 1.5])
    assert np.allclose(s["counts"], [0.5, 0.25, 0.25])
    assert s["label"] == "a" and s["fill"] is False


def test_scatter_panel_windows_then_subsamples():
    x = np.arange(10.0)
    panel = panels.scatter_panel("t", {"s": (x, x * 2)}, max_points=3, xlim=(2.0, 7.0))
    (series,) = panel["series"]
    assert series["n_in_window"] == 6 and series["n_drawn"] == 3
    assert series["label"] == "s (6 pts)"
    assert np.all((series["x"] >= 2) & (series["x"] <= 7)) and np.array_equal(series["y"], series["x"] * 2)
    assert panel["xlim"] == [2.0, 7.0] and "ylim" not in panel
    with pytest.raises(SpecError, match="x has 10 values but y has 9"):
        panels.scatter_panel("t", {"s": (x, x[:9])})


def test_history_panel_skips_histories_without_the_key():
    panel = panels.history_panel("h", {"a": {"loss": [3.0, 2.0]}, "b": {"kl": [1.0]}})
    assert panel["series"] == [{"label": "a", "x": [1, 2], "y": [3.0, 2.0]}]


def test_axes_to_show_broadest_offcentre_then_typical_without_repeats():
    table = {"sd": np.array([1.0, 3.0, 2.0, 0.5, 1.1]), "mean": np.array([0.0, 0.1, 0.0, -2.0, 0.0])}
    axes, labels = panels.axes_to_show(table, n_typical=2)
    assert axes == [1, 2, 4, 3, 0]
    assert labels[3] == "axis 3: mean -2.00, sd 0.50"


def test_axis_density_panel_names_a_missing_axis():
    with pytest.raises(SpecError, match="axis 5 does not exist"):
        panels.axis_density_panel("t", np.zeros((4, 2)), [5])
