"""One layer of the network walk: its name and shape over its channel thumbnails or unit bars."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPalette, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.protocol import LayerInfo
from gui.common.imaging import qimage_from_rgb8
from gui.network.feature_grids import (
    BAR_HEIGHT,
    GAP,
    cell_at,
    channel_thumbnails,
    tile_grid,
    unit_bars,
)

THUMB_SIDE = 26
COLUMNS = 16  # thumbnails a line: 16 × 28 px fits the centre column
LINE_WIDTH = COLUMNS * (THUMB_SIDE + GAP) - GAP
CHANNEL_CAP = 64  # a VGG layer of 512 channels shows 64 and a link to the rest
UNIT_CAP = 256


class LayerRow(QWidget):
    """Thumbnails (channels) or bars (Dense units) of one layer for the current image."""

    # The channel or unit the user clicked.
    unit_clicked = Signal(int)

    def __init__(self, info: LayerInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info = info
        self._maps: np.ndarray | None = None
        self._expanded = False
        self._cell = (THUMB_SIDE, THUMB_SIDE, COLUMNS, GAP)  # width, height, columns, x gap
        self._shown = 0
        self.header = QLabel(f"<b>{info.name}</b> · {_shape_text(info)}")
        self.header.setToolTip("/".join(info.path) + f" ({info.type_name})")
        self.picture = QLabel("waiting for the image…")
        self.picture.setEnabled(False)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.more_label = QLabel()
        self.more_label.setVisible(False)

        self.more_label.linkActivated.connect(self._on_more_label_link_activated)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.header)
        top.addStretch(1)
        top.addWidget(self.more_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 6)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.picture)

    # ------------------------------------------------------------------------------- public API

    def set_maps(self, maps: np.ndarray | None) -> None:
        """Show `maps` ((H, W, C) raw channel maps or (units,) values); None: waiting again."""
        self._maps = None if maps is None else np.asarray(maps)
        self._render()

    def maps(self) -> np.ndarray | None:
        return self._maps

    def shown_count(self) -> int:
        """How many channels or units are drawn (the rest behind '+N more')."""
        return self._shown

    def unit_center(self, unit: int) -> QPoint:
        """Where `unit` is drawn, in this row's coordinates (for clicks)."""
        width, height, columns, gap_x = self._cell
        line, column = divmod(unit, columns)
        local = QPoint(column * (width + gap_x) + width // 2, line * (height + GAP) + height // 2)
        return self.picture.pos() + local

    # ------------------------------------------------------------------------------- helpers

    def _render(self) -> None:
        maps = self._maps
        if maps is None:
            self.picture.clear()
            self.picture.setText("waiting for the image…")
            self.more_label.setVisible(False)
            self._shown = 0
            return
        if maps.ndim == 3:
            count = maps.shape[2]
            self._shown = count if self._expanded else min(count, CHANNEL_CAP)
            # A layer of a few channels gets them twice as large on one line.
            side, columns = (2 * THUMB_SIDE, COLUMNS // 2) if count <= 8 else (THUMB_SIDE, COLUMNS)
            thumbnails = channel_thumbnails(maps, side, self._shown)
            picture = tile_grid(thumbnails, columns, background=self._background())
            self._cell = (side, side, columns, GAP)
        else:
            values = maps.ravel()
            count = values.size
            self._shown = count if self._expanded else min(count, UNIT_CAP)
            picture = self._bars(values[: self._shown], values)
        self.picture.setPixmap(QPixmap.fromImage(qimage_from_rgb8(picture)))
        self.picture.setFixedSize(picture.shape[1], picture.shape[0])
        self.picture.setEnabled(True)
        hidden = count - self._shown
        self.more_label.setText(f'<a href="more">+{hidden} more</a>' if hidden else "")
        self.more_label.setVisible(hidden > 0)

    def _bars(self, shown: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Bars wrapped in lines of LINE_WIDTH, all on the layer's one scale."""
        bar_width = int(np.clip(LINE_WIDTH // max(1, shown.size) - 1, 2, 24))
        per_line = max(1, (LINE_WIDTH + 1) // (bar_width + 1))
        scale = float(np.max(np.abs(values))) if values.size else 0.0
        signed = bool(values.size) and float(values.min()) < 0
        lines = [
            unit_bars(shown[k : k + per_line], bar_width, BAR_HEIGHT, scale=scale, signed=signed)
            for k in range(0, shown.size, per_line)
        ]
        width = max(line.shape[1] for line in lines)
        padded = [
            np.pad(line, ((0, 0), (0, width - line.shape[1]), (0, 0)), constant_values=245)
            for line in lines
        ]
        self._cell = (bar_width, BAR_HEIGHT, per_line, 1)
        return tile_grid(np.stack(padded), 1) if len(padded) > 1 else padded[0]

    def _background(self) -> tuple[int, int, int]:
        """The row's own background: empty cells of the last line should not look like tiles."""
        color = self.palette().color(QPalette.ColorRole.Window)
        return color.red(), color.green(), color.blue()

    # ------------------------------------------------------------------------------- events

    def mousePressEvent(self, event: QMouseEvent) -> None:
        position = event.position().toPoint() - self.picture.pos()
        if self._maps is not None and event.button() == Qt.MouseButton.LeftButton:
            width, height, columns, gap_x = self._cell
            unit = cell_at(position.x(), position.y(), width, height, columns, gap_x)
            if unit is not None and unit < self._shown:
                self.unit_clicked.emit(unit)
                event.accept()
                return
        super().mousePressEvent(event)

    # ------------------------------------------------------------------------------- slots

    def _on_more_label_link_activated(self, _link: str) -> None:
        self._expanded = True
        self._render()


def _shape_text(info: LayerInfo) -> str:
    shape = info.output_shape[1:] if info.output_shape else ()
    if len(shape) == 1:
        return f"{info.size} units"
    dims = "×".join("?" if d is None else str(d) for d in shape)
    return dims or f"{info.size}"
