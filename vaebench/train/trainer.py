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
:data:`DEVICE_STEPS_PER_EXECUTION` steps per call of Keras' train function (one on PyTorch,
whose Keras trainer allows no more: :func:`steps_per_execution`). The step
sees the same uint8 values either way, so the feed is not part of a model's store key:
bit for bit the host path's weights on CPU with TensorFlow, to float32 rounding on JAX
(``tests/test_training.py``).

:func:`train` trains one model: it is a pack of one, so there is one training path.

Training resumes exactly (``starts=``, one :class:`Start` per member, all after one epoch):
each member gets its weights, Adam's moments and step count and its generators' states back
(:mod:`vaebench.train.state`) and goes on at the next epoch, whose image order depends on
the seed and the epoch alone; nothing depends on the total number of epochs (no schedule),
so E epochs, a pause and E' - E more are E' epochs, bit for bit on CPU with TensorFlow
(``tests/test_train_state.py``). ``run(on_epoch=...)`` lets the store keep the models at
earlier epochs (snapshots) while they train.
"""
from __future__ import annotations

import math
import time
from typing import Callable, Sequence

import keras
import numpy as np

from vaebench import backend
from vaebench.config import DataSpec, ModelSpec, TrainSpec
from vaebench.errors import TrainingError, require
from vaebench.latent.geometry import histogram_peak, radii
from vaebench.models.vae import build_model, encode
from vaebench.train.feeds import (
    PackBatches,
    batch_indices,
    check_feed,
    default_feed,
    index_dataset,
    pack_dataset,
    steps_per_execution,
)
from vaebench.train.pack import Pack
from vaebench.train.records import Job, MemberRecord, Start, TrainResult, log
from vaebench.train.state import capture, restore


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
                 probe_images: np.ndarray | None = None, progress: bool = True, feed: str | None = None,
                 starts: Sequence[Start] | None = None):
        jobs = list(jobs)
        self.feed = default_feed(train_images.nbytes) if feed is None else check_feed(feed)
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
        self.members: list[MemberRecord] = []
        for job in jobs:
            backend.seed_everything(job.train.seed)
            model = build_model(job.model, size, seed=job.train.seed, precision=job.train.precision)
            self.members.append(MemberRecord(job, model))
        device = self.feed == "device"
        self.pack = Pack([m.model for m in self.members], images=train_images if device else None)
        self.pack.compile(
            optimizer=keras.optimizers.Adam(learning_rate=spec.learning_rate),
            steps_per_execution=steps_per_execution(self.feed),
        )
        self.epoch = 0
        self.seconds = 0.0
        self.resumed_from: int | None = None
        if starts is not None:
            self._resume(list(starts))

    def _resume(self, starts: list[Start]) -> None:
        """Every member from its :class:`Start` (one epoch for all: the pack takes one step count)."""
        require(len(starts) == len(self.members), f"{len(starts)} starts for {len(self.members)} jobs; give one "
                "Start per job", TrainingError)
        epochs = sorted({s.epoch for s in starts})
        require(len(epochs) == 1 and 0 < epochs[0] < self.spec.epochs,
                f"members of one pack resume from epochs {epochs} towards {self.spec.epochs}: resume a pack from one "
                "epoch, before its last", TrainingError)
        self.pack.optimizer.build(self.pack.trainable_variables)
        for member, start in zip(self.members, starts):
            member.model.load_weights(start.weights)
            restore(self.pack.optimizer, member.model, start.state)
            member.history = {k: list(v) for k, v in start.history.items()}
        self.epoch = self.resumed_from = epochs[0]

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

    def _progress_line(self, member: MemberRecord, record: dict, seconds: float) -> None:
        done, epochs = self.epoch + 1, self.spec.epochs
        eta = self.seconds / (done - (self.resumed_from or 0)) * (epochs - done)
        terms = " ".join(f"{k}={record[k]:.4g}" for k in ("loss", "reconstruction_loss", "kl_loss") if k in record)
        log(
            f"{member.label}: epoch {done}/{epochs} {terms} R_peak={record['probe_radius_peak']:.2f} "
            f"{self.n_images / seconds:,.0f} img/s ETA {eta:.0f}s"
        )

    def done(self) -> bool:
        return self.epoch >= self.spec.epochs or all(m.stopped is not None for m in self.members)

    def run(self, on_epoch: Callable[["PackTrainer"], None] | None = None) -> list[TrainResult]:
        """Train to the last epoch (or until every member stopped); ``on_epoch(self)`` after each
        epoch (e.g. to store :meth:`results` at chosen epochs)."""
        if self.progress:
            what = (
                self.members[0].label
                if len(self.members) == 1
                else f"a pack of {len(self.members)} ({'; '.join(m.label for m in self.members)})"
            )
            log(
                f"training {what}: {self.spec.epochs} epochs"
                f"{f' (resumed after epoch {self.resumed_from})' if self.resumed_from else ''} on "
                f"{self.n_images:,} images "
                f"{self.data_spec.image_size}x{self.data_spec.image_size} ({backend.name()}, {backend.device()})"
            )
        while not self.done():
            self.run_epoch()
            if on_epoch is not None:
                on_epoch(self)
        return self.results()

    def results(self, state: bool = True) -> list[TrainResult]:
        """Each member as it is now (after :attr:`epoch` epochs): its live model, a copy of its
        history and, with ``state``, what training needs to go on (:mod:`vaebench.train.state`)."""
        done = self.epoch - (self.resumed_from or 0)
        rate = done * self.n_images / self.seconds if self.seconds > 0 else 0.0
        info = {"backend": backend.name(), "device": backend.device(), "pack": len(self.members), "feed": self.feed}
        if self.resumed_from:
            info["resumed_from_epochs"] = self.resumed_from
        return [
            TrainResult(
                model=m.model,
                history={k: list(v) for k, v in m.history.items()},
                stopped=m.stopped,
                seconds=self.seconds,
                images_per_second=rate,
                info=dict(info),
                state=capture(self.pack.optimizer, m.model, self.epoch) if state else None,
            )
            for m in self.members
        ]


def train_many(
    data_spec: DataSpec,
    jobs: Sequence[Job],
    train_images: np.ndarray,
    probe_images: np.ndarray | None = None,
    progress: bool = True,
    starts: Sequence[Start] | None = None,
    on_epoch: Callable[[PackTrainer], None] | None = None,
) -> list[TrainResult]:
    """Train ``jobs`` together as one pack; one :class:`TrainResult` per job, in order. With
    ``starts`` (one :class:`Start` per job, all after the same epoch) the members go on from
    there: the result is the one training from the start gives (bit for bit on CPU with
    TensorFlow). ``on_epoch``: see :meth:`PackTrainer.run`."""
    return PackTrainer(data_spec, jobs, train_images, probe_images, progress, starts=starts).run(on_epoch)


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
