import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from vaebench.store.modelstore import KEY_PARTS, MANIFEST, STATE, WEIGHTS, ModelStore, default_root
from vaebench.train.trainer import train

#: a data fingerprint (any string stands for the content of the tiny images)
FP = "0" * 32


def fill(store, data, model, train, trainer, fingerprint=FP):
    """The store's protocol as an executor runs it: get; else claim, train, put, release."""
    entry = store.get(data, model, train, fingerprint=fingerprint)
    if entry is not None:
        return entry
    with store.claim(data, model, train, fingerprint=fingerprint, wait=True) as claim:
        return claim.entry or claim.put(trainer())


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
    a = fill(store, tiny_data, tiny_ae, tiny_train, trainer)
    b = fill(store, tiny_data, tiny_ae, tiny_train, trainer)
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
    base = store.key(tiny_data, tiny_ae, tiny_train, fingerprint=FP)
    assert store.key(dataclasses.replace(tiny_data, seed=1), tiny_ae, tiny_train, fingerprint=FP) != base
    assert store.key(tiny_data, dataclasses.replace(tiny_ae, z_dim=5), tiny_train, fingerprint=FP) != base
    assert store.key(tiny_data, tiny_ae, dataclasses.replace(tiny_train, seed=1), fingerprint=FP) != base


def test_kill_between_write_and_rename_leaves_no_entry(tmp_path, tiny_data, tiny_ae, tiny_train, trainer,
                                                       monkeypatch):
    store = ModelStore(tmp_path, progress=False)

    def killed(src, dst):
        raise KeyboardInterrupt("simulated kill between write and rename")

    monkeypatch.setattr(os, "rename", killed)
    with pytest.raises(KeyboardInterrupt):
        fill(store, tiny_data, tiny_ae, tiny_train, trainer)
    monkeypatch.undo()
    assert store.get(tiny_data, tiny_ae, tiny_train, fingerprint=FP) is None
    assert store.entries() == []
    assert not list(store.models.glob(".tmp-*"))  # cleaned up by the writer


def test_stale_tmp_of_a_dead_writer_is_removed(tmp_path, tiny_data, tiny_ae, tiny_train):
    store = ModelStore(tmp_path, progress=False)
    # a writer killed with SIGKILL gets no chance to clean up: simulate its leftovers
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    name = store.entry_name(tiny_data, tiny_ae, tiny_train, fingerprint=FP)
    stale = store.models / f".tmp-{name}@{socket.gethostname()}@{dead.pid}@deadbeef"
    stale.mkdir()
    (stale / WEIGHTS).write_bytes(b"half written")
    assert store.get(tiny_data, tiny_ae, tiny_train, fingerprint=FP) is None
    ModelStore(tmp_path, progress=False)
    assert not stale.exists()


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncate_weights", "delete_history", "delete_manifest", "edit_spec",
                                    "edit_state"])
