"""Deconvnet (Zeiler & Fergus 2014): project a unit's activations back to pixel space.

The forward pass is re-run layer by layer to the target layer, recording the "switches" (the
argmax position of every max-pooling window). Going back down, each max-pool is undone by putting
each value where the maximum came from, each ReLU by rectifying, and each convolution by filtering
with its transposed kernel. Unlike a gradient, the backward ReLU looks at the signal coming down,
not at the forward activations; the switches are the only trace of the image below the target.

This only makes sense for a plain chain of conv, max-pool and ReLU layers, so other layers on the
path (BatchNormalization, Dense, average pooling, branches) raise a ValueError that names them.
A class target is projected from a conv layer (`layer`, default the last one): its channels are
weighted by their Grad-CAM importance (the mean gradient of the class score), negatives dropped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import keras
import numpy as np
import tensorflow as tf

from engine.attribution import AttributionResult, Cancelled, Target
from engine.attribution.common import (
    activations_and_score_fn,
    cached,
    last_conv_layer,
    target_kind,
)
from engine.models.surgery import find_layer, truncate
from engine.protocol import LayerPath

# Layers that are the identity at inference: stepped over both ways.
_IDENTITY_TYPES: tuple[type, ...] = (
    keras.layers.InputLayer,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
)


def _activation_name(layer: keras.layers.Layer) -> str:
    activation = getattr(layer, "activation", None)
    return str(getattr(activation, "__name__", activation) or "linear").lower()


def _describe(layer: keras.layers.Layer) -> str:
    return f"{type(layer).__name__} {layer.name!r}"


def _check_supported(layer: keras.layers.Layer) -> None:
    """ValueError naming `layer` unless the deconvnet knows how to run it backwards."""
    what = _describe(layer)
    if isinstance(layer, _IDENTITY_TYPES):
        return
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise ValueError(f"deconvnet supports channels_last layers only, not {what}")
    if type(layer) is keras.layers.Conv2D:  # subclasses (Conv2DTranspose, ...) differ backwards
        if layer.groups != 1:
            raise ValueError(f"deconvnet does not support grouped convolutions ({what})")
        if _activation_name(layer) not in ("relu", "linear"):
            activation = _activation_name(layer)
            raise ValueError(f"deconvnet cannot invert activation {activation!r} of {what}")
        return
    if type(layer) is keras.layers.MaxPooling2D:
        return
    if type(layer) is keras.layers.ReLU:
        if layer.max_value is not None or layer.negative_slope != 0 or layer.threshold != 0:
            raise ValueError(f"deconvnet supports plain ReLUs only, not a parametrized {what}")
        return
    if type(layer) is keras.layers.Activation and _activation_name(layer) in ("relu", "linear"):
        return
    raise ValueError(
        f"deconvnet cannot run {what} backwards: only Conv2D, MaxPooling2D and ReLU layers may "
        "lie between the input and the explained layer"
    )


def _chain(model: keras.Model, path: tuple[str, ...]) -> list[keras.layers.Layer]:
    """The layers from the input to the layer at `path` (all of `model` for an empty path), with
    nested sub-models (a Sequential base) flattened into the chain."""
    layers: list[keras.layers.Layer] = []
    for layer in model.layers:
        if path and layer.name == path[0]:
            if len(path) == 1:
                return [*layers, layer]
            return layers + _chain(layer, path[1:])
        layers += _chain(layer, ()) if isinstance(layer, keras.Model) else [layer]
    if path:
        raise ValueError(f"no layer named {path[0]!r} in {model.name!r}")
    return layers


def _max_pool_args(layer: keras.layers.MaxPooling2D) -> dict:
    return {
        "ksize": [1, *layer.pool_size, 1],
        "strides": [1, *layer.strides, 1],
        "padding": layer.padding.upper(),
    }


# What the way back needs of one layer: its input shape and, for a max-pool, the switches; None
# for an identity layer.
_Record = tuple[tf.Tensor, tf.Tensor | None] | None


def _forward(layers: list, images: tf.Tensor) -> tuple[tf.Tensor, list[_Record]]:
    """The chain's output, and per layer the switches (max-pools) or the input shape (convs)."""
    records: list[_Record] = []
    x = images
    for layer in layers:
        if isinstance(layer, keras.layers.MaxPooling2D):
            # The pooled values equal Keras's; the argmax (flat index over the whole batch) is
            # what the way back needs.
            pooled, switches = tf.nn.max_pool_with_argmax(
                x, **_max_pool_args(layer), include_batch_in_index=True
            )
            records.append((tf.shape(x), switches))
            x = pooled
        elif isinstance(layer, _IDENTITY_TYPES):
            records.append(None)
        else:
            records.append((tf.shape(x), None))
            x = layer(x, training=False)
    return x, records


