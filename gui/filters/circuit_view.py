"""The Circuits sub-tab: a filter's input channels strongest first, and a walk backwards
through them with Back and Forward."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.protocol import Circuit, CircuitLink
from gui.common.elided_label import ElidedLabel
from gui.filters.kernel_art import image_pixmap, kernel_pixmap, kernel_scale

THUMB = 44
_COLUMNS = ("kernel", "effect", "strength", "source", "its image")
_SOURCE = 3  # the column that takes the width left and cuts long names with "…"
_STRENGTH_WIDTH = 76


def link_sign(link: CircuitLink) -> str:
    """'excitatory' when the slice's weights sum above zero, else 'inhibitory'."""
    return "excitatory" if link.weight_sum > 0 else "inhibitory"


def source_name(link: CircuitLink) -> str:
    """'conv1 #4', or 'image channel 0' for a first layer; with the layers crossed."""
    text = (
        f"{'/'.join(link.source_layer)} #{link.channel}"
        if link.source_layer
        else f"image channel {link.channel}"
    )
    return f"{text} (via {', '.join(link.path)})" if link.path else text


class CircuitView(QWidget):
    """The links of one Circuit; announces which link to follow or visualize, and the walk."""

    # Row of the link the user clicked: walk back to its source channel.
    link_chosen = Signal(int)
    # Row of the link whose source channel should be grown.
    visualize_requested = Signal(int)
    back_requested = Signal()
    forward_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._circuit: Circuit | None = None
        self.back_button = QPushButton("◀ Back")
        self.back_button.setToolTip("The filter traced before this one (Alt+Left)")
        self.back_button.setShortcut("Alt+Left")
        self.forward_button = QPushButton("Forward ▶")
        self.forward_button.setToolTip("The filter traced after this one (Alt+Right)")
        self.forward_button.setShortcut("Alt+Right")
        # A long layer name must not widen the tab past the window: cut, whole in the tooltip.
        self.title_label = ElidedLabel()
        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        self.note_label.setStyleSheet("color: #a05a00;")
        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(_COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setDefaultSectionSize(THUMB + 4)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(_SOURCE, QHeaderView.ResizeMode.Stretch)
        # One line a name, cut at its end: "conv2 #14 (via po…" keeps the channel number, the
        # tooltip has the rest. Wrapped and cut, a name read as two.
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setWordWrap(False)
        self.table.setToolTip("Click a link to walk back to the channel it reads.")
        self.set_history(False, False)

        self.back_button.clicked.connect(self._on_back_button_clicked)
        self.forward_button.clicked.connect(self._on_forward_button_clicked)
        self.table.cellClicked.connect(self._on_table_cell_clicked)

        bar = QHBoxLayout()
        bar.addWidget(self.back_button)
        bar.addWidget(self.forward_button)
        bar.addWidget(self.title_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.note_label)
        layout.addWidget(self.table, 1)
        self.clear("Select a filter to trace the channels that feed it")

    # ------------------------------------------------------------------------------- public API

    def show_circuit(self, circuit: Circuit, title: str) -> None:
        """List the links of `circuit` in its order (strongest first)."""
        self._circuit = circuit
        self.title_label.setText(f"{title}: {len(circuit.links)} input channels, strongest first")
        self.note_label.setText(circuit.note)
        self.note_label.setVisible(bool(circuit.note))
        table = self.table
        table.setRowCount(len(circuit.links))
        largest = max((link.weight_norm for link in circuit.links), default=0.0) or 1.0
        scale = max((kernel_scale(link.kernel) for link in circuit.links), default=0.0)
        for row, link in enumerate(circuit.links):
            thumb = QLabel()
            thumb.setPixmap(kernel_pixmap(link.kernel, scale, THUMB, write_values=False))
            thumb.setToolTip(f"kernel slice, red > 0 > blue; sum {link.weight_sum:.3g}")
            table.setCellWidget(row, 0, thumb)
            sign = QTableWidgetItem(link_sign(link))
            excites = link.weight_sum > 0
            sign.setForeground(Qt.GlobalColor.darkRed if excites else Qt.GlobalColor.darkBlue)
            table.setItem(row, 1, sign)
            bar = QProgressBar(maximum=1000, value=int(1000 * link.weight_norm / largest))
            bar.setFormat(f"{link.weight_norm:.3g}")
            bar.setToolTip(f"L2 norm {link.weight_norm:.4g}, sum {link.weight_sum:.4g}")
            table.setCellWidget(row, 2, bar)
            source = QTableWidgetItem(source_name(link))
            source.setToolTip(
                f"{source_name(link)}\n{link_sign(link)}: L2 norm {link.weight_norm:.4g}, "
                f"sum {link.weight_sum:.4g}"
            )
            table.setItem(row, _SOURCE, source)
            table.setCellWidget(row, 4, self._visualize_button(row, link))
        for column in (0, 1, 4):
            table.resizeColumnToContents(column)
        table.setColumnWidth(2, _STRENGTH_WIDTH)

    def set_source_image(self, layer: tuple[str, ...], channel: int, image: np.ndarray) -> None:
        """Show the grown image of `layer`'s `channel` on every link reading it."""
        for row, link in enumerate(self.links()):
            if link.source_layer == layer and link.channel == channel:
                thumb = QLabel()
                thumb.setPixmap(image_pixmap(image, THUMB))
                thumb.setToolTip(f"{source_name(link)} grown")
                old = self.table.cellWidget(row, 4)
                if old is not None:
                    old.hide()  # deleted later by the table; it must not show until then
                self.table.setCellWidget(row, 4, thumb)

    def has_source_image(self, row: int) -> bool:
        """Whether link `row` shows its source channel's image (not the 'visualize' button)."""
        return isinstance(self.table.cellWidget(row, 4), QLabel)

    def set_history(self, can_back: bool, can_forward: bool) -> None:
        self.back_button.setEnabled(can_back)
        self.forward_button.setEnabled(can_forward)

    def links(self) -> tuple[CircuitLink, ...]:
        return self._circuit.links if self._circuit else ()

    def circuit(self) -> Circuit | None:
        return self._circuit

    def row_text(self, row: int) -> str:
        """'excitatory · conv1 #4': what row `row` says, for tests and tooltips."""
        kind, source = self.table.item(row, 1), self.table.item(row, 3)
        return f"{kind.text() if kind else ''} · {source.text() if source else ''}"

    def clear(self, message: str = "") -> None:
        self._circuit = None
        self.table.setRowCount(0)
        self.title_label.setText(message)
        self.note_label.hide()

    # ------------------------------------------------------------------------------- helpers

    def _visualize_button(self, row: int, link: CircuitLink) -> QWidget:
        if link.source_layer is None:
            return QLabel("(the image)")
        button = QPushButton("visualize")
        button.setToolTip(f"Grow an image that excites {source_name(link)}")
        button.clicked.connect(lambda _checked=False, r=row: self.visualize_requested.emit(r))
        return button

    # ------------------------------------------------------------------------------- slots

    def _on_back_button_clicked(self) -> None:
        self.back_requested.emit()

    def _on_forward_button_clicked(self) -> None:
        self.forward_requested.emit()

    def _on_table_cell_clicked(self, row: int, _column: int) -> None:
        self.link_chosen.emit(row)