def test_damaged_entry_is_detected_and_rebuilt(tmp_path, tiny_data, tiny_ae, tiny_train, trainer, damage):
    store = ModelStore(tmp_path, progress=False)
    entry = fill(store, tiny_data, tiny_ae, tiny_train, trainer)
    if damage == "truncate_weights":
        data = (entry.path / WEIGHTS).read_bytes()
        (entry.path / WEIGHTS).write_bytes(data[: len(data) // 2])
    elif damage == "delete_history":
        (entry.path / "history.json").unlink()
    elif damage == "delete_manifest":
        (entry.path / MANIFEST).unlink()
    elif damage == "edit_state":
        (entry.path / STATE).write_bytes(b"not the state")
    else:
        spec = json.loads((entry.path / "spec.json").read_text())
        spec["train"]["epochs"] = 99
        (entry.path / "spec.json").write_text(json.dumps(spec))
    assert store.damaged()
    with pytest.warns(RuntimeWarning, match="damaged"):
        again = fill(store, tiny_data, tiny_ae, tiny_train, trainer)
    assert len(trainer.calls) == 2
    assert store.verify(again.path) is None
    again.load_model()


CONCURRENT = textwrap.dedent("""
    import sys, numpy as np
    from vaebench.config import DataSpec, ModelSpec, TrainSpec
    from vaebench.store.modelstore import ModelStore
    from vaebench.train.trainer import train
    data = DataSpec(image_size=16, n_train=64, n_test=16)
    spec = ModelSpec(kind="ae", z_dim=4, filters=(4, 8), batchnorm=False, fact=0.0)
    tr = TrainSpec(epochs=3, batch_size=16, probe_size=16)
    images = (np.random.default_rng(0).random((64, 16, 16, 3)) * 255).astype(np.uint8)
    def trainer():
        with open(sys.argv[2], "a") as f:
            f.write("trained\\n")
        return train(data, spec, tr, images, progress=False)
    store = ModelStore(sys.argv[1], progress=False)
    with store.claim(data, spec, tr, fingerprint="0" * 32, wait=True) as claim:
        entry = claim.entry or claim.put(trainer())
    print(entry.name)
""")


@pytest.mark.slow
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


@pytest.mark.slow
def test_clear(tmp_path, tiny_data, tiny_ae, tiny_train, trainer):
    store = ModelStore(tmp_path, progress=False)
    fill(store, tiny_data, tiny_ae, tiny_train, trainer)
    assert len(store.entries()) == 1
    assert store.clear() == 1
    assert store.entries() == []


@pytest.mark.slow
def test_a_claim_is_exclusive_and_sees_an_entry_that_landed(tmp_path, tiny_data, tiny_ae, tiny_train, trainer):
    store = ModelStore(tmp_path, progress=False)
    first = store.claim(tiny_data, tiny_ae, tiny_train, fingerprint=FP)
    assert first is not None and first.entry is None and first.held
    assert store.claim(tiny_data, tiny_ae, tiny_train, fingerprint=FP) is None      # held: another trains it
    entry = first.put(trainer())
    first.release()
    assert not first.held
    from vaebench.errors import StoreError

    with pytest.raises(StoreError, match="was released; claim the entry again"):
        first.put(trainer())
    with store.claim(tiny_data, tiny_ae, tiny_train, fingerprint=FP) as again:     # landed: nothing to train
        assert again.entry.path == entry.path
    assert len(trainer.calls) == 2 and [e.name for e in store.entries()] == [entry.name]


@pytest.mark.slow
def test_wait_blocks_until_the_holder_goes_and_says_when_it_wrote_nothing(tmp_path, tiny_data, tiny_ae, tiny_train,
                                                                            trainer):
    import threading
    import time

    store = ModelStore(tmp_path, progress=False)
    held, released = threading.Event(), []

    def other_process(write):                 # holds the claim a while, then goes (writing or not)
        with store.claim(tiny_data, tiny_ae, tiny_train, fingerprint=FP) as claim:
            held.set()
            time.sleep(0.5)
            if write:
                claim.put(trainer())
            released.append(1)

    for write in (False, True):
        held.clear()
        holder = threading.Thread(target=other_process, args=(write,))
        holder.start()
        held.wait()
        got = store.wait(tiny_data, tiny_ae, tiny_train, fingerprint=FP)
        holder.join()
        assert len(released) == 1 + write
        assert (got is None) if not write else (got.model_spec == tiny_ae)


KILLED_HOLDER = textwrap.dedent("""
    import os, signal, sys
    from vaebench.config import DataSpec, ModelSpec, TrainSpec
    from vaebench.store.modelstore import ModelStore
    data = DataSpec(image_size=16, n_train=64, n_test=16)
    spec = ModelSpec(kind="ae", z_dim=4, filters=(4, 8), batchnorm=False, fact=0.0)
    claim = ModelStore(sys.argv[1], progress=False).claim(data, spec, TrainSpec(epochs=2, batch_size=16,
                                                          probe_size=16), fingerprint="0" * 32)
    print("held", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


@pytest.mark.slow
def test_a_killed_holder_releases_its_claim(tmp_path, tiny_data, tiny_ae, tiny_train):
    script = tmp_path / "holder.py"
    script.write_text(KILLED_HOLDER)
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "held" and done.returncode == -9
    store = ModelStore(tmp_path, progress=False)
    claim = store.claim(tiny_data, tiny_ae, tiny_train, fingerprint=FP)
    assert claim is not None and claim.entry is None
    claim.release()


def test_precision_is_part_of_the_key(tmp_path, tiny_data, tiny_ae, tiny_train):
    import dataclasses

    store = ModelStore(tmp_path, progress=False)
    assert store.key(
        tiny_data, tiny_ae, dataclasses.replace(tiny_train, precision="mixed_bfloat16"), fingerprint=FP
    ) != store.key(tiny_data, tiny_ae, tiny_train, fingerprint=FP)


# ---------------------------------------------------------------------------- what the key covers


def test_entry_names_carry_the_data_and_the_architecture(tmp_path, tiny_data, tiny_ae, tiny_train):
    import dataclasses

    from vaebench.config import ModelSpec

    store = ModelStore(tmp_path, progress=False)
    key = store.key(tiny_data, tiny_ae, tiny_train, fingerprint=FP)
    assert store.entry_name(tiny_data, tiny_ae, tiny_train, fingerprint=FP) == f"synthetic16-ae-z4-s0-{key}"
    vae = ModelSpec(kind="vae", z_dim=256, fact=1e-5)
    celeba = dataclasses.replace(tiny_data, source="celeba", path="/data/celeba", image_size=32)
    assert store.entry_name(celeba, vae, dataclasses.replace(tiny_train, seed=3), fingerprint=FP).startswith(
        "celeba32-vae-z256-f1e-05-s3-"
    )
    clipped = dataclasses.replace(vae, eps_clip=5.0, dense=256)
    bf16 = dataclasses.replace(tiny_train, precision="mixed_bfloat16")
    assert store.entry_name(tiny_data, clipped, bf16, fingerprint=FP).startswith(
        "synthetic16-vae-z256-f1e-05-c5-d256-s0-bfloat16-"
    )


def test_key_holds_the_data_fingerprint_and_the_code_fingerprint(tmp_path, tiny_data, tiny_ae, tiny_train, monkeypatch):
    import vaebench.store.modelstore as S

    store = ModelStore(tmp_path, progress=False)
    base = store.key(tiny_data, tiny_ae, tiny_train, fingerprint=FP)
    assert store.key(tiny_data, tiny_ae, tiny_train, fingerprint="1" + FP[1:]) != base
    monkeypatch.setattr(S, "code_fingerprint", lambda: "another code")
    assert store.key(tiny_data, tiny_ae, tiny_train, fingerprint=FP) != base
    from vaebench.errors import StoreError

    with pytest.raises(StoreError, match="data_fingerprint=None must be the data's content fingerprint"):
        store.key(tiny_data, tiny_ae, tiny_train, fingerprint=None)


def _edited_source(monkeypatch, module, change):
    """Make vaebench.models.code_fingerprint see ``module``'s source edited by ``change``."""
    from vaebench.models import code_fingerprint as F

    real = F._source

    def source(name):
        path, text = real(name)
        if name != module:
            return path, text
        edited = change(text)
        assert edited != text, "the edit must apply"
        return path, edited

    monkeypatch.setattr(F, "_source", source)
    F.code_fingerprint.cache_clear()


@pytest.mark.slow
def test_a_behaviour_change_in_the_model_code_retrains_a_docstring_change_does_not(
    tmp_path, tiny_data, tiny_ae, tiny_train, trainer, monkeypatch, request
):
    from vaebench.models import code_fingerprint as F

    request.addfinalizer(F.code_fingerprint.cache_clear)
    store = ModelStore(tmp_path, progress=False)
    first = fill(store, tiny_data, tiny_ae, tiny_train, trainer)
    assert first.key_parts["code_fingerprint"] == F.code_fingerprint()
    # the docstrings and comments of models.py and training.py reworded: the same model loads
    _edited_source(
        monkeypatch,
        "vaebench.models.vae",
        lambda t: t.replace('"""The posts\' convolutional AE', '"""The convolutional AE of the posts').replace(
            "# the level at which", "# the threshold at which"
        ),
    )
    again = fill(store, tiny_data, tiny_ae, tiny_train, trainer)
    assert len(trainer.calls) == 1 and again.path == first.path
    monkeypatch.undo()
    # the LeakyReLU slope changed (the example): a new key, trained again
    _edited_source(monkeypatch, "vaebench.models.posts_conv",
                   lambda t: t.replace("negative_slope=0.3", "negative_slope=0.2"))
    changed = fill(store, tiny_data, tiny_ae, tiny_train, trainer)
    assert len(trainer.calls) == 2 and changed.path != first.path
    monkeypatch.undo()
    _edited_source(monkeypatch, "vaebench.train.trainer", lambda t: t + "\n_EXTRA_STEP = 1\n")
    fill(store, tiny_data, tiny_ae, tiny_train, trainer)
    assert len(trainer.calls) == 3


@pytest.mark.slow
def test_an_entry_copied_under_another_name_is_refused(tmp_path, tiny_data, tiny_ae, tiny_train, trainer):
    import dataclasses
    import shutil

    from vaebench.errors import StoreError

    store = ModelStore(tmp_path, progress=False)
    entry = fill(store, tiny_data, tiny_ae, tiny_train, trainer)
    other = dataclasses.replace(tiny_ae, z_dim=5)
    target = store.path_for(tiny_data, other, tiny_train, fingerprint=FP)
    shutil.copytree(entry.path, target)
    with pytest.raises(
        StoreError,
        match=r"holds the model of another spec .*model.z_dim: asked 5, entry holds 4.*"
        r"Remove it \(rm -r ",
    ):
        store.get(tiny_data, other, tiny_train, fingerprint=FP)
    other_data = store.path_for(tiny_data, tiny_ae, tiny_train, fingerprint="1" * 32)
    shutil.copytree(entry.path, other_data)  # the same specs, other images
    with pytest.raises(StoreError, match="key.data_fingerprint: asked '1111"):
        store.get(tiny_data, tiny_ae, tiny_train, fingerprint="1" * 32)
    assert [e.name for e in store.entries()] == [entry.name]
    problems = dict(store.damaged())
    assert set(problems) == {target.name, other_data.name}
    assert "copied or renamed" in problems[target.name]
    assert target.exists() and len(trainer.calls) == 1  # refused, not deleted, nothing trained


def test_a_file_where_an_entry_folder_belongs(tmp_path, tiny_data, tiny_ae, tiny_train, trainer):
    from vaebench.errors import StoreError

    store = ModelStore(tmp_path, progress=False)
    path = store.path_for(tiny_data, tiny_ae, tiny_train, fingerprint=FP)
    path.write_text("not an entry")
    with pytest.raises(StoreError, match=r"is a file where the store keeps the entry folder .*remove it \(rm "):
        fill(store, tiny_data, tiny_ae, tiny_train, trainer)
    assert trainer.calls == []  # refused before training
    assert store.damaged() == [(path.name, "a file, not an entry folder: remove it")]


@pytest.mark.slow
def test_a_store_that_forbids_removing_gives_an_honest_count(
    tmp_path, tiny_data, tiny_ae, tiny_train, trainer, monkeypatch
):
    from vaebench.errors import StoreError

    store = ModelStore(tmp_path, progress=False)
    entry = fill(store, tiny_data, tiny_ae, tiny_train, trainer)
    (store.models / "stray-file").write_text("x")

    def read_only(src, dst):  # what a read-only models/ folder says (the tests may run as root)
        raise PermissionError(13, "Permission denied", str(src))

    monkeypatch.setattr(os, "rename", read_only)
    with pytest.raises(
        StoreError,
        match=r"removed 0 of 2 entries from .*could not remove .*Permission denied.*"
        r"not writable for this user",
    ):
        store.clear()
    monkeypatch.undo()
    assert store.get(tiny_data, tiny_ae, tiny_train, fingerprint=FP).path == entry.path  # still there, intact
    assert store.clear() == 2 and store.entries() == [] and store.damaged() == []


def test_a_lock_that_cannot_be_made_is_a_store_error(tmp_path, tiny_data, tiny_ae, tiny_train, trainer, monkeypatch):
    import vaebench.store.modelstore as S
    from vaebench.errors import StoreError

    class ReadOnlyLock(S.FileLock):
        def acquire(self, *args, **kwargs):
            raise PermissionError(13, "Permission denied", self.lock_file)

    monkeypatch.setattr(S, "FileLock", ReadOnlyLock)
    store = ModelStore(tmp_path, progress=False)
    with pytest.raises(
        StoreError,
        match=r"cannot lock synthetic16-ae-z4-s0-\w+ \(to train it\) in the store .*"
        r"PermissionError.*VAEBENCH_STORE",
    ):
        fill(store, tiny_data, tiny_ae, tiny_train, trainer)
    assert trainer.calls == []


# ---------------------------------------------------------------------------- a user's architecture


@pytest.mark.slow
def test_a_users_architecture_is_stored_under_its_name_and_its_code(
    tmp_path, tiny_data, tiny_train, tiny_images, monkeypatch
):
    from user_code import TINY_BUILDERS, load_module

    from vaebench.config import ModelSpec
    from vaebench.models import registry as architectures

    monkeypatch.setattr(architectures, "_REGISTRY", dict(architectures._REGISTRY))

    def register(name, text):
        module = load_module(tmp_path, name, text)
        architectures.register_architecture("tiny", encoder=module.encoder, decoder=module.decoder)

    spec = ModelSpec(kind="ae", z_dim=4, fact=0.0, batchnorm=False, architecture="tiny")
    calls = []

    def trainer():
        calls.append(1)
        return train(tiny_data, spec, tiny_train, tiny_images, progress=False)

    register("v0", TINY_BUILDERS)
    store = ModelStore(tmp_path / "store", progress=False)
    first = fill(store, tiny_data, spec, tiny_train, trainer)
    assert first.name == f"synthetic16-tiny-ae-z4-s0-{store.key(tiny_data, spec, tiny_train, fingerprint=FP)}"
    assert first.key_parts["architecture_fingerprint"] == architectures.fingerprint("tiny")
    assert set(first.key_parts) == set(KEY_PARTS)
    loaded = first.load_model()
    assert loaded.encoder.count_params() == 6188  # the tiny MLP, rebuilt from the registry
    register("v1", TINY_BUILDERS.replace('"""Tiny builders."""', '"""Tiny builders, reworded."""'))
    assert fill(store, tiny_data, spec, tiny_train, trainer).path == first.path
    assert len(calls) == 1
    with pytest.warns(RuntimeWarning, match="registered again with other code"):
        register("v2", TINY_BUILDERS.replace("HIDDEN = 8", "HIDDEN = 6"))
    wider = fill(store, tiny_data, spec, tiny_train, trainer)
    assert len(calls) == 2 and wider.path != first.path and wider.load_model().encoder.count_params() == 4642


def test_an_entry_whose_key_has_other_parts_is_never_loaded(tmp_path, tiny_data, tiny_ae, tiny_train, trainer):
    from vaebench.store.modelstore import _sha256

    store = ModelStore(tmp_path, progress=False)
    entry = fill(store, tiny_data, tiny_ae, tiny_train, trainer)
    spec = json.loads((entry.path / "spec.json").read_text())
    del spec["key"]["architecture_fingerprint"]  # as the vaebench before the registry wrote it
    (entry.path / "spec.json").write_text(json.dumps(spec))
    manifest = json.loads((entry.path / MANIFEST).read_text())
    manifest["sha256"]["spec.json"] = _sha256(entry.path / "spec.json")
    (entry.path / MANIFEST).write_text(json.dumps(manifest))
    assert store.entries() == []
    ((name, problem),) = store.damaged()
    assert name == entry.name and problem.startswith(
        "written by another vaebench (its key has the parts "
        "['backend', 'code_fingerprint', 'data_fingerprint', 'framework', 'keras'], "
        "this one ['architecture_fingerprint', "
    )


def test_clear_leaves_a_lock_another_process_holds(tmp_path, tiny_data, tiny_ae, tiny_train):
    """issue 23 item 6: clearing unlinked held lock files, so a second trainer got a fresh
    lock of an entry the first still held."""
    store = ModelStore(tmp_path, progress=False)
    held = store.claim(tiny_data, tiny_ae, tiny_train, fingerprint=FP)
    free = store.locks / "synthetic16-ae-z4-s1-0123456789abcdef.lock"
    free.write_text("")
    cache_lock = store.data_cache / ".synthetic-16px-seed0-start0-abc.lock"
    cache_lock.write_text("")
    assert held is not None and held.held
    store.clear()
    assert not free.exists() and not cache_lock.exists()          # nobody held them: removed
    assert (store.locks / f"{held.name}.lock").exists()             # held: left in place
    assert store.claim(tiny_data, tiny_ae, tiny_train, fingerprint=FP) is None   # still exclusive
    held.release()
    with store.claim(tiny_data, tiny_ae, tiny_train, fingerprint=FP) as again:
        assert again is not None and again.held


@pytest.mark.slow
def test_an_entry_holds_its_training_state_and_the_longest_shorter_one_is_resumed_from(
        tmp_path, tiny_data, tiny_ae, tiny_train, trainer):
    import dataclasses

    store = ModelStore(tmp_path, progress=False)
    entry = fill(store, tiny_data, tiny_ae, tiny_train, trainer)         # 2 epochs
    state = entry.train_state()
    assert int(state["epoch"]) == 2 and "momentums/0" in state and entry.resumable
    assert STATE in json.loads((entry.path / MANIFEST).read_text())["sha256"]
    longer = dataclasses.replace(tiny_train, epochs=5)
    assert store.resumable(tiny_data, tiny_ae, longer, fingerprint=FP).name == entry.name
    assert store.resumable(tiny_data, tiny_ae, tiny_train, fingerprint=FP) is None      # nothing below 2 epochs
    assert store.resumable(tiny_data, tiny_ae, dataclasses.replace(longer, seed=1), fingerprint=FP) is None
    assert store.resumable(tiny_data, tiny_ae, dataclasses.replace(longer, learning_rate=1e-3), fingerprint=FP) is None
    assert store.resumable(tiny_data, tiny_ae, longer, fingerprint="1" * 32) is None


@pytest.mark.slow
def test_an_entry_without_training_state_loads_and_is_not_resumed_from(tmp_path, tiny_data, tiny_ae, tiny_train,
                                                                       trainer):
    import dataclasses

    store = ModelStore(tmp_path, progress=False)
    result = trainer()
    result.state = None
    with store.claim(tiny_data, tiny_ae, tiny_train, fingerprint=FP) as claim:
        entry = claim.put(result)
    assert not (entry.path / STATE).exists() and store.verify(entry.path) is None and not entry.resumable
    entry.load_model()
    assert store.resumable(tiny_data, tiny_ae, dataclasses.replace(tiny_train, epochs=3), fingerprint=FP) is None
