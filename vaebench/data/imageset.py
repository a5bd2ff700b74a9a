"""The container of a data set's images: uint8 ``(N, S, S, 3)`` with what the read did.

Conversion to float32 in [0, 1] happens one batch at a time (:meth:`ImageSet.batches`,
:meth:`ImageSet.as_float`), so a data set never needs four times its size in memory.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from vaebench.config import check_count as _check_count
from vaebench.data.fingerprint import images_fingerprint
from vaebench.data.synthetic import FACTOR_NAMES, N_FACTORS
from vaebench.errors import DataError, require


class DataWarning(UserWarning):
    """Something about the data was repaired or left out (skipped files, rebuilt caches)."""


class ImageSet:
    """Images as uint8 ``(N, S, S, 3)`` (an ndarray or a read-only ``np.memmap``).

    ``factors``: float32 ``(N, F)`` ground truth (synthetic only) with ``factor_names``;
    ``names``: the source file of each image (readers only); ``skipped``: ``(path, reason)``
    of each file the read that made this set left out; ``converted``: ``(path, mode)`` of
    each image converted to RGB; ``notes``: other things that read did (files a partition
    list leaves out, counts of conversions).

    :attr:`fingerprint` is the content fingerprint of ``images``
    (:func:`vaebench.data.fingerprint.images_fingerprint`), part of the key of every model
    trained on them; ``chunks`` are known chunk digests of an array ``images`` is a
    prefix of (the decoded cache's), so it rarely hashes more than one chunk.
    """

    def __init__(self, images: np.ndarray, factors: np.ndarray | None = None, name: str = "",
                 skipped: Sequence[tuple[str, str]] | None = None,
                 names: Sequence[str] | None = None, notes: Sequence[str] | None = None,
                 factor_names: Sequence[str] | None = None,
                 converted: Sequence[tuple[str, str]] | None = None,
                 chunks: Sequence[str] | None = None) -> None:
        require(isinstance(images, np.ndarray) and images.dtype == np.uint8 and images.ndim == 4
                and images.shape[3] == 3 and images.shape[1] == images.shape[2],
                f"images must be a uint8 array (N, S, S, 3); got "
                f"{getattr(images, 'dtype', type(images).__name__)} {getattr(images, 'shape', '')}",
                DataError)
        if factors is not None:
            factors = np.asarray(factors, np.float32)
            require(factors.ndim == 2 and len(factors) == len(images),
                    f"factors has shape {factors.shape}; expected ({len(images)}, F)", DataError)
        if names is not None:
            require(len(names) == len(images),
                    f"{len(names)} names for {len(images)} images", DataError)
        self.images = images
        self.factors = factors
        self.name = name
        self.skipped = list(skipped or [])
        self.names = list(names) if names is not None else None
        self.notes = list(notes or [])
        self.factor_names = tuple(factor_names) if factor_names is not None else (
            FACTOR_NAMES if factors is not None and factors.shape[1] == N_FACTORS else None)
        self.converted = list(converted or [])
        self.chunks = list(chunks) if chunks is not None else None
        self._fingerprint: str | None = None

    @property
    def fingerprint(self) -> str:
        """The content fingerprint of every byte of ``images`` (computed once)."""
        if self._fingerprint is None:
            self._fingerprint = images_fingerprint(self.images, self.chunks)
        return self._fingerprint

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        kind = "memmap" if isinstance(self.images, np.memmap) else "array"
        return (f"ImageSet({self.name!r}, {len(self)} images of {self.image_size}x{self.image_size}, "
                f"{kind}, {len(self.skipped)} skipped)")

    @property
    def image_size(self) -> int:
        """Side of the (square) images in pixels."""
        return int(self.images.shape[1])

    def subset(self, index: slice | Sequence[int] | np.ndarray, name: str | None = None) -> "ImageSet":
        """The images at ``index`` (a slice keeps a memmap a memmap) with their factors/names."""
        images = self.images[index]
        pick = np.arange(len(self))[index]
        prefix = isinstance(index, slice) and (index.start or 0) == 0 and (index.step or 1) == 1
        picked = None if self.names is None else {self.names[i] for i in pick}
        return ImageSet(images,
                        None if self.factors is None else self.factors[index],
                        self.name if name is None else name, self.skipped,
                        None if self.names is None else [self.names[i] for i in pick],
                        self.notes, self.factor_names,
                        [c for c in self.converted if picked is None or c[0] in picked],
                        self.chunks if prefix else None)

    def as_float(self, indices: slice | Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """float32 ``(k, S, S, 3)`` in [0, 1] (``uint8 / 255``) of the images at ``indices``
        (all when None), in the order given."""
        if indices is None:
            data = np.asarray(self.images)
        elif isinstance(indices, slice):
            data = np.asarray(self.images[indices])
        else:
            idx = np.asarray(indices, dtype=np.int64).reshape(-1)
            order = np.argsort(idx, kind="stable")   # read a memmap front to back
            data = np.empty((len(idx),) + self.images.shape[1:], np.uint8)
            data[order] = self.images[idx[order]]
        result = data.astype(np.float32)
        result /= np.float32(255.0)
        return result

    def batches(self, batch_size: int, shuffle: bool = False, seed: int = 0) -> Iterator[np.ndarray]:
        """float32 [0, 1] batches of ``batch_size`` (the last one may be smaller) covering
        every image exactly once; with ``shuffle`` in the order of
        ``np.random.default_rng(seed).permutation(N)`` (same seed, same batches)."""
        batch_size = _check_count("batch_size", batch_size, allow_zero=False)
        n = len(self)
        order = np.random.default_rng(seed).permutation(n) if shuffle else None
        for s in range(0, n, batch_size):
            yield self.as_float(order[s:s + batch_size] if shuffle else slice(s, s + batch_size))
