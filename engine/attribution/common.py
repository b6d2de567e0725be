"""Helpers shared by the attribution methods: what is scored, where CAM looks, map resizing.

Everything that differentiates runs inside `tf.function`s that are cached per model, layer and
kind of target, with the class or unit index passed as a tensor: TF 2.21's oneDNN kernels can
crash an eager tape through convolutions, and retracing on every click would be slow.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Hashable
from typing import TypeVar

import keras
import numpy as np
import tensorflow as tf

from engine.attribution import Target
from engine.models.surgery import (
    _is_softmax,
    find_layer,
    layer_output,
    linearized,
    outer_input_tensor,
    truncate,
)
from engine.protocol import LayerPath

# The layers Grad-CAM and friends treat as "a conv layer" (Conv1D/3D have no 2-D maps).
CONV_TYPES: tuple[type, ...] = (
    keras.layers.Conv2D,
    keras.layers.SeparableConv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.Conv2DTranspose,
)

# model -> {key: built object}; weak so a closed model takes its compiled functions with it.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

_Built = TypeVar("_Built")


def cached(model: keras.Model, key: Hashable, build: Callable[[], _Built]) -> _Built:
    """`build()` once per (model, key): compiled functions and cut models are reused."""
    per_model = _CACHE.setdefault(model, {})
    if key not in per_model:
        per_model[key] = build()
    return per_model[key]


def compile_fn(
    function: Callable, signature: list[tf.TensorSpec]
) -> tf.types.experimental.PolymorphicFunction:
    """`tf.function(function)` with a fixed signature, so it traces once for any batch size.

    TF counts retraces per Python code object, so the same closure compiled for several models
    would warn of "excessive retracing"; a partial has no code object and is counted alone.
    """
    return tf.function(functools.partial(function), input_signature=signature)


def target_kind(target: Target) -> tuple:
    """The part of a target that shapes the graph (its index is a tensor argument instead)."""
    if target.unit_layer is not None:
        return ("unit", tuple(target.unit_layer))
    return ("class",)


def target_index(target: Target) -> tf.Tensor:
    return tf.constant(int(target.index), tf.int32)


def final_path(model: keras.Model) -> tuple[str, ...]:
    """The path of the layer that produces the model's output, through nested sub-models."""
    path: tuple[str, ...] = ()
    current = model
    while isinstance(current, keras.Model) and current.layers:
        current = current.layers[-1]
        path += (current.name,)
    return path


def image_spec(model: keras.Model) -> tf.TensorSpec:
    """A batch of the model's input images, any batch size: one trace serves every batch."""
    shape = model.inputs[0].shape
    return tf.TensorSpec([None, *shape[1:]], tf.float32)


def image_range(image: np.ndarray, options: dict) -> tuple[float, float]:
    """The input range (low = "black", the baseline of several methods): options "low" and
    "high" when given (the model's range), else the image's own minimum and maximum."""
    low = float(options.get("low", np.min(image)))
    high = float(options.get("high", np.max(image)))
    if not high > low:
        high = low + 1.0  # a flat image: any scale will do
    return low, high


