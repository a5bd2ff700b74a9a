import math

import numpy as np
import pytest

from vaebench.errors import TrainingError
from vaebench.train import train


def _weights(model):
    return [w.numpy() for w in model.weights]


@pytest.mark.slow
def test_same_seed_same_weights(tiny_data, tiny_vae, tiny_train, tiny_images):
    a = train(tiny_data, tiny_vae, tiny_train, tiny_images, progress=False)
    b = train(tiny_data, tiny_vae, tiny_train, tiny_images, progress=False)
    for wa, wb in zip(_weights(a.model), _weights(b.model)):
        np.testing.assert_array_equal(wa, wb)
    assert a.history["loss"] == b.history["loss"]


@pytest.mark.slow
def test_other_seed_other_weights(tiny_data, tiny_vae, tiny_train, tiny_images):
    import dataclasses

    a = train(tiny_data, tiny_vae, tiny_train, tiny_images, progress=False)
    b = train(tiny_data, tiny_vae, dataclasses.replace(tiny_train, seed=1), tiny_images, progress=False)
    assert any(not np.array_equal(x, y) for x, y in zip(_weights(a.model), _weights(b.model)))


@pytest.mark.slow
def test_history_has_the_named_loss_terms(tiny_data, tiny_vae, tiny_train, tiny_images):
    result = train(tiny_data, tiny_vae, tiny_train, tiny_images, progress=False)
    h = result.history
    for key in ("loss", "reconstruction_loss", "kl_loss", "kl", "eps_tail", "probe_radius_peak",
                "probe_logvar_mean", "seconds"):
        assert len(h[key]) == tiny_train.epochs, key
    for total, reco, kl in zip(h["loss"], h["reconstruction_loss"], h["kl_loss"]):
        assert total == pytest.approx(reco + kl, rel=1e-5)
    for kl_loss, kl in zip(h["kl_loss"], h["kl"]):
        assert kl_loss == pytest.approx(tiny_vae.kl_weight(tiny_data.image_size) * kl, rel=1e-5)
    assert result.stopped is None and result.epochs_done == tiny_train.epochs


def test_ae_history(tiny_data, tiny_ae, tiny_train, tiny_images):
    h = train(tiny_data, tiny_ae, tiny_train, tiny_images, progress=False).history
    assert h["loss"] == pytest.approx(h["reconstruction_loss"])
    assert "kl_loss" not in h


