"""Frozen specs for data, model and training.

A spec is plain data: it can be hashed (its hash names the cached model in the store),
written to JSON and read back. The scales that choose specs are in
:mod:`vaebench.config.scales`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
import re
from dataclasses import dataclass, replace
from typing import Any

from vaebench.errors import require

DATA_SOURCES = ("synthetic", "celeba", "folder")
MODEL_KINDS = ("ae", "vae")
#: the posts' convolutional encoder/decoder: the default entry of the architecture
#: registry (:mod:`vaebench.models.registry`)
DEFAULT_ARCHITECTURE = "posts-conv"
#: what an architecture name may look like (it is part of store entry names)
ARCHITECTURE_NAME = re.compile(r"[a-z][a-z0-9_]*(-[a-z0-9_]+)*")
ACTIVATIONS = ("leaky_relu", "relu")
#: compute precisions of training. ``mixed_bfloat16``: variables, loss and the output heads
#: (mu, logvar, z, the sigmoid image) in float32, convolutions and hidden Dense layers in
#: bfloat16. ``mixed_float16`` is left out on purpose: it needs loss scaling, whose
#: skipped steps would couple models trained together (see ``training.Pack``), and
#: bfloat16 is what the GPUs this runs on (Ampere, Hopper) compute fastest anyway.
PRECISIONS = ("float32", "mixed_bfloat16")
#: pixels of the posts' 96 x 96 images: the image size at which ``fact`` means what the posts say
POSTS_PIXELS = 96 * 96


def check_precision(precision: str) -> str:
    require(precision in PRECISIONS, f"precision={precision!r} is not a training precision; use one of {PRECISIONS}")
    return precision


def check_architecture_name(name: Any) -> str:
    """``name`` when it can name an architecture (lower case letters, digits, ``_`` and
    single ``-`` between them, e.g. ``posts-conv``, ``mlp``), else :class:`SpecError`."""
    require(isinstance(name, str) and len(name) <= 40 and ARCHITECTURE_NAME.fullmatch(name) is not None,
            f"architecture={name!r} is not an architecture name: use lower case letters, digits, '_' and single "
            "'-' between them, starting with a letter, at most 40 characters (e.g. 'mlp', 'my-conv')")
    return name


def _positive_int(name: str, value: Any) -> None:
    require(isinstance(value, int) and not isinstance(value, bool) and value > 0,
            f"{name}={value!r} must be a positive integer")


def check_count(name: str, value: Any, allow_zero: bool = True) -> int:
    """``value`` as an int when it is a whole number >= 0 (>= 1 without ``allow_zero``;
    numpy integers welcome), else :class:`SpecError` naming it."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    require(ok, f"{name}={value!r} must be an integer >= {0 if allow_zero else 1}")
    return int(value)


def check_image_size(image_size: Any) -> int:
    """``image_size`` as an int when it is a positive multiple of 16, else :class:`SpecError`."""
    require(isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool) and image_size > 0,
            f"image_size={image_size!r} must be a positive integer (a multiple of 16)")
    require(image_size % 16 == 0,
            f"image_size={image_size} must be divisible by 16 (four stride-2 convolutions); try 32, 64 or 96")
    return int(image_size)


@dataclass(frozen=True)
class DataSpec:
    """Which images: the source, their square size and how many.

    ``source='synthetic'`` is the embedded procedural face generator (no download);
    ``'celeba'`` reads ``path`` in the official CelebA layout; ``'folder'`` reads any
    folder of images. ``n_train``/``n_test`` of ``None`` mean "all there is" for the
    readers; the synthetic source needs both.
    """

    source: str = "synthetic"
    image_size: int = 96
    n_train: int | None = 170_000
    n_test: int | None = 2_000
    seed: int = 0
    path: str | None = None

    def __post_init__(self) -> None:
        require(self.source in DATA_SOURCES,
                f"source={self.source!r} is not a data source; use one of {DATA_SOURCES}")
        _positive_int("image_size", self.image_size)
        check_image_size(self.image_size)
        for name in ("n_train", "n_test"):
            value = getattr(self, name)
            if value is not None:
                _positive_int(name, value)
        if self.source == "synthetic":
            require(self.n_train is not None and self.n_test is not None,
                    "the synthetic source needs n_train and n_test set")
        else:
            require(self.path is not None,
                    f"source={self.source!r} needs path= (the folder holding the images)")