def reduce_to_score(values: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """(B, ..., C) layer output -> (B,) score: unit `index`, averaged over any positions."""
    picked = tf.gather(values, index, axis=-1)
    if len(picked.shape) > 1:
        picked = tf.reduce_mean(tf.reshape(picked, [tf.shape(picked)[0], -1]), axis=1)
    return picked


def _check_index(model: keras.Model, target: Target) -> None:
    if target.unit_layer is not None:
        size = find_layer(model, tuple(target.unit_layer)).output.shape[-1]
        what = f"layer {str(LayerPath(target.unit_layer))!r}"
    else:
        size = model.outputs[0].shape[-1]
        what = f"model {model.name!r} output"
    index = target.index
    if size is not None and not 0 <= int(index) < int(size):
        raise ValueError(f"index {index} is out of range: {what} has {size} units")


def _end_path(model: keras.Model, kind: tuple) -> tuple[str, ...]:
    """The layer whose output a target of `kind` reads."""
    return kind[1] if kind[0] == "unit" else final_path(model)


def score_fn(model: keras.Model, target: Target) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Cached `(images, index) -> (B,)` scores for targets of this kind."""
    _check_index(model, target)
    kind = target_kind(target)

    def build() -> Callable:
        # Softmax outputs are replaced by their logits, as in the optimization objectives.
        scored = linearized(model, _end_path(model, kind))

        def run(images: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
            return reduce_to_score(scored(images, training=False), index)

        return run

    return cached(model, ("score", kind), build)


def score(model: keras.Model, target: Target) -> Callable[[tf.Tensor], tf.Tensor]:
    """A callable images (B, H, W, C) -> (B,) scores: the class's logit (a softmax output is
    replaced by its logits), or the mean of channel `unit` of `unit_layer`."""
    run = score_fn(model, target)
    index = target_index(target)
    return lambda images: run(images, index)


def _is_conv(layer: keras.layers.Layer) -> bool:
    return isinstance(layer, CONV_TYPES)


def _rank(layer: keras.layers.Layer) -> int:
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):
        return 0


def _last_matching(model: keras.Model, accept: Callable) -> tuple[str, ...] | None:
    for layer in reversed(model.layers):
        if isinstance(layer, keras.Model) and layer.layers:
            inner = _last_matching(layer, accept)
            if inner is not None:
                return (layer.name, *inner)
        elif accept(layer):
            return (layer.name,)
    return None


def last_conv_layer(model: keras.Model) -> tuple[str, ...]:
    """The path of the last conv layer (searching nested sub-models), else the last layer with a
    4-D output; ValueError if the model has none."""
    path = _last_matching(model, _is_conv) or _last_matching(model, _has_feature_maps)
    if path is None:
        # The input itself is 4-D, but weighing "the pixels' own maps" is not Grad-CAM: refuse.
        raise ValueError(
            f"model {model.name!r} has no convolution or other layer with feature maps (a 4-D "
            "output) after its input, so the CAM methods have nothing to weigh; saliency, "
            "integrated gradients, occlusion or LIME explain its pixels directly"
        )
    return path


def _has_feature_maps(layer: keras.layers.Layer) -> bool:
    return _rank(layer) == 4 and not isinstance(layer, keras.layers.InputLayer)


def _end_tensor(model: keras.Model, end: tuple[str, ...] | None, before: bool):
    """The symbolic output (or input, `before`) of layer `end` in `model`'s own graph; None when
    `end` is inside a sub-model."""
    if end is None:
        return model.outputs[0]
    if len(end) > 1:
        return None
    layer = model.get_layer(end[0])
    return outer_input_tensor(model, layer) if before else layer_output(model, layer)


def _nested_end(end: tuple[str, ...] | None) -> tuple[str, ...]:
    """`end` where `_end_tensor` found no tensor for it: a path into a sub-model."""
    if end is None or len(end) < 2:
        raise ValueError(f"layer path {end!r} does not lead into a sub-model")
    return end


def _tapped(
    model: keras.Model, tap: tuple[str, ...], end: tuple[str, ...] | None, before: bool = False
) -> keras.Model:
    """A model from `model`'s input to [output of layer `tap`, output (or input, `before`) of
    layer `end` (None: the model's output)], built so both tensors live in ONE graph even when
    `tap` sits inside a nested sub-model, where `keras.Model(outer.input, inner_layer.output)`
    is "disconnected": the sub-model is re-entered layer by layer on the outer tensor."""
    model_input = model.inputs[0]
    end_symbolic = _end_tensor(model, end, before)
    if len(tap) == 1 and end_symbolic is not None:
        # Both in this model's own graph: any functional topology, skips included.
        tap_symbolic = layer_output(model, model.get_layer(tap[0]))
        return keras.Model(model_input, [tap_symbolic, end_symbolic])

    x = keras.Input(shape=model_input.shape[1:], dtype=model_input.dtype)
    head = model.get_layer(tap[0])
    feed = outer_input_tensor(model, head)
    into_head = x if feed is model_input else keras.Model(model_input, feed)(x)
    if end is not None and len(end) > 1 and end[0] == tap[0] and len(tap) > 1:
        tap_new, end_new = _tapped(head, tap[1:], end[1:], before)(into_head)
        return keras.Model(x, [tap_new, end_new])
    if len(tap) == 1:
        # The tap is here, the end inside a later sub-model: cut at that sub-model's input.
        nested = _nested_end(end)
        end_head = model.get_layer(nested[0])
        tap_symbolic = layer_output(model, head)
        end_feed = outer_input_tensor(model, end_head)
        tap_new, feed_new = keras.Model(model_input, [tap_symbolic, end_feed])(x)
        inner_end = truncate(end_head, nested[1:], before=before)
        return keras.Model(x, [tap_new, inner_end(feed_new)])

    # The tap is inside `head`: re-enter it up to the tap, then run the rest of this model from
    # `head`'s output (a model that starts at an intermediate tensor).
    tap_new, head_new = _tapped(head, tap[1:], None)(into_head)
    head_symbolic = layer_output(model, head)
    if end_symbolic is None:
        nested = _nested_end(end)
        end_head = model.get_layer(nested[0])
        stop = outer_input_tensor(model, end_head)
        middle = head_new if stop is head_symbolic else _rest(model, head, stop)(head_new)
        end_new = truncate(end_head, nested[1:], before=before)(middle)
    elif end_symbolic is head_symbolic:
        end_new = head_new
    else:
        end_new = _rest(model, head, end_symbolic)(head_new)
    return keras.Model(x, [tap_new, end_new])


def _rest(model: keras.Model, head: keras.layers.Layer, stop) -> keras.Model:
    """`model` from `head`'s output to the symbolic tensor `stop`."""
    try:
        return keras.Model(layer_output(model, head), stop)
    except ValueError as error:
        raise ValueError(
            f"cannot follow model {model.name!r} on from its sub-model {head.name!r}: the rest "
            f"also depends on tensors that bypass it ({error})"
        ) from error


def _logit_head(layer: keras.layers.Layer) -> tuple[bool, Callable[[tf.Tensor], tf.Tensor]]:
    """(read the layer's input?, what turns that into logits) for a layer that may end in a
    softmax: its linear copy for a Dense/Conv with a softmax activation, nothing for a Softmax
    layer, and the layer's own output otherwise."""
    activation = getattr(layer, "activation", None)
    if isinstance(layer, keras.layers.Softmax) or (
        isinstance(layer, keras.layers.Activation) and _is_softmax(activation)
    ):
        return True, lambda values: values
    if activation is not None and _is_softmax(activation):
        config = layer.get_config()
        config["activation"] = "linear"
        linear = layer.__class__.from_config(config)
        linear.build(layer.input.shape)
        linear.set_weights(layer.get_weights())
        return True, lambda values: linear(values)
    return False, lambda values: values


def activations_and_score(
    model: keras.Model, layer: tuple[str, ...], target: Target
) -> Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """A callable images -> (activations at `layer`, (B,) score), computed in one graph so the
    score's gradient with respect to the activations exists, also inside nested base models."""
    run = activations_and_score_fn(model, layer, target)
    index = target_index(target)
    return lambda images: run(images, index)


def activations_and_score_fn(
    model: keras.Model, layer: tuple[str, ...], target: Target
) -> Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """Cached `(images, index) -> (activations, scores)`."""
    layer = tuple(layer)
    find_layer(model, layer)  # a clear error for a wrong name
    _check_index(model, target)
    kind = target_kind(target)

    def build() -> Callable:
        end = _end_path(model, kind)
        before, to_logits = _logit_head(find_layer(model, end))
        both = _tapped(model, layer, None if kind[0] == "class" and not before else end, before)

        def run(images: tf.Tensor, index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            activations, out = both(images, training=False)
            return activations, reduce_to_score(to_logits(out), index)

        return run

    return cached(model, ("activations", layer, kind), build)


def resize_map(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """A (h, w) map resized bilinearly to (height, width), float32."""
    values = np.asarray(values, np.float32)
    if values.ndim != 2:
        raise ValueError(f"resize_map takes a 2-D map, got shape {values.shape}")
    if values.shape == (height, width):
        return values.copy()
    resized = tf.image.resize(values[None, :, :, None], (height, width), method="bilinear")
    return resized.numpy()[0, :, :, 0].astype(np.float32)