def _unpool(signal: tf.Tensor, shape: tf.Tensor, switches: tf.Tensor) -> tf.Tensor:
    """Each pooled value goes back to where its maximum was; overlapping windows add up."""
    flat = tf.scatter_nd(
        tf.reshape(switches, [-1, 1]),
        tf.reshape(signal, [-1]),
        tf.cast(tf.reshape(tf.reduce_prod(shape), [1]), tf.int64),
    )
    return tf.reshape(flat, shape)


def _backward(layers: list, records: list[_Record], signal: tf.Tensor) -> tf.Tensor:
    for layer, record in zip(reversed(layers), reversed(records), strict=True):
        if record is None:
            continue
        shape, switches = record
        if switches is not None:
            signal = _unpool(signal, shape, switches)
        elif isinstance(layer, keras.layers.Conv2D):
            if _activation_name(layer) == "relu":
                signal = tf.nn.relu(signal)
            # The transpose of the convolution; the bias is left out, as in Zeiler & Fergus.
            signal = tf.nn.conv2d_transpose(
                signal,
                tf.convert_to_tensor(layer.kernel),
                output_shape=shape,
                strides=[1, *layer.strides, 1],
                padding=layer.padding.upper(),
                dilations=[1, *layer.dilation_rate, 1],
            )
        elif _activation_name(layer) == "relu" or isinstance(layer, keras.layers.ReLU):
            signal = tf.nn.relu(signal)
    return signal


def _compiled(model: keras.Model, path: tuple[str, ...]) -> tuple[Callable, Callable]:
    """Cached compiled (forward, backward) for the chain to `path`; both run inside tf.function
    because conv2d_transpose is the kernel that TF 2.21's oneDNN mishandles eagerly. Partials,
    not lambdas: TF counts traces per code object, and one lambda compiled for many layers would
    be reported as excessive retracing."""

    def build() -> tuple[Callable, Callable]:
        layers = _chain(model, path)
        for layer in layers:
            _check_supported(layer)
        return (
            tf.function(functools.partial(_forward, layers), autograph=False),
            tf.function(functools.partial(_backward, layers), autograph=False),
        )

    return cached(model, ("deconvnet", path), build)


def _score_gradients(run: Callable, images: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """d score / d activations, for `run`: (images, index) -> (activations, scores)."""
    with tf.GradientTape() as tape:
        activations, scores = run(images, index)
    return tape.gradient(scores, activations)


def _channel_weights(
    model: keras.Model, path: tuple[str, ...], target: Target, images: tf.Tensor, top: np.ndarray
) -> np.ndarray:
    """One-hot on the unit for an inner unit; for a class, each channel's Grad-CAM importance
    (mean gradient of the class score, through a compiled tape) with negatives dropped."""
    channels = top.shape[-1]
    weights = np.zeros(channels, np.float32)
    if target.unit_layer is not None:
        unit = int(target.index)
        if not 0 <= unit < channels:
            raise ValueError(f"unit {unit} is out of range: {path[-1]!r} has {channels}")
        weights[unit] = 1.0
        return weights

    def build() -> Callable:
        run = activations_and_score_fn(model, path, target)
        return tf.function(functools.partial(_score_gradients, run), autograph=False)

    gradients = cached(model, ("deconvnet-class-weights", path, target_kind(target)), build)
    grads = gradients(images, tf.constant(int(target.index), tf.int32)).numpy()[0]
    weights = np.maximum(grads.mean(axis=(0, 1)), 0.0).astype(np.float32)
    if not weights.any():
        # No channel speaks for the class: show what the most active channel sees instead.
        weights[int(np.argmax(top.mean(axis=(0, 1))))] = 1.0
    return weights


def _top_signal(
    activations: np.ndarray, weights: np.ndarray, keep_top: bool
) -> tuple[np.ndarray, tuple[int, int] | None]:
    """The activations scaled per channel; with `keep_top`, only the strongest position kept."""
    signal = activations * weights[None, None, :]
    if not keep_top:
        return signal, None
    y, x = np.unravel_index(int(np.argmax(signal.sum(axis=-1))), signal.shape[:2])
    kept = np.zeros_like(signal)
    kept[y, x] = signal[y, x]
    return kept, (int(y), int(x))


def _strongest(weights: np.ndarray, activations: np.ndarray) -> int:
    """The channel contributing most to the signal (the highest weight when none fires)."""
    contribution = weights * activations.mean(axis=(0, 1))
    return int(np.argmax(contribution if contribution.max() > 0 else weights))


def _for_display(projection: np.ndarray) -> np.ndarray:
    """(H, W, 3) in [0, 1] with zero at mid-grey, as the deconvnet paper shows projections."""
    peak = float(np.abs(projection).max())
    scaled = 0.5 + projection / (2.0 * peak) if peak > 0 else np.full_like(projection, 0.5)
    if scaled.shape[-1] != 3:
        scaled = np.repeat(scaled.mean(axis=-1, keepdims=True), 3, axis=-1)
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)


