"""Where MainWindow's widgets go: layers or sketch pad over predictions; tabs in the centre
(Visualize: canvas over filmstrip and curve; Explain; Network; Filters; Compare); the sorted
grid over the method panel on the right."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QMainWindow, QScrollArea, QSplitter, QVBoxLayout, QWidget

COLUMN_WIDTHS = (420, 560, 420)
# The narrowest a scrolling panel gets: its main buttons stay visible, the rest scrolls.
SCROLLING_MIN_WIDTH = 240


def _stack(*widgets: QWidget, stretch: int = 0) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    for k, widget in enumerate(widgets):
        layout.addWidget(widget, 1 if k == stretch else 0)
    return box


def _scrolling(widget: QWidget) -> QScrollArea:
    """`widget` in a scroll area that scrolls only when the column is narrower (or shorter) than
    the widget's minimum, so that wide panels do not force the window wider than a 1280×720
    screen; at any larger size it fills the area as before."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    area.setMinimumWidth(SCROLLING_MIN_WIDTH)
    return area


def _splitter(orientation: Qt.Orientation, parts: list[QWidget], sizes: list[int]) -> QSplitter:
    splitter = QSplitter(orientation)
    for part in parts:
        splitter.addWidget(part)
    splitter.setSizes(sizes)
    splitter.setChildrenCollapsible(False)
    return splitter


def lay_out(window: QMainWindow) -> QSplitter:
    """Place the widgets of `window` (a MainWindow); returns the splitter of its three columns."""
    window.left_tabs.addTab(window.layer_tree, "Layers")
    window.left_tabs.addTab(window.sketch_pad, "Sketch")
    window.left_tabs.setDocumentMode(True)
    left = _splitter(Qt.Vertical, [window.left_tabs, window.predictions], [500, 220])
    visualize = _splitter(
        Qt.Vertical, [_stack(window.canvas, window.filmstrip), window.plot], [560, 160]
    )
    tabs = window.centre_tabs
    tabs.setDocumentMode(True)
    tabs.addTab(visualize, "Visualize")
    tabs.addTab(_scrolling(window.explain_panel), "Explain")
    tabs.addTab(window.network, "Network")
    tabs.addTab(_scrolling(window.filters_panel), "Filters")
    tabs.addTab(_scrolling(window.compare_view), "Compare")
    tabs.setTabToolTip(0, "Grow images that excite a filter, a neuron or a class")
    tabs.setTabToolTip(1, "Which pixels made the model decide, by 13 attribution methods")
    tabs.setTabToolTip(2, "Every layer's feature maps for the current image, in order")
    tabs.setTabToolTip(3, "Inside the selected filter: its kernels, its circuit, its top images")
    tabs.setTabToolTip(4, "Two models, or two checkpoints, side by side on the selected filter")
    grid = _stack(window.sort_bar, window.filter_picker, window.atlas_bar, stretch=1)
    right = _splitter(Qt.Vertical, [grid, _scrolling(window.controls)], [470, 250])
    right.setStretchFactor(0, 1)  # a taller window grows the grid, not the method panel
    columns = _splitter(Qt.Horizontal, [left, tabs, right], list(COLUMN_WIDTHS))
    columns.setStretchFactor(1, 1)  # and a wider one the canvas
    central = QWidget()
    layout = QVBoxLayout(central)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(window.message_bar)
    layout.addWidget(columns, 1)
    window.setCentralWidget(central)
    return columns
