"""Compute only the channels an objective reads: a truncated model whose last layer is sliced.

A channel objective on a Conv2D (or a unit of a Dense layer) reads a handful of that layer's
outputs, yet the full layer computes all of them: on VGG16 block3_conv2 the last conv is about a
quarter of the work of a step. `sliced_head` splits an extractor into the trunk before its last
layer and that layer applied with its kernel and bias gathered to a few channels. Which channels
are a `tf.Variable`, so switching filters never retraces a compiled step; the sliced output's
channel k is the original's channel `channels[k]`, bit for bit the same arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from engine.fast_assign import put


class SlicedHead:
    """`trunk` followed by `layer` computing only the channels in `self.channels`."""

    def __init__(
        self,
        trunk: Callable[..., tf.Tensor] | None,
        layer: keras.layers.Layer,
        width: int,
        compute_dtype: str = "float32",
    ) -> None:
        self.trunk = trunk  # None when the layer reads the model's input directly
        self.layer = layer
        self.width = width
        self.compute_dtype = compute_dtype
        self.channels = tf.Variable(np.zeros(width, np.int32), trainable=False, name="channels")

    def set_channels(self, channels: np.ndarray) -> None:
        """Compute these `width` channels of the layer (repeats allowed), in this order."""
        channels = np.asarray(channels, np.int32)
        if channels.shape != (self.width,):
            raise ValueError(f"expected {self.width} channels, got shape {channels.shape}")
        put(self.channels, channels)

    def __call__(self, inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
        x = inputs if self.trunk is None else self.trunk(inputs, training=training)
        x = tf.cast(x, self.compute_dtype)
        layer = self.layer
        kernel = tf.cast(tf.gather(layer.kernel, self.channels, axis=-1), self.compute_dtype)
        if isinstance(layer, keras.layers.Conv2D):
            y = keras.ops.conv(
                x,
                kernel,
                strides=layer.strides,
                padding=layer.padding,
                data_format=layer.data_format,
                dilation_rate=layer.dilation_rate,
            )
        else:
            y = keras.ops.matmul(x, kernel)
        if layer.use_bias:
            bias = tf.cast(tf.gather(layer.bias, self.channels), self.compute_dtype)
            y = y + bias
        if layer.activation is not None:
            y = layer.activation(y)
        return tf.cast(y, tf.float32)


def sliceable_layer(extractor: keras.Model) -> tuple[keras.layers.Layer, object] | None:
    """(last layer, its input tensor) when `extractor` ends in a Conv2D or Dense layer whose
    channels can be computed apart (no groups, a per-channel activation, channels last); else
    None, and the caller computes the whole layer."""
    if len(extractor.outputs) != 1:
        return None
    history = getattr(extractor.outputs[0], "_keras_history", None)
    if history is None:
        return None
    layer = history.operation
    if type(layer) not in (keras.layers.Conv2D, keras.layers.Dense):
        return None
    if isinstance(layer, keras.layers.Conv2D) and (
        layer.groups != 1 or layer.data_format != "channels_last"
    ):
        return None
    activation = getattr(layer.activation, "__name__", "")
    if "softmax" in activation or getattr(layer, "lora_enabled", False):
        return None
    node = layer._inbound_nodes[history.node_index]
    if len(node.input_tensors) != 1:
        return None
    return layer, node.input_tensors[0]


def sliced_head(
    extractor: keras.Model,
    width: int,
    trunk_wrap: Callable[[keras.Model], Callable[..., tf.Tensor]] | None = None,
    compute_dtype: str = "float32",
) -> SlicedHead | None:
    """`extractor` with its last layer computing `width` channels, or None where it cannot be
    sliced (see `sliceable_layer`). `trunk_wrap` may turn the trunk into another precision."""
    if width < 1:
        raise ValueError(f"a slice needs at least 1 channel, got width {width}")
    found = sliceable_layer(extractor)
    if found is None:
        return None
    layer, feed = found
    if int(layer.kernel.shape[-1]) <= width:
        return None  # nothing to save
    trunk = None
    if feed is not extractor.inputs[0]:
        trunk = keras.Model(extractor.inputs[0], feed, name=f"{extractor.name}_trunk")
        if trunk_wrap is not None:
            trunk = trunk_wrap(trunk)
    return SlicedHead(trunk, layer, width, compute_dtype)
