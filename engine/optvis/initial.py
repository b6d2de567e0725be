"""Starting images for an ascent (numpy only): where the optimization begins shapes the result.

Each returns float32 (B, H, W, C) in [0, 1] and draws randomness only from the
`numpy.random.Generator` it is given, so the same seed gives the same start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from engine.images.channels import to_model_channels

# The notebook's scales: coarse blobs dominate, finer detail adds less and less.
DEFAULT_SCALES: tuple[tuple[int, float], ...] = ((3, 1.0), (7, 0.5), (14, 0.25), (28, 0.125))

INITIAL_KINDS = ("grey", "scales", "image")

Shape = tuple[int, int, int, int]


def check_shape(shape: Sequence[int]) -> Shape:
    """`shape` as four positive ints (B, H, W, C); ValueError names a bad one.

    (engine.optvis.param has the same check; it is repeated so this module never loads TensorFlow.)
    """
    values = tuple(shape)
    if len(values) != 4 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in values):
        raise ValueError(f"image shape {shape!r} is not four positive ints (B, H, W, C)")
    batch, height, width, channels = (int(v) for v in values)
    return batch, height, width, channels


def _resize(planes: np.ndarray, height: int, width: int, smooth: bool) -> np.ndarray:
    """Resize (N, h, w, C) float arrays to (N, height, width, C) with Pillow.

    Pillow's bilinear filter widens its support when shrinking, so a large photograph is
    averaged rather than aliased on its way down to a 28-pixel model input.
    """
    method = Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST
    out = np.empty((planes.shape[0], height, width, planes.shape[3]), dtype=np.float32)
    for n in range(planes.shape[0]):
        for c in range(planes.shape[3]):
            plane = Image.fromarray(np.ascontiguousarray(planes[n, :, :, c], dtype=np.float32))
            out[n, :, :, c] = np.asarray(plane.resize((width, height), method))
    return out


def grey_noise(
    shape: Sequence[int], rng: np.random.Generator, noise: float = 0.05, centre: float = 0.5
) -> np.ndarray:
    """`centre` grey plus uniform noise in ±`noise`: the notebooks' start, nearly featureless.

    The notebooks' 128 + U[0, 20) of 255 is centre 138/255, noise 10/255. The result is
    clipped to [0, 1], so a start near the range's ends stays a valid image.
    """
    size = check_shape(shape)
    if not (0 <= noise <= 0.5):
        raise ValueError(f"noise {noise!r} must lie in [0, 0.5]")
    if not (np.isfinite(centre) and 0 <= centre <= 1):
        raise ValueError(f"centre {centre!r} must lie in [0, 1]")
    start = centre + rng.uniform(-noise, noise, size)
    return np.clip(start, 0.0, 1.0).astype(np.float32)


def scale_mixture(
    shape: Sequence[int],
    rng: np.random.Generator,
    scales: Sequence[tuple[int, float]] = DEFAULT_SCALES,
    smooth: bool = True,
    amplitude: float = 0.25,
) -> np.ndarray:
    """Random structure at several scales: for each (s, weight), an s×s grid of Gaussian noise
    per channel, upsampled to (H, W) (bilinear if `smooth`, else nearest), times weight.

    The sum is normalised per image to standard deviation `amplitude` around 0.5 and clipped
    to [0, 1]. Starting from blobs rather than pixel noise gives the ascent large features to
    grow from.
    """
    batch, height, width, channels = check_shape(shape)
    if not scales:
        raise ValueError("scale_mixture needs at least one (size, weight) scale")
    for size, weight in scales:
        if not (isinstance(size, (int, np.integer)) and size >= 1 and np.isfinite(weight)):
            raise ValueError(f"scale ({size!r}, {weight!r}) needs an int size >= 1, finite weight")
    if not (np.isfinite(amplitude) and amplitude >= 0):
        raise ValueError(f"amplitude {amplitude!r} must be a finite number >= 0")
    total = np.zeros((batch, height, width, channels), dtype=np.float64)
    for size, weight in scales:
        grid = rng.standard_normal((batch, size, size, channels)).astype(np.float32)
        total += weight * _resize(grid, height, width, smooth)
    centred = total - total.mean(axis=(1, 2, 3), keepdims=True)
    spread = centred.std(axis=(1, 2, 3), keepdims=True)
    # A flat sum (all weights zero, or a 1×1 image) has no spread to normalise: leave it grey.
    normalised = np.divide(centred, spread, out=np.zeros_like(centred), where=spread > 1e-12)
    return np.clip(0.5 + amplitude * normalised, 0.0, 1.0).astype(np.float32)


def from_image(
    pixels: np.ndarray,
    shape: Sequence[int],
    noise: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A user's image (H', W'), (H', W', C') in [0, 1] as a start (the DeepDream way): resized
    bilinearly to (H, W), channels matched (grey ↔ RGB, alpha dropped; other model channel
    counts as `engine.images.channels.expand_channels` fills them, opaque), repeated over the
    batch, plus optional uniform noise in ±`noise` (needs `rng`), clipped to [0, 1]."""
    batch, height, width, channels = check_shape(shape)
    array = np.asarray(pixels, dtype=np.float32)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"image of shape {np.shape(pixels)} is not (H, W) or (H, W, C)")
    if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
        raise ValueError(
            f"image values span [{array.min()}, {array.max()}]; expected finite values in [0, 1]"
        )
    if not (0 <= noise <= 0.5):
        raise ValueError(f"noise {noise!r} must lie in [0, 0.5]")
    if noise > 0 and rng is None:
        raise ValueError("noise > 0 needs a numpy random generator (rng)")
    array = to_model_channels(array, channels)
    resized = _resize(array[None], height, width, smooth=True)
    start = np.repeat(resized, batch, axis=0)
    if noise > 0 and rng is not None:
        start = start + rng.uniform(-noise, noise, start.shape)
    return np.clip(start, 0.0, 1.0).astype(np.float32)


def make_initial(
    kind: str, shape: Sequence[int], rng: np.random.Generator, **options: Any
) -> np.ndarray:
    """A start by name: "grey" (grey_noise), "scales" (scale_mixture) or "image" (from_image,
    which needs `pixels=`); `options` go to that function."""
    size: Shape = check_shape(shape)
    if kind == "grey":
        return grey_noise(size, rng, **options)
    if kind == "scales":
        return scale_mixture(size, rng, **options)
    if kind == "image":
        pixels = options.pop("pixels", None)
        if pixels is None:
            raise ValueError('initial image kind "image" needs pixels=<an (H, W, C) array>')
        return from_image(pixels, size, rng=rng, **options)
    raise ValueError(f"unknown initial image kind {kind!r}; expected one of {INITIAL_KINDS}")
