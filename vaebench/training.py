"""Train one spec: seeded, with progress output, a clean stop on a non-finite loss, and
per-epoch records of what the claims need (loss terms, the radius peak of a fixed probe
batch, the epsilon tail count)."""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import keras

from . import backend
from .config import DataSpec, ModelSpec, TrainSpec
from .errors import TrainingError, require
from .latent import histogram_peak, radii
from .models import AE, build_model, encode


@dataclass
class TrainResult:
    """A trained model and the record of its training.

    ``history`` maps each key (``loss``, ``reconstruction_loss``, ``kl_loss``, ``kl``,
    ``eps_tail``, ``probe_radius_peak``, ``probe_radius_mean``, ``probe_logvar_mean``,
    ``seconds``) to one value per completed epoch. ``stopped`` is ``None`` for a
    complete run, else why it stopped (e.g. a non-finite loss).
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


def _log(message: str) -> None:
    print(f"[vaebench] {message}", file=sys.stderr, flush=True)


def describe(model_spec: ModelSpec, train_spec: TrainSpec) -> str:
    parts = [model_spec.kind, f"z={model_spec.z_dim}"]
    if model_spec.kind == "vae":
        parts.append(f"fact={model_spec.fact:g}")
        if model_spec.eps_clip is not None:
            parts.append(f"clip={model_spec.eps_clip:g}")
    if model_spec.dense is not None:
        parts.append(f"dense={model_spec.dense}")
    parts.append(f"seed={train_spec.seed}")
    return " ".join(parts)


class EpochRecorder(keras.callbacks.Callback):
    """Records every epoch's logs plus probe statistics; stops on a non-finite loss.

    The loss is checked every ``check_every`` batches (each check waits for the device)
    and at every epoch's end.
    """

    def __init__(self, probe: np.ndarray, label: str, epochs: int, n_images: int,
                 progress: bool = True, check_every: int = 20):
        super().__init__()
        self.probe, self.label, self.epochs, self.n_images = probe, label, epochs, n_images
        self.progress, self.check_every = progress, check_every
        self.history: dict[str, list[float]] = {}
        self.stopped: str | None = None
        self._epoch = 0
        self._t0 = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._t_epoch = time.perf_counter()

    def _stop(self, why: str) -> None:
        if self.stopped is None:
            self.stopped = why
            self.model.stop_training = True
            if self.progress:
                _log(f"{self.label}: stopping, {why}")

    def on_train_batch_end(self, batch, logs=None):
        if logs and (batch + 1) % self.check_every == 0:
            loss = float(logs.get("loss", 0.0))
            if not math.isfinite(loss):
                self._stop(f"non-finite loss {loss} at epoch {self._epoch + 1}, step {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._t_epoch
        record = {k: float(v) for k, v in (logs or {}).items()}
        codes = encode(self.model, self.probe, seed=epoch)
        r = radii(codes["z"])
        record["probe_radius_peak"] = histogram_peak(r) if np.all(np.isfinite(r)) else float("nan")
        record["probe_radius_mean"] = float(np.mean(r))
        if "logvar" in codes:
            record["probe_logvar_mean"] = float(np.mean(codes["logvar"]))
        record["seconds"] = seconds
        for k, v in record.items():
            self.history.setdefault(k, []).append(v)
        if not math.isfinite(record.get("loss", 0.0)):
            self._stop(f"non-finite loss {record['loss']} at the end of epoch {epoch + 1}")
        if self.progress:
            done = epoch + 1
            elapsed = time.perf_counter() - self._t0
            eta = elapsed / done * (self.epochs - done)
            terms = " ".join(f"{k}={record[k]:.4g}" for k in ("loss", "reconstruction_loss", "kl_loss")
                             if k in record)
            _log(f"{self.label}: epoch {done}/{self.epochs} {terms} "
                 f"R_peak={record['probe_radius_peak']:.2f} {self.n_images / seconds:,.0f} img/s "
                 f"ETA {eta:.0f}s")


def train(data_spec: DataSpec, model_spec: ModelSpec, train_spec: TrainSpec, train_images: np.ndarray,
          probe_images: np.ndarray | None = None, progress: bool = True) -> TrainResult:
    """Train ``model_spec`` on ``train_images`` (uint8, NHWC) with Adam as ``train_spec`` says.

    Same specs, same images and same seed give the same weights on CPU. ``probe_images``
    (default: the first ``train_spec.probe_size`` training images) are encoded at the end
    of every epoch to follow the radius peak (claim C4's runaway monitor).
    """
    require(train_images.ndim == 4 and train_images.shape[1:] == (data_spec.image_size, data_spec.image_size, 3),
            f"train_images of shape {train_images.shape} do not match image_size={data_spec.image_size}; "
            "load them with vaebench.data.load_dataset(spec)", TrainingError)
    require(len(train_images) >= train_spec.batch_size,
            f"{len(train_images)} training images are fewer than batch_size={train_spec.batch_size}; "
            "use more images or a smaller batch", TrainingError)
    backend.seed_everything(train_spec.seed)
    model = build_model(model_spec, data_spec.image_size, seed=train_spec.seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=train_spec.learning_rate))
    probe = probe_images if probe_images is not None else train_images[: train_spec.probe_size]
    label = describe(model_spec, train_spec)
    recorder = EpochRecorder(np.asarray(probe), label, train_spec.epochs, len(train_images), progress)
    if progress:
        _log(f"{label}: training {train_spec.epochs} epochs on {len(train_images):,} images "
             f"{data_spec.image_size}x{data_spec.image_size} ({backend.name()}, {backend.device()})")
    t0 = time.perf_counter()
    model.fit(train_images, batch_size=train_spec.batch_size, epochs=train_spec.epochs, shuffle=True,
              verbose=0, callbacks=[recorder])
    seconds = time.perf_counter() - t0
    done = len(recorder.history.get("loss", []))
    return TrainResult(model=model, history=recorder.history, stopped=recorder.stopped, seconds=seconds,
                       images_per_second=done * len(train_images) / seconds if seconds > 0 else 0.0,
                       info={"backend": backend.name(), "device": backend.device(), "epochs_done": done})