@dataclass(frozen=True)
class ModelSpec:
    """The posts' convolutional AE/VAE, parameterised.

    ``architecture`` names the functions that build the encoder and decoder in the
    registry of :mod:`vaebench.models.registry`: ``'posts-conv'`` (the default) is the
    posts' convolutional stack, which the fields ``filters``, ``kernel``, ``stride``,
    ``batchnorm``, ``dense`` and ``activation`` describe; a user's architecture (say
    ``'mlp'``, registered in a conftest.py) reads the fields it wants from the spec. The
    loss (``kind``, ``fact``, ``eps_clip``, ``kl_reference_pixels``) is the same for all.
    The name is checked for its form here and looked up when a model is built or keyed
    (where an unknown name is a :class:`SpecError` listing the registered ones).

    ``dense`` is the width of the optional extra Dense layer between Flatten and
    mu/logvar (post XII); ``fact`` the KL weight; ``eps_clip`` clips the sampling
    epsilon to ``|eps| <= eps_clip`` (post XIII); both only for ``kind='vae'``.

    ``kl_reference_pixels`` keeps the posts' balance of KL to reconstruction at every
    image size: the reconstruction loss sums over the H x W pixels, so at 32 x 32 it is
    9 times smaller than at the posts' 96 x 96 and the same ``fact`` would weigh the KL
    9 times more. The model therefore applies the weight ``fact * H * W /
    kl_reference_pixels`` (:meth:`kl_weight`): ``fact`` always means "the posts' fact at
    96 x 96" (9216 pixels). ``None`` applies ``fact`` as it is.
    """

    kind: str = "vae"
    z_dim: int = 256
    filters: tuple[int, ...] = (32, 64, 128, 256)
    kernel: int = 3
    stride: int = 2
    batchnorm: bool = True
    dense: int | None = None
    fact: float = 1e-5
    eps_clip: float | None = None
    activation: str = "leaky_relu"
    kl_reference_pixels: int | None = POSTS_PIXELS
    architecture: str = DEFAULT_ARCHITECTURE

    def __post_init__(self) -> None:
        check_architecture_name(self.architecture)
        require(self.kind in MODEL_KINDS,
                f"kind={self.kind!r} is not a model kind; use one of {MODEL_KINDS}")
        _positive_int("z_dim", self.z_dim)
        require(len(self.filters) > 0, "filters=() needs at least one convolution")
        for f in self.filters:
            _positive_int("filters[i]", f)
        object.__setattr__(self, "filters", tuple(int(f) for f in self.filters))
        _positive_int("kernel", self.kernel)
        _positive_int("stride", self.stride)
        if self.dense is not None:
            _positive_int("dense", self.dense)
        require(self.activation in ACTIVATIONS,
                f"activation={self.activation!r}; use one of {ACTIVATIONS}")
        if self.kl_reference_pixels is not None:
            _positive_int("kl_reference_pixels", self.kl_reference_pixels)
        if self.kind == "vae":
            require(isinstance(self.fact, (int, float)) and math.isfinite(self.fact) and self.fact >= 0,
                    f"fact={self.fact} must be a finite number >= 0 (the KL weight)")
            require(self.eps_clip is None or (isinstance(self.eps_clip, (int, float)) and math.isfinite(self.eps_clip)
                                              and self.eps_clip > 0),
                    f"eps_clip={self.eps_clip} must be a finite number > 0 or None (no clipping; an infinite "
                    "clip is the unclipped model: use None)")
        else:
            require(self.eps_clip is None and self.fact == 0,
                    f"an AE has no KL term: use fact=0 and eps_clip=None (got fact={self.fact}, "
                    f"eps_clip={self.eps_clip})")

    def kl_weight(self, image_size: int) -> float:
        """The weight of the KL term the model applies at ``image_size`` (see the class doc)."""
        if self.kind != "vae":
            return 0.0
        if self.kl_reference_pixels is None:
            return float(self.fact)
        return float(self.fact) * image_size * image_size / self.kl_reference_pixels

    def label_parts(self) -> list[tuple[str, str]]:
        """What tells this model from others of its kind, as (field, value) texts in the order
        labels and store entry names give them: the z_dim, and the fact, the eps clip and the
        Dense width where they apply."""
        parts = [("z", f"{self.z_dim}")]
        if self.kind == "vae":
            parts.append(("fact", f"{self.fact:g}"))
            if self.eps_clip is not None:
                parts.append(("clip", f"{self.eps_clip:g}"))
        if self.dense is not None:
            parts.append(("dense", f"{self.dense}"))
        return parts

    def downsampling(self) -> int:
        """The factor by which the encoder shrinks each image side."""
        return self.stride ** len(self.filters)