def test_progress_output(tiny_data, tiny_ae, tiny_train, tiny_images, capsys):
    train(tiny_data, tiny_ae, tiny_train, tiny_images, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err and "img/s" in err


@pytest.mark.slow
def test_stops_cleanly_on_nonfinite_loss(tiny_data, tiny_vae, tiny_train, tiny_images):
    import dataclasses

    # a huge learning rate with a huge KL weight blows the VAE up within a few steps
    wild = dataclasses.replace(tiny_train, learning_rate=1e4, epochs=5)
    spec = dataclasses.replace(tiny_vae, fact=1e6)
    result = train(tiny_data, spec, wild, tiny_images, progress=False)
    assert result.stopped is not None and "non-finite" in result.stopped
    assert result.epochs_done < 5
    assert not math.isfinite(result.history["loss"][-1])


def test_bad_images_are_rejected(tiny_data, tiny_vae, tiny_train):
    with pytest.raises(TrainingError, match="do not match image_size=16"):
        train(tiny_data, tiny_vae, tiny_train, np.zeros((64, 32, 32, 3), np.uint8), progress=False)
    with pytest.raises(TrainingError, match="fewer than batch_size=16"):
        train(tiny_data, tiny_vae, tiny_train, np.zeros((8, 16, 16, 3), np.uint8), progress=False)


@pytest.mark.slow
def test_session_latents_draw_fresh_noise_per_split(tmp_path, tiny_vae, tiny_train):
    """Held-out VAE codes must not share epsilon with the training codes row by row."""
    import dataclasses

    import numpy as np

    from vaebench.claims.session import Session
    from vaebench.config import SCALES, DataSpec

    scale = dataclasses.replace(SCALES["smoke"], data=DataSpec(image_size=16, n_train=64, n_test=64),
                                train=tiny_train, n_analysis=64)
    session = Session(scale, tmp_path, progress=False)
    model = session.model(tiny_vae, seed=0)
    train, test = session.latents(model), session.latents(model, split="test")
    eps_train = (train["z"] - train["mu"]) / np.exp(0.5 * train["logvar"])
    eps_test = (test["z"] - test["mu"]) / np.exp(0.5 * test["logvar"])
    assert not np.allclose(eps_train, eps_test)
    assert session.latents(model) is train  # cached


# --------------------------------------------------------------------------- packs

def test_epoch_order_is_a_function_of_seed_and_epoch():
    from vaebench.train import epoch_order

    a = epoch_order(3, 1, 100)
    assert sorted(a) == list(range(100))
    np.testing.assert_array_equal(a, epoch_order(3, 1, 100))
    assert not np.array_equal(a, epoch_order(3, 2, 100)) and not np.array_equal(a, epoch_order(4, 1, 100))


@pytest.mark.slow
def test_a_packed_model_learns_what_it_learns_alone(tiny_data, tiny_vae, tiny_ae, tiny_train, tiny_images):
    """The pack's contract: members of one pack (here a VAE and an AE with other seeds)
    end with the weights and histories they get when each is trained alone (bit for bit
    on CPU with TensorFlow; to float32 rounding elsewhere)."""
    import dataclasses

    from vaebench.train import Job, train_many

    jobs = [Job(tiny_vae, tiny_train), Job(tiny_ae, dataclasses.replace(tiny_train, seed=1)),
            Job(dataclasses.replace(tiny_vae, eps_clip=0.5), tiny_train)]
    from vaebench import backend

    exact = backend.name() == "tensorflow"  # and op determinism on: the same kernels in the same order
    packed = train_many(tiny_data, jobs, tiny_images, progress=False)
    for job, got in zip(jobs, packed):
        alone = train(tiny_data, job.model, job.train, tiny_images, progress=False)
        for wa, wb in zip(_weights(alone.model), _weights(got.model)):
            if exact:
                np.testing.assert_array_equal(wa, wb)
            else:
                np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)
        for key in ("loss", "reconstruction_loss", "probe_radius_peak"):
            np.testing.assert_allclose(alone.history[key], got.history[key], rtol=1e-5)
        assert got.info["pack"] == 3 and alone.info["pack"] == 1
    # the clip changes the clipped twin: same seed, same eps draws, |eps| > 0.5 cut
    assert packed[2].history["eps_tail"][0] > 0
    assert packed[2].history["loss"] != packed[0].history["loss"]


@pytest.mark.slow
def test_a_runaway_member_stops_alone(tiny_data, tiny_vae, tiny_train, tiny_images):
    """A member whose loss turns non-finite is recorded as stopped; its pack mates go on and
    learn exactly what they learn alone (NaN does not cross between members)."""
    import dataclasses

    from vaebench.train import Job, train_many

    spec = dataclasses.replace(tiny_train, epochs=3)
    wild = dataclasses.replace(tiny_vae, fact=1e39)  # fact * KL overflows float32: inf loss, NaN steps
    res_wild, res_calm = train_many(tiny_data, [Job(wild, spec), Job(tiny_vae, spec)], tiny_images, progress=False)
    assert res_wild.stopped is not None and "non-finite" in res_wild.stopped
    assert res_wild.epochs_done == 1 and not math.isfinite(res_wild.history["loss"][-1])
    alone = train(tiny_data, tiny_vae, spec, tiny_images, progress=False)
    assert res_calm.stopped is None and res_calm.epochs_done == 3
    np.testing.assert_allclose(res_calm.history["loss"], alone.history["loss"], rtol=1e-5)


def test_jobs_of_one_pack_must_share_their_training(tiny_data, tiny_vae, tiny_train, tiny_images):
    import dataclasses

    from vaebench.train import Job, train_many

    with pytest.raises(TrainingError, match="must share epochs, batch_size"):
        train_many(tiny_data, [Job(tiny_vae, tiny_train), Job(tiny_vae, dataclasses.replace(tiny_train, epochs=3))],
                   tiny_images, progress=False)
    with pytest.raises(TrainingError, match="no job to train"):
        train_many(tiny_data, [], tiny_images, progress=False)


