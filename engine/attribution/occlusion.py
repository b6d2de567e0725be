"""Occlusion sensitivity (Zeiler & Fergus 2014): grey out one patch at a time, watch the score.

A pixel's value is how much the score drops when a patch covering it is hidden, averaged over all
patches that cover it. Only forward passes: it works on any model, differentiable or not, and
sees what a gradient misses (a region whose removal matters although the score is saturated).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import keras
import numpy as np
import tensorflow as tf

from engine.attribution import AttributionResult, Cancelled, Target
from engine.attribution.common import score

DEFAULT_BATCH = 64


def _starts(size: int, patch: int, stride: int) -> list[int]:
    """Patch origins along one axis; the last one is pulled in so the far edge is covered too."""
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:
        starts.append(size - patch)
    return starts


def _geometry(height: int, width: int, options: Mapping[str, float]) -> tuple[int, int]:
    """(patch, stride) from the options, defaulting to a seventh of the image side."""
    side = min(height, width)
    patch = int(options.get("patch", max(3, round(side / 7))))
    if not 1 <= patch <= side:
        raise ValueError(f"occlusion patch {patch} must be between 1 and the image side {side}")
    # 0 (the window's "default") is half the patch, as when no stride is given.
    stride = int(options.get("stride", 0)) or max(1, patch // 2)
    if stride < 1:
        raise ValueError(f"occlusion stride {stride} must be at least 1")
    return patch, stride


def _scores(run: Callable[[tf.Tensor], tf.Tensor], images: np.ndarray) -> np.ndarray:
    return np.asarray(run(tf.convert_to_tensor(images, tf.float32)), dtype=np.float64)


def occlusion(
    model: keras.Model,
    image: np.ndarray,
    target: Target,
    *,
    layer: tuple[str, ...] | None = None,
    options: Mapping[str, float] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[float], None] = lambda fraction: None,
) -> AttributionResult:
    """Map of score(image) − score(image with a patch hidden), averaged where patches overlap.

    Options: "patch" (side in pixels, default 1/7 of the image side, at least 3), "stride"
    (default, or 0: patch // 2), "value" (the fill; default the image's mean colour), "batch"
    (occluded copies scored at once, default 64). `layer` is unused. Positive: the region
    supports the target; negative: hiding it raises the score.
    """
    options = dict(options or {})
    height, width, channels = image.shape
    patch, stride = _geometry(height, width, options)
    batch = max(1, int(options.get("batch", DEFAULT_BATCH)))
    if "value" in options:
        fill = np.full(channels, float(options["value"]), np.float32)
    else:
        fill = image.reshape(-1, channels).mean(axis=0).astype(np.float32)
    origins = [
        (y, x) for y in _starts(height, patch, stride) for x in _starts(width, patch, stride)
    ]

    if should_stop():
        raise Cancelled()
    run = score(model, target)
    base = float(_scores(run, image[None])[0])
    total = np.zeros((height, width), np.float64)
    count = np.zeros((height, width), np.float64)
    for first in range(0, len(origins), batch):
        if should_stop():
            raise Cancelled()
        chunk = origins[first : first + batch]
        copies = np.repeat(image[None], len(chunk), axis=0)
        for copy, (y, x) in zip(copies, chunk, strict=True):
            copy[y : y + patch, x : x + patch] = fill
        drops = base - _scores(run, copies)
        for drop, (y, x) in zip(drops, chunk, strict=True):
            total[y : y + patch, x : x + patch] += drop
            count[y : y + patch, x : x + patch] += 1.0
        progress((first + len(chunk)) / len(origins))
    return AttributionResult(
        heatmap=(total / np.maximum(count, 1.0)).astype(np.float32),
        signed=True,
        layer=None,
        details={
            "patch": patch,
            "stride": stride,
            "value": fill,
            "base_score": base,
            "occlusions": len(origins),
        },
    )
