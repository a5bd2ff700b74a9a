"""User code for the tests: a module written to a folder and imported from there, and the
source of a tiny encoder/decoder pair (the builders a user registers)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

#: a tiny MLP: Flatten -> Dense(HIDDEN) -> z or [mu, logvar]; Dense(S*S*3, sigmoid) -> images
TINY_BUILDERS = '''"""Tiny builders."""
import keras
from keras import layers

HIDDEN = 8


def encoder(spec, image_size, precision="float32"):
    """Flatten -> Dense(HIDDEN) -> the codes."""
    images = keras.Input((image_size, image_size, 3))
    x = layers.Dense(HIDDEN, dtype=precision)(layers.Flatten(dtype=precision)(images))
    if spec.kind == "vae":
        codes = [layers.Dense(spec.z_dim, dtype="float32")(x), layers.Dense(spec.z_dim, dtype="float32")(x)]
    else:
        codes = layers.Dense(spec.z_dim, dtype="float32")(x)
    return keras.Model(images, codes)


def decoder(spec, image_size, precision="float32"):
    """Dense(S * S * 3, sigmoid) -> images."""
    z = keras.Input((spec.z_dim,))
    x = layers.Dense(image_size * image_size * 3, activation="sigmoid", dtype="float32")(z)
    return keras.Model(z, layers.Reshape((image_size, image_size, 3))(x))
'''


def load_module(folder: Path, name: str, text: str, monkeypatch=None) -> ModuleType:
    """``text`` written to ``folder/name.py`` and imported from there as ``name`` (in
    ``sys.modules`` until the test ends, with ``monkeypatch``: a class's source is found
    through it)."""
    path = Path(folder) / f"{name}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    if monkeypatch is not None:
        monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module
