import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from vaebench.store import MANIFEST, WEIGHTS, ModelStore, default_root
from vaebench.training import train


@pytest.fixture
def trainer(tiny_data, tiny_ae, tiny_train, tiny_images):
    calls = []

    def run():
        calls.append(1)
        return train(tiny_data, tiny_ae, tiny_train, tiny_images, progress=False)

    run.calls = calls
    return run


def test_train_once_then_load(tmp_path, tiny_data, tiny_ae, tiny_train, trainer):
    store = ModelStore(tmp_path, progress=False)
    a = store.get_or_train(tiny_data, tiny_ae, tiny_train, trainer)
    b = store.get_or_train(tiny_data, tiny_ae, tiny_train, trainer)
    assert len(trainer.calls) == 1
    assert a.path == b.path and b.model_spec == tiny_ae and b.data == tiny_data and b.train == tiny_train
    wa = [w.numpy() for w in a.load_model().weights]
    wb = [w.numpy() for w in b.load_model().weights]
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)
    assert b.history["loss"] and b.meta["versions"]["keras"]


def test_key_depends_on_every_spec(tmp_path, tiny_data, tiny_ae, tiny_train):
    import dataclasses

    store = ModelStore(tmp_path, progress=False)
    base = store.key(tiny_data, tiny_ae, tiny_train)
    assert store.key(dataclasses.replace(tiny_data, seed=1), tiny_ae, tiny_train) != base
    assert store.key(tiny_data, dataclasses.replace(tiny_ae, z_dim=5), tiny_train) != base
    assert store.key(tiny_data, tiny_ae, dataclasses.replace(tiny_train, seed=1)) != base


def test_kill_between_write_and_rename_leaves_no_entry(tmp_path, tiny_data, tiny_ae, tiny_train, trainer,
                                                       monkeypatch):
    store = ModelStore(tmp_path, progress=False)

    def killed(src, dst):
        raise KeyboardInterrupt("simulated kill between write and rename")

    monkeypatch.setattr(os, "rename", killed)
    with pytest.raises(KeyboardInterrupt):
        store.get_or_train(tiny_data, tiny_ae, tiny_train, trainer)
    monkeypatch.undo()
    assert store.get(tiny_data, tiny_ae, tiny_train) is None
    assert store.entries() == []
    assert not list(store.models.glob(".tmp-*"))  # cleaned up by the writer


def test_stale_tmp_of_a_dead_writer_is_removed(tmp_path, tiny_data, tiny_ae, tiny_train):
    store = ModelStore(tmp_path, progress=False)
    # a writer killed with SIGKILL gets no chance to clean up: simulate its leftovers
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    name = store.entry_name(tiny_data, tiny_ae, tiny_train)
    stale = store.models / f".tmp-{name}-{dead.pid}-deadbeef"
    stale.mkdir()
    (stale / WEIGHTS).write_bytes(b"half written")
    assert store.get(tiny_data, tiny_ae, tiny_train) is None
    ModelStore(tmp_path, progress=False)
    assert not stale.exists()


