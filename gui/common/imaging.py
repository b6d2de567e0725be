"""Pixel helpers shared by the widgets: raw activations and [0, 1] floats to RGB bytes.

Everything here is plain numpy so it can be tested without a window; only
`qimage_from_rgb8` touches Qt, to hand finished pixels to a widget.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QImage

from engine.protocol.display import (
    DEFAULT_DISPLAY,
    check_display_mode,
    normalize_for_display,
    screen_colours,
)

# How every visualization in the window is drawn (View ▸ Display): one choice for the canvas,
# filmstrip, atlas grid and exports, so the same image never looks different in two places.
# A module-level setting, like pyqtgraph's config options: the window sets it, painters read it.
_display = {"mode": DEFAULT_DISPLAY}


def display_mode() -> str:
    """The display normalization visualizations are drawn with now (DISPLAY_MODES)."""
    return _display["mode"]


def set_display_mode(mode: str) -> None:
    """Draw visualizations with `mode` from now on; ValueError names an unknown mode."""
    _display["mode"] = check_display_mode(mode)


def visualization_picture(image: np.ndarray, mode: str | None = None) -> np.ndarray:
    """A visualization (raw values, fractions of the model's input range, maybe outside
    [0, 1]) as the [0, 1] picture the window shows, with `mode` or the current display mode.
    Not for the user's photos, which are pictures already."""
    return normalize_for_display(image, mode or display_mode())


def visualization_rgb8(image: np.ndarray, mode: str | None = None) -> np.ndarray:
    """`visualization_picture` as contiguous (H, W, 3) RGB bytes, as `to_rgb8` draws them."""
    return to_rgb8(visualization_picture(image, mode))


def normalize_per_channel(maps: np.ndarray) -> np.ndarray:
    """Scale each channel of (H, W, C) raw activations to [0, 1] on its own.

    Channels differ in scale by orders of magnitude, so a shared scale would leave most of them
    black. A constant channel (often a dead ReLU) becomes zeros rather than NaN.
    """
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"feature maps must be (H, W, C), got shape {maps.shape}")
    # float64 so that a channel multiplied by a constant normalizes to the same values.
    data = np.nan_to_num(maps.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low = data.min(axis=(0, 1), keepdims=True)
    span = data.max(axis=(0, 1), keepdims=True) - low
    safe_span = np.where(span > 0, span, 1.0)
    out = np.where(span > 0, (data - low) / safe_span, 0.0)
    return out.astype(np.float32)


@lru_cache(maxsize=16)
def _lookup_table(name: str) -> np.ndarray:
    """A (256, 3) uint8 table; cached because reading a colormap parses a file."""
    if name == "gray":
        ramp = np.arange(256, dtype=np.uint8)
        table = np.stack([ramp, ramp, ramp], axis=1)
    else:
        try:
            colormap = pg.colormap.get(name)
        except FileNotFoundError:
            raise ValueError(f"unknown colormap {name!r}") from None
        table = np.asarray(colormap.getLookupTable(0.0, 1.0, 256, alpha=False), dtype=np.uint8)
    table.setflags(write=False)
    return table


def _to_bytes(values: np.ndarray) -> np.ndarray:
    """[0, 1] floats to 0..255, clipping what lies outside and treating NaN as 0."""
    clean = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return (np.clip(clean, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def apply_colormap(gray: np.ndarray, name: str = "viridis") -> np.ndarray:
    """Map an (H, W) image in [0, 1] through a pyqtgraph colormap ("gray" for plain grey)."""
    gray = np.asarray(gray)
    if gray.ndim != 2:
        raise ValueError(f"apply_colormap expects an (H, W) image, got shape {gray.shape}")
    return np.ascontiguousarray(_lookup_table(name)[_to_bytes(gray)])


def to_rgb8(image: np.ndarray, colormap: str | None = None) -> np.ndarray:
    """(H, W) or (H, W, C) floats in [0, 1], any C ≥ 1, to contiguous (H, W, 3) uint8.

    - C = 1 (or 2-D): through `colormap`, or plain grey when it is None.
    - C = 2 (grey + alpha models): false colour, red = channel 0, green = channel 1,
      blue = their mean, so both channels stay visible.
    - C = 3: as is. C ≥ 4: the first three channels as RGB; the rest (an RGBA model's alpha,
      a multispectral model's extra bands) are not drawn: a screen has three colours.
      The rule is `engine.protocol.display.screen_colours`, which the headless commands share.
    """
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return apply_colormap(image, colormap or "gray")
    if image.ndim == 3 and image.shape[2] >= 2:
        return np.ascontiguousarray(_to_bytes(screen_colours(image)))
    raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {image.shape}")


def qimage_from_rgb8(rgb: np.ndarray) -> QImage:
    """A QImage that owns its pixels, so `rgb` may be freed or changed afterwards."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 array, got shape {rgb.shape}")
    height, width = rgb.shape[:2]
    # QImage only borrows the buffer; copy() detaches it before `rgb` can go away.
    view = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return view.copy()


def upscale_nearest(rgb8: np.ndarray, min_side: int) -> np.ndarray:
    """Repeat pixels by the smallest integer factor that makes the shorter side >= `min_side`.

    Nearest neighbour keeps a 28×28 input crisp: smoothing would invent detail the model never saw.
    """
    rgb8 = np.asarray(rgb8)
    short = min(rgb8.shape[0], rgb8.shape[1])
    if short == 0:
        raise ValueError(f"cannot upscale an empty image of shape {rgb8.shape}")
    factor = max(1, math.ceil(min_side / short))
    if factor == 1:
        return np.ascontiguousarray(rgb8)
    return np.ascontiguousarray(np.repeat(np.repeat(rgb8, factor, axis=0), factor, axis=1))
