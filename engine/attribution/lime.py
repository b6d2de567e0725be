"""LIME for images (Ribeiro et al. 2016): a local linear model over superpixels.

The image is cut into superpixels; random subsets of them are hidden, each perturbed image is
scored, and a linear model weighted towards lightly perturbed samples learns how much each
superpixel adds to the score. Forward passes only, like occlusion, but the hidden regions follow
the image's own edges and interact, so it finds evidence spread over several parts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import keras
import numpy as np
import tensorflow as tf
from skimage.segmentation import slic
from sklearn.linear_model import Ridge

from engine.attribution import AttributionResult, Cancelled, Target
from engine.attribution.common import score

DEFAULT_SAMPLES = 300
DEFAULT_BATCH = 64
KERNEL_WIDTH = 0.25  # the lime package's default for images
TOP_K = 5


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
    n_segments = int(options.get("n_segments", 25 if small else 50))
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


def _kernel_weights(masks: np.ndarray) -> np.ndarray:
    """The lime package's exponential kernel on the cosine distance to the all-on mask."""
    on = masks.sum(axis=1)
    cosine = np.sqrt(on / masks.shape[1])  # m·1 / (|m| |1|) for a 0/1 mask m
    distance = 1.0 - cosine
    return np.sqrt(np.exp(-(distance**2) / KERNEL_WIDTH**2))


def _perturbed(
    image: np.ndarray, segments: np.ndarray, masks: np.ndarray, fill: np.ndarray
) -> np.ndarray:
    """One image per mask, its "off" superpixels painted with `fill`."""
    keep = masks[:, segments][..., None].astype(bool)  # (B, H, W, 1)
    return np.where(keep, image[None], fill[None, None, None, :]).astype(np.float32)


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
    masks, default 300), "seed" (default 0: same seed, same map), "fill" (value of hidden
    superpixels; default the image's mean colour, 0 suits dark-background digits), "alpha"
    (ridge penalty, default 1 as in lime), "batch" (default 64). `layer` is unused.

    Details: "segments" (H, W ids), "weights" (per superpixel), "intercept", "top_positive" and
    "top_negative" (up to 5 superpixel ids for and against the target, strongest first),
    "compactness" (as used), "fit_r2" (how well the weighted linear model explains the samples).
    """
    options = dict(options or {})
    samples = int(options.get("samples", DEFAULT_SAMPLES))
    if samples < 2:
        raise ValueError(f"LIME samples {samples} must be at least 2")
    batch = max(1, int(options.get("batch", DEFAULT_BATCH)))
    channels = image.shape[-1]
    if "fill" in options:
        fill = np.full(channels, float(options["fill"]), np.float32)
    else:
        fill = image.reshape(-1, channels).mean(axis=0).astype(np.float32)
    if should_stop():
        raise Cancelled()

    segments, compactness = segment(image, options)
    count = int(segments.max()) + 1
    rng = np.random.default_rng(int(options.get("seed", 0)))
    masks = rng.integers(0, 2, size=(samples, count)).astype(np.float64)
    masks[0] = 1.0  # the unperturbed image anchors the fit, as in the lime package
    run = score(model, target)
    scores = np.empty(samples, np.float64)
    for first in range(0, samples, batch):
        if should_stop():
            raise Cancelled()
        chunk = slice(first, min(first + batch, samples))
        images = tf.convert_to_tensor(_perturbed(image, segments, masks[chunk], fill))
        scores[chunk] = np.asarray(run(images), dtype=np.float64)
        progress(chunk.stop / samples)

    kernel = _kernel_weights(masks)
    regressor = Ridge(alpha=float(options.get("alpha", 1.0)))
    regressor.fit(masks, scores, sample_weight=kernel)
    weights = regressor.coef_.astype(np.float32)
    return AttributionResult(
        heatmap=weights[segments].astype(np.float32),
        signed=True,
        layer=None,
        details={
            "segments": segments,
            "weights": weights,
            "intercept": float(regressor.intercept_),
            "top_positive": _top(weights, 1.0),
            "top_negative": _top(weights, -1.0),
            "compactness": compactness,
            "fit_r2": float(regressor.score(masks, scores, sample_weight=kernel)),
        },
    )
