"""What a filter does to the image: the input channels it weighs most, its kernel slices for
them, and the feature map it makes, side by side."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QWidget

from gui.common.imaging import normalize_per_channel
from gui.filters.kernel_art import image_pixmap, kernel_pixmap, kernel_scale

TOP_CHANNELS = 3
SIDE = 96


def strongest_channels(kernel: np.ndarray, count: int = TOP_CHANNELS) -> list[int]:
    """The input channels of a (kh, kw, in) kernel with the largest L2 norms, strongest first."""
    kernel = np.asarray(kernel, dtype=np.float64)
    norms = np.sqrt((kernel**2).sum(axis=(0, 1)))
    return [int(k) for k in np.argsort(-norms, kind="stable")[:count]]


class FilterEffect(QWidget):
    """Rows of (input channel, kernel slice) and the filter's feature map on the right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.channels: list[int] = []
        self._cells: list[QLabel] = []
        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        self._grid = QGridLayout(self)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self._grid.addWidget(self.note_label, 0, 0, 1, 4)

    # ------------------------------------------------------------------------------- public API

    def show_effect(
        self,
        kernel: np.ndarray,
        image: np.ndarray | None,
        feature_map: np.ndarray | None,
        model_channels: int | None = None,
        input_maps: np.ndarray | None = None,
    ) -> None:
        """Draw the top input channels of `kernel` ((kh, kw, in)), each with the map the kernel
        slice is applied to, and `feature_map` ((h, w)). `input_maps` ((H, W, in), raw) is what
        the layer reads for the current image: the previous layer's maps for a deeper layer;
        without it, the image's channel is shown when `image` ((H, W, C)) is the layer's input.
        `model_channels` is the model's input channel count, to tell a first layer of a model
        with 2, 4 or more channels (which the window's picture does not show) from a deeper one."""
        self._clear_cells()
        kernel = np.asarray(kernel, dtype=np.float32)
        self.channels = strongest_channels(kernel)
        inputs = _inputs(kernel, image, input_maps)
        notes = ["Input map · kernel slice (strongest first) → feature map."]
        if input_maps is not None and inputs is not None:
            notes.append("Each input map is what the layer reads, scaled on its own.")
        elif model_channels not in (None, 1, 3) and kernel.shape[2] == model_channels:
            notes.append(
                f"The layer reads the model's {model_channels} input channels; the window shows "
                "only the picture's grey or RGB part: inputs not shown."
            )
        elif inputs is None:
            notes.append("The layer reads earlier feature maps, not the image: inputs not shown.")
        if feature_map is None:
            notes.append("Open an image to see the feature map.")
        self.note_label.setText(" ".join(notes))
        scale = kernel_scale(kernel)
        for row, channel in enumerate(self.channels, start=1):
            if inputs is not None:
                self._add(image_pixmap(inputs[:, :, channel], SIDE), row, 0, f"input {channel}")
            self._add(kernel_pixmap(kernel[:, :, channel], scale, SIDE), row, 1, f"×  {channel}")
        if feature_map is not None:
            levels = normalize_per_channel(np.asarray(feature_map)[:, :, None])[:, :, 0]
            label = self._add(image_pixmap(levels, 2 * SIDE, "viridis"), 1, 2, "feature map")
            self._grid.addWidget(label, 1, 2, max(1, len(self.channels)), 1)

    def input_count(self) -> int:
        """How many input maps are drawn."""
        return sum(label.toolTip().startswith("input ") for label in self._cells)

    def clear(self) -> None:
        self._clear_cells()
        self.channels = []
        self.note_label.setText("Select a filter to see what it does to the current image.")

    def cell_count(self) -> int:
        """How many pictures are drawn."""
        return len(self._cells)

    # ------------------------------------------------------------------------------- helpers

    def _add(self, pixmap, row: int, column: int, tip: str) -> QLabel:
        label = QLabel()
        label.setPixmap(pixmap)
        label.setToolTip(tip)
        self._cells.append(label)
        self._grid.addWidget(label, row, column)
        return label

    def _clear_cells(self) -> None:
        for label in self._cells:
            self._grid.removeWidget(label)
            label.deleteLater()
        self._cells = []


def _inputs(
    kernel: np.ndarray, image: np.ndarray | None, input_maps: np.ndarray | None
) -> np.ndarray | None:
    """(H, W, in) in [0, 1]: the layer's input maps each scaled on its own, else the image when
    it is what the layer reads; None when neither matches the kernel's input channels."""
    reads = kernel.shape[2]
    if input_maps is not None and input_maps.ndim == 3 and input_maps.shape[2] == reads:
        return normalize_per_channel(input_maps)
    if image is not None and image.ndim == 3 and image.shape[2] == reads:
        return image
    return None
