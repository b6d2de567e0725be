"""The notebooks' weight grid: every filter's kernel of a layer, for one input channel."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QSpinBox, QVBoxLayout, QWidget

from gui.common.heatmaps import diverging
from gui.common.imaging import qimage_from_rgb8

TILE_PIXELS = 36  # each kernel is drawn this big (nearest neighbour), whatever its size
GAP = 4


def grid_picture(grid: np.ndarray) -> np.ndarray:
    """(filters, kh, kw) → one (H, W, 3) uint8 mosaic, one shared red-white-blue scale."""
    filters, height, width = grid.shape
    columns = max(1, math.ceil(math.sqrt(filters)))
    rows = math.ceil(filters / columns)
    scale = float(np.abs(grid).max()) or 1.0
    zoom = max(1, TILE_PIXELS // max(height, width))
    tile_h, tile_w = height * zoom, width * zoom
    picture = np.full(
        (rows * (tile_h + GAP) + GAP, columns * (tile_w + GAP) + GAP, 3), 235, np.uint8
    )
    for k in range(filters):
        tile = diverging(grid[k], scale)
        tile = np.repeat(np.repeat(tile, zoom, axis=0), zoom, axis=1)
        top = GAP + (k // columns) * (tile_h + GAP)
        left = GAP + (k % columns) * (tile_w + GAP)
        picture[top : top + tile_h, left : left + tile_w] = tile
    return picture


class WeightGrid(QWidget):
    """A mosaic of a layer's kernels for the chosen input channel."""

    channel_changed = Signal(int)  # the user picked another input channel for the grid

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.channel_box = QSpinBox()
        self.channel_box.setToolTip("Which input channel of every filter's kernel is shown")
        self.caption = QLabel()
        self.picture_label = QLabel()
        self.picture_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        scroll = QScrollArea()
        scroll.setWidget(self.picture_label)
        scroll.setWidgetResizable(True)
        self.picture: np.ndarray | None = None

        self.channel_box.valueChanged.connect(self._on_channel_box_value_changed)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Input channel"))
        bar.addWidget(self.channel_box)
        bar.addWidget(self.caption, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(scroll, 1)

    def show_grid(self, grid: np.ndarray | None, channel: int, channels: int) -> None:
        """Draw `grid` (filters, kh, kw) for input `channel` of `channels`."""
        self.channel_box.blockSignals(True)
        self.channel_box.setRange(0, max(0, channels - 1))
        self.channel_box.setValue(channel)
        self.channel_box.blockSignals(False)
        if grid is None or not len(grid):
            self.picture = None
            self.picture_label.clear()
            self.caption.setText("")
            return
        self.picture = grid_picture(grid)
        self.picture_label.setPixmap(QPixmap.fromImage(qimage_from_rgb8(self.picture)))
        peak = float(np.abs(grid).max())
        self.caption.setText(f"{len(grid)} filters · colour scale ±{peak:.3g}")

    def _on_channel_box_value_changed(self, value: int) -> None:
        self.channel_changed.emit(value)
