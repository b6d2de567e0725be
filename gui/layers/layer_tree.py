"""The model's layers as a tree: the user picks the layer to look into here."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QBrush, QFont, QPalette, QResizeEvent, QShowEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from engine.protocol import LayerInfo, LayerKind, ModelSummary

_COLUMNS = ("Layer", "Type", "Output", "Params", "Shows")
_NAME, _TYPE, _SHAPE, _PARAMS, _SHOWS = range(len(_COLUMNS))
# When the tree is too narrow for every column whole, these are hidden first, in this order,
# rather than all of them cut to a letter and "…": their values are in every row's tooltip,
# while the name and what the layer shows are what the user picks by.
_HIDE_ORDER = (_PARAMS, _TYPE, _SHAPE)
_BASE_TIP_ROLE = Qt.ItemDataRole.UserRole + 1  # the tooltip before any note was added
MIN_COLUMN_WIDTH = 40  # a column cut to fit the tree's width still shows a few characters


def format_shape(shape: tuple[int | None, ...] | None) -> str:
    """'28×28×24' for (None, 28, 28, 24): the batch dimension says nothing about the layer."""
    if shape is None:
        return "—"
    dims = shape[1:]
    if not dims:
        return "—"
    return "×".join("?" if dim is None else str(dim) for dim in dims)


def describe_units(layer: LayerInfo) -> str:
    """What selecting the layer offers: '24 channels', '10 classes', '128 units' or ''."""
    if layer.kind is LayerKind.CHANNELS:
        noun = "channel"
    elif layer.kind is LayerKind.UNITS:
        noun = "class" if layer.is_output else "unit"
    else:
        return ""
    plural = "es" if noun == "class" else "s"
    return f"{layer.size} {noun}{'' if layer.size == 1 else plural}"


class LayerTree(QTreeWidget):
    """Every layer of the loaded model, nested sub-models expanded, visualizable ones in bold."""

    # The LayerInfo of the row the user clicked or moved to with the keyboard.
    layer_selected = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(len(_COLUMNS))
        self.setHeaderLabels(list(_COLUMNS))
        self.headerItem().setToolTip(_SHAPE, "Output shape: height × width × channels")
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setAllColumnsShowFocus(True)
        self.setRootIsDecorated(True)
        self.setExpandsOnDoubleClick(False)
        # Half Qt's default indent: nested bases (MobileNetV2 in a Sequential) have long names,
        # and 10 px per level still shows the nesting.
        self.setIndentation(10)
        # Without padding the right-aligned Params run into the next column.
        self.setStyleSheet("QTreeView::item { padding: 1px 6px; }")
        header = self.header()
        header.setStretchLastSection(True)
        header.setMinimumSectionSize(MIN_COLUMN_WIDTH)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

        self._fit_pending = False  # columns were fitted while the tree was hidden
        self._content_widths: list[int] = []  # each column's width to show it whole
        self._rows = 0  # every layer's row, sub-models expanded as they start
        self.currentItemChanged.connect(self._on_self_current_item_changed)

    # ------------------------------------------------------------------------------- public API

    def set_summary(self, summary: ModelSummary) -> None:
        """Replace the rows with the layers of `summary`; nothing is selected afterwards."""
        with QSignalBlocker(self):
            self.clear()
            # A flat model needs no gutter for expand arrows: 20 px more for the columns.
            self.setRootIsDecorated(any(layer.children for layer in summary.layers))
            self._rows = len(summary.walk())
            self.addTopLevelItems([self._make_item(layer) for layer in summary.layers])
            # Sub-models are where the interesting layers often are, so they start open.
            self.expandAll()
            self.setCurrentIndex(QModelIndex())
        self._fit_columns()

    def select_layer(self, path: tuple[str, ...]) -> None:
        """Select the row of the layer at `path` without announcing it; unknown paths clear it."""
        item = self._find_item(tuple(path))
        with QSignalBlocker(self):
            if item is None:
                self.setCurrentIndex(QModelIndex())
                self.clearSelection()
                return
            self.setCurrentItem(item)
        self.scrollToItem(item)

    def set_note(self, path: tuple[str, ...], text: str) -> None:
        """A second tooltip line for the layer at `path` (e.g. a dataset scan's dead filters);
        '' removes it."""
        item = self._find_item(tuple(path))
        if item is None:
            return
        base = item.data(_NAME, _BASE_TIP_ROLE) or item.toolTip(_NAME)
        item.setData(_NAME, _BASE_TIP_ROLE, base)
        for column in range(len(_COLUMNS)):
            item.setToolTip(column, f"{base}\n{text}" if text else base)

    def current_layer(self) -> LayerInfo | None:
        """The LayerInfo of the selected row, or None."""
        item = self.currentItem()
        return None if item is None else item.data(_NAME, Qt.ItemDataRole.UserRole)

    # ------------------------------------------------------------------------------- helpers

    def _make_item(self, layer: LayerInfo) -> QTreeWidgetItem:
        shape = format_shape(layer.output_shape)
        item = QTreeWidgetItem(
            [layer.name, layer.type_name, shape, f"{layer.params:,}", describe_units(layer)]
        )
        item.setData(_NAME, Qt.ItemDataRole.UserRole, layer)
        item.setTextAlignment(_PARAMS, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if layer.visualizable:
            font = QFont(self.font())
            font.setBold(True)
            item.setFont(_NAME, font)
            tip = f"{layer.name}: {describe_units(layer)} to visualize"
        else:
            # Greyed but still selectable: the window explains why there is nothing to see.
            grey = QBrush(
                self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
            )
            for column in range(len(_COLUMNS)):
                item.setForeground(column, grey)
            tip = f"nothing to visualize: output shape {shape}"
        # Every cell's tip names the whole row: a narrow column cuts its cells with "…".
        tip = f"{tip}\n{layer.type_name} · output {shape} · {layer.params:,} parameters"
        for column in range(len(_COLUMNS)):
            item.setToolTip(column, tip)
        item.addChildren([self._make_item(child) for child in layer.children])
        return item

    def _fit_columns(self) -> None:
        # Fitted once per model rather than ResizeToContents, which would take resizing away
        # from the user; the widest columns give way until all fit the tree's width, cut with
        # "…" (whole in the tooltip), rather than the last ones being out of sight.
        # sizeHintForColumn measures hidden columns too: a column hidden earlier can come back.
        widths = [self.sizeHintForColumn(c) + 4 for c in range(len(_COLUMNS))]
        widths = [max(w, self.header().sectionSizeHint(c)) for c, w in enumerate(widths)]
        self._content_widths = widths
        # Before the tree is first shown its width means nothing: fit again then.
        self._fit_pending = not self.isVisible()
        available = sum(widths) if self._fit_pending else self._available_width()
        hidden = columns_to_hide(widths, available)
        for column in range(len(_COLUMNS)):
            self.setColumnHidden(column, column in hidden)
        shown = [c for c in range(len(_COLUMNS)) if c not in hidden]
        # If even the name and Shows do not fit (MobileNetV2's nested names), the widest is
        # cut first, so Shows keeps "960 channels" rather than "9…".
        fitted = fit_widths([widths[c] for c in shown], available)
        for column, width in zip(shown, fitted, strict=True):
            self.setColumnWidth(column, width)  # the last one also stretches to the edge

    def _available_width(self) -> int:
        # The vertical scroll bar appears after the rows are laid out and takes its width
        # from the viewport: counted now, so that the columns never need a sideways scroll.
        width = self.viewport().width()
        bar = self.verticalScrollBar()
        overflows = self._rows * self.sizeHintForRow(0) > self.viewport().height()
        if self._rows and overflows and not bar.isVisible():
            width -= bar.sizeHint().width()
        return width

    def _find_item(self, path: tuple[str, ...]) -> QTreeWidgetItem | None:
        parent = self.invisibleRootItem()
        found: QTreeWidgetItem | None = None
        for name in path:
            children = (parent.child(i) for i in range(parent.childCount()))
            found = next((c for c in children if c and _info(c).name == name), None)
            if found is None:
                return None
            parent = found
        return found

    # ------------------------------------------------------------------------------- events

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._fit_pending and self.topLevelItemCount():
            self._fit_columns()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        # Refitted only when a column has to go or can come back: the widths the user dragged
        # stay while the same columns are shown.
        if not self._content_widths or not self.isVisible():
            return
        hidden = columns_to_hide(self._content_widths, self._available_width())
        if hidden != {c for c in range(len(_COLUMNS)) if self.isColumnHidden(c)}:
            self._fit_columns()

    # ------------------------------------------------------------------------------- slots

    def _on_self_current_item_changed(
        self, current: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None
    ) -> None:
        # Only user actions get here: the program's own changes happen with signals blocked.
        if current is not None:
            self.layer_selected.emit(current.data(_NAME, Qt.ItemDataRole.UserRole))


def columns_to_hide(widths: list[int], available: int) -> set[int]:
    """The columns, lowest priority first, that must go for the rest to fit `available` whole
    (the name and Shows always stay, cut with "…" if even they do not fit)."""
    hidden: set[int] = set()
    for column in _HIDE_ORDER:
        if sum(w for c, w in enumerate(widths) if c not in hidden) <= available:
            break
        hidden.add(column)
    return hidden


def fit_widths(widths: list[int], available: int) -> list[int]:
    """`widths` with the widest cut to one common cap so that they add up to `available` (as
    water finds its level); unchanged when they fit, or when too little is available to cut."""
    if sum(widths) <= available or available <= 0:
        return list(widths)
    cap = max(widths)
    for k, width in enumerate(sorted(widths)):
        # Columns narrower than `width` keep theirs; the rest share what is left.
        share = (available - sum(sorted(widths)[:k])) // (len(widths) - k)
        if share <= width:
            cap = share
            break
    cap = max(cap, MIN_COLUMN_WIDTH)
    return [min(width, cap) for width in widths]


def _info(item: QTreeWidgetItem) -> LayerInfo:
    return item.data(_NAME, Qt.ItemDataRole.UserRole)
