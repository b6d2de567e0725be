"""The Explain tab: the choices on top, the explanation large, the kept ones side by side below."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from gui.explain.comparison_strip import ComparisonStrip
from gui.explain.controls import ExplainControls
from gui.explain.view import ExplainView


class ExplainPanel(QWidget):
    """Holds the three parts; the Explain controller connects their signals."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controls = ExplainControls()
        self.view = ExplainView()
        self.comparison = ComparisonStrip()

        # Panels follow the large view's style, so side by side means drawn alike.
        self.view.style_changed.connect(self.comparison.set_style)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.comparison)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([520, 160])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 4, 2, 2)
        layout.setSpacing(4)
        layout.addWidget(self.controls)
        layout.addWidget(self.splitter, 1)
