"""vaebench.fingerprint: content fingerprints of image arrays and behaviour fingerprints of code."""
import hashlib

import numpy as np
import pytest

from vaebench import fingerprint as F
from vaebench.errors import SpecError


def test_images_fingerprint_is_blake2b_of_the_shape_and_chunk_digests(monkeypatch):
    images = np.arange(2 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 2, 3)
    monkeypatch.setattr(F, "CHUNK_BYTES", 12)          # one 2x2x3 image per chunk
    assert F.chunk_images(images.shape) == 1
    d0 = hashlib.blake2b(bytes(range(12)), digest_size=16).digest()
    d1 = hashlib.blake2b(bytes(range(12, 24)), digest_size=16).digest()
    expected = hashlib.blake2b(b"vaebench-images-1(2, 2, 2, 3)" + d0 + d1, digest_size=16).hexdigest()
    assert F.chunk_digests(images) == [d0.hex(), d1.hex()]
    assert F.images_fingerprint(images) == expected


def test_every_byte_counts_and_so_does_the_shape():
    images = np.zeros((5, 4, 4, 3), np.uint8)
    base = F.images_fingerprint(images)
    for i in range(5):                                  # one byte of any image changes it
        changed = images.copy()
        changed[i, 3, 3, 2] = 1
        assert F.images_fingerprint(changed) != base
    assert F.images_fingerprint(images.reshape(5, 4, 2, 6)) != base
    assert F.images_fingerprint(images[:4]) != base


def test_a_prefix_reuses_the_digests_of_whole_chunks(monkeypatch):
    monkeypatch.setattr(F, "CHUNK_BYTES", 3 * 4 * 4 * 3)   # three images a chunk
    images = np.random.default_rng(0).integers(0, 256, (10, 4, 4, 3), dtype=np.uint8)
    chunks = F.chunk_digests(images)
    assert len(chunks) == 4                                  # 3 + 3 + 3 + 1
    for n in range(1, 11):
        assert F.images_fingerprint(images[:n], chunks) == F.images_fingerprint(np.array(images[:n]))
    wrong = ["00" * 16] * 4                                  # the known digests are used as they are
    assert F.images_fingerprint(images[:6], wrong) != F.images_fingerprint(images[:6])


MODEL = '''"""A model."""
import math


def slope():
    """The slope."""
    return 0.3  # the posts' value


class Layer:
    """A layer."""

    size: int = 4
    """its size"""

    def call(self, x):
        return x * slope()
'''


def test_docstrings_comments_and_formatting_do_not_count():
    base = F.source_fingerprint(MODEL)
    reworded = (MODEL.replace('"""The slope."""', '"""The slope of the leaky ReLU, as in post XI."""')
                .replace("# the posts' value", "# a comment that says more").replace('"""its size"""', "")
                .replace('"""A layer."""\n', "") + "\n\n# trailing comment\n")
    assert F.source_fingerprint(reworded) == base
    assert F.source_fingerprint(MODEL.replace("return x * slope()", "return (x\n                * slope())")) == base


@pytest.mark.parametrize("old, new", [("0.3", "0.2"), ("x * slope()", "x + slope()"), ("size: int = 4", "size: int = 5"),
                                      ("import math", "import cmath")])
def test_a_change_of_behaviour_counts(old, new):
    assert F.source_fingerprint(MODEL.replace(old, new)) != F.source_fingerprint(MODEL)


def test_named_definitions_only():
    only_layer = F.source_fingerprint(MODEL, ["Layer"])
    assert F.source_fingerprint(MODEL.replace("import math", "import cmath"), ["Layer"]) == only_layer
    assert F.source_fingerprint(MODEL.replace("size: int = 4", "size: int = 5"), ["Layer"]) != only_layer
    with pytest.raises(SpecError, match=r"m.py defines no top-level \['Missing'\]"):
        F.source_fingerprint(MODEL, ["Layer", "Missing"], "m.py")


def test_code_fingerprint_covers_models_and_training(monkeypatch):
    real = F._source
    base = F.code_fingerprint()
    assert len(base) == 16

    def edited(module, change):
        def source(name):
            path, text = real(name)
            return (path, change(text)) if name == module else (path, text)
        return source

    try:
        for module, change, same in [
            ("vaebench.models", lambda t: t.replace("negative_slope=0.3", "negative_slope=0.2"), False),
            ("vaebench.training", lambda t: t + "\n_EXTRA_STEP = 1\n", False),
            ("vaebench.models", lambda t: t.replace('"""The posts\' convolutional', '"""The convolutional'), True),
            ("vaebench.training", lambda t: t + "\n# a comment\n", True),
            ("vaebench.config", lambda t: t.replace('"smoke": Scale(', '"smoke":  Scale(', 1), True),
        ]:
            assert change(real(module)[1]) != real(module)[1], (module, "the edit must apply")
            monkeypatch.setattr(F, "_source", edited(module, change))
            F.code_fingerprint.cache_clear()
            assert (F.code_fingerprint() == base) == same, module
    finally:
        monkeypatch.undo()
        F.code_fingerprint.cache_clear()
    assert F.code_fingerprint() == base
