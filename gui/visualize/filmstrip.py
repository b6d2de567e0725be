"""A strip of small snapshots of the current run at steps 1, 2, 4, 8, … and its last step."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.common.imaging import qimage_from_rgb8, visualization_rgb8

THUMB_SIDE = 46
_STEP_ROLE = Qt.ItemDataRole.UserRole


class Filmstrip(QWidget):
    """One row of labelled thumbnails; clicking one asks for that snapshot to be shown large."""

    # (step, image): the snapshot the user clicked; image is the (H, W, C) float visualization
    # as it was added (raw values; show it with Canvas.show_visualization).
    snapshot_chosen = Signal(int, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._images: list[np.ndarray] = []
        # A list inside rather than a subclass: QListWidget.reset() is Qt's own, called by Qt.
        self.strip = QListWidget()
        self._configure(self.strip)

        self.strip.itemClicked.connect(self._on_strip_item_clicked)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.strip)
        self.setFixedHeight(self.strip.height())

    # ------------------------------------------------------------------------------- public API

    def reset(self) -> None:
        """Forget every snapshot, as a new run starts."""
        self.strip.clear()
        self._images.clear()

    def count(self) -> int:
        """How many snapshots the strip holds."""
        return self.strip.count()

    def add(self, step: int, image: np.ndarray) -> None:
        """Append the snapshot of `step`; a snapshot of the same step as the last one replaces it.

        `image` is (H, W, C) raw visualization values, drawn with the window's display mode;
        several images side by side are fine.
        """
        icon = _icon(visualization_rgb8(image))
        last = self.count() - 1
        if last >= 0 and self.step(last) == step:
            self._images[last] = image
            self.strip.item(last).setIcon(icon)
            return
        item = QListWidgetItem(icon, str(step))
        item.setData(_STEP_ROLE, step)
        item.setToolTip(f"The image after {step} step{'s' if step != 1 else ''}: click to view.")
        item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.strip.addItem(item)
        self._images.append(image)
        self.strip.scrollToItem(item)

    def redraw(self) -> None:
        """Draw every thumbnail again with the current display mode."""
        for index, image in enumerate(self._images):
            self.strip.item(index).setIcon(_icon(visualization_rgb8(image)))

    def step(self, index: int) -> int:
        """The step of snapshot `index`."""
        return int(self.strip.item(index).data(_STEP_ROLE))

    def steps(self) -> list[int]:
        """The steps of every snapshot, in order."""
        return [self.step(k) for k in range(self.count())]

    def image(self, index: int) -> np.ndarray:
        """The picture of snapshot `index`, as it was added."""
        return self._images[index]

    def item_rect(self, index: int):
        """Where snapshot `index` is drawn, in the strip's viewport coordinates."""
        return self.strip.visualItemRect(self.strip.item(index))

    # ------------------------------------------------------------------------------- helpers

    @staticmethod
    def _configure(strip: QListWidget) -> None:
        strip.setViewMode(QListView.ViewMode.IconMode)
        strip.setFlow(QListView.Flow.LeftToRight)
        strip.setWrapping(False)
        strip.setMovement(QListView.Movement.Static)
        strip.setIconSize(QSize(THUMB_SIDE, THUMB_SIDE))
        strip.setGridSize(QSize(THUMB_SIDE + 10, THUMB_SIDE + 20))
        strip.setSpacing(0)
        strip.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop)
        strip.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        strip.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        strip.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        strip.setToolTip("The run after 1, 2, 4, 8, … steps and at its end: click one to view it.")
        # Room for one row and a scroll bar, never more: the canvas above wants the height.
        strip.setFixedHeight(THUMB_SIDE + 22 + strip.horizontalScrollBar().sizeHint().height() + 6)

    # ------------------------------------------------------------------------------- slots

    def _on_strip_item_clicked(self, item: QListWidgetItem) -> None:
        index = self.strip.row(item)
        self.snapshot_chosen.emit(self.step(index), self._images[index])


def _icon(rgb8: np.ndarray) -> QIcon:
    # Nearest neighbour, like every picture here: a 28×28 digit should stay crisp.
    image = qimage_from_rgb8(rgb8).scaled(
        THUMB_SIDE,
        THUMB_SIDE,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.FastTransformation,
    )
    return QIcon(QPixmap.fromImage(image))
