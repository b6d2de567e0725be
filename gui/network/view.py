"""The Network tab: every layer's activations for the current image, one row each, in order."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.protocol import LayerInfo, LayerKind, ModelSummary
from gui.common.canvas import Canvas
from gui.network.feature_grids import unit_bars
from gui.network.layer_row import LayerRow

MAP_COLORMAPS = ("viridis", "inferno", "magma", "gray")


def walk_layers(summary: ModelSummary) -> list[LayerInfo]:
    """The layers WalkNetwork sends maps of, in the order it sends them."""
    return [layer for layer in summary.walk() if layer.kind is not LayerKind.NONE]


class NetworkView(QWidget):
    """Rows of thumbnails filled as FeatureMaps arrive; a click shows that map large above."""

    # (layer path, unit) now shown large.
    unit_shown = Signal(object, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: dict[tuple[str, ...], LayerRow] = {}
        self._shown: tuple[tuple[str, ...], int] | None = None
        self.canvas = Canvas()
        self.canvas.clear("Click a thumbnail below to see that map large")
        self.status_label = QLabel()
        self.status_label.setEnabled(False)
        self.colormap_combo = QComboBox()
        self.colormap_combo.addItems(list(MAP_COLORMAPS))
        self.colormap_combo.setToolTip("Colours of the large map (thumbnails are in viridis).")
        self.rows_box = QWidget()
        self.rows_layout = QVBoxLayout(self.rows_box)
        self.rows_layout.setContentsMargins(4, 4, 4, 4)
        self.rows_layout.setSpacing(2)
        self.rows_layout.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(self.rows_box)

        self.colormap_combo.currentIndexChanged.connect(self._on_colormap_combo_changed)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(2)
        bar = QHBoxLayout()
        bar.addWidget(self.status_label, 1)
        bar.addWidget(QLabel("Colormap"))
        bar.addWidget(self.colormap_combo)
        top_layout.addLayout(bar)
        top_layout.addWidget(self.canvas, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.scroll_area)
        self.splitter.setSizes([300, 420])
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 4, 2, 2)
        layout.addWidget(self.splitter)
        self.set_model(None)

    # ------------------------------------------------------------------------------- public API

    def set_model(self, summary: ModelSummary | None) -> None:
        """One empty row per layer with channels or units of `summary` (None: no rows)."""
        for row in self._rows.values():
            self.rows_layout.removeWidget(row)
            row.deleteLater()
        self._rows = {}
        for info in walk_layers(summary) if summary else []:
            row = LayerRow(info)
            row.unit_clicked.connect(lambda unit, path=info.path: self.show_unit(path, unit))
            self.rows_layout.insertWidget(self.rows_layout.count() - 1, row)
            self._rows[info.path] = row
        self._shown = None
        self.canvas.clear("Click a thumbnail below to see that map large")
        self._update_status()

    def clear_maps(self) -> None:
        """A new image: every row waits for its maps again."""
        for row in self._rows.values():
            row.set_maps(None)
        self._update_status()

    def set_maps(self, layer: tuple[str, ...], maps: np.ndarray) -> bool:
        """Fill `layer`'s row; False when this model has no such row."""
        row = self._rows.get(tuple(layer))
        if row is None:
            return False
        row.set_maps(maps)
        if self._shown is not None and self._shown[0] == tuple(layer):
            self.show_unit(*self._shown)
        self._update_status()
        return True

    def row(self, layer: tuple[str, ...]) -> LayerRow:
        return self._rows[tuple(layer)]

    def layers(self) -> list[tuple[str, ...]]:
        return list(self._rows)

    def all_maps(self) -> dict[tuple[str, ...], np.ndarray]:
        """The maps received so far, by layer, in model order."""
        found = {path: row.maps() for path, row in self._rows.items()}
        return {path: maps for path, maps in found.items() if maps is not None}

    def is_complete(self) -> bool:
        """Whether every row has its maps."""
        return bool(self._rows) and all(row.maps() is not None for row in self._rows.values())

    def show_unit(self, layer: tuple[str, ...], unit: int) -> None:
        """Show one channel map (or a Dense layer's bars with `unit` marked) large."""
        maps = self._rows[tuple(layer)].maps()
        if maps is None or not 0 <= unit < (maps.shape[-1] if maps.ndim == 3 else maps.size):
            return
        name = "/".join(layer)
        colormap = self.colormap_combo.currentText()
        self._shown = (tuple(layer), unit)
        if maps.ndim == 3:
            values = maps[:, :, unit]
            low, high = float(values.min()), float(values.max())
            size = f"{values.shape[0]}×{values.shape[1]}"
            title = f"{name} #{unit} · {size} · range [{low:.3g}, {high:.3g}] · {colormap}"
            # As a map: a colorbar of its values beside it, its activations under the mouse.
            self.canvas.show_map(values, title, colormap, clickable=False)
        else:
            values = maps.ravel()
            bar_width = int(np.clip(1024 // max(1, values.size) - 1, 1, 24))
            picture = unit_bars(values, bar_width, 160, highlight=unit)
            low, high = float(values.min()), float(values.max())
            value = float(values[unit])
            title = f"{name} #{unit} = {value:.4g} · layer range [{low:.3g}, {high:.3g}]"
            self.canvas.show_rgb8(picture, title)
        self.unit_shown.emit(tuple(layer), unit)

    # ------------------------------------------------------------------------------- helpers

    def _update_status(self) -> None:
        total = len(self._rows)
        done = sum(row.maps() is not None for row in self._rows.values())
        if not total:
            self.status_label.setText("Load a model to walk through its layers")
        elif done == total:
            self.status_label.setText(f"All {total} layers for the current image")
        else:
            self.status_label.setText(f"{done} of {total} layers")

    # ------------------------------------------------------------------------------- slots

    def _on_colormap_combo_changed(self, _index: int) -> None:
        if self._shown is not None:
            self.show_unit(*self._shown)