@pytest.mark.parametrize("damage", ["truncate_weights", "delete_history", "delete_manifest", "edit_spec"])
def test_damaged_entry_is_detected_and_rebuilt(tmp_path, tiny_data, tiny_ae, tiny_train, trainer, damage):
    store = ModelStore(tmp_path, progress=False)
    entry = store.get_or_train(tiny_data, tiny_ae, tiny_train, trainer)
    if damage == "truncate_weights":
        data = (entry.path / WEIGHTS).read_bytes()
        (entry.path / WEIGHTS).write_bytes(data[: len(data) // 2])
    elif damage == "delete_history":
        (entry.path / "history.json").unlink()
    elif damage == "delete_manifest":
        (entry.path / MANIFEST).unlink()
    else:
        spec = json.loads((entry.path / "spec.json").read_text())
        spec["train"]["epochs"] = 99
        (entry.path / "spec.json").write_text(json.dumps(spec))
    assert store.damaged()
    with pytest.warns(RuntimeWarning, match="damaged"):
        again = store.get_or_train(tiny_data, tiny_ae, tiny_train, trainer)
    assert len(trainer.calls) == 2
    assert store.verify(again.path) is None
    again.load_model()


CONCURRENT = textwrap.dedent("""
    import sys, numpy as np
    from vaebench.config import DataSpec, ModelSpec, TrainSpec
    from vaebench.store import ModelStore
    from vaebench.training import train
    data = DataSpec(image_size=16, n_train=64, n_test=16)
    spec = ModelSpec(kind="ae", z_dim=4, filters=(4, 8), batchnorm=False, fact=0.0)
    tr = TrainSpec(epochs=3, batch_size=16, probe_size=16)
    images = (np.random.default_rng(0).random((64, 16, 16, 3)) * 255).astype(np.uint8)
    def trainer():
        with open(sys.argv[2], "a") as f:
            f.write("trained\\n")
        return train(data, spec, tr, images, progress=False)
    entry = ModelStore(sys.argv[1], progress=False).get_or_train(data, spec, tr, trainer)
    print(entry.name)
""")


def test_concurrent_requests_train_once(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(CONCURRENT)
    log = tmp_path / "trainings.log"
    procs = [subprocess.Popen([sys.executable, str(script), str(tmp_path / "store"), str(log)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    assert log.read_text().count("trained") == 1
    assert len({o[0].strip() for o in outs}) == 1


def test_location_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBENCH_STORE", str(tmp_path / "here"))
    assert default_root() == tmp_path / "here"
    monkeypatch.delenv("VAEBENCH_STORE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_root() == tmp_path / "cache" / "vaebench"


def test_clear(tmp_path, tiny_data, tiny_ae, tiny_train, trainer):
    store = ModelStore(tmp_path, progress=False)
    store.get_or_train(tiny_data, tiny_ae, tiny_train, trainer)
    assert len(store.entries()) == 1
    assert store.clear() == 1
    assert store.entries() == []


def test_many_trains_the_missing_ones_in_one_call(tmp_path, tiny_data, tiny_ae, tiny_vae, tiny_train, tiny_images,
                                                  trainer):
    import dataclasses

    from vaebench.training import Job, train_many

    store = ModelStore(tmp_path, progress=False)
    store.get_or_train(tiny_data, tiny_ae, tiny_train, trainer)  # one of the three exists already
    jobs = [(tiny_ae, tiny_train), (tiny_vae, tiny_train), (tiny_ae, dataclasses.replace(tiny_train, seed=1))]
    calls = []

    def pack(todo):
        calls.append(list(todo))
        return train_many(tiny_data, [Job(*jobs[i]) for i in todo], tiny_images, progress=False)

    entries = store.get_or_train_many(tiny_data, jobs, pack)
    assert calls == [[1, 2]]
    assert [(e.model_spec, e.train) for e in entries] == jobs
    assert entries[1].meta["pack"] == 2 and entries[0].meta["pack"] == 1
    assert store.get_or_train_many(tiny_data, jobs, pack) and calls == [[1, 2]]  # all loaded now


def test_many_waits_for_an_entry_another_process_holds(tmp_path, tiny_data, tiny_ae, tiny_train, trainer):
    """A held lock is waited for; when its holder goes without writing, the entry is trained here."""
    import threading
    import time

    store = ModelStore(tmp_path, progress=False)
    held, released = threading.Event(), []

    def other_process():  # holds the entry's lock for half a second, then goes without writing
        lock = store._lock(tiny_data, tiny_ae, tiny_train)
        with lock:
            held.set()
            time.sleep(0.5)
            released.append(1)

    holder = threading.Thread(target=other_process)
    holder.start()
    held.wait()
    entry = store.get_or_train_many(tiny_data, [(tiny_ae, tiny_train)], lambda todo: [trainer()])[0]
    holder.join()
    assert released and len(trainer.calls) == 1 and entry.model_spec == tiny_ae


def test_precision_is_part_of_the_key(tmp_path, tiny_data, tiny_ae, tiny_train):
    import dataclasses

    store = ModelStore(tmp_path, progress=False)
    assert store.key(tiny_data, tiny_ae, dataclasses.replace(tiny_train, precision="mixed_bfloat16")) != \
        store.key(tiny_data, tiny_ae, tiny_train)
