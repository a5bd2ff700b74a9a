"""vaebench.data.fingerprint and vaebench.models.code_fingerprint: content fingerprints of image
arrays and behaviour fingerprints of code."""

import functools
import hashlib
from pathlib import Path

import numpy as np
import pytest
from user_code import load_module

from vaebench.data import fingerprint as DF
from vaebench.errors import SpecError
from vaebench.models import code_fingerprint as F


def test_images_fingerprint_is_blake2b_of_the_shape_and_chunk_digests(monkeypatch):
    images = np.arange(2 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 2, 3)
    monkeypatch.setattr(DF, "CHUNK_BYTES", 12)  # one 2x2x3 image per chunk
    assert DF.chunk_images(images.shape) == 1
    d0 = hashlib.blake2b(bytes(range(12)), digest_size=16).digest()
    d1 = hashlib.blake2b(bytes(range(12, 24)), digest_size=16).digest()
    expected = hashlib.blake2b(b"vaebench-images-1(2, 2, 2, 3)" + d0 + d1, digest_size=16).hexdigest()
    assert DF.chunk_digests(images) == [d0.hex(), d1.hex()]
    assert DF.images_fingerprint(images) == expected


def test_every_byte_counts_and_so_does_the_shape():
    images = np.zeros((5, 4, 4, 3), np.uint8)
    base = DF.images_fingerprint(images)
    for i in range(5):  # one byte of any image changes it
        changed = images.copy()
        changed[i, 3, 3, 2] = 1
        assert DF.images_fingerprint(changed) != base
    assert DF.images_fingerprint(images.reshape(5, 4, 2, 6)) != base
    assert DF.images_fingerprint(images[:4]) != base


def test_a_prefix_reuses_the_digests_of_whole_chunks(monkeypatch):
    monkeypatch.setattr(DF, "CHUNK_BYTES", 3 * 4 * 4 * 3)  # three images a chunk
    images = np.random.default_rng(0).integers(0, 256, (10, 4, 4, 3), dtype=np.uint8)
    chunks = DF.chunk_digests(images)
    assert len(chunks) == 4  # 3 + 3 + 3 + 1
    for n in range(1, 11):
        assert DF.images_fingerprint(images[:n], chunks) == DF.images_fingerprint(np.array(images[:n]))
    wrong = ["00" * 16] * 4  # the known digests are used as they are
    assert DF.images_fingerprint(images[:6], wrong) != DF.images_fingerprint(images[:6])


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
    reworded = (
        MODEL.replace('"""The slope."""', '"""The slope of the leaky ReLU, as in post XI."""')
        .replace("# the posts' value", "# a comment that says more")
        .replace('"""its size"""', "")
        .replace('"""A layer."""\n', "")
        + "\n\n# trailing comment\n"
    )
    assert F.source_fingerprint(reworded) == base
    assert F.source_fingerprint(MODEL.replace("return x * slope()", "return (x\n                * slope())")) == base


@pytest.mark.parametrize(
    "old, new",
    [
        ("0.3", "0.2"),
        ("x * slope()", "x + slope()"),
        ("size: int = 4", "size: int = 5"),
        ("import math", "import cmath"),
    ],
)
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
            ("vaebench.models.posts_conv", lambda t: t.replace("negative_slope=0.3", "negative_slope=0.2"), False),
            ("vaebench.train.trainer", lambda t: t + "\n_EXTRA_STEP = 1\n", False),
            ("vaebench.models.vae", lambda t: t.replace('"""The posts\' convolutional', '"""The convolutional'), True),
            ("vaebench.train.trainer", lambda t: t + "\n# a comment\n", True),
            ("vaebench.config.specs", lambda t: t.replace("class DataSpec:", "class DataSpec :", 1), True),
        ]:
            assert change(real(module)[1]) != real(module)[1], (module, "the edit must apply")
            monkeypatch.setattr(F, "_source", edited(module, change))
            F.code_fingerprint.cache_clear()
            assert (F.code_fingerprint() == base) == same, module
    finally:
        monkeypatch.undo()
        F.code_fingerprint.cache_clear()
    assert F.code_fingerprint() == base


BUILDERS = '''"""A user's builders."""
import math

HIDDEN = 256
UNUSED = 1


def _width(spec):
    """A helper the encoder calls."""
    return HIDDEN // 2


def encoder(spec, image_size, precision="float32"):
    """The encoder."""
    return _width(spec) + math.floor(image_size)  # a comment


def other(x):
    return x + UNUSED


def test_something():
    assert other(1) == 2
'''


def _module(tmp_path, text, name, monkeypatch=None):
    return load_module(tmp_path, name, text, monkeypatch)


def _encoder_fp(tmp_path, text, name):
    return F.object_fingerprint(_module(tmp_path, text, name).encoder)


def test_a_function_counts_with_what_it_uses_of_its_module(tmp_path):
    base = _encoder_fp(tmp_path, BUILDERS, "b0")
    same = [
        BUILDERS.replace('"""The encoder."""', '"""The encoder, reworded."""').replace("# a comment", "# more"),
        BUILDERS.replace("UNUSED = 1", "UNUSED = 2"),  # not used by the encoder
        BUILDERS.replace("return x + UNUSED", "return x - UNUSED"),
        BUILDERS.replace("assert other(1) == 2", "assert other(1) == 3"),  # the tests beside it
        BUILDERS.replace("import math", "import math\nimport os"),
    ]
    changed = [
        BUILDERS.replace("HIDDEN = 256", "HIDDEN = 128"),  # a constant it reads
        BUILDERS.replace("HIDDEN // 2", "HIDDEN // 4"),  # a helper it calls
        BUILDERS.replace('precision="float32"', 'precision="mixed_bfloat16"'),
        BUILDERS.replace("HIDDEN = 256", "HIDDEN = 256\nHIDDEN = 64"),
    ]  # assigned again
    for i, text in enumerate(same):
        assert _encoder_fp(tmp_path, text, f"s{i}") == base, text
    for i, text in enumerate(changed):
        assert _encoder_fp(tmp_path, text, f"c{i}") != base, text


