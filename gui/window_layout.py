"""Where MainWindow's widgets go: tree and predictions, canvas over filmstrip and curve, grid
over the method panel."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow, QSplitter, QVBoxLayout, QWidget

COLUMN_WIDTHS = (430, 540, 420)


def _stack(*widgets: QWidget, stretch_first: bool = True) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    for k, widget in enumerate(widgets):
        layout.addWidget(widget, 1 if k == 0 and stretch_first else 0)
    return box


def _splitter(orientation: Qt.Orientation, parts: list[QWidget], sizes: list[int]) -> QSplitter:
    splitter = QSplitter(orientation)
    for part in parts:
        splitter.addWidget(part)
    splitter.setSizes(sizes)
    splitter.setChildrenCollapsible(False)
    return splitter


def lay_out(window: QMainWindow) -> QSplitter:
    """Place the widgets of `window` (a MainWindow); returns the splitter of its three columns."""
    left = _splitter(Qt.Vertical, [window.layer_tree, window.predictions], [500, 220])
    middle = _splitter(
        Qt.Vertical, [_stack(window.canvas, window.filmstrip), window.plot], [560, 160]
    )
    right = _splitter(
        Qt.Vertical, [_stack(window.filter_picker, window.atlas_bar), window.controls], [470, 250]
    )
    right.setStretchFactor(0, 1)  # a taller window grows the grid, not the method panel
    columns = _splitter(Qt.Horizontal, [left, middle, right], list(COLUMN_WIDTHS))
    columns.setStretchFactor(1, 1)  # and a wider one the canvas
    central = QWidget()
    layout = QVBoxLayout(central)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(window.message_bar)
    layout.addWidget(columns, 1)
    window.setCentralWidget(central)
    return columns
