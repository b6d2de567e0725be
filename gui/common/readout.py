"""The line under a picture that says what is under the mouse: where, and the raw value there.

Plain numpy, so the words can be checked without a window; the Canvas finds the pixel.
"""

from __future__ import annotations

import numpy as np

# More channels than this are cut short: a line under the canvas, not a table.
_MAX_CHANNELS = 4


def number_text(value: float) -> str:
    """A raw value as image viewers show it: four significant digits, 'nan' and 'inf' as is."""
    return f"{float(value):.4g}"


def value_text(value: np.ndarray | float) -> str:
    """One pixel's value: '0.518' for one channel, '(0.1, 0.2, 0.3)' for several."""
    channels = np.atleast_1d(np.asarray(value, dtype=np.float64)).ravel()
    if channels.size == 1:
        return number_text(channels[0])
    shown = ", ".join(number_text(v) for v in channels[:_MAX_CHANNELS])
    more = ", …" if channels.size > _MAX_CHANNELS else ""
    return f"({shown}{more})"


def readout_text(values: np.ndarray, row: int, column: int, what: str) -> str:
    """'x 12, y 3 · activation 1.27': the pixel of (H, W) or (H, W, C) `values` at (row,
    column), named by `what` ('pixel', 'activation', 'heatmap'); "" outside the array."""
    values = np.asarray(values)
    if values.ndim not in (2, 3):
        raise ValueError(f"readout values must be (H, W) or (H, W, C), got shape {values.shape}")
    height, width = values.shape[:2]
    if not (0 <= row < height and 0 <= column < width):
        return ""
    return f"x {column}, y {row} · {what} {value_text(values[row, column])}"
