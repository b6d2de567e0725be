"""The Kernels sub-tab: one filter's weights slice by slice, its and its layer's statistics, the
layer's weight histogram, every filter's stats in a sortable table, and the filter's effect."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.protocol import Kernels
from gui.filters.filter_effect import FilterEffect
from gui.filters.kernel_art import (
    STAT_NAMES,
    WRITE_VALUES_UP_TO,
    image_pixmap,
    kernel_pixmap,
    kernel_scale,
    stat_text,
    writes_values,
)
from gui.filters.weight_grid import WeightGrid

MAX_CHANNELS = 64  # slices drawn; a 512-channel filter would be a wall of squares
COLUMNS = 6
_STAT_TITLES = ("min", "max", "mean", "std", "near zero")


class _NumberItem(QTableWidgetItem):
    """A cell that sorts by its number, not its text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        role = Qt.ItemDataRole.UserRole
        return float(self.data(role)) < float(other.data(role))


def _number_item(value: float, text: str) -> _NumberItem:
    item = _NumberItem(text)
    item.setData(Qt.ItemDataRole.UserRole, float(value))
    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


class KernelView(QWidget):
    """Draws a Kernels result; says which filter of the layer's table the user picked."""

    # A filter (row of the layer's table) the user clicked: show its kernels.
    filter_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._kernels: Kernels | None = None
        self.channel_labels: list[QLabel] = []
        self.title_label = QLabel()
        self.title_label.setWordWrap(True)
        self.more_label = QLabel()
        self.more_label.setEnabled(False)
        self.rgb_label = QLabel()
        self.rgb_label.setToolTip("The kernel as one colour image (a first layer on RGB input).")
        self._grid_host = QWidget()
        self._grid = QGridLayout(self._grid_host)
        self._grid.setSpacing(4)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(self._grid_host)
        self.stats_table = QTableWidget(len(STAT_NAMES), 2)
        # Short headers: beside the histogram the table has ~200 px, and the numbers need them.
        self.stats_table.setHorizontalHeaderLabels(["filter", "layer"])
        self.stats_table.setVerticalHeaderLabels(list(_STAT_TITLES))
        self.stats_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.stats_table.setToolTip(
            "filter: this filter's weights; layer: every weight of the layer. "
            "near zero: the fraction of weights with |w| < 1% of the max"
        )
        # Columns share the width the pane has: at 1280×720 the tables must not scroll sideways.
        _fit_columns(self.stats_table)
        self.histogram = pg.PlotWidget()
        self.histogram.setMenuEnabled(False)
        self.histogram.setLabel("bottom", "weight")
        self.histogram.setLabel("left", "count")
        for name in ("bottom", "left"):  # plain numbers, never 'weight (x0.001)'
            self.histogram.getAxis(name).enableAutoSIPrefix(False)
        self.histogram.setMinimumHeight(120)
        self.bars: pg.BarGraphItem | None = None
        self.filters_table = QTableWidget(0, 1 + len(STAT_NAMES))
        self.filters_table.setHorizontalHeaderLabels(["filter", *_STAT_TITLES])
        self.filters_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.filters_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.filters_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.filters_table.setSortingEnabled(True)
        self.filters_table.verticalHeader().setVisible(False)
        self.filters_table.setToolTip("Every filter of the layer; click a header to sort.")
        _fit_columns(self.filters_table)
        self.effect = FilterEffect()
        self.weight_grid = WeightGrid()
        self.pages = QTabWidget()
        self.pages.setDocumentMode(True)

        self.filters_table.cellClicked.connect(self._on_filters_table_cell_clicked)

        stats = QSplitter(Qt.Orientation.Horizontal)
        stats.addWidget(self.stats_table)
        stats.addWidget(self.histogram)
        stats.setSizes([280, 280])
        self.pages.addTab(stats, "Statistics")
        self.pages.addTab(self.filters_table, "Layer's filters")
        self.pages.addTab(self.effect, "Effect on the image")
        self.pages.addTab(self.weight_grid, "Weight grid")
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.title_label)
        top_layout.addWidget(self.rgb_label)
        top_layout.addWidget(self.scroll_area, 1)
        top_layout.addWidget(self.more_label)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.pages)
        split.setSizes([440, 300])
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(split)
        self.clear("Select a filter of a convolution layer to see its weights")

    # ------------------------------------------------------------------------------- public API

    def show_kernels(self, kernels: Kernels, title: str = "") -> None:
        """Draw `kernels`: slices, colour kernel, stats, histogram and the layer's table."""
        self._kernels = kernels
        self.weight_grid.show_grid(kernels.grid, kernels.grid_channel, kernels.input_channels)
        kernel = np.asarray(kernels.kernel, dtype=np.float32)
        kh, kw, inputs = kernel.shape
        bias = "" if kernels.bias is None else f" · bias {kernels.bias:.3g}"
        self.title_label.setText(
            f"{title or '/'.join(kernels.layer)} #{kernels.unit} · {kh}×{kw} × {inputs} "
            f"input channel{'s' if inputs != 1 else ''}{bias} · red > 0 > blue"
        )
        self._draw_slices(kernel)
        if kernels.rgb is not None:
            self.rgb_label.setPixmap(image_pixmap(kernels.rgb, 96))
            self.rgb_label.show()
        else:
            self.rgb_label.hide()
        self._fill_stats(kernels.stats, kernels.layer_stats)
        self._draw_histogram(*kernels.histogram)
        self._fill_filters(np.asarray(kernels.per_filter_stats), kernels.unit)

    def kernels(self) -> Kernels | None:
        """The Kernels drawn, or None."""
        return self._kernels

    def clear(self, message: str = "") -> None:
        """Nothing drawn; `message` says what to do."""
        self._kernels = None
        self.title_label.setText(message)
        self._draw_slices(np.zeros((0, 0, 0), np.float32))
        self.rgb_label.hide()
        self.stats_table.clearContents()
        self.filters_table.setRowCount(0)
        self.histogram.clear()
        self.bars = None
        self.effect.clear()

    def values_written(self) -> bool:
        """Whether the drawn slices carry their weights as numbers."""
        return (
            bool(self.channel_labels)
            and self._kernels is not None
            and writes_values(self._kernels.kernel)
        )

    def stat(self, row_name: str, layer: bool = False) -> str:
        """The text of one stats cell, e.g. stat('max') for this filter's maximum."""
        item = self.stats_table.item(STAT_NAMES.index(row_name), 1 if layer else 0)
        return "" if item is None else item.text()

    # ------------------------------------------------------------------------------- helpers

    def _draw_slices(self, kernel: np.ndarray) -> None:
        for label in self.channel_labels:
            self._grid.removeWidget(label)
            label.deleteLater()
        self.channel_labels = []
        inputs = kernel.shape[2] if kernel.ndim == 3 else 0
        scale = kernel_scale(kernel)
        side = 28 * max(kernel.shape[:2]) if inputs and writes_values(kernel) else 64
        side = max(side, 64)
        for channel in range(min(inputs, MAX_CHANNELS)):
            label = QLabel()
            label.setPixmap(kernel_pixmap(kernel[:, :, channel], scale, side))
            label.setToolTip(
                f"input channel {channel}: sum {kernel[:, :, channel].sum():.3g}, "
                f"L2 norm {np.linalg.norm(kernel[:, :, channel]):.3g}"
            )
            self.channel_labels.append(label)
            self._grid.addWidget(label, channel // COLUMNS, channel % COLUMNS)
        more = inputs - len(self.channel_labels)
        self.more_label.setText(f"+{more} more input channels" if more > 0 else "")
        self.more_label.setVisible(more > 0)
        if inputs and not writes_values(kernel):
            self.more_label.setText(
                self.more_label.text() + f" (weights written for kernels up to "
                f"{WRITE_VALUES_UP_TO}×{WRITE_VALUES_UP_TO}; hover a slice for its sum)"
            )
            self.more_label.show()

    def _fill_stats(self, stats: dict, layer_stats: dict) -> None:
        for row, name in enumerate(STAT_NAMES):
            for column, source in enumerate((stats, layer_stats)):
                value = source.get(name, float("nan"))
                self.stats_table.setItem(row, column, _number_item(value, stat_text(value)))
        self.stats_table.resizeColumnsToContents()

    def _draw_histogram(self, counts: np.ndarray, edges: np.ndarray) -> None:
        self.histogram.clear()
        counts, edges = np.asarray(counts, float), np.asarray(edges, float)
        if counts.size == 0 or edges.size != counts.size + 1:
            self.bars = None
            return
        self.bars = pg.BarGraphItem(
            x0=edges[:-1], x1=edges[1:], height=counts, brush=(90, 120, 200), pen=None
        )
        self.histogram.addItem(self.bars)
        self.histogram.addLine(x=0.0, pen=pg.mkPen((200, 60, 60), width=1))

    def _fill_filters(self, per_filter: np.ndarray, current: int) -> None:
        table = self.filters_table
        with QSignalBlocker(table):
            table.setSortingEnabled(False)
            table.setRowCount(per_filter.shape[0] if per_filter.ndim == 2 else 0)
            for row in range(table.rowCount()):
                table.setItem(row, 0, _number_item(row, f"#{row}"))
                for column, value in enumerate(per_filter[row, : len(STAT_NAMES)]):
                    table.setItem(row, column + 1, _number_item(value, stat_text(value)))
            table.setSortingEnabled(True)
            for row in range(table.rowCount()):
                item = table.item(row, 0)
                if item is not None and item.data(Qt.ItemDataRole.UserRole) == current:
                    table.selectRow(row)
        table.resizeColumnsToContents()

    # ------------------------------------------------------------------------------- slots

    def _on_filters_table_cell_clicked(self, row: int, _column: int) -> None:
        item = self.filters_table.item(row, 0)
        if item is not None:
            self.filter_chosen.emit(int(item.data(Qt.ItemDataRole.UserRole)))


def _fit_columns(table: QTableWidget) -> None:
    """Stretch `table`'s columns over its width instead of scrolling sideways."""
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
