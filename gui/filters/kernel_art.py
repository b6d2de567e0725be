"""Pictures of kernels: one signed slice as red-white-blue squares, its weights written in the
cells when it is small enough to read, and numbers for the stats tables."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap

from gui.common.heatmaps import diverging
from gui.common.imaging import qimage_from_rgb8, to_rgb8, upscale_nearest

WRITE_VALUES_UP_TO = 5  # kernels up to 5×5 get their weights written in the cells
STAT_NAMES = ("min", "max", "mean", "std", "near_zero")


def kernel_scale(kernel: np.ndarray) -> float:
    """The largest weight magnitude: slices of one filter share it so colours compare."""
    kernel = np.asarray(kernel, dtype=np.float64)
    return float(np.max(np.abs(kernel))) if kernel.size else 0.0


def writes_values(values: np.ndarray) -> bool:
    """Whether a (kh, kw) slice is small enough to have its weights written in it."""
    return max(np.shape(values)[:2]) <= WRITE_VALUES_UP_TO


def kernel_pixmap(
    values: np.ndarray, scale: float, side: int = 72, write_values: bool = True
) -> QPixmap:
    """A (kh, kw) slice as a `side`-pixel picture, red > 0 > blue, weights written if small
    (and `write_values`)."""
    values = np.asarray(values, dtype=np.float32)
    picture = upscale_nearest(diverging(values, scale), side)
    image = qimage_from_rgb8(picture)
    if write_values and writes_values(values):
        _write_values(image, values)
    painter = QPainter(image)
    painter.setPen(QColor(128, 128, 128))
    painter.drawRect(0, 0, image.width() - 1, image.height() - 1)
    painter.end()
    return QPixmap.fromImage(image)


def image_pixmap(image: np.ndarray, side: int = 72, colormap: str | None = None) -> QPixmap:
    """An (H, W[, C]) image in [0, 1] (or raw, with `colormap`) enlarged with square pixels."""
    return QPixmap.fromImage(qimage_from_rgb8(upscale_nearest(to_rgb8(image, colormap), side)))


def rgb8_pixmap(rgb8: np.ndarray, side: int = 72) -> QPixmap:
    """(h, w, 3) uint8 enlarged with square pixels so the short side is >= `side`."""
    return QPixmap.fromImage(qimage_from_rgb8(upscale_nearest(rgb8, side)))


def stat_text(value: float) -> str:
    """A weight statistic as the tables show it: 4 significant digits."""
    return f"{float(value):.4g}"


def _write_values(image, values: np.ndarray) -> None:
    rows, cols = values.shape[:2]
    cell_w, cell_h = image.width() / cols, image.height() / rows
    painter = QPainter(image)
    font = QFont(painter.font())
    font.setPixelSize(max(7, int(min(cell_w, cell_h) / 3.2)))
    painter.setFont(font)
    for r in range(rows):
        for c in range(cols):
            cell = QRect(int(c * cell_w), int(r * cell_h), int(cell_w), int(cell_h))
            painter.setPen(QColor(20, 20, 20))
            painter.drawText(cell, Qt.AlignmentFlag.AlignCenter, f"{values[r, c]:.2f}")
    painter.end()
