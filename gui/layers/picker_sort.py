"""'Sort by' above the filter grid: channel number, or the current image's activations."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from gui.layers.channel_stats import SORT_KEYS


class SortBar(QWidget):
    """A labelled combo of channel_stats.SORT_KEYS."""

    # The sort key the user chose (one of SORT_KEYS).
    sort_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combo = QComboBox()
        self.combo.addItems(list(SORT_KEYS))
        self.combo.setToolTip(
            "Order the grid by channel number, or by the current image's largest or mean "
            "activation of each channel (highest first). Labels keep the channel numbers."
        )

        self.combo.currentTextChanged.connect(self._on_combo_text_changed)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Sort by"))
        layout.addWidget(self.combo)
        layout.addStretch(1)

    def key(self) -> str:
        return self.combo.currentText()

    def _on_combo_text_changed(self, key: str) -> None:
        self.sort_changed.emit(key)
