"""Fingerprints of images: the data part of every model store key (:mod:`vaebench.store`).

blake2b over the array's shape and every byte of every image. The uint8 array
is cut into chunks of whole images (about :data:`CHUNK_BYTES` each); each chunk is
hashed (in parallel threads: hashlib releases the GIL) and the chunk digests are hashed
together with the shape. The decoded-image cache stores the chunk digests, so the
fingerprint of the first n images of a cached array reuses the digests of its whole
chunks and hashes only the last, partial one.
"""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import numpy as np

#: bytes of images hashed as one chunk (a whole number of images, at least one)
CHUNK_BYTES = 16 << 20
_IMAGES_FORMAT = b"vaebench-images-1"


def chunk_images(shape: Sequence[int]) -> int:
    """How many images of ``shape`` (N, ...) make one hashed chunk."""
    per_image = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    return max(1, CHUNK_BYTES // max(1, per_image))


def chunk_digests(images: np.ndarray, first_chunk: int = 0) -> list[str]:
    """The blake2b digests (hex) of the chunks of ``images`` from chunk ``first_chunk`` on
    (the last chunk may be partial)."""
    k = chunk_images(images.shape)
    starts = list(range(first_chunk * k, len(images), k))

    def one(s: int) -> str:
        return hashlib.blake2b(np.ascontiguousarray(images[s:s + k]), digest_size=16).hexdigest()

    if len(starts) <= 1:
        return [one(s) for s in starts]
    with ThreadPoolExecutor(max(1, min(8, os.cpu_count() or 1, len(starts)))) as pool:
        return list(pool.map(one, starts))


def images_fingerprint(images: np.ndarray, chunks: Sequence[str] | None = None) -> str:
    """The content fingerprint of a uint8 image array: 32 hex digits.

    ``chunks``: known chunk digests of an array of which ``images`` is a prefix (the
    decoded cache's); those of whole chunks inside ``images`` are used as they are."""
    k = chunk_images(images.shape)
    known = list(chunks or [])[: len(images) // k]
    digests = known + chunk_digests(images, first_chunk=len(known))
    h = hashlib.blake2b(_IMAGES_FORMAT + repr(tuple(int(s) for s in images.shape)).encode(), digest_size=16)
    for d in digests:
        h.update(bytes.fromhex(d))
    return h.hexdigest()


def combine(*fingerprints: str) -> str:
    """One fingerprint of several (e.g. a data set's train and test images), in order."""
    return hashlib.blake2b("\n".join(fingerprints).encode(), digest_size=16).hexdigest()


def data_fingerprint(train_set, test_set) -> str:
    """The content fingerprint of a data set's train and test images (every byte of both,
    :attr:`vaebench.data.imageset.ImageSet.fingerprint`): the data part of every store key."""
    return combine(train_set.fingerprint, test_set.fingerprint)
