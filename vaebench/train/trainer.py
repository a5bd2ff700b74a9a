"""Train models: seeded, with progress output, a clean stop on a non-finite loss, and
per-epoch records of what the claims need (loss terms, the radius peak of a fixed probe
batch, the epsilon tail count).

Several models that share their data and training settings can train at once, packed
into one Keras model (:class:`Pack`): where one small model leaves a GPU idle, K of them
fill it. Packing does not change what a model learns:

- the pack's loss is the sum of its members' losses and members share no weight, so the
  gradient of each member's weights is the gradient of its own loss; Adam works weight
  by weight, so each member takes the step it would take alone;
- each member is built right after ``seed_everything(its seed)``, draws epsilon from its
  own seeded generator and sees the training images in its own order
  (:func:`epoch_order`, a function of its seed and the epoch alone).

So a model trained in a pack has the weights it has when trained alone, up to the order
of floating-point operations (bit for bit on CPU with TensorFlow; tested in
``tests/test_training.py``), and the pack size is not part of a model's store key. One
member that runs away (a non-finite loss, checked at the end of each epoch) is recorded as
stopped and the others go on.

How the images reach the step (:data:`FEEDS`, :func:`default_feed`): ``'host'`` gathers
each batch in host memory (:class:`PackBatches`, through :func:`pack_dataset` on
TensorFlow) and copies it to the device; ``'device'`` puts the training images on the
device once, as a non-trainable uint8 variable of the pack (:class:`Pack` ``images=``),
feeds ``fit`` the int32 indices of each batch (:func:`batch_indices`, the same images in
the same order as the host feed) and gathers the batch inside the compiled step, with
:data:`DEVICE_STEPS_PER_EXECUTION` steps per call of Keras' train function. The step
sees the same uint8 values either way, so the feed is not part of a model's store key:
bit for bit the host path's weights on CPU with TensorFlow, to float32 rounding on JAX
(``tests/test_training.py``).

:func:`train` trains one model: it is a pack of one, so there is one training path.
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Sequence

import keras
import numpy as np

from vaebench import backend
from vaebench.config import DEFAULT_ARCHITECTURE, DataSpec, ModelSpec, TrainSpec
from vaebench.errors import SpecError, TrainingError, require
from vaebench.latent.geometry import histogram_peak, radii
from vaebench.models.vae import AE, build_model, encode


@dataclass
class TrainResult:
    """A trained model and the record of its training.

    ``history`` maps each key (``loss``, ``reconstruction_loss``, ``kl_loss``, ``kl``,
    ``eps_tail``, ``probe_radius_peak``, ``probe_radius_mean``, ``probe_logvar_mean``,
    ``seconds``) to one value per completed epoch. ``stopped`` is ``None`` for a
    complete run, else why it stopped (e.g. a non-finite loss). ``seconds`` and
    ``images_per_second`` are the model's: with a pack of K (``info['pack']``), the pack's
    images/s is K times ``images_per_second``.
    """

    model: AE
    history: dict[str, list[float]]
    stopped: str | None = None
    seconds: float = 0.0
    images_per_second: float = 0.0
    info: dict = field(default_factory=dict)

    @property
    def epochs_done(self) -> int:
        return len(self.history.get("loss", []))


@dataclass(frozen=True)
class Job:
    """One model to train: its model spec and its training spec."""

    model: ModelSpec
    train: TrainSpec


def _log(message: str) -> None:
    print(f"[vaebench] {message}", file=sys.stderr, flush=True)


def describe(model_spec: ModelSpec, train_spec: TrainSpec) -> str:
    parts = [model_spec.kind, f"z={model_spec.z_dim}"]
    if model_spec.architecture != DEFAULT_ARCHITECTURE:
        parts.insert(0, model_spec.architecture)
    if model_spec.kind == "vae":
        parts.append(f"fact={model_spec.fact:g}")
        if model_spec.eps_clip is not None:
            parts.append(f"clip={model_spec.eps_clip:g}")
    if model_spec.dense is not None:
        parts.append(f"dense={model_spec.dense}")
    if train_spec.precision != "float32":
        parts.append(train_spec.precision)
    parts.append(f"seed={train_spec.seed}")
    return " ".join(parts)


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order in which a run with ``seed`` sees its ``n`` training images in ``epoch``
    (numbered from 0): a function of these three numbers alone."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(n)


#: how the training images reach the training step (see the module docstring)
FEEDS = ("host", "device")
#: the environment variable that overrides :func:`default_feed`
FEED_ENV = "VAEBENCH_FEED"
#: training steps per call of Keras' train function with the device feed (no host work between them)
DEVICE_STEPS_PER_EXECUTION = 16


def check_feed(feed: str) -> str:
    require(feed in FEEDS, f"feed={feed!r} is not a feed; use one of {FEEDS} (or unset ${FEED_ENV})", SpecError)
    return feed


def default_feed() -> str:
    """``$VAEBENCH_FEED`` when set, else ``'device'`` where the backend sees an accelerator
    and ``'host'`` on a CPU (where the images already are in the step's memory)."""
    env = os.environ.get(FEED_ENV)
    if env:
        return check_feed(env.strip())
    return "device" if backend.accelerator_visible() else "host"


def batch_indices(seed: int, epoch: int, n: int, batch_size: int) -> np.ndarray:
    """:func:`epoch_order` as int32 with each run of ``batch_size`` indices sorted: batch
    ``i`` of the device feed is ``out[i*B:(i+1)*B]``, the images :class:`PackBatches` serves."""
    order = epoch_order(seed, epoch, n)
    full = n // batch_size * batch_size
    head = np.sort(order[:full].reshape(-1, batch_size), axis=1).ravel()
    return np.concatenate([head, np.sort(order[full:])]).astype(np.int32)


class PackBatches(keras.utils.PyDataset):
    """One epoch of batches for a pack: batch ``i`` is a tuple with member k's images
    ``images[orders[k][i*B:(i+1)*B]]`` (the last batch may be smaller, as in ``model.fit``).

    The JAX and PyTorch backends read it as a ``PyDataset``; on TensorFlow
    :func:`pack_dataset` serves the same batches through ``tf.data``."""

    def __init__(self, images: np.ndarray, orders: Sequence[np.ndarray], batch_size: int):
        super().__init__()
        self.images, self.orders, self.batch_size = images, list(orders), batch_size

    def __len__(self) -> int:
        return math.ceil(len(self.orders[0]) / self.batch_size)

    def __getitem__(self, i: int):
        part = slice(i * self.batch_size, (i + 1) * self.batch_size)
        # sorted indices read the (possibly memory-mapped) images front to back; the batch
        # holds the same images, and every loss term is a mean over the batch
        return (tuple(np.asarray(self.images[np.sort(order[part])]) for order in self.orders),)


#: batches ``tf.data`` reads ahead of the training step (one thread, no autotuning)
PREFETCH = 2


def pack_dataset(batches: PackBatches):
    """``batches`` as a ``tf.data.Dataset`` (TensorFlow backend only; imports TensorFlow
    when called): the same elements, in the same order and with the same signature (batch
    axis ``None``), as Keras makes of the ``PyDataset``, so the same steps train the same
    weights bit for bit. What differs: tf.data's autotuning is off and a fixed
    :data:`PREFETCH` batches are read ahead, where Keras wraps a ``PyDataset`` in
    ``prefetch(AUTOTUNE)`` (an autotuning thread beside the training step's; issue 14 found
    seconds lost at each epoch boundary with it)."""
    import tensorflow as tf

    spec = tf.TensorSpec((None,) + tuple(batches.images.shape[1:]), tf.as_dtype(batches.images.dtype))
    dataset = tf.data.Dataset.from_generator(lambda: (batches[i] for i in range(len(batches))),
                                             output_signature=(tuple(spec for _ in batches.orders),))
    # the known length makes Keras run exactly len(batches) steps: on a dataset of unknown
    # length it calls the train function once more on the spent iterator, which counts
    # one more optimizer step (Adam's bias correction) and a zero loss into the means
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(len(batches)))
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options).prefetch(PREFETCH)


