"""A Keras layer's settings as plain values for the Properties pane."""

from __future__ import annotations

import keras

from engine.models.receptive_field import read_pair
from engine.protocol import LayerProperties, ReceptiveField


def layer_properties(layer: keras.layers.Layer, field: ReceptiveField | None) -> LayerProperties:
    """What `layer` is set to (None for what its type has not), with its receptive field."""
    is_pool = isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D))
    groups = getattr(layer, "groups", None)
    return LayerProperties(
        kernel_size=None if is_pool else read_pair(getattr(layer, "kernel_size", None)),
        strides=read_pair(getattr(layer, "strides", None)),
        padding=_text(getattr(layer, "padding", None)),
        dilation=read_pair(getattr(layer, "dilation_rate", None)),
        activation=_activation(layer),
        groups=groups if isinstance(groups, int) else None,
        depth_multiplier=_int(getattr(layer, "depth_multiplier", None)),
        pool_size=read_pair(getattr(layer, "pool_size", None)) if is_pool else None,
        trainable_params=_count(layer.trainable_weights) if layer.built else 0,
        non_trainable_params=_count(layer.non_trainable_weights) if layer.built else 0,
        receptive_field=field,
    )


def _activation(layer: keras.layers.Layer) -> str | None:
    """The activation's name: a layer's `activation` setting, or the layer itself (ReLU)."""
    activation = getattr(layer, "activation", None)
    if activation is None:
        if isinstance(layer, (keras.layers.ReLU, keras.layers.Softmax, keras.layers.LeakyReLU)):
            return type(layer).__name__.lower()
        return None
    name = getattr(activation, "__name__", None) or getattr(activation, "name", None)
    return str(name) if name else type(activation).__name__


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _count(weights: list[keras.Variable]) -> int:
    total = 0
    for weight in weights:
        size = 1
        for side in weight.shape:
            size *= int(side)
        total += size
    return total
