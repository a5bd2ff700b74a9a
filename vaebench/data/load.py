"""Images for vaebench: a :class:`~vaebench.config.specs.DataSpec` in, ``(train, test)`` out.

The jobs live in their own modules, all re-exported here:

- :mod:`vaebench.data.synthetic`: the embedded synthetic-faces generator;
- :mod:`vaebench.data.readers`: the CelebA and image-folder readers;
- :mod:`vaebench.data.cache`: the decoded uint8 ``.npy`` cache (and :class:`DataWarning`);
- :mod:`vaebench.data.imageset`: the :class:`ImageSet` container.

Everything is stored as uint8 ``(N, H, W, 3)``; with a ``cache_dir`` the array lives in a
``.npy`` file opened with ``np.load(mmap_mode='r')``. Every :class:`ImageSet` carries
the content fingerprint of its images (over every byte), which the model store keys on.

Public API
----------
``FACTOR_NAMES``, ``synthetic_factors``, ``render_faces``, ``synthetic_faces``,
``ImageSet``, ``load_dataset``, ``read_celeba``, ``read_image_folder``, ``DataWarning``.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from vaebench.config import DataSpec, spec_hash
from vaebench.data.cache import CACHE_FORMAT, DataWarning, cached
from vaebench.data.imageset import ImageSet
from vaebench.data.readers import (
    CELEBA_SPLITS,
    IMAGE_EXTENSIONS,
    READER_VERSION,
    _celeba_listing,
    _check_folder,
    _read_celeba,
    _read_partition,
    read_celeba,
    read_image_folder,
)
from vaebench.data.synthetic import (
    FACTOR_NAMES,
    GENERATOR_VERSION,
    N_FACTORS,
    TEST_START,
    _generate_into,
    render_faces,
    synthetic_faces,
    synthetic_factors,
)
from vaebench.errors import DataError, SpecError, require

__all__ = ["FACTOR_NAMES", "N_FACTORS", "GENERATOR_VERSION", "TEST_START", "IMAGE_EXTENSIONS", "CELEBA_SPLITS",
           "READER_VERSION", "synthetic_factors", "render_faces", "synthetic_faces", "ImageSet", "DataWarning",
           "load_dataset", "read_celeba", "read_image_folder", "TEST_SHARE"]

_PROGRESS_MIN = 20_000   # synthetic sets at least this big report progress

#: the largest share of a folder's images that goes to the test set when the folder holds
#: fewer than the scale's n_train + n_test (the test set is the folder's last images)
TEST_SHARE = 0.2


def _synthetic_set(n: int, size: int, seed: int, start: int, name: str,
                   cache_dir: str | Path | None, progress: bool) -> ImageSet:
    key = spec_hash({"source": "synthetic", "generator": GENERATOR_VERSION, "format": CACHE_FORMAT,
                     "seed": seed, "start": start, "image_size": size})
    stem = f"synthetic-{size}px-seed{seed}-start{start}-{key}"
    label = f"{name} ({size}x{size})" if progress and n >= _PROGRESS_MIN else None

    def build(out: np.ndarray) -> tuple[int, dict]:
        _generate_into(out, seed, start, label)
        return len(out), {"complete": False}

    images, meta = cached(cache_dir, stem, key, n, n, size, build)
    return ImageSet(images, synthetic_factors(n, seed, start), name, chunks=meta.get("chunks"))


def _tail_split(everything: ImageSet, spec: DataSpec, where: str) -> tuple[ImageSet, ImageSet]:
    """Test = the last images, train = the first ones.

    With ``n_train + n_test`` images or more: exactly ``n_test`` and ``n_train`` (``None``:
    10% for testing, the rest for training). With fewer, the folder gives what it holds:
    the test set is at most :data:`TEST_SHARE` of it (at least one image), the train set
    the rest, with a :class:`DataWarning` saying so."""
    n = len(everything)
    require(n >= 2, f"{where} has {n} usable image; at least 2 are needed (one to train on, one to test)",
            DataError)
    n_test = spec.n_test if spec.n_test is not None else max(1, n // 10)
    n_train = n - n_test if spec.n_train is None else spec.n_train
    if n_train + n_test > n:
        cut_test = min(n_test, max(1, int(n * TEST_SHARE)))
        cut_train = min(n_train, n - cut_test)
        warnings.warn(f"{where} has {n} usable images, fewer than n_train={spec.n_train} + n_test={n_test}: "
                      f"training on the first {cut_train}, testing on the last {cut_test}", DataWarning,
                      stacklevel=3)
        n_train, n_test = cut_train, cut_test
    base = everything.name
    return (everything.subset(slice(0, n_train), f"{base}-train"),
            everything.subset(slice(n - n_test, n), f"{base}-test"))


def load_dataset(spec: DataSpec, cache_dir: str | Path | None = None,
                 progress: bool = True) -> tuple[ImageSet, ImageSet]:
    """``(train, test)`` image sets for ``spec``.

    synthetic: train is images ``[0, n_train)`` of ``spec.seed``, test ``n_test`` images
    from ``TEST_START`` on (so it does not change with ``n_train``); both carry factors.
    celeba: with the partition file, train is the first ``n_train`` of split 'train'
    (continuing into 'valid' when ``n_train`` is larger, i.e. the first n_train files of
    CelebA's numbering) and test the first ``n_test`` of 'test' (fewer when the folder
    holds fewer, with a :class:`DataWarning`); without it, test is the last ``n_test``
    images and train the first ``n_train`` (a folder with fewer images than both gives
    at most :data:`TEST_SHARE` of them to the test set, see ``_tail_split``).
    folder: like celeba without a partition file.

    With ``cache_dir`` the uint8 arrays are cached as ``.npy`` files named from the spec
    and returned as read-only memmaps; an entry with more images serves a smaller
    request. Progress goes to stderr when ``progress``.
    """
    require(isinstance(spec, DataSpec), f"spec={spec!r} must be a DataSpec", SpecError)
    size = spec.image_size
    if spec.source == "synthetic":
        assert spec.n_train is not None and spec.n_test is not None
        return (_synthetic_set(spec.n_train, size, spec.seed, 0, "synthetic-train", cache_dir, progress),
                _synthetic_set(spec.n_test, size, spec.seed, TEST_START, "synthetic-test",
                               cache_dir, progress))
    assert spec.path is not None
    if spec.source == "folder":
        everything = read_image_folder(spec.path, size, cache_dir=cache_dir, progress=progress)
        return _tail_split(everything, spec, f"image folder {spec.path!r}")
    root = _check_folder(spec.path, "CelebA folder")
    partition = _read_partition(root)   # parsed before the folder is listed, as always
    listing = _celeba_listing(root, partition)   # listed once for both splits
    table = listing.table
    if table is None:   # _read_celeba warns that there is no partition file
        everything = _read_celeba(listing, size, "all", None, cache_dir, progress, stacklevel=2)
        return _tail_split(everything, spec, f"CelebA folder {spec.path!r} (no partition file)")
    n_split_train = sum(1 for c in table.values() if c == 0)
    split = "train" if spec.n_train is None or spec.n_train <= n_split_train else "train+valid"
    train = _read_celeba(listing, size, split, spec.n_train, cache_dir, progress, stacklevel=2)
    test = _read_celeba(listing, size, "test", spec.n_test, cache_dir, progress, stacklevel=2)
    for part, want in ((train, spec.n_train), (test, spec.n_test)):
        if want is not None and len(part) < want:
            warnings.warn(f"CelebA {part.name}: n={want} asked, only {len(part)} usable images",
                          DataWarning, stacklevel=2)
    return train, test
