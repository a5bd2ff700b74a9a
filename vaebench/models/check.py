"""The public check of an architecture: :func:`check_architecture` builds a registered
encoder/decoder pair, holds it to the builders' contract (:func:`vaebench.models.registry.check_contract`:
shapes and dtypes) and checks the decoder's output range: images in [0, 1], which the
loss (binary cross-entropy) needs. A decoder without a final sigmoid gives values outside
[0, 1] for large codes and fails here, naming the architecture, before anything trains.

Kept apart from the registry (which builds every model): the store key fingerprints the
code that builds models, and this check changes no weight.
"""
from __future__ import annotations

import numpy as np

from vaebench.config import ModelSpec
from vaebench.errors import SpecError, require

__all__ = ["check_architecture", "check_output_range"]

#: how far from the origin the probe codes reach (a trained code's radius is about √z_dim)
PROBE_SCALE = 10.0
_CHECKED: set[tuple] = set()


def probe_codes(z_dim: int) -> np.ndarray:
    """Four fixed codes ``(4, z_dim)``: zeros, a signed pattern of radius about
    :data:`PROBE_SCALE`·√z_dim, its negative, and all ones × :data:`PROBE_SCALE`."""
    pattern = PROBE_SCALE * np.sin(np.arange(1, z_dim + 1, dtype=np.float64) * 1.7)
    return np.stack([np.zeros(z_dim), pattern, -pattern, np.full(z_dim, PROBE_SCALE)]).astype(np.float32)


def check_output_range(name: str, decoder, z_dim: int) -> None:
    """Raise :class:`SpecError` unless ``decoder`` maps the :func:`probe_codes` to finite
    values in [0, 1]."""
    from keras import ops

    images = ops.convert_to_numpy(decoder(ops.convert_to_tensor(probe_codes(z_dim)), training=False))
    low, high = float(np.min(images)), float(np.max(images))
    require(bool(np.all(np.isfinite(images))) and low >= 0.0 and high <= 1.0,
            f"architecture {name!r}: the decoder must give images in [0, 1] (the loss is a binary cross-entropy); "
            f"on codes of radius up to {PROBE_SCALE:g}·√z_dim it gives values in [{low:.4g}, {high:.4g}]. "
            "End the decoder with a sigmoid (layers.Dense(..., activation='sigmoid') or "
            "layers.Activation('sigmoid', dtype='float32'))", SpecError)


def check_architecture(name: str, spec: ModelSpec | None = None, image_size: int = 32,
                       precision: str = "float32") -> None:
    """Build the architecture ``name`` for ``spec`` (default: a VAE and an AE of z_dim 8)
    at ``image_size`` and check it: the contract of :mod:`vaebench.models.registry` and a
    decoder output in [0, 1]. Raises :class:`SpecError` naming the architecture and what
    to change; checked once per architecture code, spec and size."""
    from vaebench.models.registry import get_architecture

    arch = get_architecture(name)
    specs = [spec] if spec is not None else [ModelSpec(kind="vae", z_dim=8, architecture=name),
                                              ModelSpec(kind="ae", z_dim=8, fact=0.0, architecture=name)]
    for s in specs:
        require(s.architecture == name, f"spec.architecture={s.architecture!r} is not {name!r}; pass a spec of "
                                        f"the architecture checked", SpecError)
        key = (name, arch.fingerprint, s, int(image_size), precision)
        if key in _CHECKED:
            continue
        _, decoder = arch.build(s, int(image_size), precision)
        check_output_range(name, decoder, s.z_dim)
        _CHECKED.add(key)
