"""How the training images reach the training step (:data:`FEEDS`, :func:`default_feed`).

``'host'`` gathers each batch in host memory (:class:`PackBatches`, through
:func:`pack_dataset` on TensorFlow) and copies it to the device; ``'device'`` puts the
training images on the device once (:class:`vaebench.train.pack.Pack` ``images=``) and
feeds the int32 indices of each batch (:func:`batch_indices`, :func:`index_dataset` on
TensorFlow): the same images in the same order as the host feed. A member's order is
:func:`epoch_order`, a function of its seed and the epoch alone.
"""
from __future__ import annotations

import math
import os
from typing import Sequence

import keras
import numpy as np

from vaebench import backend
from vaebench.errors import SpecError, require


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


def steps_per_execution(feed: str, backend_name: str | None = None) -> int:
    """Training steps per call of Keras' train function: :data:`DEVICE_STEPS_PER_EXECUTION`
    with the device feed, 1 with the host feed and on PyTorch (Keras' torch trainer allows
    only 1: "steps_per_execution must be 1 with the PyTorch backend")."""
    if feed != "device" or (backend_name or backend.name()) == "torch":
        return 1
    return DEVICE_STEPS_PER_EXECUTION


def check_feed(feed: str) -> str:
    require(feed in FEEDS, f"feed={feed!r} is not a feed; use one of {FEEDS} (or unset ${FEED_ENV})", SpecError)
    return feed


#: on a CPU, the device feed holds a second copy of the training images in host memory: up to this size
DEVICE_FEED_CPU_BYTES = 2 << 30


def default_feed(images_bytes: int = 0, backend_name: str | None = None) -> str:
    """``$VAEBENCH_FEED`` when set, else ``'device'`` where the backend sees an accelerator,
    and on a TensorFlow CPU while the training images (``images_bytes``) are at most
    :data:`DEVICE_FEED_CPU_BYTES` (the variable holding them is a second copy in host memory);
    else ``'host'``. On a TensorFlow CPU the device feed trains the weights of the host feed
    bit for bit (tests/test_training.py) and ran about 2.5× as fast at 32×32 under load (issue
    22: the host feed's ``from_generator`` runs Python for every batch in tf.data's thread,
    beside the step's; the device feed runs 16 steps per call with no Python between them)."""
    env = os.environ.get(FEED_ENV)
    if env:
        return check_feed(env.strip())
    if backend.accelerator_visible():
        return "device"
    on_tf = (backend_name or backend.name()) == "tensorflow"
    return "device" if on_tf and images_bytes <= DEVICE_FEED_CPU_BYTES else "host"


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
