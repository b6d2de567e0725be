"""Explanations kept side by side: one panel each, titled by method, class and time taken."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from engine.protocol import EXPLAIN_CATALOGUE, Explanation, method_title
from gui.common.elided_label import ElidedLabel
from gui.common.heatmaps import HeatmapStyle
from gui.common.imaging import qimage_from_rgb8
from gui.common.wording import duration_text
from gui.explain.view import render_explanation

PANEL_SIDE = 104
PANEL_PADDING = 10  # room each side of a panel's caption


def panel_caption(explanation: Explanation) -> str:
    """Two lines under a panel: the method, then what was explained and how long it took."""
    took = duration_text(explanation.seconds)
    caption = f"{method_title(explanation.method)}\n{explanation.label} · {took}"
    # An empty map must not pass for "nothing matters" beside the others either.
    return caption if explanation.verdict == "ok" else f"{caption} · {explanation.verdict} map"


class ComparisonStrip(QWidget):
    """A row of kept explanations, all drawn in the same style for a fair look."""

    # Index of the panel the user clicked: show it large.
    panel_chosen = Signal(int)
    # Index of the panel whose picture and raw map the user wants saved.
    export_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._explanations: list[Explanation] = []
        self._pictures: list[np.ndarray] = []
        self._style = HeatmapStyle()
        self.grid = QListWidget()
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setIconSize(QSize(PANEL_SIDE, PANEL_SIDE))
        self.grid.setGridSize(QSize(self._panel_width(), PANEL_SIDE + 40))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setFlow(QListView.Flow.LeftToRight)
        self.grid.setWrapping(False)  # one row, scrolled sideways: side by side, same height
        self.grid.setWordWrap(True)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.setToolTip("Click: show large · right-click: export or remove")
        self.grid.setMinimumHeight(PANEL_SIDE + 64)
        self.hint_label = ElidedLabel()
        self.hint_label.setEnabled(False)  # greyed: a remark, not a control
        self._update_hint()

        self.grid.itemClicked.connect(self._on_grid_item_clicked)
        self.grid.customContextMenuRequested.connect(self._on_grid_context_menu)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.hint_label)
        layout.addWidget(self.grid, 1)

    # ------------------------------------------------------------------------------- public API

    def add(self, explanation: Explanation) -> int:
        """Keep `explanation` as a new panel at the end; returns its index."""
        self._explanations.append(explanation)
        self._pictures.append(np.zeros((1, 1, 3), np.uint8))
        item = QListWidgetItem(panel_caption(explanation))
        item.setToolTip(panel_caption(explanation).replace("\n", " · "))
        self.grid.addItem(item)
        index = len(self._explanations) - 1
        self._paint(index)
        self.grid.scrollToItem(item)
        self._update_hint()
        return index

    def remove(self, index: int) -> None:
        del self._explanations[index]
        del self._pictures[index]
        self.grid.takeItem(index)
        self._update_hint()

    def clear(self) -> None:
        self._explanations.clear()
        self._pictures.clear()
        self.grid.clear()
        self._update_hint()

    def count(self) -> int:
        return len(self._explanations)

    def explanation(self, index: int) -> Explanation:
        return self._explanations[index]

    def caption(self, index: int) -> str:
        return self.grid.item(index).text()

    def picture(self, index: int) -> np.ndarray:
        """The (h, w, 3) uint8 picture of panel `index` before it was shrunk to an icon."""
        return self._pictures[index]

    def set_style(self, style: HeatmapStyle) -> None:
        """Draw every panel in `style`, so the panels stay comparable with the large view."""
        self._style = style
        for index in range(self.count()):
            self._paint(index)

    def item_rect_center(self, index: int) -> QPoint:
        """Where panel `index` is on the grid's viewport (for clicks)."""
        return self.grid.visualItemRect(self.grid.item(index)).center()

    # ------------------------------------------------------------------------------- helpers

    def _panel_width(self) -> int:
        # As wide as the longest method's name ("Guided backpropagation"), so that the first
        # line of every caption reads whole and the second line keeps its room.
        metrics = self.grid.fontMetrics()
        widest = max(metrics.horizontalAdvance(m.title) for m in EXPLAIN_CATALOGUE.values())
        return max(PANEL_SIDE + 36, widest + 2 * PANEL_PADDING)

    def _update_hint(self) -> None:
        if self.count():
            self.hint_label.setText(
                f"Comparison: {self.count()} kept · click one to show it large · right-click to "
                "export or remove"
            )
        else:
            self.hint_label.setText(
                "Comparison: 'Add to comparison' keeps the explanation shown here, beside others"
            )

    def _paint(self, index: int) -> None:
        picture = render_explanation(
            self._explanations[index], self._style, PANEL_SIDE, colorbar=False
        )
        self._pictures[index] = picture
        image = qimage_from_rgb8(picture).scaled(
            PANEL_SIDE,
            PANEL_SIDE,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.grid.item(index).setIcon(QIcon(QPixmap.fromImage(image)))

    # ------------------------------------------------------------------------------- slots

    def _on_grid_item_clicked(self, item: QListWidgetItem) -> None:
        self.panel_chosen.emit(self.grid.row(item))

    def _on_grid_context_menu(self, position: QPoint) -> None:
        item = self.grid.itemAt(position)
        menu = QMenu(self)
        if item is not None:
            index = self.grid.row(item)
            menu.addAction("Show large", lambda: self.panel_chosen.emit(index))
            menu.addAction("Export PNG and .npy…", lambda: self.export_requested.emit(index))
            menu.addAction("Remove", lambda: self.remove(index))
            menu.addSeparator()
        menu.addAction("Remove all", self.clear).setEnabled(self.count() > 0)
        menu.exec(self.grid.viewport().mapToGlobal(position))
