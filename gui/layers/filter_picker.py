"""A grid of thumbnails, one per channel or unit of the selected layer, to pick what to grow."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import QContextMenuEvent, QIcon, QMouseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QWidget,
)

from engine.protocol import LayerInfo
from gui.common.imaging import apply_colormap, normalize_per_channel, to_rgb8
from gui.layers.badges import thumbnail_icon, weight_text
from gui.layers.channel_stats import ChannelStats, channel_stats, sort_order, stats_text
from gui.layers.unit_menu import unit_menu

ICON_SIDE = 72
_BLANK_GREY = 40  # dark, so an empty slot reads as "nothing yet" on light and dark themes
# Alt+click stays for those used to it, but window managers that move windows with Alt+drag
# take it: Shift+click and the right-click menu do the same.
_HINT = (
    "Click: grow its image · Ctrl+click: add to the objective · Shift+click (or Alt+click): "
    "subtract · right-click: more"
)
_SUBTRACT = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.AltModifier
_UNIT_ROLE = Qt.ItemDataRole.UserRole  # an item's unit: rows follow the sort order, units do not


def _blank_thumbnail() -> np.ndarray:
    return np.full((8, 8, 3), _BLANK_GREY, dtype=np.uint8)


class FilterPicker(QListWidget):
    """Labelled thumbnails of a layer's units: feature maps of an image, or grown images."""

    # The unit (channel or Dense unit index) the user clicked or moved to with the arrow keys.
    filter_selected = Signal(int)
    # The unit the user double-clicked or pressed Enter on: show its feature map large.
    filter_activated = Signal(int)
    # (unit, weight): Ctrl+click adds the unit to the objective with weight +1, Shift+click or
    # Alt+click −1 (also from the right-click menu).
    filter_added = Signal(int, float)
    # The unit whose image the user asked to grow from the right-click menu (in any tab).
    filter_visualize_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._labels: list[str] = []
        self._thumbnails: list[np.ndarray] = []
        self._visualized: set[int] = set()
        self._values: np.ndarray | None = None  # Dense activations shown in the labels
        self._weights: dict[int, float] = {}  # units of a weighted-sum objective
        self._dead: set[int] = set()
        self._details: dict[int, str] = {}
        self._flags: dict[int, str] = {}  # 'dead' / 'rare 0.4%' from a dataset scan
        self._items: list[QListWidgetItem] = []  # by unit
        self._stats: ChannelStats | None = None  # of the current image's feature maps
        self._sort = "channel"

        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(ICON_SIDE, ICON_SIDE))
        self.setGridSize(QSize(ICON_SIDE + 20, ICON_SIDE + 34))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setWordWrap(True)
        self.setUniformItemSizes(True)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setDragDropMode(QAbstractItemView.DragDropMode.NoDragDrop)
        self.setDragEnabled(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setToolTip(_HINT)

        self.currentItemChanged.connect(self._on_self_current_item_changed)
        self.itemActivated.connect(self._on_self_item_activated)

    # ------------------------------------------------------------------------------- public API

    def set_layer(self, layer: LayerInfo, labels: Sequence[str] | None = None) -> None:
        """One blank thumbnail per unit of `layer`, labelled by `labels` (class names) or '#k'.

        Clears grown images and the selection; no signal is emitted.
        """
        count = layer.size
        names = list(labels or ())
        with QSignalBlocker(self):
            self.clear()
            # Units beyond the names given (a model with fewer class names than outputs) get '#k'.
            self._labels = [names[k] if k < len(names) else f"#{k}" for k in range(count)]
            self._thumbnails = [_blank_thumbnail() for _ in range(count)]
            blank = self._icon(self._thumbnails[0]) if count else QIcon()
            for k, label in enumerate(self._labels):
                item = QListWidgetItem(blank, label)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                item.setData(_UNIT_ROLE, k)
                self._items.append(item)
                self.addItem(item)
                self._refresh_tooltip(k)
            self.setCurrentRow(-1)

    def set_feature_maps(self, maps: np.ndarray | None) -> None:
        """Thumbnails from the current image's activations: (H, W, C), (units,), or None for blank.

        Units that already show a grown image keep it: that is what the user asked to see.
        """
        count = self.unit_count()
        self._set_stats(None if maps is None else np.asarray(maps), count)
        if maps is None:
            self._show_values(None)
            for k in range(count):
                if k not in self._visualized:
                    self._set_thumbnail(k, _blank_thumbnail())
            return
        maps = np.asarray(maps)
        if maps.ndim == 1 and maps.shape[0] == count:
            self._show_values(maps)
            scale = float(np.max(np.abs(maps))) if count else 0.0
            levels = maps / scale if scale > 0 else np.zeros_like(maps, dtype=np.float64)
            for k in range(count):
                if k not in self._visualized:
                    grey = np.full((8, 8), levels[k], dtype=np.float32)
                    self._set_thumbnail(k, to_rgb8(grey))
            return
        if maps.ndim == 3 and maps.shape[2] == count:
            self._show_values(None)
            normalized = normalize_per_channel(maps)
            for k in range(count):
                if k not in self._visualized:
                    self._set_thumbnail(k, apply_colormap(normalized[:, :, k], "viridis"))
            return
        raise ValueError(f"feature maps of shape {maps.shape} do not fit {count} units")

    def set_visualization(self, unit: int, image: np.ndarray) -> None:
        """Show a grown (H, W, C) image in [0, 1] (C = 1 grey or 3 RGB) as `unit`'s thumbnail."""
        self._check_unit(unit)
        self._visualized.add(unit)
        self._set_thumbnail(unit, to_rgb8(image))
        self._items[unit].setText(self._text(unit))

    def mark_dead(self, unit: int, dead: bool = True) -> None:
        """Cross out `unit` as a filter that never fires (or take the cross away)."""
        self._check_unit(unit)
        if dead == (unit in self._dead):
            return
        if dead:
            self._dead.add(unit)
        else:
            self._dead.discard(unit)
        self._set_thumbnail(unit, self._thumbnails[unit])
        self._refresh_tooltip(unit)

    def is_marked_dead(self, unit: int) -> bool:
        """Whether `unit` is crossed out as dead."""
        return unit in self._dead

    def set_weights(self, weights: dict[int, float]) -> None:
        """Badge the units of a weighted-sum objective with their weights; {} removes badges."""
        for unit in weights:
            self._check_unit(unit)
        changed = set(self._weights) | set(weights)
        self._weights = dict(weights)
        for unit in sorted(changed):
            self._set_thumbnail(unit, self._thumbnails[unit])
            self._items[unit].setText(self._text(unit))

    def weights(self) -> dict[int, float]:
        """The badges shown, by unit."""
        return dict(self._weights)

    def set_details(self, unit: int, text: str) -> None:
        """A line about `unit`'s grown image (activation, quality) for its tooltip."""
        self._check_unit(unit)
        self._details[unit] = text
        self._refresh_tooltip(unit)

    def set_flags(self, flags: dict[int, str]) -> None:
        """Short badges from a dataset scan ('dead', 'rare 0.4%') in the labels; {} removes them."""
        for unit in flags:
            self._check_unit(unit)
        changed = set(self._flags) | set(flags)
        self._flags = dict(flags)
        for unit in sorted(changed):
            self._items[unit].setText(self._text(unit))
            self._refresh_tooltip(unit)

    def flag(self, unit: int) -> str:
        """The dataset badge of `unit`, or ''."""
        return self._flags.get(unit, "")

    def select_unit(self, unit: int | None) -> None:
        """Select `unit` (None clears the selection) without announcing it."""
        if unit is not None:
            self._check_unit(unit)
        with QSignalBlocker(self):
            if unit is None:
                self.setCurrentRow(-1)
                self.clearSelection()
            else:
                self.setCurrentItem(self._items[unit])
        if unit is not None:
            self.scrollToItem(self._items[unit])

    def clear(self) -> None:
        """Remove every unit, as when the selected layer has nothing to visualize."""
        super().clear()
        self._items = []
        self._stats = None
        self._labels = []
        self._thumbnails = []
        self._visualized.clear()
        self._values = None
        self._weights.clear()
        self._dead.clear()
        self._details.clear()
        self._flags.clear()

    def current_unit(self) -> int | None:
        """The selected unit, or None."""
        item = self.currentItem()
        return None if item is None or self.currentRow() < 0 else item.data(_UNIT_ROLE)

    def unit_item(self, unit: int) -> QListWidgetItem:
        """The grid item of `unit`, wherever the sort order has put it."""
        self._check_unit(unit)
        return self._items[unit]

    def set_sort(self, key: str) -> None:
        """Order the grid by channel_stats.SORT_KEYS `key`; the selection stays on its unit."""
        self._sort = key
        self._reorder()

    def display_order(self) -> list[int]:
        """The units in the order the grid shows them."""
        return [self.item(row).data(_UNIT_ROLE) for row in range(self.count())]

    def thumbnail(self, unit: int) -> np.ndarray:
        """The (h, w, 3) uint8 picture last set for `unit`, before scaling to the icon size."""
        self._check_unit(unit)
        return self._thumbnails[unit]

    def unit_count(self) -> int:
        """How many units the current layer has."""
        return len(self._labels)

    # ------------------------------------------------------------------------------- helpers

    def _check_unit(self, unit: int) -> None:
        if not 0 <= unit < self.unit_count():
            raise IndexError(f"unit {unit} out of range for a layer of {self.unit_count()} units")

    def _icon(self, rgb8: np.ndarray, unit: int | None = None) -> QIcon:
        weight = self._weights.get(unit) if unit is not None else None
        return thumbnail_icon(rgb8, ICON_SIDE, unit in self._dead, weight)

    def _set_thumbnail(self, unit: int, rgb8: np.ndarray) -> None:
        self._thumbnails[unit] = rgb8
        self._items[unit].setIcon(self._icon(rgb8, unit))

    def _show_values(self, values: np.ndarray | None) -> None:
        """Labels carry a Dense unit's activation; thumbnails alone cannot show its sign."""
        self._values = values
        for k in range(self.unit_count()):
            self._items[k].setText(self._text(k))

    def _text(self, unit: int) -> str:
        text = self._labels[unit]
        # Under a grown image the current image's activation (a class probability on the
        # output layer) would read as the grown image's: it is not.
        if self._values is not None and unit not in self._visualized:
            text += f"  {float(self._values[unit]):.3g}"
        if unit in self._weights:
            text = f"{weight_text(self._weights[unit])}·{text}"
        if unit in self._flags:
            text += f" {self._flags[unit]}"
        return text

    def _refresh_tooltip(self, unit: int) -> None:
        label = self._labels[unit]
        lines = [label if label == f"#{unit}" else f"#{unit} {label}"]
        if unit in self._dead:
            lines.append("Dead: no real image and no starting image made it fire.")
        if unit in self._flags:
            lines.append(f"On the scanned images: {self._flags[unit]}")
        if self._details.get(unit):
            lines.append(self._details[unit])
        if self._stats is not None:
            lines.append(f"This image: {stats_text(self._stats, unit)}")
        lines.append(_HINT)
        self._items[unit].setToolTip("\n".join(lines))

    def _set_stats(self, maps: np.ndarray | None, count: int) -> None:
        fits = maps is not None and maps.ndim in (1, 3) and maps.shape[-1] == count
        self._stats = channel_stats(maps) if maps is not None and fits else None
        for unit in range(count):
            self._refresh_tooltip(unit)
        self._reorder()

    def _reorder(self) -> None:
        """Put the items in the sort order: take them all out and add them back."""
        order = sort_order(self._stats, self._sort, self.unit_count())
        if order == self.display_order():
            return
        current = self.current_unit()
        with QSignalBlocker(self):
            for row in range(self.count() - 1, -1, -1):
                self.takeItem(row)
            for unit in order:
                self.addItem(self._items[unit])
            if current is None:
                self.setCurrentRow(-1)
            else:
                self.setCurrentItem(self._items[current])

    # ------------------------------------------------------------------------------- events

    def mousePressEvent(self, event: QMouseEvent) -> None:
        # Ctrl, Shift or Alt with a click builds a weighted sum; it leaves the selection alone.
        modifiers = event.modifiers()
        adding = modifiers & (Qt.KeyboardModifier.ControlModifier | _SUBTRACT)
        item = self.itemAt(event.position().toPoint())
        if adding and item is not None and event.button() == Qt.MouseButton.LeftButton:
            weight = -1.0 if modifiers & _SUBTRACT else 1.0
            self.filter_added.emit(item.data(_UNIT_ROLE), weight)
            event.accept()
            return
        super().mousePressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        item = self.itemAt(event.pos())
        if item is None:
            return
        menu = self.unit_menu(item.data(_UNIT_ROLE))
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # made afresh for each click
        menu.popup(event.globalPos())

    def unit_menu(self, unit: int) -> QMenu:
        """The right-click menu of `unit`; each entry emits the signal its click or key does."""
        self._check_unit(unit)
        return unit_menu(
            self,
            visualize=lambda: self.filter_visualize_requested.emit(unit),
            add=lambda weight: self.filter_added.emit(unit, weight),
            show_map=lambda: self.filter_activated.emit(unit),
        )

    # ------------------------------------------------------------------------------- slots

    def _on_self_current_item_changed(self, item: QListWidgetItem | None, _previous) -> None:
        # Program-made changes are made with signals blocked, so this is the user.
        if item is not None:
            self.filter_selected.emit(item.data(_UNIT_ROLE))

    def _on_self_item_activated(self, item: QListWidgetItem) -> None:
        self.filter_activated.emit(item.data(_UNIT_ROLE))
