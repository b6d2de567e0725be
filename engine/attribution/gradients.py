"""Pixel attributions from the target score's gradient with respect to the input image.

Saliency is the raw gradient's size, SmoothGrad averages it over noisy copies, gradient × input
weighs it by how far each pixel is from black, and integrated gradients sums it along the path
from a black image, so the attributions add up to the score's change (completeness).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from engine.attribution import AttributionResult, Cancelled, Target
from engine.attribution.common import (
    cached,
    compile_fn,
    image_range,
    image_spec,
    score_fn,
    target_index,
    target_kind,
)

Options = dict[str, float]


def input_gradients_fn(model: keras.Model, target: Target) -> Callable:
    """Compiled `(images, index) -> (scores, d score / d images)`, one trace for any batch."""
    run = score_fn(model, target)

    def build() -> Callable:
        def step(images: tf.Tensor, index: tf.Tensor):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(images)
                scores = run(images, index)
                total = tf.reduce_sum(scores)  # images are independent: one backward pass
            return scores, tape.gradient(total, images)

        return compile_fn(step, [image_spec(model), tf.TensorSpec([], tf.int32)])

    return cached(model, ("input_gradients", target_kind(target)), build)


def batched_gradients(
    model: keras.Model,
    target: Target,
    images: np.ndarray,
    batch: int,
    should_stop: Callable[[], bool],
    progress: Callable[[float], None],
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, gradients) of many images, `batch` at a time, reporting progress; Cancelled as
    soon as `should_stop()` is true between batches."""
    step = input_gradients_fn(model, target)
    index = target_index(target)
    scores, grads = [], []
    for start in range(0, len(images), batch):
        if should_stop():
            raise Cancelled()
        s, g = step(tf.constant(images[start : start + batch]), index)
        scores.append(s.numpy())
        grads.append(g.numpy())
        progress(min(start + batch, len(images)) / len(images))
    return np.concatenate(scores), np.concatenate(grads)


def _gradient(model: keras.Model, image: np.ndarray, target: Target) -> np.ndarray:
    _, grads = input_gradients_fn(model, target)(tf.constant(image[None]), target_index(target))
    return grads.numpy()[0]


def saliency(
    model: keras.Model,
    image: np.ndarray,
    target: Target,
    *,
    layer: tuple[str, ...] | None = None,
    options: Options | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[float], None] = lambda fraction: None,
) -> AttributionResult:
    """Saliency (Simonyan et al. 2014): |d score / d pixel|, the largest over colour channels.
    The signed (H, W, C) gradient is in details["rgb"]."""
    grads = _gradient(model, image, target)
    heatmap = np.abs(grads).max(axis=-1).astype(np.float32)
    return AttributionResult(heatmap=heatmap, signed=False, details={"rgb": grads})


def smoothgrad(
    model: keras.Model,
    image: np.ndarray,
    target: Target,
    *,
    layer: tuple[str, ...] | None = None,
    options: Options | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[float], None] = lambda fraction: None,
) -> AttributionResult:
    """SmoothGrad (Smilkov et al. 2017): the gradient averaged over `n` copies of the image with
    Gaussian noise, then |.| and the largest over channels, as saliency.

    Options: n (25), noise (0.15: the noise's standard deviation as a fraction of the input
    range), batch (25), seed (0: the same image gives the same map), low/high (input range;
    default the image's min/max).
    """
    options = options or {}
    count = max(1, int(options.get("n", 25)))
    low, high = image_range(image, options)
    sigma = float(options.get("noise", 0.15)) * (high - low)
    rng = np.random.default_rng(int(options.get("seed", 0)))
    noisy = image[None] + rng.normal(0.0, sigma, (count, *image.shape)).astype(np.float32)
    batch = max(1, int(options.get("batch", 25)))
    _, grads = batched_gradients(model, target, noisy, batch, should_stop, progress)
    mean = grads.mean(axis=0)
    heatmap = np.abs(mean).max(axis=-1).astype(np.float32)
    return AttributionResult(heatmap=heatmap, signed=False, details={"rgb": mean, "sigma": sigma})


def gradient_x_input(
    model: keras.Model,
    image: np.ndarray,
    target: Target,
    *,
    layer: tuple[str, ...] | None = None,
    options: Options | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[float], None] = lambda fraction: None,
) -> AttributionResult:
    """Gradient × input (Shrikumar et al. 2016), summed over channels; signed. The input is
    measured from the range's low end (black), option "low" (default the image's minimum), so
    that black pixels get no attribution whatever the model's input range."""
    low, _ = image_range(image, options or {})
    grads = _gradient(model, image, target)
    heatmap = (grads * (image - low)).sum(axis=-1).astype(np.float32)
    return AttributionResult(heatmap=heatmap, signed=True, details={"baseline": low})


def integrated_gradients(
    model: keras.Model,
    image: np.ndarray,
    target: Target,
    *,
    layer: tuple[str, ...] | None = None,
    options: Options | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[float], None] = lambda fraction: None,
) -> AttributionResult:
    """Integrated gradients (Sundararajan et al. 2017): (x - x') times the path integral of the
    gradient from the baseline x' to x, by the trapezoid rule over `steps` intervals; summed over
    channels, signed.

    Options: steps (64), baseline (the constant baseline image's value; default the input
    range's low end, i.e. black: option "low" or the image's minimum), batch (32).
    details["completeness"] = {"sum": Σ attributions, "difference": f(x) - f(x'), "error":
    their relative difference}: the two agree as steps grow (the method's completeness axiom).
    """
    options = options or {}
    steps = max(1, int(options.get("steps", 64)))
    low, _ = image_range(image, options)
    baseline = np.full_like(image, float(options.get("baseline", low)))
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)[:, None, None, None]
    path = baseline[None] + alphas * (image - baseline)[None]  # (steps + 1, H, W, C)
    batch = max(1, int(options.get("batch", 32)))
    scores, grads = batched_gradients(model, target, path, batch, should_stop, progress)
    # Trapezoid rule: the two end points count half.
    weights = np.ones(steps + 1, np.float32)
    weights[[0, -1]] = 0.5
    average = np.tensordot(weights, grads, axes=([0], [0])) / steps
    attributions = (image - baseline) * average
    total, difference = float(attributions.sum()), float(scores[-1] - scores[0])
    error = abs(total - difference) / max(abs(difference), 1e-12)
    return AttributionResult(
        heatmap=attributions.sum(axis=-1).astype(np.float32),
        signed=True,
        details={
            "completeness": {"sum": total, "difference": difference, "error": error},
            "rgb": attributions.astype(np.float32),
            "baseline": float(baseline.flat[0]),
        },
    )
