"""LIME for images (Ribeiro et al. 2016): a local linear model over superpixels.

The image is cut into superpixels; random subsets of them are hidden, each perturbed image is
scored, and a linear model weighted towards lightly perturbed samples learns how much each
superpixel adds to the score. Forward passes only, like occlusion, but the hidden regions follow
the image's own edges and interact, so it finds evidence spread over several parts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import keras
import numpy as np
import tensorflow as tf
from skimage.segmentation import slic
from sklearn.linear_model import Ridge

from engine.attribution import AttributionResult, Cancelled, Target
from engine.attribution.common import score
from engine.models.predictions import class_scores

DEFAULT_SAMPLES = 300
DEFAULT_BATCH = 64
KERNEL_WIDTH = 0.25  # the lime package's default for images
TOP_K = 5
MAX_LABELS = 10
# Option "fill_mode": what a hidden superpixel shows (option "fill", a value, overrides it).
FILL_MODES = ("mean", "grey", "black", "blur")
BLUR_SIGMA = 0.05  # of the image's short side: blurred enough to hide a digit's stroke


def _slic(pixels: np.ndarray, n_segments: int, compactness: float) -> np.ndarray:
    if pixels.shape[-1] == 1:
        return slic(
            pixels[..., 0],
            n_segments=n_segments,
            compactness=compactness,
            channel_axis=None,
            start_label=0,
        )
    return slic(pixels[..., :3], n_segments=n_segments, compactness=compactness, start_label=0)


def segment(image: np.ndarray, options: Mapping[str, float]) -> tuple[np.ndarray, float]:
    """(H, W) superpixel ids 0..K-1 from SLIC, and the compactness that produced them.

    Grey images are segmented on intensity alone with a low compactness (intensity differences
    are at most 1 here), so segments follow strokes; at SLIC's default of 10 a digit would be
    cut into a plain grid. On noisy images a low compactness shatters the image into fragments
    that SLIC's connectivity pass merges into a handful of segments, so the compactness is
    raised tenfold until at least half the requested segments come out.
    """
    height, width, channels = image.shape
    small = min(height, width) < 64
    # 0 (the window's "default") is SLIC's count for the image's size.
    n_segments = int(options.get("n_segments", 0)) or (25 if small else 50)
    if n_segments < 1:
        raise ValueError(f"LIME n_segments {n_segments} must be at least 1")
    # SLIC's compactness assumes [0, 1] intensities, whatever the model's input range is.
    low, high = float(image.min()), float(image.max())
    pixels = (image.astype(np.float64) - low) / (high - low) if high > low else image * 0.0
    compactness = float(options.get("compactness", 0.1 if channels == 1 else 10.0))
    labels = _slic(pixels, n_segments, compactness)
    for _ in range(4):
        if len(np.unique(labels)) >= max(1, n_segments // 2):
            break
        compactness *= 10.0
        labels = _slic(pixels, n_segments, compactness)
    # SLIC may skip ids; consecutive ids make them columns of the design matrix.
    ids = np.unique(labels, return_inverse=True)[1].reshape(height, width).astype(np.int32)
    return ids, compactness


def fill_image(image: np.ndarray, options: Mapping[str, float]) -> tuple[np.ndarray, str]:
    """(H, W, C) what hidden superpixels show, and its name: option "fill" (a value), else
    "fill_mode" 0 mean colour (default), 1 grey (mid-range), 2 black (the range's low end),
    3 the image blurred."""
    height, width, channels = image.shape
    if "fill" in options:
        value = float(options["fill"])
        return np.full(image.shape, value, np.float32), f"value {value:g}"
    mode = int(options.get("fill_mode", 0))
    if not 0 <= mode < len(FILL_MODES):
        raise ValueError(f"LIME fill_mode {mode} must be 0..{len(FILL_MODES) - 1}")
    low = float(options.get("low", image.min()))
    high = float(options.get("high", image.max()))
    if FILL_MODES[mode] == "blur":
        from scipy.ndimage import gaussian_filter

        sigma = max(1.0, BLUR_SIGMA * min(height, width))
        blurred = gaussian_filter(image, sigma=(sigma, sigma, 0))
        return blurred.astype(np.float32), "blur"
    colour = {
        "mean": image.reshape(-1, channels).mean(axis=0),
        "grey": np.full(channels, (low + high) / 2.0),
        "black": np.full(channels, low),
    }[FILL_MODES[mode]]
    return np.broadcast_to(colour, image.shape).astype(np.float32), FILL_MODES[mode]


def _kernel_weights(masks: np.ndarray) -> np.ndarray:
    """The lime package's exponential kernel on the cosine distance to the all-on mask."""
    on = masks.sum(axis=1)
    cosine = np.sqrt(on / masks.shape[1])  # m·1 / (|m| |1|) for a 0/1 mask m
    distance = 1.0 - cosine
    return np.sqrt(np.exp(-(distance**2) / KERNEL_WIDTH**2))


def _perturbed(
    image: np.ndarray, segments: np.ndarray, masks: np.ndarray, fill: np.ndarray
) -> np.ndarray:
    """One image per mask, its "off" superpixels painted with the (H, W, C) `fill`."""
    keep = masks[:, segments][..., None].astype(bool)  # (B, H, W, 1)
    return np.where(keep, image[None], fill[None]).astype(np.float32)


def _label_targets(model: keras.Model, image: np.ndarray, target: Target, count: int) -> list:
    """The target, then the model's next most likely classes, `count` in all (inner units and
    a count of 1: the target alone)."""
    if count <= 1 or target.unit_layer is not None:
        return [target]
    outputs = np.asarray(model(image[None], training=False))[0]
    order = [int(k) for k in np.argsort(-class_scores(outputs)) if k != target.class_index]
    others = [replace(target, class_index=k) for k in order[: count - 1]]
    return [target, *others]


def _fit(masks: np.ndarray, scores: np.ndarray, kernel: np.ndarray, alpha: float) -> tuple:
    """(weights per superpixel, intercept, weighted R²) of the ridge fit."""
    regressor = Ridge(alpha=alpha)
    regressor.fit(masks, scores, sample_weight=kernel)
    r2 = float(regressor.score(masks, scores, sample_weight=kernel))
    return regressor.coef_.astype(np.float32), float(regressor.intercept_), r2


def _top(weights: np.ndarray, sign: float) -> list[int]:
    order = np.argsort(-sign * weights, kind="stable")
    return [int(i) for i in order[:TOP_K] if sign * weights[i] > 0]


def lime(
    model: keras.Model,
    image: np.ndarray,
    target: Target,
    *,
    layer: tuple[str, ...] | None = None,
    options: Mapping[str, float] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[float], None] = lambda fraction: None,
) -> AttributionResult:
    """Each pixel gets the linear weight of its superpixel (signed: for or against the target).

    Options: "n_segments" (SLIC's target count; default 25 below 64 px, else 50), "compactness"
    (default 0.1 for grey, 10 for colour; raised when SLIC merges too much), "samples" (random
    masks, default 300), "seed" (default 0: same seed, same map), "fill_mode" (what hidden
    superpixels show: 0 the image's mean colour, 1 grey, 2 black, 3 the image blurred), "fill"
    (a value instead; 0 suits dark-background digits), "labels" (1: classes fitted on the same
    samples, the target then the next most likely), "alpha" (ridge penalty, default 1 as in
    lime), "batch" (default 64). `layer` is unused.

    Details: "segments" (H, W ids), "weights" (per superpixel), "intercept", "top_positive" and
    "top_negative" (up to 5 superpixel ids for and against the target, strongest first),
    "compactness" (as used), "fit_r2" (how well the weighted linear model explains the samples),
    the settings as used ("n_segments", "segments_made", "fill", "samples") and "labels" (per
    class fitted: its top superpixels for it and its fit).
    """
    options = dict(options or {})
    samples = int(options.get("samples", DEFAULT_SAMPLES))
    if samples < 2:
        raise ValueError(f"LIME samples {samples} must be at least 2")
    labels = int(options.get("labels", 1))
    if not 1 <= labels <= MAX_LABELS:
        raise ValueError(f"LIME labels {labels} must be between 1 and {MAX_LABELS}")
    batch = max(1, int(options.get("batch", DEFAULT_BATCH)))
    fill, fill_name = fill_image(image, options)
    if should_stop():
        raise Cancelled()

    segments, compactness = segment(image, options)
    count = int(segments.max()) + 1
    rng = np.random.default_rng(int(options.get("seed", 0)))
    masks = rng.integers(0, 2, size=(samples, count)).astype(np.float64)
    masks[0] = 1.0  # the unperturbed image anchors the fit, as in the lime package
    targets = _label_targets(model, image, target, labels)
    runs = [score(model, each) for each in targets]
    scores = np.empty((len(runs), samples), np.float64)
    for first in range(0, samples, batch):
        if should_stop():
            raise Cancelled()
        chunk = slice(first, min(first + batch, samples))
        images = tf.convert_to_tensor(_perturbed(image, segments, masks[chunk], fill))
        for row, run in enumerate(runs):
            scores[row, chunk] = np.asarray(run(images), dtype=np.float64)
        progress(chunk.stop / samples)

    kernel = _kernel_weights(masks)
    alpha = float(options.get("alpha", 1.0))
    fits = [_fit(masks, row, kernel, alpha) for row in scores]
    weights, intercept, r2 = fits[0]
    return AttributionResult(
        heatmap=weights[segments].astype(np.float32),
        signed=True,
        layer=None,
        details={
            "segments": segments,
            "weights": weights,
            "intercept": intercept,
            "top_positive": _top(weights, 1.0),
            "top_negative": _top(weights, -1.0),
            "compactness": compactness,
            "fit_r2": r2,
            "n_segments": int(options.get("n_segments", 0)) or None,
            "segments_made": count,
            "fill": fill_name,
            "samples": samples,
            "labels": [
                {"class": each.class_index, "top_positive": _top(w, 1.0), "fit_r2": fit_r2}
                for each, (w, _, fit_r2) in zip(targets, fits, strict=True)
            ],
        },
    )
