"""What training leaves per model: its result (:class:`TrainResult`), the job that asked
for it (:class:`Job`), its label (:func:`describe`) and, while it trains, its running
record (:class:`MemberRecord`: per-epoch history, a stop, progress lines)."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

from vaebench.config import DEFAULT_ARCHITECTURE, ModelSpec, TrainSpec
from vaebench.models.vae import AE


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
    #: what training needs to go on from here (:func:`vaebench.train.state.capture`), or None
    state: dict | None = None

    @property
    def epochs_done(self) -> int:
        return len(self.history.get("loss", []))


@dataclass
class Start:
    """Where a member resumes: after ``epoch`` epochs, with the weights in the file ``weights``,
    the training ``state`` (:func:`vaebench.train.state.capture`) and the ``history`` so far."""

    epoch: int
    weights: str
    state: dict
    history: dict


@dataclass(frozen=True)
class Job:
    """One model to train: its model spec and its training spec."""

    model: ModelSpec
    train: TrainSpec


def log(message: str) -> None:
    print(f"[vaebench] {message}", file=sys.stderr, flush=True)


def describe(model_spec: ModelSpec, train_spec: TrainSpec) -> str:
    parts = [model_spec.kind] + [f"{field}={value}" for field, value in model_spec.label_parts()]
    if model_spec.architecture != DEFAULT_ARCHITECTURE:
        parts.insert(0, model_spec.architecture)
    if train_spec.precision != "float32":
        parts.append(train_spec.precision)
    parts.append(f"seed={train_spec.seed}")
    return " ".join(parts)


class MemberRecord:
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
                log(f"{self.label}: stopping, {why}")