def index_dataset(indices: Sequence[np.ndarray], batch_size: int):
    """The device feed's batches of ``indices`` (one int32 array per member) as a
    ``tf.data.Dataset`` (TensorFlow only): element ``i`` is ``(tuple of the members' slices
    [i*B:(i+1)*B],)``, autotuning off, :data:`PREFETCH` ahead, the length known."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((tuple(np.asarray(i, np.int32) for i in indices),))
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.batch(batch_size).with_options(options).prefetch(PREFETCH)


class Pack(keras.Model):
    """K AE/VAE members trained as one Keras model (see the module docstring).

    ``call`` takes a tuple of K image batches and returns the K members' outputs; the loss
    is the sum of the members' losses. The logs hold each member's loss terms as
    ``'<k>/<name>'`` (``'0/loss'``, ``'0/reconstruction_loss'``, ...). A member's ``loss``
    is the plain mean of its per-batch losses, like its other terms, so ``loss`` equals
    ``reconstruction_loss + kl_loss``.

    With ``images`` (uint8, NHWC) the pack holds them as a non-trainable variable
    (:attr:`images`, on the device) and ``call`` takes K int32 index batches instead of
    image batches: member k's batch is ``images[x[k]]``, gathered inside the step. The
    members' weights never include it.
    """

    def __init__(self, members: Sequence[AE], images: np.ndarray | None = None, **kwargs):
        super().__init__(name="pack", **kwargs)
        self.members = list(members)
        self.member_loss = [keras.metrics.Mean(name="loss") for _ in self.members]
        self.images = None if images is None else \
            keras.Variable(np.asarray(images), dtype="uint8", trainable=False, name="train_images")

    def gather(self, x):
        """The K image batches of ``x``: ``x`` itself, or with :attr:`images` the images it indexes."""
        if self.images is None:
            return x
        return [keras.ops.take(self.images, xi, axis=0) for xi in x]

    def call(self, x, training=False):
        return [m(xi, training=training) for m, xi in zip(self.members, self.gather(x))]

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        x = self.gather(x)
        total = None
        for tracker, member, xi, yi in zip(self.member_loss, self.members, x, y_pred):
            loss = member.compute_loss(x=xi, y_pred=yi, training=training)
            tracker.update_state(loss)
            total = loss if total is None else total + loss
        return total

    @property
    def metrics(self):
        # Keras leaves out the metrics of sub-models; the members' loss terms are ours
        out = list(super().metrics)
        for member in self.members:
            out.extend(member.term_trackers())
        return out

    def get_metrics_result(self):
        out = {}
        for k, (tracker, member) in enumerate(zip(self.member_loss, self.members)):
            out[f"{k}/loss"] = tracker.result()
            for metric in member.term_trackers():
                out[f"{k}/{metric.name}"] = metric.result()
        return out


class _Member:
    """The record of one member: its history, its stop and its progress lines."""

    def __init__(self, job: Job, model: AE):
        self.job, self.model = job, model
        self.label = describe(job.model, job.train)
        self.history: dict[str, list[float]] = {}
        self.stopped: str | None = None
        self.stopped_epoch: int | None = None

    def stop(self, why: str, epoch: int, progress: bool) -> None:
        if self.stopped is None:
            self.stopped, self.stopped_epoch = why, epoch
            if progress:
                _log(f"{self.label}: stopping, {why}")


class PackTrainer:
    """Trains ``jobs`` together on ``train_images`` (uint8, NHWC), one epoch at a time
    (one ``fit`` per epoch, no per-batch callback). ``feed`` (:data:`FEEDS`, default
    :func:`default_feed`): ``'host'`` fits on :func:`pack_dataset` on TensorFlow and on
    :class:`PackBatches` elsewhere; ``'device'`` holds the images on the device
    (:class:`Pack` ``images=``) and fits on :func:`batch_indices`.

    All jobs must share their training settings except the seed and the precision
    (:meth:`vaebench.config.specs.TrainSpec.pack_key`): one optimizer steps them all.
    ``probe_images`` (default: the first ``probe_size`` training images) are encoded by
    every member at the end of every epoch to follow the radius peak (claim C4's monitor).
    Each member's loss is checked at the end of each epoch: a member whose loss turned
    non-finite during the epoch is recorded as stopped at that epoch (that epoch's record
    is its last); its pack-mates, which share no weight with it, go on.
    """

    def __init__(self, data_spec: DataSpec, jobs: Sequence[Job], train_images: np.ndarray,
                 probe_images: np.ndarray | None = None, progress: bool = True, feed: str | None = None):
        jobs = list(jobs)
        self.feed = default_feed() if feed is None else check_feed(feed)
        require(len(jobs) > 0, "no job to train: pass at least one Job(model_spec, train_spec)", TrainingError)
        keys = {j.train.pack_key() for j in jobs}
        require(
            len(keys) == 1,
            "jobs in one pack must share epochs, batch_size, learning_rate and probe_size; "
            f"got {sorted(map(str, keys))}; "
            "train them in separate packs",
            TrainingError,
        )
        size = data_spec.image_size
        require(
            train_images.ndim == 4 and train_images.shape[1:] == (size, size, 3),
            f"train_images of shape {train_images.shape} do not match image_size={size}; "
            "load them with vaebench.data.load.load_dataset(spec)",
            TrainingError,
        )
        spec = jobs[0].train
        require(
            len(train_images) >= spec.batch_size,
            f"{len(train_images)} training images are fewer than batch_size={spec.batch_size}; "
            "use more images or a smaller batch",
            TrainingError,
        )
        self.data_spec, self.spec, self.images = data_spec, spec, train_images
        self.progress = progress
        self.probe = np.asarray(probe_images if probe_images is not None else train_images[: spec.probe_size])
        self.members: list[_Member] = []
        for job in jobs:
            backend.seed_everything(job.train.seed)
            model = build_model(job.model, size, seed=job.train.seed, precision=job.train.precision)
            self.members.append(_Member(job, model))
        device = self.feed == "device"
        self.pack = Pack([m.model for m in self.members], images=train_images if device else None)
        self.pack.compile(
            optimizer=keras.optimizers.Adam(learning_rate=spec.learning_rate),
            steps_per_execution=DEVICE_STEPS_PER_EXECUTION if device else 1,
        )
        self.epoch = 0
        self.seconds = 0.0

    @property
    def n_images(self) -> int:
        return len(self.images)

    def orders(self, epoch: int) -> list[np.ndarray]:
        """Each member's image indices of ``epoch`` (:func:`batch_indices`), for either feed."""
        return [batch_indices(m.job.train.seed, epoch, self.n_images, self.spec.batch_size) for m in self.members]

    def batches(self, epoch: int) -> PackBatches:
        return PackBatches(self.images, self.orders(epoch), self.spec.batch_size)

    def _fit(self) -> tuple[float, dict[str, float]]:
        # no callback: a per-batch one costs a Python call per step and, on JAX and PyTorch,
        # makes Keras dispatch callbacks synchronously (wait for every step, read its logs);
        # a non-finite loss mid-epoch makes the epoch's mean loss non-finite, checked by run_epoch
        t0 = time.perf_counter()
        if self.feed == "device":
            b = self.spec.batch_size
            indices = self.orders(self.epoch)
            if backend.name() == "tensorflow":
                history = self.pack.fit(index_dataset(indices, b), epochs=1, shuffle=False, verbose=0)
            else:
                history = self.pack.fit(tuple(indices), batch_size=b, epochs=1, shuffle=False, verbose=0)
        else:
            batches = self.batches(self.epoch)
            data = pack_dataset(batches) if backend.name() == "tensorflow" else batches
            history = self.pack.fit(data, epochs=1, shuffle=False, verbose=0)
        seconds = time.perf_counter() - t0
        return seconds, {k: float(v[-1]) for k, v in history.history.items()}

    def fit_epoch(self) -> float:
        """Train every member one epoch (no probe, no records); returns the seconds."""
        return self._fit()[0]

    def run_epoch(self) -> None:
        """One epoch: train, then record each running member's loss terms and probe statistics."""
        seconds, logs = self._fit()
        self.seconds += seconds
        for k, member in enumerate(self.members):
            if member.stopped is not None and member.stopped_epoch < self.epoch:
                continue  # it ran away earlier: its history ends there
            record = {key.split("/", 1)[1]: v for key, v in logs.items() if key.startswith(f"{k}/")}
            codes = encode(member.model, self.probe, seed=self.epoch)
            r = radii(codes["z"])
            record["probe_radius_peak"] = histogram_peak(r) if np.all(np.isfinite(r)) else float("nan")
            record["probe_radius_mean"] = float(np.mean(r))
            if "logvar" in codes:
                record["probe_logvar_mean"] = float(np.mean(codes["logvar"]))
            record["seconds"] = seconds
            for key, v in record.items():
                member.history.setdefault(key, []).append(v)
            if not math.isfinite(record.get("loss", 0.0)):
                member.stop(
                    f"non-finite loss {record['loss']} at the end of epoch {self.epoch + 1}", self.epoch, self.progress
                )
            if self.progress:
                self._progress_line(member, record, seconds)
        self.epoch += 1

    def _progress_line(self, member: _Member, record: dict, seconds: float) -> None:
        done, epochs = self.epoch + 1, self.spec.epochs
        eta = self.seconds / done * (epochs - done)
        terms = " ".join(f"{k}={record[k]:.4g}" for k in ("loss", "reconstruction_loss", "kl_loss") if k in record)
        _log(
            f"{member.label}: epoch {done}/{epochs} {terms} R_peak={record['probe_radius_peak']:.2f} "
            f"{self.n_images / seconds:,.0f} img/s ETA {eta:.0f}s"
        )

    def done(self) -> bool:
        return self.epoch >= self.spec.epochs or all(m.stopped is not None for m in self.members)

    def run(self) -> list[TrainResult]:
        if self.progress:
            what = (
                self.members[0].label
                if len(self.members) == 1
                else f"a pack of {len(self.members)} ({'; '.join(m.label for m in self.members)})"
            )
            _log(
                f"training {what}: {self.spec.epochs} epochs on {self.n_images:,} images "
                f"{self.data_spec.image_size}x{self.data_spec.image_size} ({backend.name()}, {backend.device()})"
            )
        while not self.done():
            self.run_epoch()
        return self.results()

    def results(self) -> list[TrainResult]:
        rate = self.epoch * self.n_images / self.seconds if self.seconds > 0 else 0.0
        info = {"backend": backend.name(), "device": backend.device(), "pack": len(self.members), "feed": self.feed}
        return [
            TrainResult(
                model=m.model,
                history=m.history,
                stopped=m.stopped,
                seconds=self.seconds,
                images_per_second=rate,
                info=dict(info),
            )
            for m in self.members
        ]


def train_many(
    data_spec: DataSpec,
    jobs: Sequence[Job],
    train_images: np.ndarray,
    probe_images: np.ndarray | None = None,
    progress: bool = True,
) -> list[TrainResult]:
    """Train ``jobs`` together as one pack; one :class:`TrainResult` per job, in order."""
    return PackTrainer(data_spec, jobs, train_images, probe_images, progress).run()


def train(
    data_spec: DataSpec,
    model_spec: ModelSpec,
    train_spec: TrainSpec,
    train_images: np.ndarray,
    probe_images: np.ndarray | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``model_spec`` on ``train_images`` (uint8, NHWC) with Adam as ``train_spec`` says.

    Same specs, same images and same seed give the same weights on CPU. This is a pack
    of one: see :func:`train_many`.
    """
    return train_many(data_spec, [Job(model_spec, train_spec)], train_images, probe_images, progress)[0]