#: training seeds lie in [0, SEED_LIMIT): numpy's legacy seeding and the backends take 32 bits
SEED_LIMIT = 2**32


@dataclass(frozen=True)
class TrainSpec:
    """Adam with the posts' defaults; ``seed`` fixes initialisation, shuffling and epsilon.

    ``precision`` is the compute precision (:data:`PRECISIONS`); the posts trained in
    float32, and the method check M1 measures whether ``mixed_bfloat16`` changes the
    claims' statistics before anyone relies on it.
    """

    epochs: int = 24
    batch_size: int = 128
    learning_rate: float = 5e-4
    seed: int = 0
    probe_size: int = 512
    precision: str = "float32"

    def __post_init__(self) -> None:
        _positive_int("epochs", self.epochs)
        _positive_int("batch_size", self.batch_size)
        require(isinstance(self.learning_rate, (int, float)) and math.isfinite(self.learning_rate)
                and self.learning_rate > 0, f"learning_rate={self.learning_rate} must be a finite number > 0")
        require(isinstance(self.seed, int) and 0 <= self.seed < SEED_LIMIT,
                f"seed={self.seed!r} must be an int in [0, 2**32) (the backends seed with 32 bits)")
        _positive_int("probe_size", self.probe_size)
        check_precision(self.precision)

    def pack_key(self) -> "TrainSpec":
        """What models trained together must share: everything but the seed and the precision."""
        return replace(self, seed=0, precision="float32")


def spec_to_dict(spec: Any) -> dict:
    """A spec (or a tuple/dict of specs) as plain JSON-able data."""
    if dataclasses.is_dataclass(spec):
        return {f.name: spec_to_dict(getattr(spec, f.name)) for f in dataclasses.fields(spec)}
    if isinstance(spec, (list, tuple)):
        return [spec_to_dict(s) for s in spec]
    if isinstance(spec, dict):
        return {str(k): spec_to_dict(v) for k, v in spec.items()}
    return spec


#: the fields of :class:`ModelSpec` that describe the posts' convolutional stack (``'posts-conv'``) only
POSTS_CONV_FIELDS = ("filters", "kernel", "stride", "batchnorm", "dense", "activation")


def recorded_model_spec(spec: ModelSpec) -> dict:
    """``spec`` as ``spec.json``, a plan and the report record it: :func:`spec_to_dict`, but
    for a user's architecture the fields of the posts' stack (:data:`POSTS_CONV_FIELDS`) are
    not among its fields: those left at their defaults are left out, the others (the
    posts' AE has no BatchNorm, say) go under ``"not_applicable"``. They do not describe
    its model (the architecture may still read them). :func:`model_spec_from_record`
    restores the spec exactly, so its store key is unchanged."""
    out = spec_to_dict(spec)
    if spec.architecture == DEFAULT_ARCHITECTURE:
        return out
    defaults = ModelSpec(architecture=spec.architecture)
    aside = {k: out.pop(k) for k in POSTS_CONV_FIELDS}
    aside = {k: v for k, v in aside.items() if getattr(spec, k) != getattr(defaults, k)}
    return {**out, "not_applicable": aside} if aside else out


def model_spec_from_record(data: dict) -> ModelSpec:
    """The :class:`ModelSpec` of a :func:`recorded_model_spec` (or a :func:`spec_to_dict`) record."""
    data = dict(data)
    aside = data.pop("not_applicable", None) or {}
    require(isinstance(aside, dict), f"not_applicable={aside!r} must be an object of ModelSpec fields")
    return spec_from_dict(ModelSpec, {**aside, **data})


def spec_from_dict(cls: type, data: dict) -> Any:
    """Inverse of :func:`spec_to_dict` for one spec class."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    require(not unknown, f"unknown fields {sorted(unknown)} for {cls.__name__}; known: {sorted(names)}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return cls(**kwargs)


def canonical_json(obj: Any) -> str:
    return json.dumps(spec_to_dict(obj), sort_keys=True, separators=(",", ":"))


def spec_hash(*parts: Any, length: int = 16) -> str:
    """A stable hex digest of specs and extra strings (key of the model store)."""
    return hashlib.sha256(canonical_json(list(parts)).encode()).hexdigest()[:length]
