"""The Microscope tab: open a microscope folder (or build one for the open model, with progress
and Cancel), pick a layer, and see every unit as a tile, sorted and filtered, with the clicked
unit's detail beside the grid. A folder dropped on the tab opens it."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.protocol.microscope_format import Microscope, UnitEntry
from gui.common.drops import accept_file_drag, dropped_path
from gui.microscope.delegate import TILE_SIZE, TileDelegate
from gui.microscope.detail import UnitDetail
from gui.microscope.pixmaps import PixmapCache
from gui.microscope.tiles import SORTS, VERDICT_FILTERS, UnitListModel, parse_units

IDLE_TEXT = (
    "Open a microscope folder (built by 'python main.py microscope' or by Build for the Open "
    "Model…) to see every unit of a layer with its top dataset images. Drop a folder here."
)


class MicroscopeView(QWidget):
    """Buttons, progress with Cancel, the layer and the filters, the grid and the detail."""

    folder_requested = Signal()  # "Open Folder…"
    build_requested = Signal()  # "Build for the Open Model…"
    folder_dropped = Signal(str)  # a folder dropped onto the tab
    cancel_requested = Signal()  # Cancel of a build
    layer_chosen = Signal(str)  # a layer's name from the combo
    visualize_requested = Signal(object)  # UnitEntry of the detail pane
    explain_requested = Signal(object, str)  # UnitEntry and one of its top images' file

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.microscope: Microscope | None = None
        self.layer_name = ""
        self.cache = PixmapCache()
        self.open_button = QPushButton("Open Folder…")
        self.build_button = QPushButton("Build for the Open Model…")
        self.build_button.setToolTip(
            "Visualize every unit of the open model and find its top images in a folder of "
            "images, here (resumable: build into the same folder again to go on)"
        )
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(18)
        self.cancel_button = QPushButton("Cancel")
        self.status_label = QLabel(IDLE_TEXT)
        self.status_label.setWordWrap(True)
        self.layer_combo = QComboBox()
        self.layer_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.layer_combo.setMinimumContentsLength(10)
        self.sort_combo = QComboBox()
        self.sort_combo.addItems(list(SORTS))
        self.sort_combo.setToolTip("Sort the units (numbers: highest first)")
        self.verdict_combo = QComboBox()
        self.verdict_combo.addItems(list(VERDICT_FILTERS))
        self.verdict_combo.setToolTip("Show only the units with this verdict")
        self.units_edit = QLineEdit()
        self.units_edit.setPlaceholderText("units: 12, 3-10")
        self.units_edit.setClearButtonEnabled(True)
        self.count_label = QLabel("")
        self.model = UnitListModel()
        self.grid = _unit_grid(self.model, self.cache)
        self.detail = UnitDetail(self.cache)
        self.detail_area = _scrolling(self.detail)
        # The detail goes under the grid: beside it, a 1280×720 window leaves neither room.
        self.splitter = QSplitter(Qt.Orientation.Vertical)

        self.open_button.clicked.connect(self.folder_requested)
        self.build_button.clicked.connect(self.build_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.layer_combo.currentTextChanged.connect(self._on_layer_combo_changed)
        self.sort_combo.currentTextChanged.connect(self._on_filter_changed)
        self.verdict_combo.currentTextChanged.connect(self._on_filter_changed)
        self.units_edit.textChanged.connect(self._on_filter_changed)
        self.grid.clicked.connect(self._on_grid_clicked)
        self.grid.activated.connect(self._on_grid_clicked)
        self.detail.visualize_requested.connect(self.visualize_requested)
        self.detail.explain_requested.connect(self.explain_requested)
        self.detail.input_chosen.connect(self._on_detail_input_chosen)
        self.setAcceptDrops(True)
        self.set_running(False)
        self._lay_out()

    # ------------------------------------------------------------------ public setters

    def show_microscope(self, microscope: Microscope, text: str) -> None:
        """List `microscope`'s layers (the controller then picks one) and say `text`."""
        self.microscope = microscope
        self.cache.clear()
        self.status_label.setText(text)
        with QSignalBlocker(self.layer_combo):
            self.layer_combo.clear()
            self.layer_combo.addItems([layer.name for layer in microscope.layers])
            self.layer_combo.setCurrentIndex(-1)
        self.detail.layers = {layer.name for layer in microscope.layers}
        self.show_units("", ())

    def select_layer(self, name: str) -> None:
        """Put `name` in the layer combo, as a choice of the user's (layer_chosen follows)."""
        self.layer_combo.setCurrentText(name)

    def show_units(self, layer: str, units: tuple[UnitEntry, ...], note: str = "") -> None:
        """Show the tiles of `units` (layer `layer`), filtered as the controls say; `note`
        stands in the grid's caption (a layer that cannot be read says why)."""
        self.layer_name = layer
        self.model.set_units(units)
        self.detail.clear()
        self._arrange(note)

    def show_message(self, text: str) -> None:
        self.status_label.setText(text)

    def set_running(self, running: bool, text: str = "") -> None:
        """Show the progress bar and Cancel while a build runs."""
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        self.build_button.setEnabled(not running)
        if running:
            self.progress.setValue(0)
        if text:
            self.status_label.setText(text)

    def set_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(round(100 * fraction))
        self.status_label.setText(text)

    def show_unit(self, unit: int) -> bool:
        """Select and detail unit number `unit` if it is shown; False if not."""
        row = self.model.row_of(unit)
        if row is None:
            return False
        index = self.model.index(row, 0)
        self.grid.setCurrentIndex(index)
        self._on_grid_clicked(index)
        return True

    # ------------------------------------------------------------------ helpers

    def _arrange(self, note: str = "") -> None:
        try:
            numbers = parse_units(self.units_edit.text())
        except ValueError as error:
            self.model.arrange(self.sort_combo.currentText(), None, set())
            self.count_label.setText(str(error))
            return
        verdict = VERDICT_FILTERS.get(self.verdict_combo.currentText())
        self.model.arrange(self.sort_combo.currentText(), verdict, numbers)
        total, shown = len(self.model.units()), self.model.rowCount()
        if note or not total:
            self.count_label.setText(note)
        else:
            self.count_label.setText(f"{shown:,} of {total:,} units shown. Click one for more.")

    def _lay_out(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.build_button)
        top.addWidget(self.layer_combo, 1)
        running = QHBoxLayout()
        running.addWidget(self.progress, 1)
        running.addWidget(self.cancel_button)
        filters = QHBoxLayout()
        for widget in (QLabel("Sort"), self.sort_combo, self.verdict_combo):
            filters.addWidget(widget)
        filters.addWidget(self.units_edit, 1)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(filters)
        column.addWidget(self.count_label)
        column.addWidget(self.grid, 1)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.detail_area)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setSizes([300, 260])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addLayout(running)
        layout.addWidget(self.status_label)
        layout.addWidget(self.splitter, 1)

    # ------------------------------------------------------------------ events and slots

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        accept_file_drag(event)

    def dropEvent(self, event: QDropEvent) -> None:
        path = dropped_path(event)
        if path:
            self.folder_dropped.emit(path)

    def _on_layer_combo_changed(self, name: str) -> None:
        if name:
            self.layer_chosen.emit(name)

    def _on_filter_changed(self, _text: str) -> None:
        self._arrange()
        self.detail.clear()

    def _on_detail_input_chosen(self, layer: str, unit: int) -> None:
        # Walk the circuit back: the input's layer, filters cleared so the unit is shown.
        with QSignalBlocker(self.units_edit), QSignalBlocker(self.verdict_combo):
            self.units_edit.clear()
            self.verdict_combo.setCurrentIndex(0)
        if layer != self.layer_name:
            self.select_layer(layer)
        else:
            self._arrange()
        self.show_unit(unit)

    def _on_grid_clicked(self, index: QModelIndex) -> None:
        unit = self.model.unit_at(index.row())
        if unit is not None:
            self.detail.show_unit(self.layer_name, unit)


def _unit_grid(model: UnitListModel, cache: PixmapCache) -> QListView:
    """A list view of `model`'s tiles, drawn by a TileDelegate from `cache`."""
    grid = QListView()
    grid.setViewMode(QListView.ViewMode.IconMode)
    grid.setResizeMode(QListView.ResizeMode.Adjust)
    grid.setMovement(QListView.Movement.Static)
    # Uniform sizes: the view lays out thousands of rows without asking each its size.
    grid.setUniformItemSizes(True)
    grid.setGridSize(TILE_SIZE + QSize(4, 4))
    grid.setModel(model)
    grid.setItemDelegate(TileDelegate(cache, grid))
    grid.setMinimumSize(TILE_SIZE.width() + 24, TILE_SIZE.height() + 8)
    return grid


def _scrolling(widget: QWidget) -> QScrollArea:
    """`widget` scrolling up and down only: its texts wrap to the width there is."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area