@pytest.mark.slow
def test_mixed_precision_trains_and_keeps_float32_heads(tiny_data, tiny_vae, tiny_train, tiny_images):
    import dataclasses

    from keras import ops

    from vaebench.models import encode

    spec = dataclasses.replace(tiny_train, precision="mixed_bfloat16")
    result = train(tiny_data, tiny_vae, spec, tiny_images, progress=False)
    assert result.epochs_done == 2
    assert all(math.isfinite(v) for v in result.history["loss"])
    enc = result.model.encoder
    assert enc.get_layer("conv0").compute_dtype == "bfloat16" and enc.get_layer("mu").compute_dtype == "float32"
    assert all(w.dtype == "float32" for w in result.model.trainable_weights)  # float32 master weights
    out = result.model(tiny_images[:4])
    assert ops.convert_to_numpy(out["recon"]).dtype == np.float32
    assert encode(result.model, tiny_images[:4])["logvar"].dtype == np.float32
    f32 = train(tiny_data, tiny_vae, tiny_train, tiny_images, progress=False)
    assert f32.history["loss"] != result.history["loss"]  # it does compute differently


@pytest.mark.slow
def test_training_takes_the_steps_of_a_plain_fit(tiny_data, tiny_vae, tiny_ae, tiny_train):
    """What the training path feeds Keras (tf.data on TensorFlow, a PyDataset elsewhere) does
    not change what a model learns: a pack ends with the weights and per-epoch loss means of
    a plain ``fit`` per epoch over a PyDataset (the feeding before tf.data) of the same
    batches, i.e. member k's batch i of epoch e is the images at
    ``sort(epoch_order(seed_k, e, n)[i*B:(i+1)*B])``, the last one smaller (72 images,
    batch 16), and exactly one optimizer step per batch."""
    import dataclasses

    import keras

    from vaebench import backend
    from vaebench.models import build_model
    from vaebench.train import Job, Pack, epoch_order, train_many

    n, size, b = 72, tiny_data.image_size, tiny_train.batch_size
    images = (np.random.default_rng(1).random((n, size, size, 3)) * 255).astype(np.uint8)
    data = dataclasses.replace(tiny_data, n_train=n)
    jobs = [Job(tiny_vae, tiny_train), Job(tiny_ae, dataclasses.replace(tiny_train, seed=1))]
    got = train_many(data, jobs, images, progress=False)

    class Batches(keras.utils.PyDataset):
        def __init__(self, epoch):
            super().__init__()
            self.epoch = epoch

        def __len__(self):
            return math.ceil(n / b)

        def __getitem__(self, i):
            return (tuple(images[np.sort(epoch_order(job.train.seed, self.epoch, n)[i * b:(i + 1) * b])]
                          for job in jobs),)

    members = []
    for job in jobs:
        backend.seed_everything(job.train.seed)
        members.append(build_model(job.model, size, seed=job.train.seed, precision=job.train.precision))
    pack = Pack(members)
    pack.compile(optimizer=keras.optimizers.Adam(learning_rate=tiny_train.learning_rate))
    logs: dict[str, list[float]] = {}
    for epoch in range(tiny_train.epochs):
        for key, values in pack.fit(Batches(epoch), epochs=1, shuffle=False, verbose=0).history.items():
            logs.setdefault(key, []).extend(values)
    assert int(keras.ops.convert_to_numpy(pack.optimizer.iterations)) == tiny_train.epochs * math.ceil(n / b)

    exact = backend.name() == "tensorflow"
    for k, (member, result) in enumerate(zip(members, got)):
        for wa, wb in zip(_weights(member), _weights(result.model)):
            if exact:
                np.testing.assert_array_equal(wa, wb)
            else:
                np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)
        for key in ("loss", "reconstruction_loss"):
            np.testing.assert_allclose(result.history[key], logs[f"{k}/{key}"], rtol=0 if exact else 1e-5)


