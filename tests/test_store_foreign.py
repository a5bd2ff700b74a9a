"""A foreign or unreadable store entry (a spec field of a newer vaebench, a spec.json of
``[]`` or without ``data``, a history that is not JSON, truncated weights under a fixed
manifest) is listed as NOT LOADED with its reason, never breaks listing or another model,
and is refused on ``get`` with the command that removes it."""
from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from vaebench.cli import commands as cli
from vaebench.config import DataSpec, ModelSpec, TrainSpec
from vaebench.errors import StoreError
from vaebench.store.modelstore import MANIFEST, WEIGHTS, ModelStore, _sha256
from vaebench.train.trainer import train

FP = "0" * 32
DATA = DataSpec(image_size=16, n_train=64, n_test=16)
MODEL = ModelSpec(kind="ae", z_dim=4, filters=(4, 8), batchnorm=False, fact=0.0)
TRAINS = (TrainSpec(epochs=1, batch_size=16, probe_size=16, seed=0),
          TrainSpec(epochs=1, batch_size=16, probe_size=16, seed=1))


@pytest.fixture(scope="module")
def two_entries(tmp_path_factory):
    """A store with two intact entries (seeds 0 and 1), trained once for the module."""
    root = tmp_path_factory.mktemp("store")
    store = ModelStore(root, progress=False)
    images = (np.random.default_rng(0).random((64, 16, 16, 3)) * 255).astype(np.uint8)
    for tr in TRAINS:
        store.put_result(DATA, MODEL, tr, train(DATA, MODEL, tr, images, progress=False), fingerprint=FP)
    return root


def _spec(edit):
    def apply(path):
        spec = json.loads((path / "spec.json").read_text())
        (path / "spec.json").write_text(json.dumps(edit(spec)))
    return apply


def _newer_field(spec):
    spec["model"]["dropout"] = 0.1
    return spec


def _no_data(spec):
    del spec["data"]
    return spec


def _history_text(path):
    (path / "history.json").write_text("{not json")


def _truncate(path):
    data = (path / WEIGHTS).read_bytes()
    (path / WEIGHTS).write_bytes(data[: len(data) // 2])


FOREIGN = {
    "a spec field of a newer vaebench": (_spec(_newer_field), "unknown fields ['dropout']"),
    "spec.json of []": (_spec(lambda spec: []), "spec.json holds a list"),
    "spec.json without data": (_spec(_no_data), "no 'data' in spec.json"),
    "history.json not JSON": (_history_text, "JSONDecodeError"),
    "truncated weights": (_truncate, "its weights do not open"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(FOREIGN))
def test_a_foreign_entry_is_not_loaded_and_breaks_nothing_else(two_entries, tmp_path, capsys, case):
    root = tmp_path / "store"
    shutil.copytree(two_entries, root)
    store = ModelStore(root, progress=False)
    foreign = store.path_for(DATA, MODEL, TRAINS[0], fingerprint=FP)
    other = store.path_for(DATA, MODEL, TRAINS[1], fingerprint=FP)
    damage, reason = FOREIGN[case]
    damage(foreign)
    manifest = json.loads((foreign / MANIFEST).read_text())  # a consistent manifest: not "damaged"
    manifest["sha256"] = {n: _sha256(foreign / n) for n in manifest["sha256"]}
    (foreign / MANIFEST).write_text(json.dumps(manifest))
    assert store.verify(foreign) is None
    assert [e.name for e in store.entries()] == [other.name]
    ((name, problem),) = store.damaged()
    assert name == foreign.name and reason in problem and f"rm -r {foreign}" in problem
    assert cli.main(["store", "list", "--store", str(root)]) == 0
    out = capsys.readouterr().out
    assert "(1 entries)" in out and other.name in out and f"{foreign.name}: NOT LOADED (" in out and reason in out
    with pytest.raises(StoreError, match="rm -r "):
        store.get(DATA, MODEL, TRAINS[0], fingerprint=FP)
    assert foreign.is_dir()  # refused, not deleted: it may be another version's
    entry = store.get(DATA, MODEL, TRAINS[1], fingerprint=FP)
    assert entry.path == other and entry.load_model() is not None


@pytest.mark.slow
def test_weights_that_do_not_load_are_a_store_error_with_the_remedy(two_entries, tmp_path):
    root = tmp_path / "store"
    shutil.copytree(two_entries, root)
    store = ModelStore(root, progress=False)
    entry = store.get(DATA, MODEL, TRAINS[0], fingerprint=FP)
    _truncate(entry.path)
    with pytest.raises(StoreError, match=f"its weights do not load .*rm -r {entry.path}"):
        dataclasses.replace(entry).load_model()
