"""The registry of model architectures: which functions build a model's encoder and decoder.

``ModelSpec.architecture`` names an entry, and :func:`vaebench.models.vae.build_model` builds
the encoder and decoder with that entry's functions, so a user's model trains, packs and
is stored exactly like the posts' (``trained``, the model store, ``training.Pack``).

- ``'posts-conv'`` (the default, :data:`vaebench.config.specs.DEFAULT_ARCHITECTURE`): the posts'
  convolutional encoder and decoder, :func:`vaebench.models.posts_conv.build_encoder` and
  :func:`~vaebench.models.posts_conv.build_decoder`, registered here.
- a user's: ``register_architecture("mlp", encoder=fn, decoder=fn)`` in a conftest.py, a
  claim module or a plugin; or an entry point of the group ``vaebench.architectures``,
  named like the architecture, whose object (a module, say) has the attributes
  ``encoder`` and ``decoder`` (and, if wanted, ``code``); it is loaded the first time its
  name is asked for::

      [project.entry-points."vaebench.architectures"]
      mlp = "mypackage.mlp"

The builders' contract, checked each time a model is built (one forward pass of zeros):
``encoder(spec, image_size, precision)`` and ``decoder(spec, image_size, precision)``
return a ``keras.Model`` (a functional one: ``keras.Model(inputs, outputs)``) where

- the encoder maps images ``(batch, image_size, image_size, 3)`` in [0, 1] to
  ``[mu, logvar]``, each ``(batch, z_dim)``, for ``spec.kind == 'vae'``, and to one
  ``z`` ``(batch, z_dim)`` for ``'ae'``;
- the decoder maps ``z`` ``(batch, z_dim)`` to images ``(batch, image_size, image_size, 3)``
  in [0, 1] (a sigmoid last);
- ``precision`` (``'float32'`` or ``'mixed_bfloat16'``) is the Keras dtype policy of the
  hidden layers; every output (mu, logvar, z, the image) is float32, as in the posts'
  builders, so that the loss computes in float32.

Keras layers and ``keras.ops`` only: the model then runs on TensorFlow, JAX and PyTorch.

Store key: the fingerprint of an architecture's code (:func:`fingerprint`) is part of the
key of every model built with it. It is the hash of the syntax trees, docstrings removed,
of the encoder and decoder functions together with every top-level function, class and
assignment of their modules they use by name, transitively, and of the ``code=`` objects
(:func:`vaebench.models.code_fingerprint.object_fingerprint`). A change of the builders, of a helper
they call or of a constant they read is a new key, so the model is trained again; a
docstring, a comment or the rest of the module (its tests, its fixtures) is not. Code the
builders import from other modules counts only when registered as ``code=``. The
fingerprint is taken when the architecture is registered. Registering a name again with
other code replaces it, with a warning; the default cannot be replaced.
"""
from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Callable, Sequence

import keras
from keras import ops

from vaebench.config import DEFAULT_ARCHITECTURE, ModelSpec, check_architecture_name, check_precision
from vaebench.data.fingerprint import combine
from vaebench.errors import SpecError, require
from vaebench.models.code_fingerprint import object_fingerprint
from vaebench.models.posts_conv import build_decoder, build_encoder

#: the entry point group of architectures that packages provide
GROUP = "vaebench.architectures"


@dataclass(frozen=True)
class Architecture:
    """A registered encoder/decoder pair, the fingerprint of its code and where it came from."""

    name: str
    encoder: Callable[..., keras.Model]
    decoder: Callable[..., keras.Model]
    code: tuple = ()
    fingerprint: str = ""
    origin: str = ""

    def build(self, spec: ModelSpec, image_size: int, precision: str = "float32") -> tuple[keras.Model, keras.Model]:
        """The encoder and decoder of ``spec`` for ``image_size`` images, checked against the contract."""
        check_precision(precision)
        encoder = self.encoder(spec, image_size, precision)
        decoder = self.decoder(spec, image_size, precision)
        check_contract(self.name, spec, image_size, encoder, decoder)
        return encoder, decoder


_REGISTRY: dict[str, Architecture] = {}


def register_architecture(name: str, encoder: Callable[..., keras.Model], decoder: Callable[..., keras.Model],
                          code: Any | Sequence[Any] = ()) -> Architecture:
    """Register ``encoder`` and ``decoder`` (``fn(spec, image_size, precision) -> keras.Model``,
    see the module docstring) as the architecture ``name``; ``code``: modules, classes or
    functions from elsewhere that they use, to put in the fingerprint. Returns the entry."""
    check_architecture_name(name)
    for role, fn in (("encoder", encoder), ("decoder", decoder)):
        require(callable(fn), f"architecture {name!r}: {role}={fn!r} is not callable; pass a function "
                              f"{role}(spec, image_size, precision) that returns a keras.Model")
    code = tuple(code) if isinstance(code, (list, tuple)) else (code,)
    parts = [object_fingerprint(encoder, f"architecture {name!r}: encoder"),
             object_fingerprint(decoder, f"architecture {name!r}: decoder"),
             *(object_fingerprint(c, f"architecture {name!r}: code") for c in code)]
    entry = Architecture(name, encoder, decoder, code, combine(*parts)[:16], inspect.getsourcefile(encoder) or "")
    old = _REGISTRY.get(name)
    if old is not None and old.fingerprint != entry.fingerprint:
        require(name != DEFAULT_ARCHITECTURE, f"architecture {name!r} is vaebench's own (the posts' convolutional "
                "encoder and decoder); register yours under another name, e.g. 'my-conv'")
        warnings.warn(f"architecture {name!r} registered again with other code (from {entry.origin}; it was from "
                      f"{old.origin}): the new one is used, and its models are stored under their own keys",
                      RuntimeWarning, stacklevel=2)
    _REGISTRY[name] = entry
    return entry