def test_the_tf_data_feed_serves_the_pack_batches(tiny_images):
    """On TensorFlow the epoch's batches go through tf.data with autotuning off and a known
    length (without it Keras calls the train function once more at the end of the epoch,
    one more optimizer step); the elements are the PyDataset's, in order."""
    from vaebench import backend

    if backend.name() != "tensorflow":
        pytest.skip("tf.data feeds the TensorFlow backend only")
    from vaebench.train import PackBatches, epoch_order, pack_dataset

    n = 60  # batches of 16, 16, 16, 12
    batches = PackBatches(tiny_images[:n], [epoch_order(0, 0, n), epoch_order(5, 0, n)], 16)
    dataset = pack_dataset(batches)
    assert int(dataset.cardinality()) == len(batches) == 4
    assert dataset.options().autotune.enabled is False
    served = list(dataset.as_numpy_iterator())
    assert len(served) == len(batches)
    for i, element in enumerate(served):
        for a, b in zip(element[0], batches[i][0]):
            assert a.dtype == np.uint8
            np.testing.assert_array_equal(a, b)
    assert [len(e[0][0]) for e in served] == [16, 16, 16, 12]


def test_batch_indices_are_the_host_feeds_batches():
    from vaebench.train import batch_indices, epoch_order

    n, b = 70, 16
    idx = batch_indices(3, 1, n, b)
    order = epoch_order(3, 1, n)
    assert idx.dtype == np.int32 and sorted(idx) == list(range(n))
    for i in range(0, n, b):                 # batch i: the images PackBatches serves, in its (sorted) order
        np.testing.assert_array_equal(idx[i:i + b], np.sort(order[i:i + b]))


def test_the_feed_is_chosen_by_the_environment_or_the_device(monkeypatch):
    from vaebench import backend
    from vaebench.errors import SpecError
    from vaebench.train import FEED_ENV, default_feed

    monkeypatch.setenv(FEED_ENV, "device")
    assert default_feed() == "device"
    monkeypatch.setenv(FEED_ENV, "disk")
    with pytest.raises(SpecError, match="feed='disk' is not a feed"):
        default_feed()
    monkeypatch.delenv(FEED_ENV)
    gpu = backend.accelerator_visible()
    assert default_feed() == ("device" if gpu or backend.name() == "tensorflow" else "host")
    for name in ("jax", "torch"):
        assert default_feed(backend_name=name) == ("device" if gpu else "host")


def test_the_device_feed_is_the_default_on_a_tensorflow_cpu_while_the_images_fit(monkeypatch):
    """Issue 22: on a TensorFlow CPU the device feed (bit for bit the host feed's weights:
    test_the_device_feed_learns_what_the_host_feed_learns) is the default, up to
    DEVICE_FEED_CPU_BYTES of training images (its variable is a second copy in host memory)."""
    from vaebench import backend
    from vaebench.train import feeds

    monkeypatch.delenv(feeds.FEED_ENV, raising=False)
    monkeypatch.setattr(backend, "accelerator_visible", lambda: False)
    assert feeds.default_feed(feeds.DEVICE_FEED_CPU_BYTES, "tensorflow") == "device"
    assert feeds.default_feed(feeds.DEVICE_FEED_CPU_BYTES + 1, "tensorflow") == "host"
    assert feeds.default_feed(0, "jax") == feeds.default_feed(0, "torch") == "host"


FEED_CHECK = """
import dataclasses, json, sys
import numpy as np
from vaebench.config import DataSpec, ModelSpec, TrainSpec
from vaebench.train import Job, PackTrainer
data = DataSpec(image_size=16, n_train=72, n_test=16)
vae = ModelSpec(kind="vae", z_dim=4, filters=(4, 8), batchnorm=True, fact=1e-2)
ae = ModelSpec(kind="ae", z_dim=4, filters=(4, 8), batchnorm=False, fact=0.0)
spec = TrainSpec(epochs=2, batch_size=16, probe_size=16, seed=0)
images = (np.random.default_rng(1).random((72, 16, 16, 3)) * 255).astype(np.uint8)
jobs = [Job(vae, spec), Job(ae, dataclasses.replace(spec, seed=1))]
out = {}
for feed in ("host", "device"):
    results = PackTrainer(data, jobs, images, progress=False, feed=feed).run()
    out[feed] = [{"weights": [w.numpy().tolist() for w in r.model.weights], "loss": r.history["loss"],
                  "feed": r.info["feed"]} for r in results]
json.dump(out, sys.stdout)
"""