def deconvnet(
    model: keras.Model,
    image: np.ndarray,
    target: Target,
    *,
    layer: tuple[str, ...] | None = None,
    options: Mapping[str, float] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[float], None] = lambda fraction: None,
) -> AttributionResult:
    """Zeiler & Fergus's projection of a unit (or a class's conv evidence) down to the pixels.

    Inner-unit targets project channel `unit` of `unit_layer` (a conv, pool or ReLU layer); a
    class target projects the conv layer `layer` (default: the last conv layer) with channels
    weighted by Grad-CAM importance. Option "top" (default 0): when non-zero, keep only the
    strongest position of the top layer, as the paper does for its figures.

    The heatmap is the largest |projection| over channels; details hold "projection" (H, W, C),
    "rgb" (H, W, 3, mid-grey = 0, for display), "channel_weights", "channel" (the strongest) and
    "position" (the kept position with "top", else None).
    """
    options = dict(options or {})
    if should_stop():
        raise Cancelled()
    if target.unit_layer is not None:
        path = tuple(target.unit_layer)
    else:
        path = tuple(layer) if layer is not None else last_conv_layer(model)
    shape = tuple(find_layer(model, path).output.shape)
    if len(shape) != 4:
        raise ValueError(
            f"deconvnet explains units of conv layers; layer {str(LayerPath(path))!r} has "
            f"output shape {shape}, expected 4-D: pick a conv or pooling layer"
        )
    forward, backward = _compiled(model, path)
    images = tf.convert_to_tensor(image[None], tf.float32)
    top, records = _replay(model, path, forward, images)

    weights = _channel_weights(model, path, target, images, top)
    progress(0.5)
    if should_stop():
        raise Cancelled()

    signal, position = _top_signal(top, weights, bool(options.get("top", 0)))
    projection = backward(records, tf.convert_to_tensor(signal[None], tf.float32)).numpy()[0]
    progress(1.0)
    return AttributionResult(
        heatmap=np.abs(projection).max(axis=-1).astype(np.float32),
        signed=False,
        layer=path,
        details={
            "projection": projection.astype(np.float32),
            "rgb": _for_display(projection),
            "channel_weights": weights,
            "channel": _strongest(weights, top),
            "position": position,
        },
    )


def _replay(
    model: keras.Model, path: tuple[str, ...], forward: Callable, images: tf.Tensor
) -> tuple[np.ndarray, list]:
    """The compiled forward pass, checked against the model: the flattened layer list differs
    from what the model computes when it branches (a skip connection, two towers)."""
    error = (
        f"deconvnet needs a plain chain of layers up to {str(LayerPath(path))!r}; "
        f"model {model.name!r} branches or merges on the way"
    )
    try:
        top, records = forward(images)
    except (ValueError, TypeError, tf.errors.InvalidArgumentError) as failure:
        # A side branch listed before the target gets fed the wrong tensor and fails to build.
        raise ValueError(error) from failure
    replayed = top.numpy()[0]
    trunk = cached(model, ("deconvnet-trunk", path), lambda: truncate(model, path))
    expected = np.asarray(trunk(images, training=False))[0]
    tolerance = 1e-4 + 1e-3 * float(np.abs(expected).max())
    if expected.shape != replayed.shape or np.abs(expected - replayed).max() > tolerance:
        raise ValueError(error)
    return replayed, records
