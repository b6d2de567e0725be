"""Guided backpropagation and guided Grad-CAM.

Guided backpropagation (Springenberg et al. 2015) lets a gradient through a ReLU only where the
forward input and the gradient coming back are both positive, which gives sharp, image-like
maps. It runs on a copy of the model whose ReLUs are swapped for a guided ReLU, so the user's
model is never modified; the copy is made once per model and cached.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from engine.attribution import AttributionResult, Target
from engine.attribution.cam import gradcam
from engine.attribution.common import cached, target_index
from engine.attribution.gradients import input_gradients_fn

Options = dict[str, float]


@tf.custom_gradient
def guided_relu(x: tf.Tensor):
    """ReLU forward; backward passes only positive gradients where the input was positive."""

    def backward(upstream: tf.Tensor) -> tf.Tensor:
        keep = tf.cast(upstream > 0, upstream.dtype) * tf.cast(x > 0, upstream.dtype)
        return upstream * keep

    return tf.nn.relu(x), backward


def _is_relu(function: object) -> bool:
    return getattr(function, "__name__", None) == "relu"


def _guided_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
    """A fresh copy of `layer` (same config) whose ReLU, if any, is the guided one."""
    config = layer.get_config()
    if isinstance(layer, keras.layers.ReLU):
        plain = (
            config.get("max_value") is None
            and not config.get("negative_slope")
            and not config.get("threshold")
        )
        if plain:
            return keras.layers.Activation(guided_relu, name=layer.name)
    elif isinstance(layer, keras.layers.Activation) and _is_relu(layer.activation):
        return keras.layers.Activation(guided_relu, name=layer.name)
    elif _is_relu(getattr(layer, "activation", None)):
        config["activation"] = guided_relu
    return layer.__class__.from_config(config)


def guided_model(model: keras.Model) -> keras.Model:
    """A copy of `model` with guided ReLUs and the same weights, through nested sub-models."""

    def build() -> keras.Model:
        copy = keras.models.clone_model(model, clone_function=_guided_layer, recursive=True)
        copy.set_weights(model.get_weights())
        return copy

    return cached(model, ("guided_model",), build)


def guided_gradients(model: keras.Model, image: np.ndarray, target: Target) -> np.ndarray:
    """The (H, W, C) guided-backpropagation gradient of the target's score."""
    copy = guided_model(model)
    step = input_gradients_fn(copy, target)
    _, grads = step(tf.constant(image[None]), target_index(target))
    return grads.numpy()[0]


def guided_backprop(
    model: keras.Model,
    image: np.ndarray,
    target: Target,
    *,
    layer: tuple[str, ...] | None = None,
    options: Options | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[float], None] = lambda fraction: None,
) -> AttributionResult:
    """Guided backpropagation: the largest positive part over colour channels; the signed RGB
    gradient is in details["rgb"]."""
    grads = guided_gradients(model, image, target)
    heatmap = np.maximum(grads, 0.0).max(axis=-1).astype(np.float32)
    return AttributionResult(heatmap=heatmap, signed=False, details={"rgb": grads})


def guided_gradcam(
    model: keras.Model,
    image: np.ndarray,
    target: Target,
    *,
    layer: tuple[str, ...] | None = None,
    options: Options | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[float], None] = lambda fraction: None,
) -> AttributionResult:
    """Guided Grad-CAM (Selvaraju et al. 2017): guided backpropagation times the upsampled
    Grad-CAM map, sharp like the first and class-specific like the second. `layer` is Grad-CAM's
    layer (default the last conv layer). details["rgb"] is the product per colour channel."""
    coarse = gradcam(model, image, target, layer=layer, options=options)
    grads = guided_gradients(model, image, target)
    product = grads * coarse.heatmap[..., None]
    heatmap = np.maximum(product, 0.0).max(axis=-1).astype(np.float32)
    return AttributionResult(
        heatmap=heatmap,
        signed=False,
        layer=coarse.layer,
        details={
            "rgb": product.astype(np.float32),
            "cam": coarse.details["cam"],
            "pooled_gradients": coarse.details["pooled_gradients"],
        },
    )