def _entry_points() -> list:
    return list(entry_points(group=GROUP))


def _load_entry_point(name: str) -> None:
    """Register the architecture ``name`` from its entry point, if a package declares one."""
    for ep in _entry_points():
        if ep.name != name:
            continue
        where = f"the entry point {ep.name} = {ep.value!r} of the group {GROUP!r}"
        try:
            obj = ep.load()
        except Exception as e:  # whatever the package's import raises, say which entry point
            raise SpecError(f"{where} does not load ({type(e).__name__}: {e}); fix or uninstall the package "
                            "that declares it") from e
        if name in _REGISTRY:   # its module registered itself when imported
            return
        encoder, decoder = getattr(obj, "encoder", None), getattr(obj, "decoder", None)
        require(callable(encoder) and callable(decoder),
                f"{where} loads {obj!r}, which has no callable encoder and decoder; point it at a module that "
                "defines encoder(spec, image_size, precision) and decoder(spec, image_size, precision)")
        register_architecture(name, encoder, decoder, getattr(obj, "code", ()))
        return


def names() -> list[str]:
    """Every architecture name that can be asked for: the registered ones and those of
    entry points not loaded yet."""
    return sorted(set(_REGISTRY) | {ep.name for ep in _entry_points()})


def get_architecture(name: str) -> Architecture:
    """The architecture called ``name`` (loading its entry point the first time); an
    unknown name is a :class:`SpecError` that lists the registered ones."""
    if name not in _REGISTRY:
        _load_entry_point(name)
    require(name in _REGISTRY,
            f"architecture={name!r} is not registered; registered: {', '.join(map(repr, names()))}. Register it "
            f"with vaebench.models.register_architecture({name!r}, encoder=..., decoder=...) in a conftest.py "
            f"(or the claim module), or through an entry point of the group {GROUP!r}")
    return _REGISTRY[name]


def fingerprint(name: str) -> str:
    """The fingerprint of the code of the architecture ``name`` (part of the store key)."""
    return get_architecture(name).fingerprint


def _shapes(out: Any) -> str:
    if isinstance(out, (list, tuple)):
        return "[" + ", ".join(_shapes(o) for o in out) + "]"
    if isinstance(out, dict):
        return "{" + ", ".join(f"{k!r}: {_shapes(v)}" for k, v in out.items()) + "}"
    shape = getattr(out, "shape", None)
    if shape is None:
        return type(out).__name__
    return f"{tuple(shape)} {keras.backend.standardize_dtype(out.dtype)}"


def _is_tensor(out: Any, shape: tuple) -> bool:
    return (not isinstance(out, (list, tuple, dict)) and getattr(out, "shape", None) is not None
            and tuple(out.shape) == shape and keras.backend.standardize_dtype(out.dtype) == "float32")


def check_contract(name: str, spec: ModelSpec, image_size: int, encoder: Any, decoder: Any) -> None:
    """Raise :class:`SpecError` unless ``encoder`` and ``decoder`` keep the contract of the
    module docstring for ``spec`` at ``image_size`` (checked on one image of zeros)."""
    where = f"architecture {name!r}"
    for role, model in (("encoder", encoder), ("decoder", decoder)):
        require(isinstance(model, keras.Model), f"{where}: {role}(spec, {image_size}, precision) returned "
                f"{type(model).__name__}, not a keras.Model; return keras.Model(inputs, outputs)")
    size, z = image_size, spec.z_dim
    codes = encoder(ops.zeros((1, size, size, 3), "float32"), training=False)
    if spec.kind == "vae":
        ok, want = (isinstance(codes, (list, tuple)) and len(codes) == 2
                    and all(_is_tensor(c, (1, z)) for c in codes)), f"[mu, logvar], each (1, {z}) float32"
    else:
        ok, want = _is_tensor(codes, (1, z)), f"one z (1, {z}) float32"
    require(ok, f"{where}: for kind={spec.kind!r}, z_dim={z} the encoder must map images (1, {size}, {size}, 3) "
                f"to {want}; it gives {_shapes(codes)}")
    images = decoder(ops.zeros((1, z), "float32"), training=False)
    require(_is_tensor(images, (1, size, size, 3)),
            f"{where}: the decoder must map z (1, {z}) to images (1, {size}, {size}, 3) float32; it gives "
            f"{_shapes(images)}")


register_architecture(DEFAULT_ARCHITECTURE, encoder=build_encoder, decoder=build_decoder)
