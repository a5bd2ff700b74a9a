"""K models trained as one Keras model (:class:`Pack`): the sum of their losses, one
optimizer, no shared weight (see :mod:`vaebench.train.trainer` for why a member learns
what it learns alone)."""
from __future__ import annotations

from typing import Sequence

import keras
import numpy as np

from vaebench.models.vae import AE


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