def test_modules_and_classes_count_too(tmp_path, monkeypatch):
    block = "\n\nclass Block:\n    size = HIDDEN\n"
    module = _module(tmp_path, BUILDERS + block, "m0", monkeypatch)
    edited = _module(tmp_path, BUILDERS.replace("UNUSED = 1", "UNUSED = 2") + block, "m1", monkeypatch)
    wider = _module(tmp_path, BUILDERS.replace("HIDDEN = 256", "HIDDEN = 512") + block, "m2", monkeypatch)
    assert F.object_fingerprint(module) != F.object_fingerprint(edited)  # the whole module
    assert F.object_fingerprint(module.Block) == F.object_fingerprint(edited.Block)  # the class and HIDDEN
    assert F.object_fingerprint(wider.Block) != F.object_fingerprint(module.Block)


def nested_builder():
    def inner(spec, image_size, precision):
        return None

    return inner


@pytest.mark.parametrize(
    "obj", [lambda spec, size, precision: None, nested_builder(), print, 3, functools.partial(DF.combine)]
)
def test_what_cannot_be_fingerprinted_is_an_error(obj):
    with pytest.raises(
        SpecError,
        match=r"encoder=.* must be a function \(or class\) defined at the top level of a "
        "module",
    ):
        F.object_fingerprint(obj, "encoder")


def test_code_without_a_source_file_is_an_error():
    namespace = {}
    exec("def encoder(spec, image_size, precision):\n    return None\n", namespace)
    with pytest.raises(
        SpecError,
        match=r"encoder=<function encoder .*its source file cannot be read.*define it in a "
        r"\.py file",
    ):
        F.object_fingerprint(namespace["encoder"], "encoder")


# ---------------------------------------------------------------------------- the store key's code


@pytest.fixture
def edited(monkeypatch, request):
    """``edit(module, change)``: make the code fingerprint see ``module``'s source changed."""
    real = F._source
    edits: dict = {}

    def source(name):
        path, text = real(name)
        return (path, edits[name](text)) if name in edits else (path, text)

    def edit(module, change):
        path, text = real(module)
        assert change(text) != text, "the edit must apply"
        edits[module] = change
        F.code_fingerprint.cache_clear()

    monkeypatch.setattr(F, "_source", source)
    request.addfinalizer(F.code_fingerprint.cache_clear)
    F.code_fingerprint.cache_clear()
    return edit


def test_a_helper_training_imports_from_another_package_is_in_the_key(edited):
    """The trainer records probe_radius_peak through latent.geometry.histogram_peak: its bin
    width shapes the stored history, so it must change the key (issue 23, item 5)."""
    base = F.code_fingerprint()
    edited("vaebench.latent.geometry", lambda t: t.replace("def histogram_peak(r: Any, bin_width: float = 0.5)",
                                                           "def histogram_peak(r: Any, bin_width: float = 0.25)"))
    assert F.code_fingerprint() != base


def test_what_training_does_not_use_is_not_in_the_key(edited):
    base = F.code_fingerprint()
    edited("vaebench.latent.geometry", lambda t: t.replace("sd_threshold: float = 1.5", "sd_threshold: float = 2.5"))
    assert F.code_fingerprint() == base          # broad_axes: used by claims, never by training
    norm = 'np.einsum("ij,ij->i", arr, arr)'
    edited("vaebench.latent.geometry", lambda t: t.replace(norm, norm + " * 1.0"))
    assert F.code_fingerprint() != base          # radii: used by the trainer's probe


def test_every_module_of_the_train_package_is_a_root_wherever_it_is_split():
    import vaebench.train

    on_disk = {f"vaebench.train.{p.stem}" for p in Path(vaebench.train.__path__[0]).glob("*.py")
               if p.stem != "__init__"}
    assert on_disk and on_disk <= set(F.root_modules())
    parts = F.code_parts()
    assert all(m in parts for m in on_disk)      # imported whole: every line of them counts
    assert any(k.startswith("vaebench.latent.geometry:") and "histogram_peak" in k for k in parts)


def test_imports_are_followed_lazily_relatively_and_through_reexports():
    tree = F.ast.parse("import os\nfrom . import sibling\nfrom ..up import thing as t\n"
                       "def f():\n    from vaebench.latent import geometry\n    import vaebench.errors\n")
    found = F._imported(tree, "vaebench.train.loop", False)
    assert found == {"sibling": [("vaebench.train", "sibling")], "t": [("vaebench.up", "thing")],
                     "geometry": [("vaebench.latent", "geometry")], "vaebench": [("vaebench.errors", None)]}
    whole, picked = F._walk_code(["vaebench.models.posts_conv"])
    assert "vaebench.models.posts_conv" in whole
    assert "vaebench.config.specs" in picked     # ModelSpec, imported from the vaebench.config package
    assert "vaebench.config" not in whole and "vaebench.config.scales" not in whole


def test_the_framework_version_is_in_the_key(monkeypatch):
    from vaebench import backend
    from vaebench.store import modelstore as S

    assert S.framework() == f"{backend.name()} {backend.versions()[backend.name()]}"
    assert S.key_parts("f" * 32, S.ModelSpec())["framework"] == S.framework()
    monkeypatch.setattr(S.backend, "versions", lambda: {backend.name(): "0.0.1"})
    assert S.key_parts("f" * 32, S.ModelSpec())["framework"].endswith(" 0.0.1")