def _assert_same_training(host, device, exact):
    for h, d in zip(host, device):
        assert (h["feed"], d["feed"]) == ("host", "device")
        for wh, wd in zip(h["weights"], d["weights"]):
            if exact:
                np.testing.assert_array_equal(np.asarray(wh), np.asarray(wd))
            else:
                np.testing.assert_allclose(np.asarray(wh), np.asarray(wd), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(h["loss"], d["loss"], rtol=0 if exact else 1e-5)


@pytest.mark.slow
def test_the_device_feed_learns_what_the_host_feed_learns(tiny_data, tiny_vae, tiny_ae, tiny_train):
    """Images held on the device and gathered by index in the step (with 16 steps per
    execution) give a pack the weights and losses of the host feed: bit for bit on CPU with
    TensorFlow (72 images, batch 16: a short last batch)."""
    import dataclasses

    from vaebench import backend
    from vaebench.train import Job, PackTrainer

    n = 72
    images = (np.random.default_rng(1).random((n, 16, 16, 3)) * 255).astype(np.uint8)
    data = dataclasses.replace(tiny_data, n_train=n)
    jobs = [Job(tiny_vae, tiny_train), Job(tiny_ae, dataclasses.replace(tiny_train, seed=1))]
    runs = {}
    for feed in ("host", "device"):
        trainer = PackTrainer(data, jobs, images, progress=False, feed=feed)
        runs[feed] = [{"weights": _weights(r.model), "loss": r.history["loss"], "feed": r.info["feed"]}
                      for r in trainer.run()]
        names = [w.name for r in trainer.pack.members for w in r.weights]
        assert "train_images" not in names                   # the members' weights never hold the images
    assert runs["device"][0]["feed"] == "device" and trainer.pack.images is not None
    _assert_same_training(runs["host"], runs["device"], exact=backend.name() == "tensorflow")


@pytest.mark.slow
def test_the_device_feed_on_jax_matches_the_host_feed(tmp_path):
    """The same on JAX (the GPU machines' backend), in a subprocess: to float32 rounding
    (rtol 1e-5, atol 1e-6; bit for bit on this CPU when written)."""
    import importlib.util
    import json
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("jax") is None:
        pytest.skip("needs jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", FEED_CHECK], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    _assert_same_training(out["host"], out["device"], exact=False)


TORCH_CHECK = FEED_CHECK.replace("epochs=2", "epochs=1").replace(
    "    results = PackTrainer(data, jobs, images, progress=False, feed=feed).run()",
    "    trainer = PackTrainer(data, jobs, images, progress=False, feed=feed)\n"
    "    assert trainer.pack.steps_per_execution == 1, trainer.pack.steps_per_execution\n"
    "    results = trainer.run()").replace("w.numpy().tolist()", "keras.ops.convert_to_numpy(w).tolist()").replace(
    "import numpy as np\n", "import keras\nimport numpy as np\n")
#: an interpreter with torch for the torch test (default: this one); torch is no dependency of vaebench
TORCH_PYTHON_ENV = "VAEBENCH_TORCH_PYTHON"


@pytest.mark.slow
def test_the_device_feed_trains_an_epoch_on_torch(tmp_path):
    """On the PyTorch backend the device feed trains with one step per execution (Keras'
    torch trainer allows no more), in a subprocess: one epoch of a pack of two, the weights
    and losses of the host feed to float32 rounding. Skipped where the interpreter
    (``$VAEBENCH_TORCH_PYTHON`` or this one) cannot import torch."""
    import json
    import os
    import subprocess
    import sys

    python = os.environ.get(TORCH_PYTHON_ENV) or sys.executable
    if subprocess.run([python, "-c", "import torch"], capture_output=True).returncode != 0:
        pytest.skip(f"{python} cannot import torch (set ${TORCH_PYTHON_ENV} to an interpreter that can)")
    env = {**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([python, "-c", TORCH_CHECK], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert all(len(r["loss"]) == 1 and np.isfinite(r["loss"][0]) for r in out["device"])
    _assert_same_training(out["host"], out["device"], exact=False)


def test_steps_per_execution_is_one_on_torch_and_with_the_host_feed():
    from vaebench.train import DEVICE_STEPS_PER_EXECUTION, steps_per_execution

    assert steps_per_execution("device", "jax") == steps_per_execution("device", "tensorflow") == \
        DEVICE_STEPS_PER_EXECUTION > 1
    assert steps_per_execution("device", "torch") == 1
    assert {steps_per_execution("host", b) for b in ("jax", "tensorflow", "torch")} == {1}
