"""Numbers that say whether a visualization looks like an image or like noise.

The high-frequency ratio is the mean |Laplacian| of the grey image over its standard deviation:
pixel noise scores high (about 4 and more for white noise), smooth structure low. The saturated
share is the share of pixel values at the ends of the input range, where ascent piles up
when nothing holds it back.
"""

from __future__ import annotations

import numpy as np

# Values within this of 0 or 1 (an image in [0, 1]) count as saturated: the ends of 8-bit.
SATURATION_EPS = 1 / 255


def _checked(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image, np.float64)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"image of shape {np.shape(image)} is not (H, W) or (H, W, C)")
    if not np.all(np.isfinite(array)):
        raise ValueError("image holds values that are not finite")
    return array


def high_frequency_ratio(image: np.ndarray) -> float:
    """Mean |Laplacian| / std of the grey image (H, W[, C]); 0.0 for a flat or tiny image."""
    grey = _checked(image).mean(axis=-1)
    if grey.shape[0] < 3 or grey.shape[1] < 3:
        return 0.0
    spread = float(grey.std())
    if spread <= 1e-12:
        return 0.0
    centre = grey[1:-1, 1:-1]
    laplacian = grey[:-2, 1:-1] + grey[2:, 1:-1] + grey[1:-1, :-2] + grey[1:-1, 2:] - 4 * centre
    return float(np.abs(laplacian).mean() / spread)


def saturated_share(image: np.ndarray) -> float:
    """The share of pixel values of `image` (in [0, 1]) at either end of the range."""
    array = _checked(image)
    ends = (array <= SATURATION_EPS) | (array >= 1 - SATURATION_EPS)
    return float(ends.mean())


def summary(values: list[float]) -> dict[str, float | None]:
    """Mean, median and max of `values` (None each when empty), for an atlas's JSON."""
    if not values:
        return {"mean": None, "median": None, "max": None}
    array = np.asarray(values, np.float64)
    return {
        "mean": float(array.mean()),
        "median": float(np.median(array)),
        "max": float(array.max()),
    }
