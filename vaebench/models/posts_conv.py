"""The posts' convolutional encoder and decoder (posts XI-XIII) as plain functional Keras 3
builders: the default entry, ``'posts-conv'``, of the architecture registry
(:mod:`vaebench.models.registry`). Conv2D with stride ``spec.stride``, optional
BatchNorm, LeakyReLU(0.3) (or ReLU), a Dense bottleneck (optional extra Dense before
mu/logvar, claim C5) and the mirrored Conv2DTranspose decoder with a sigmoid output."""
from __future__ import annotations

import keras
from keras import layers

from vaebench.config import ModelSpec, check_precision
from vaebench.errors import require


def check_image_size(spec: ModelSpec, image_size: int) -> int:
    """The side of the innermost feature map; raises if ``image_size`` does not fit."""
    factor = spec.downsampling()
    require(
        image_size % factor == 0 and image_size >= factor,
        f"image_size={image_size} must be a positive multiple of {factor} "
        f"(stride {spec.stride} ** {len(spec.filters)} convolutions); try {max(factor, image_size // factor * factor)}",
    )
    return image_size // factor


def _activation(spec: ModelSpec, name: str, dtype: str) -> layers.Layer:
    if spec.activation == "leaky_relu":
        return layers.LeakyReLU(negative_slope=0.3, name=name, dtype=dtype)
    return layers.ReLU(name=name, dtype=dtype)


def build_encoder(spec: ModelSpec, image_size: int, precision: str = "float32") -> keras.Model:
    """Conv2D stack -> Flatten -> [Dense(spec.dense)] -> (mu, logvar) for a VAE or z for an AE.

    Input: float images in [0, 1] of shape (image_size, image_size, 3). With
    ``precision='mixed_bfloat16'`` the hidden layers compute in bfloat16 and the heads
    (mu, logvar or z) in float32; the weights are float32 either way, so a model's
    weights load into either precision.
    """
    check_image_size(spec, image_size)
    dtype = check_precision(precision)
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = inputs
    for i, f in enumerate(spec.filters):
        x = layers.Conv2D(f, spec.kernel, strides=spec.stride, padding="same", name=f"conv{i}", dtype=dtype)(x)
        if spec.batchnorm:
            x = layers.BatchNormalization(name=f"bn{i}", dtype=dtype)(x)
        x = _activation(spec, f"act{i}", dtype)(x)
    x = layers.Flatten(name="flatten", dtype=dtype)(x)
    if spec.dense is not None:
        x = layers.Dense(spec.dense, name="bottleneck", dtype=dtype)(x)
        x = _activation(spec, "act_bottleneck", dtype)(x)
    if spec.kind == "vae":
        outputs = [
            layers.Dense(spec.z_dim, name="mu", dtype="float32")(x),
            layers.Dense(spec.z_dim, name="logvar", dtype="float32")(x),
        ]
    else:
        outputs = layers.Dense(spec.z_dim, name="z", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="encoder")


def build_decoder(spec: ModelSpec, image_size: int, precision: str = "float32") -> keras.Model:
    """Dense -> Reshape -> Conv2DTranspose stack (filters reversed, last one 3) -> sigmoid.

    The last (sigmoid) layer computes in float32 whatever ``precision`` says, so the
    reconstruction loss sees float32 probabilities.
    """
    side = check_image_size(spec, image_size)
    dtype = check_precision(precision)
    inputs = keras.Input((spec.z_dim,), name="z")
    x = layers.Dense(side * side * spec.filters[-1], name="dense", dtype=dtype)(inputs)
    x = layers.Reshape((side, side, spec.filters[-1]), name="reshape", dtype=dtype)(x)
    widths = list(reversed(spec.filters[:-1])) + [3]
    for i, f in enumerate(widths):
        last = i == len(widths) - 1
        x = layers.Conv2DTranspose(
            f,
            spec.kernel,
            strides=spec.stride,
            padding="same",
            activation="sigmoid" if last else None,
            name=f"deconv{i}",
            dtype="float32" if last else dtype,
        )(x)
        if not last:
            if spec.batchnorm:
                x = layers.BatchNormalization(name=f"bn{i}", dtype=dtype)(x)
            x = _activation(spec, f"act{i}", dtype)(x)
    return keras.Model(inputs, x, name="decoder")
