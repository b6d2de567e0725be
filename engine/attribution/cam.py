"""Class activation maps: where in a conv layer's grid the evidence for a target lies.

Grad-CAM and Grad-CAM++ weight the channels of a conv layer by the target score's gradients,
Score-CAM by how much each channel, used as a mask on the image, raises the score, and the
original CAM by the final Dense layer's weights (for a GAP head only). Every map is made at the
layer's resolution (kept in `details["cam"]`) and upsampled bilinearly to the image's size.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from engine.attribution import AttributionResult, Cancelled, Target
from engine.attribution.common import (
    CONV_TYPES,
    _rank,
    activations_and_score_fn,
    cached,
    compile_fn,
    final_path,
    image_range,
    image_spec,
    last_conv_layer,
    resize_map,
    score_fn,
    target_index,
    target_kind,
)
from engine.models.surgery import find_layer, outer_input_tensor
from engine.protocol import LayerPath

Options = dict[str, float]


def cam_layer(model: keras.Model, target: Target, layer: tuple[str, ...] | None) -> tuple:
    """The layer a CAM method reads: `layer`, else the unit's own layer when it has a grid,
    else the last conv layer (in front of the unit, for an inner unit)."""
    if layer is not None:
        path = tuple(layer)
    elif target.unit_layer is not None:
        path = _conv_at_or_before(model, tuple(target.unit_layer))
    else:
        path = last_conv_layer(model)
    shape = find_layer(model, path).output.shape
    if len(shape) != 4:
        raise ValueError(f"layer {str(LayerPath(path))!r} has output shape {shape}, expected 4-D")
    return path


def _flat_paths(model: keras.Model, prefix: tuple = ()) -> list[tuple[str, ...]]:
    paths = []
    for layer in model.layers:
        path = (*prefix, layer.name)
        paths.append(path)
        if isinstance(layer, keras.Model) and layer.layers:
            paths.extend(_flat_paths(layer, path))
    return paths


def _conv_at_or_before(model: keras.Model, unit_layer: tuple[str, ...]) -> tuple[str, ...]:
    # A unit with its own grid is shown at that grid (Grad-CAM of a channel mean is the channel's
    # map); a Dense unit is explained through the last conv layer in front of it.
    if len(find_layer(model, unit_layer).output.shape) == 4:
        return unit_layer
    paths = _flat_paths(model)
    earlier = paths[: paths.index(unit_layer)] if unit_layer in paths else paths
    layers = [(path, find_layer(model, path)) for path in reversed(earlier)]
    for accept in (lambda layer: isinstance(layer, CONV_TYPES), lambda layer: _rank(layer) == 4):
        for path, candidate in layers:
            if accept(candidate) and not isinstance(candidate, keras.Model):
                return path
    raise ValueError(f"no layer with a 4-D output in front of {str(LayerPath(unit_layer))!r}")


def layer_gradients_fn(model: keras.Model, layer: tuple[str, ...], target: Target) -> Callable:
    """Compiled `(images, index) -> (activations, scores, d score / d activations)`."""
    run = activations_and_score_fn(model, layer, target)

    def build() -> Callable:
        disconnected = []

        def step(images: tf.Tensor, index: tf.Tensor):
            # Watching the images (not only the variables) keeps frozen base models working.
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(images)
                activations, scores = run(images, index)
                total = tf.reduce_sum(scores)
            grads = tape.gradient(total, activations)
            if grads is None:  # known while tracing: reported below, not from inside the graph
                disconnected.append(True)
                grads = tf.zeros_like(activations)
            return activations, scores, grads

        compiled = compile_fn(step, [image_spec(model), tf.TensorSpec([], tf.int32)])
        compiled.get_concrete_function()
        if disconnected:
            raise ValueError(
                f"the target does not depend on layer {str(LayerPath(layer))!r}: pick a layer in "
                "front of the explained unit"
            )
        return compiled

    return cached(model, ("layer_gradients", layer, target_kind(target)), build)


def _result(
    cam: np.ndarray, image: np.ndarray, layer: tuple[str, ...], **details
) -> AttributionResult:
    heatmap = resize_map(cam, image.shape[0], image.shape[1])
    return AttributionResult(
        heatmap=heatmap, signed=False, layer=layer, details={"cam": cam, **details}
    )


def gradcam(
    model: keras.Model,
    image: np.ndarray,
    target: Target,
    *,
    layer: tuple[str, ...] | None = None,
    options: Options | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[float], None] = lambda fraction: None,
) -> AttributionResult:
    """Grad-CAM (Selvaraju et al. 2017): ReLU(Σ_k w_k A_k), w_k = spatial mean of dS/dA_k."""
    path = cam_layer(model, target, layer)
    step = layer_gradients_fn(model, path, target)
    activations, _, grads = step(tf.constant(image[None]), target_index(target))
    weights = tf.reduce_mean(grads, axis=(1, 2))  # (1, K)
    cam = tf.nn.relu(tf.reduce_sum(activations * weights[:, None, None, :], axis=-1))[0]
    pooled = tf.reduce_mean(grads, axis=(1, 2)).numpy()[0]  # for the verdict on an empty map
    return _result(cam.numpy(), image, path, weights=weights.numpy()[0], pooled_gradients=pooled)


def gradcam_plus_plus(
    model: keras.Model,
    image: np.ndarray,
    target: Target,
    *,
    layer: tuple[str, ...] | None = None,
    options: Options | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[float], None] = lambda fraction: None,
) -> AttributionResult:
    """Grad-CAM++ (Chattopadhay et al. 2018) with the exp-score closed form of tf-keras-vis.

    With Y = exp(S), the higher derivatives are powers of the first: d²Y/dA² = Y g², d³Y/dA³ =
    Y g³, so alpha = g² / (2 g² + g³ Σ_ab A) needs only g = dS/dA. The factor Y = exp(S) cancels
    in alpha and only scales the map, so it is left out (it overflows for logits above ~88).
    """
    path = cam_layer(model, target, layer)
    step = layer_gradients_fn(model, path, target)
    activations, _, grads = step(tf.constant(image[None]), target_index(target))
    second, third = grads**2, grads**3
    global_sum = tf.reduce_sum(activations, axis=(1, 2), keepdims=True)
    denominator = 2.0 * second + third * global_sum
    denominator += tf.cast(second == 0.0, denominator.dtype)  # alpha = 0 where g = 0
    alphas = second / denominator
    total = tf.reduce_sum(alphas, axis=(1, 2), keepdims=True)
    alphas /= total + tf.cast(total == 0.0, total.dtype)  # as tf-keras-vis: alphas sum to 1
    weights = tf.reduce_sum(alphas * tf.nn.relu(grads), axis=(1, 2))  # (1, K)
    cam = tf.nn.relu(tf.reduce_sum(activations * weights[:, None, None, :], axis=-1))[0]
    pooled = tf.reduce_mean(grads, axis=(1, 2)).numpy()[0]  # for the verdict on an empty map
    return _result(cam.numpy(), image, path, weights=weights.numpy()[0], pooled_gradients=pooled)


def _masked_scores_fn(model: keras.Model, target: Target) -> Callable:
    """Compiled `(image, low-res maps (N, h, w), low, index) -> (N,)` scores of the image with
    each map, upsampled and scaled to [0, 1], as a mask that fades to `low` (black)."""
    run = score_fn(model, target)

    def build() -> Callable:
        def masked(image: tf.Tensor, maps: tf.Tensor, low: tf.Tensor, index: tf.Tensor):
            size = tf.shape(image)[:2]
            masks = tf.image.resize(maps[..., None], size, method="bilinear")  # (N, H, W, 1)
            lowest = tf.reduce_min(masks, axis=(1, 2, 3), keepdims=True)
            highest = tf.reduce_max(masks, axis=(1, 2, 3), keepdims=True)
            masks = tf.math.divide_no_nan(masks - lowest, highest - lowest)
            return run(low + masks * (image[None] - low), index)

        spec = image_spec(model)
        return compile_fn(
            masked,
            [
                tf.TensorSpec(spec.shape[1:], tf.float32),
                tf.TensorSpec([None, None, None], tf.float32),
                tf.TensorSpec([], tf.float32),
                tf.TensorSpec([], tf.int32),
            ],
        )

    return cached(model, ("masked_scores", target_kind(target)), build)


def scorecam(
    model: keras.Model,
    image: np.ndarray,
    target: Target,
    *,
    layer: tuple[str, ...] | None = None,
    options: Options | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[float], None] = lambda fraction: None,
) -> AttributionResult:
    """Score-CAM (Wang et al. 2020): each channel, upsampled and min-max scaled, masks the image;
    its weight is the score the masked image gets above a black image ("increase", default), or
    with option softmax=1 the softmax over channels of the masked scores.

    Options: max_channels (512: the most active channels used), batch (32), softmax (0),
    low (the input range's low end, "black"; default the image's minimum).
    """
    options = options or {}
    path = cam_layer(model, target, layer)
    index = target_index(target)
    activations, _ = activations_and_score_fn(model, path, target)(tf.constant(image[None]), index)
    activations = activations.numpy()[0]  # (h, w, K)
    channels = activations.shape[-1]
    keep = min(channels, max(1, int(options.get("max_channels", 512))))
    # The most active channels carry the map; the rest mostly mask the image away entirely.
    chosen = np.sort(np.argsort(-activations.mean(axis=(0, 1)), kind="stable")[:keep])
    maps = np.moveaxis(activations[..., chosen], -1, 0).astype(np.float32)  # (N, h, w)
    low, _ = image_range(image, options)
    masked = _masked_scores_fn(model, target)
    batch = max(1, int(options.get("batch", 32)))
    pixels, floor = tf.constant(image), tf.constant(low, tf.float32)
    blank = float(masked(pixels, np.zeros((1, *maps.shape[1:]), np.float32), floor, index)[0])
    batches: list[tf.Tensor] = []
    for start in range(0, len(maps), batch):
        if should_stop():
            raise Cancelled()
        batches.append(masked(pixels, tf.constant(maps[start : start + batch]), floor, index))
        progress(min(start + batch, len(maps)) / len(maps))
    scores = np.concatenate([s.numpy() for s in batches])
    if options.get("softmax", 0.0):
        weights = np.exp(scores - scores.max())
        weights /= weights.sum()
    else:
        weights = scores - blank
    cam = np.maximum(np.tensordot(activations[..., chosen], weights, axes=([-1], [0])), 0.0)
    return _result(
        cam.astype(np.float32),
        image,
        path,
        weights=weights.astype(np.float32),
        channels=chosen,
        blank_score=blank,
    )


def cam_structure(model: keras.Model) -> tuple[tuple[str, ...], keras.layers.Layer]:
    """(the layer feeding the GAP, the final Dense) of a `... -> GlobalAveragePooling2D -> Dense`
    model; ValueError naming what was found otherwise."""
    final = final_path(model)
    dense = find_layer(model, final)
    container = find_layer(model, final[:-1]) if len(final) > 1 else model
    if _is_score_map(dense):
        # A fully convolutional head: a 1x1 conv is a Dense at every position, and the spatial
        # mean of its output is the Dense on the GAP of its input, so CAM is its logit map.
        source = outer_input_tensor(container, dense)._keras_history.operation
        if isinstance(source, keras.layers.InputLayer):
            raise ValueError(f"model {model.name!r} scores its input directly; no conv map")
        return (*final[:-1], source.name), dense
    if not isinstance(dense, keras.layers.Dense):
        raise ValueError(
            f"CAM needs a model that ends in conv -> GlobalAveragePooling2D -> Dense; model "
            f"{model.name!r} ends in {type(dense).__name__} {dense.name!r}"
        )
    pooled = outer_input_tensor(container, dense)
    pool = pooled._keras_history.operation
    if not isinstance(pool, keras.layers.GlobalAveragePooling2D) or pool.keepdims:
        raise ValueError(
            f"CAM needs GlobalAveragePooling2D straight before the final Dense {dense.name!r}; "
            f"model {model.name!r} has {type(pool).__name__} {pool.name!r} there (use Grad-CAM)"
        )
    source = outer_input_tensor(container, pool)._keras_history.operation
    if isinstance(source, keras.layers.InputLayer):
        raise ValueError(f"model {model.name!r} pools its input directly; there is no conv map")
    return (*final[:-1], source.name), dense


def _is_score_map(layer: keras.layers.Layer) -> bool:
    """A final 1x1 Conv2D (no groups, no dilation issue at 1x1): a per-position Dense."""
    return (
        type(layer) is keras.layers.Conv2D
        and tuple(layer.kernel_size) == (1, 1)
        and tuple(layer.strides) == (1, 1)
        and layer.groups == 1
    )


def cam(
    model: keras.Model,
    image: np.ndarray,
    target: Target,
    *,
    layer: tuple[str, ...] | None = None,
    options: Options | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[float], None] = lambda fraction: None,
) -> AttributionResult:
    """CAM (Zhou et al. 2016): Σ_k w_k^c A_k with w^c the final Dense kernel's column for class
    c, for models whose last conv map goes through GlobalAveragePooling2D into that Dense, or
    whose output is a map made by a final 1x1 conv (scored by its spatial mean).

    The conv map is fixed by that structure, so `layer` is ignored. An inner-unit target works
    only when it is a unit of that final Dense (ValueError otherwise). The map is ReLU'd like
    the other CAMs; the signed sum is in details["signed"].
    """
    path, dense = cam_structure(model)
    if target.unit_layer is not None and find_layer(model, tuple(target.unit_layer)) is not dense:
        raise ValueError(
            f"CAM explains units of the final Dense {dense.name!r} only, not of "
            f"{str(LayerPath(target.unit_layer))!r}; use Grad-CAM for inner units"
        )
    if target.position is not None:
        raise ValueError(
            f"CAM maps the spatial mean of the output, not its position {target.position}; "
            "use Grad-CAM for one position"
        )
    unit = target.index  # the class, or the unit of that final Dense
    classes = int(dense.kernel.shape[-1])
    if not 0 <= int(unit) < classes:
        raise ValueError(f"class {unit} is out of range: {dense.name!r} has {classes} units")
    kernel = tf.convert_to_tensor(dense.kernel).numpy()
    column = kernel.reshape(-1, classes)[:, int(unit)]
    activations, _ = activations_and_score_fn(model, path, Target(class_index=int(unit)))(
        tf.constant(image[None]), tf.constant(int(unit), tf.int32)
    )
    signed = np.tensordot(activations.numpy()[0], column, axes=([-1], [0])).astype(np.float32)
    return _result(np.maximum(signed, 0.0), image, path, weights=column, signed=signed)
