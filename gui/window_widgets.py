"""Every widget of the main window and where it goes: layers, sketch pad or layer properties
over predictions on the left; tabs in the centre (Visualize: canvas over filmstrip and curve;
Explain; Network; Filters; Compare); the sorted grid over the method panel on the right."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtWidgets import (
    QFrame,
    QMenu,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.common.canvas import Canvas
from gui.common.elided_label import ElidedLabel
from gui.common.message_bar import MessageBar
from gui.common.names import SPLITTERS_GROUP, Tab
from gui.common.predictions import PredictionsPanel
from gui.compare.view import CompareView
from gui.dataset.view import EvaluationView
from gui.explain.panel import ExplainPanel
from gui.filters.panel import FiltersPanel
from gui.images.sketch_pad import SketchPad
from gui.layers.filter_picker import FilterPicker
from gui.layers.graph_view import GraphView
from gui.layers.layer_tree import LayerTree
from gui.layers.picker_sort import SortBar
from gui.layers.properties import LayerPropertiesPane
from gui.microscope.view import MicroscopeView
from gui.network.view import NetworkView
from gui.visualize.atlas_bar import AtlasBar
from gui.visualize.controls import AscentControls
from gui.visualize.filmstrip import Filmstrip
from gui.visualize.objective_plot import ObjectivePlot

# Left, centre, right at the default 1400 px: the narrow columns keep their width when the
# window is smaller or larger, the canvas in the centre takes the difference.
COLUMN_WIDTHS = (300, 680, 420)
# The narrowest a scrolling panel gets: its main buttons stay visible, the rest scrolls.
SCROLLING_MIN_WIDTH = 240
TAB_TIPS = {
    Tab.VISUALIZE: "Grow images that excite a filter, a neuron or a class",
    Tab.EXPLAIN: "Which pixels made the model decide, by 13 attribution methods",
    Tab.NETWORK: "Every layer's feature maps for the current image, in order",
    Tab.FILTERS: "Inside the selected filter: its kernels, its circuit, its top images",
    Tab.COMPARE: "Two models, or two checkpoints, side by side on the selected filter",
    Tab.DATASET: "The model on labelled images: accuracy, confusion matrix, the misclassified",
    Tab.MICROSCOPE: "Every unit of a layer with its visualization and top dataset images",
}


class WindowWidgets:
    """The widgets, made and placed; `central` goes in the window, the status widgets in its
    status bar."""

    def __init__(self, settings: QSettings) -> None:
        self.message_bar = MessageBar()
        self.layer_tree = LayerTree()
        self.sketch_pad = SketchPad()
        self.layer_properties = LayerPropertiesPane()
        self.layer_graph = GraphView()
        self.left_tabs = QTabWidget()
        self.predictions = PredictionsPanel()
        self.canvas = Canvas()
        self.filmstrip = Filmstrip()
        self.plot = ObjectivePlot()
        self.explain_panel = ExplainPanel()
        self.network = NetworkView()
        self.filters_panel = FiltersPanel()
        self.compare_view = CompareView()
        self.evaluation_view = EvaluationView()
        self.microscope_view = MicroscopeView()
        self.centre_tabs = QTabWidget()
        self.sort_bar = SortBar()
        self.filter_picker = FilterPicker()
        self.atlas_bar = AtlasBar()
        self.controls = AscentControls(store=settings)
        # Status lines and model names can be long: cut, whole in the tooltip, so that they
        # never make the window wider than the screen.
        self.status_label = ElidedLabel("Starting…")
        self.busy = QProgressBar()
        self.busy.setMaximumSize(120, 14)
        self.busy.setTextVisible(False)
        self.busy.setRange(0, 0)  # indeterminate: the engine says what, not how far
        self.model_label = ElidedLabel("", mode=Qt.TextElideMode.ElideMiddle)
        # File › Open Recent Model / Image; the files controller fills them.
        self.recent_models_menu = QMenu("Open &Recent Model")
        self.recent_images_menu = QMenu("Open Recent I&mage")
        self.central = QWidget()
        # The splitters the user can drag, by the name their sizes are remembered under.
        self.splitters: dict[str, QSplitter] = {}
        self.columns = self._lay_out()

    def current_tab(self) -> Tab:
        return Tab(self.centre_tabs.currentIndex())

    def active_canvas(self) -> Canvas:
        """The canvas of the tab in front: what Export Canvas and Fit act on."""
        tab = self.current_tab()
        if tab is Tab.EXPLAIN:
            return self.explain_panel.view.canvas
        if tab is Tab.NETWORK:
            return self.network.canvas
        return self.canvas

    def save_splitters(self, settings: QSettings) -> None:
        """Remember where the user dragged every splitter (the columns are COLUMNS_KEY)."""
        settings.beginGroup(SPLITTERS_GROUP)
        for name, splitter in self.splitters.items():
            settings.setValue(name, splitter.saveState())
        settings.endGroup()

    def restore_splitters(self, settings: QSettings) -> None:
        """Put every splitter where the user left it; unknown or broken states are ignored."""
        settings.beginGroup(SPLITTERS_GROUP)
        for name, splitter in self.splitters.items():
            state = settings.value(name)
            if isinstance(state, QByteArray):
                splitter.restoreState(state)
        settings.endGroup()

    def _lay_out(self) -> QSplitter:
        self.left_tabs.addTab(self.layer_tree, "Layers")
        self.left_tabs.addTab(self.sketch_pad, "Sketch")
        self.left_tabs.addTab(_scrolling(self.layer_properties), "Properties")
        self.left_tabs.setTabToolTip(
            2, "The selected layer's kernel, strides, parameters and receptive field"
        )
        self.left_tabs.addTab(self.layer_graph, "Graph")
        self.left_tabs.setTabToolTip(
            3, "The layers as a graph, branches and merges drawn; click a box to select it"
        )
        self.left_tabs.setDocumentMode(True)
        left = _splitter(Qt.Orientation.Vertical, [self.left_tabs, self.predictions], [500, 220])
        visualize = _splitter(
            Qt.Orientation.Vertical, [_stack(self.canvas, self.filmstrip), self.plot], [560, 160]
        )
        tabs = self.centre_tabs
        tabs.setDocumentMode(True)
        # Seven tab names in the ~420 px the centre column has at 1280×720: narrower padding
        # than the style's, so that every name is whole instead of 'Visu…', 'Ex…'.
        tabs.tabBar().setStyleSheet(
            "QTabBar::tab { padding: 4px 5px; }"
            "QTabBar::tab:selected { border-bottom: 2px solid palette(highlight); }"
        )
        tabs.tabBar().setElideMode(Qt.TextElideMode.ElideNone)
        pages = {
            Tab.VISUALIZE: visualize,
            Tab.EXPLAIN: _scrolling(self.explain_panel),
            Tab.NETWORK: self.network,
            Tab.FILTERS: _scrolling(self.filters_panel),
            Tab.COMPARE: _scrolling(self.compare_view),
            Tab.DATASET: self.evaluation_view,
            Tab.MICROSCOPE: self.microscope_view,
        }
        for tab, page in pages.items():
            tabs.insertTab(tab, page, tab.title)
            tabs.setTabToolTip(tab, TAB_TIPS[tab])
        grid = _stack(self.sort_bar, self.filter_picker, self.atlas_bar, stretch=1)
        right = _splitter(Qt.Orientation.Vertical, [grid, _scrolling(self.controls)], [470, 250])
        right.setStretchFactor(0, 1)  # a taller window grows the grid, not the method panel
        columns = _splitter(Qt.Orientation.Horizontal, [left, tabs, right], list(COLUMN_WIDTHS))
        columns.setStretchFactor(1, 1)  # and a wider one the canvas
        self.splitters.update(
            left=left, visualize=visualize, right=right, explain=self.explain_panel.splitter
        )
        self.splitters["microscope"] = self.microscope_view.splitter
        layout = QVBoxLayout(self.central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(columns, 1)
        # Over the columns, never pushing them down; under the tabs, which stay usable.
        self.message_bar.float_over(self.central, below=tabs.tabBar())
        return columns


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
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setMinimumWidth(SCROLLING_MIN_WIDTH)
    return area


def _splitter(orientation: Qt.Orientation, parts: list[QWidget], sizes: list[int]) -> QSplitter:
    splitter = QSplitter(orientation)
    for part in parts:
        splitter.addWidget(part)
    splitter.setSizes(sizes)
    splitter.setChildrenCollapsible(False)
    return splitter
