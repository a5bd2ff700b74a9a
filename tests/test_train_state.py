"""Resuming training (vaebench.train.state, PackTrainer starts=): E epochs, a pause, E' - E more
is training E' epochs directly, bit for bit on TensorFlow's CPU."""
import dataclasses

import numpy as np
import pytest

from vaebench.config import TrainSpec
from vaebench.errors import TrainingError
from vaebench.train import Job, PackTrainer, Start, train_many


def _weights(model):
    return [np.asarray(w) for w in model.weights]


def _paused(tmp_path, tiny_data, jobs, images, epochs, feed=None):
    """Train ``jobs`` ``epochs`` epochs; one Start per job (weights saved to a file)."""
    short = [dataclasses.replace(j, train=dataclasses.replace(j.train, epochs=epochs)) for j in jobs]
    results = PackTrainer(tiny_data, short, images, progress=False, feed=feed).run()
    starts = []
    for k, r in enumerate(results):
        path = str(tmp_path / f"m{k}.weights.h5")
        r.model.save_weights(path)
        starts.append(Start(epoch=epochs, weights=path, state=r.state, history=r.history))
    return results, starts


def _assert_same(a, b):
    for wa, wb in zip(_weights(a.model), _weights(b.model)):
        np.testing.assert_array_equal(wa, wb)
    keys = set(a.history) - {"seconds"}
    assert keys == set(b.history) - {"seconds"}
    for key in keys:
        np.testing.assert_array_equal(np.asarray(a.history[key]), np.asarray(b.history[key]), err_msg=key)


@pytest.mark.slow
@pytest.mark.parametrize("feed", ["host", "device"])
def test_a_resumed_pack_is_the_direct_training_bit_for_bit(tmp_path, tiny_data, tiny_vae, tiny_images, feed):
    train = TrainSpec(epochs=3, batch_size=16, probe_size=16, seed=0)
    jobs = [Job(tiny_vae, train), Job(tiny_vae, dataclasses.replace(train, seed=1))]
    direct = PackTrainer(tiny_data, jobs, tiny_images, progress=False, feed=feed).run()
    _, starts = _paused(tmp_path, tiny_data, jobs, tiny_images, 1, feed)
    resumed = PackTrainer(tiny_data, jobs, tiny_images, progress=False, feed=feed, starts=starts).run()
    for a, b in zip(direct, resumed):
        _assert_same(a, b)
        assert b.info["resumed_from_epochs"] == 1 and "resumed_from_epochs" not in a.info


@pytest.mark.slow
def test_an_ae_resumes_too_and_its_state_names_every_slot(tmp_path, tiny_data, tiny_ae, tiny_train, tiny_images):
    job = Job(tiny_ae, dataclasses.replace(tiny_train, epochs=2))
    (direct,) = train_many(tiny_data, [job], tiny_images, progress=False)
    (short,), starts = _paused(tmp_path, tiny_data, [job], tiny_images, 1)
    n = len(short.model.trainable_variables)
    assert {f"momentums/{i}" for i in range(n)} | {f"velocities/{i}" for i in range(n)} <= set(short.state)
    assert int(short.state["epoch"]) == 1 and int(short.state["iterations"]) == 64 // 16
    (resumed,) = train_many(tiny_data, [job], tiny_images, progress=False, starts=starts)
    _assert_same(direct, resumed)


def test_starts_must_share_one_epoch_before_the_last(tiny_data, tiny_ae, tiny_train, tiny_images):
    jobs = [Job(tiny_ae, tiny_train), Job(tiny_ae, dataclasses.replace(tiny_train, seed=1))]
    starts = [Start(epoch=1, weights="", state={}, history={}), Start(epoch=0, weights="", state={}, history={})]
    with pytest.raises(TrainingError, match=r"resume from epochs \[0, 1\] towards 2"):
        PackTrainer(tiny_data, jobs, tiny_images, progress=False, starts=starts)
    with pytest.raises(TrainingError, match="1 starts for 2 jobs"):
        PackTrainer(tiny_data, jobs, tiny_images, progress=False, starts=starts[:1])


JAX_RESUME = """
import dataclasses, json, sys, numpy as np
from vaebench.config import DataSpec, ModelSpec, TrainSpec
from vaebench.train import Job, PackTrainer, Start
data = DataSpec(image_size=16, n_train=64, n_test=16)
vae = ModelSpec(kind="vae", z_dim=4, filters=(4, 8), batchnorm=True, fact=1e-2)
images = (np.random.default_rng(0).random((64, 16, 16, 3)) * 255).astype(np.uint8)
t = TrainSpec(epochs=3, batch_size=16, probe_size=16)
jobs = [Job(vae, t), Job(vae, dataclasses.replace(t, seed=1))]
direct = PackTrainer(data, jobs, images, progress=False).run()
short = PackTrainer(data, [Job(j.model, dataclasses.replace(j.train, epochs=1)) for j in jobs], images,
                    progress=False).run()
starts = []
for k, r in enumerate(short):
    path = f"{sys.argv[1]}/m{k}.weights.h5"
    r.model.save_weights(path)
    starts.append(Start(epoch=1, weights=path, state=r.state, history=r.history))
resumed = PackTrainer(data, jobs, images, progress=False, starts=starts).run()
print(json.dumps([[max(float(np.max(np.abs(np.asarray(x) - np.asarray(y)))) for x, y in
                   zip(a.model.weights, b.model.weights)), a.history["loss"] == b.history["loss"]]
                  for a, b in zip(direct, resumed)]))
"""


@pytest.mark.slow
def test_a_resumed_pack_on_jax_is_the_direct_training(tmp_path):
    """The same on JAX (the GPU machines' backend), in a subprocess: bit for bit on this CPU."""
    import importlib.util
    import json
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("jax") is None:
        pytest.skip("needs jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", JAX_RESUME, str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [[0.0, True], [0.0, True]]
