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
from engine.attribution.tapping import tapped
from engine.models.surgery import (
    _is_softmax,
    find_layer,
    linearized,
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
    No autograph: the methods branch on Python values only, and converting their code to graph
    code costs more than tracing it (as for the visualization's step, engine/optvis/program.py).
    """
    return tf.function(functools.partial(function), input_signature=signature, autograph=False)


def target_kind(target: Target) -> tuple:
    """The part of a target that shapes the graph (its index is a tensor argument instead)."""
    if target.unit_layer is not None:
        return ("unit", tuple(target.unit_layer))
    return ("class", target.score, target.position)


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


def reduce_to_score(
    values: tf.Tensor, index: tf.Tensor, position: tuple[int, int] | None = None
) -> tf.Tensor:
    """(B, ..., C) layer output -> (B,) score: unit `index`, averaged over any positions, or
    taken at `position` (row, column) of a (B, H, W, C) map."""
    picked = tf.gather(values, index, axis=-1)
    if position is not None and len(picked.shape) == 3:
        return picked[:, position[0], position[1]]
    if len(picked.shape) > 1:
        picked = tf.reduce_mean(tf.reshape(picked, [tf.shape(picked)[0], -1]), axis=1)
    return picked


def _check_index(model: keras.Model, target: Target) -> None:
    if target.unit_layer is not None:
        size = find_layer(model, tuple(target.unit_layer)).output.shape[-1]
        what = f"layer {str(LayerPath(target.unit_layer))!r}"
    else:
        shape = model.outputs[0].shape
        size = shape[-1]
        what = f"model {model.name!r} output"
        _check_position(target.position, shape, what)
    index = target.index
    if size is not None and not 0 <= int(index) < int(size):
        raise ValueError(f"index {index} is out of range: {what} has {size} units")


def _check_position(position: tuple[int, int] | None, shape: tuple, what: str) -> None:
    if position is None:
        return
    if len(shape) != 4:
        raise ValueError(f"output position {position} needs a map output; {what} is {shape}")
    rows, columns = shape[1], shape[2]
    if (rows is not None and not position[0] < rows) or (
        columns is not None and not position[1] < columns
    ):
        raise ValueError(f"output position {position} is outside {what}'s {rows}x{columns} map")


def _probabilities(model: keras.Model) -> Callable[[tf.Tensor], tf.Tensor]:
    """What turns the model's output into probabilities: nothing when it ends in a softmax or
    sigmoid already, else a softmax over its classes (the last axis)."""
    from engine.models.introspect import output_scores

    if output_scores(model) == "logits":
        return lambda values: tf.nn.softmax(values, axis=-1)
    return lambda values: values


def _end_path(model: keras.Model, kind: tuple) -> tuple[str, ...]:
    """The layer whose output a target of `kind` reads."""
    return kind[1] if kind[0] == "unit" else final_path(model)


def score_fn(model: keras.Model, target: Target) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Cached `(images, index) -> (B,)` scores for targets of this kind."""
    _check_index(model, target)
    kind = target_kind(target)

    def build() -> Callable:
        position = kind[2] if kind[0] == "class" else None
        if kind[0] == "class" and kind[1] == "probability":
            to_probabilities = _probabilities(model)

            def probability(images: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
                values = to_probabilities(model(images, training=False))
                return reduce_to_score(values, index, position)

            return probability
        # Softmax outputs are replaced by their logits, as in the optimization objectives.
        scored = linearized(model, _end_path(model, kind))

        def run(images: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
            return reduce_to_score(scored(images, training=False), index, position)

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
    4-D output; ValueError if the model has none. The output layer itself is skipped: in a
    fully convolutional model (a map of class scores) it holds the scores, not evidence."""
    final = final_path(model)
    path = _last_matching(model, lambda layer: _is_conv(layer) and _not_at(final, layer))
    path = path or _last_matching(
        model, lambda layer: _has_feature_maps(layer) and _not_at(final, layer)
    )
    if path is None:
        # The input itself is 4-D, but weighing "the pixels' own maps" is not Grad-CAM: refuse.
        raise ValueError(
            f"model {model.name!r} has no convolution or other layer with feature maps (a 4-D "
            "output) after its input, so the CAM methods have nothing to weigh; saliency, "
            "integrated gradients, occlusion or LIME explain its pixels directly"
        )
    return path


def _not_at(final: tuple[str, ...], layer: keras.layers.Layer) -> bool:
    """Whether `layer` is not the model's output layer (the last name of `final`)."""
    return not final or layer.name != final[-1]


def _has_feature_maps(layer: keras.layers.Layer) -> bool:
    return _rank(layer) == 4 and not isinstance(layer, keras.layers.InputLayer)


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
        position = kind[2] if kind[0] == "class" else None
        if kind[0] == "class" and kind[1] == "probability":
            before, to_logits = False, _probabilities(model)
        else:
            before, to_logits = _logit_head(find_layer(model, end))
        both = tapped(model, layer, None if kind[0] == "class" and not before else end, before)

        def run(images: tf.Tensor, index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            activations, out = both(images, training=False)
            return activations, reduce_to_score(to_logits(out), index, position)

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
