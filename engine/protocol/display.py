"""How an image with any number of channels is drawn on a three-colour screen.

Shared by the window and the headless commands; numpy only.
"""

from __future__ import annotations

import numpy as np


def screen_colours(image: np.ndarray) -> np.ndarray:
    """An (H, W, C) image with C ≥ 2, such as a visualization for the model, as (H, W, 3).

    C = 2 is drawn in false colour, red = channel 0, green = channel 1, blue = their mean, so
    both channels stay visible; C ≥ 3 keeps the first three channels (a screen has three
    colours, so an RGBA model's alpha or a multispectral model's extra bands are not drawn).
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] < 2:
        raise ValueError(f"expected an (H, W, C) image with C >= 2, got shape {image.shape}")
    if image.shape[-1] == 2:
        first, second = image[..., 0], image[..., 1]
        return np.stack([first, second, (first + second) / 2.0], axis=-1)
    return image[..., :3]


# How a visualization's values become a picture. The engine grows images in fractions of the
# model's input range; unclipped runs (the notebooks' way) leave that range, and even clipped
# ones may use a sliver of it, so the window offers several normalizations.
DISPLAY_MODES = ("raw", "minmax", "std", "channel")
DISPLAY_LABELS = {
    "raw": "Raw (clip to the input range)",
    "minmax": "Min-max",
    "std": "Notebooks (mean ± std)",
    "channel": "Per-channel min-max",
}
DEFAULT_DISPLAY = "std"
# The notebooks' `deprocess`: mean 0.5, standard deviation 0.15, so ±3.3 std fit the screen.
STD_SCALE = 0.15
_EPSILON = 1e-5


def check_display_mode(mode: str) -> str:
    """`mode` if it is one of DISPLAY_MODES; ValueError naming it otherwise."""
    if mode not in DISPLAY_MODES:
        raise ValueError(f"display mode {mode!r} is not one of {DISPLAY_MODES}")
    return mode


def normalize_for_display(image: np.ndarray, mode: str = DEFAULT_DISPLAY) -> np.ndarray:
    """An (H, W) or (H, W, C) visualization as a float32 picture in [0, 1], same shape.

    - "raw": the values as they are, clipped to [0, 1] (the input range).
    - "minmax": stretched so the lowest value is 0 and the highest 1, all channels together.
    - "std": the notebooks' `deprocess`: (x - mean) / (std + 1e-5) × 0.15 + 0.5, clipped.
    - "channel": each channel stretched to [0, 1] on its own (colours are not kept).

    A constant image becomes mid-grey under "std" and stays what "raw" shows under the
    stretches, never NaN; NaN and infinities count as 0, so bad values never crash a painter.
    """
    check_display_mode(mode)
    array = np.asarray(image, dtype=np.float64)
    if array.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {array.shape}")
    data = np.nan_to_num(array, nan=0.0, posinf=0.0, neginf=0.0)
    if mode == "raw" or data.size == 0:
        out = data
    elif mode == "std":
        centred = data - data.mean()
        out = centred / (centred.std() + _EPSILON) * STD_SCALE + 0.5
    else:
        planes = data if data.ndim == 3 else data[..., None]
        axes = (0, 1) if mode == "channel" else (0, 1, 2)
        low = planes.min(axis=axes, keepdims=True)
        span = planes.max(axis=axes, keepdims=True) - low
        stretched = (planes - low) / np.where(span > 0, span, 1.0)
        out = np.where(span > 0, stretched, np.clip(planes, 0.0, 1.0)).reshape(data.shape)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
