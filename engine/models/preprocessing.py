"""Put a model's preprocessing in front of it as layers, so the rest of convscope sees a range.

Caffe-style and mean/std preprocessing are not a single [low, high] range: every channel has
its own offset (and Caffe swaps RGB to BGR). Rather than teach every part of convscope (image
conversion, parameterizations, attribution baselines) about per-channel affine maps, the engine
wraps the model: `Input (0-255 pixels) → frozen 1×1 convolution → the model`, the same trick the
zoo uses (engine/models/zoo.py). The wrapped model then simply takes pixels in [0, 255].
"""

from __future__ import annotations

import keras
import numpy as np

from engine.protocol.input_spec import CAFFE, CAFFE_MEAN_BGR, MEAN_STD, InputPreprocessing


def _affine(kernel: np.ndarray, bias: np.ndarray, name: str) -> keras.layers.Conv2D:
    """A frozen 1×1 convolution: out[c] = Σ_k kernel[k, c] · in[k] + bias[c]."""
    channels = kernel.shape[0]
    layer = keras.layers.Conv2D(channels, 1, name=name, trainable=False)
    layer.build((None, None, None, channels))
    weights = kernel.reshape(1, 1, channels, channels).astype(np.float32)
    layer.set_weights([weights, bias.astype(np.float32)])
    return layer


def front_layers(spec: InputPreprocessing, channels: int) -> list[keras.layers.Layer]:
    """Frozen layers mapping 0-255 pixels to what `spec` says; [] for a plain range."""
    spec.check_channels(channels)
    if spec.kind == CAFFE:
        kernel = np.zeros((3, 3))
        for out in range(3):
            kernel[2 - out, out] = 1.0  # output channel `out` (BGR) reads input channel 2 - out
        return [_affine(kernel, -np.array(CAFFE_MEAN_BGR), "preprocess_caffe")]
    if spec.kind == MEAN_STD:
        mean = np.broadcast_to(np.array(spec.mean), (channels,))
        std = np.broadcast_to(np.array(spec.std), (channels,))
        # pixels / 255 folded into the same convolution: one layer in the tree, not two.
        return [_affine(np.diag(1 / (255.0 * std)), -mean / std, "preprocess_mean_std")]
    return []


def with_preprocessing(model: keras.Model, spec: InputPreprocessing) -> keras.Model:
    """`model` itself for a plain range; otherwise a model taking 0-255 pixels that applies
    `spec` and then calls `model` (nested, so its layers keep their names in the tree).

    Raises ValueError when `spec` cannot apply (Caffe on a greyscale model, too many means).
    """
    if not spec.needs_layers:
        return model
    shape = tuple(model.inputs[0].shape[1:])
    layers = front_layers(spec, int(shape[-1]))
    inputs = keras.Input(shape, name="pixels")
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, model(x), name=model.name)
