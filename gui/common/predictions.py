"""What the model thinks the current image is: the top classes with their probabilities."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from engine.protocol import Prediction

MAX_ROWS = 5
_BAR_STEPS = 1000  # per-mille resolution: a bar of 100 steps cannot tell 0.4 % from 0 %


class PredictionsPanel(QWidget):
    """A header naming the image, up to five 'class  probability' rows with bars, and notes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, float]] = []

        self.header_label = QLabel()
        self.header_label.setWordWrap(True)
        font = self.header_label.font()
        font.setBold(True)
        self.header_label.setFont(font)
        self.notes_label = QLabel()
        self.notes_label.setWordWrap(True)
        self.notes_label.setEnabled(False)  # the disabled palette greys it on any theme
        small = self.notes_label.font()
        small.setPointSizeF(small.pointSizeF() * 0.85)
        self.notes_label.setFont(small)

        self.name_labels: list[QLabel] = []
        self.bars: list[QProgressBar] = []
        self.percent_labels: list[QLabel] = []
        for _ in range(MAX_ROWS):
            bar = QProgressBar()
            bar.setRange(0, _BAR_STEPS)
            bar.setTextVisible(False)
            bar.setFixedHeight(10)
            percent = QLabel()
            percent.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            percent.setMinimumWidth(percent.fontMetrics().horizontalAdvance("100.0%") + 4)
            self.name_labels.append(QLabel())
            self.bars.append(bar)
            self.percent_labels.append(percent)

        self.clear()

        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setColumnStretch(1, 1)
        for row in range(MAX_ROWS):
            grid.addWidget(self.name_labels[row], row, 0)
            grid.addWidget(self.bars[row], row, 1)
            grid.addWidget(self.percent_labels[row], row, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header_label)
        layout.addLayout(grid)
        layout.addWidget(self.notes_label)
        layout.addStretch(1)

    # ------------------------------------------------------------------------------- public API

    def set_predictions(
        self, source: str, predictions: Sequence[Prediction], notes: Sequence[str] = ()
    ) -> None:
        """Show the most probable classes first, at most five, and any conversion notes."""
        ranked = sorted(predictions, key=lambda p: p.probability, reverse=True)[:MAX_ROWS]
        self._rows = [(p.name, float(p.probability)) for p in ranked]
        self.header_label.setText(source)
        for row in range(MAX_ROWS):
            visible = row < len(ranked)
            if visible:
                name, probability = self._rows[row]
                self.name_labels[row].setText(name)
                self.bars[row].setValue(round(min(max(probability, 0.0), 1.0) * _BAR_STEPS))
                self.percent_labels[row].setText(f"{probability * 100:.1f}%")
                self.bars[row].setToolTip(f"class {ranked[row].index}: {probability:.4f}")
            self.name_labels[row].setVisible(visible)
            self.bars[row].setVisible(visible)
            self.percent_labels[row].setVisible(visible)
        self.notes_label.setText("; ".join(notes))
        self.notes_label.setVisible(bool(notes))

    def clear(self, text: str = "Drop an image to see predictions") -> None:
        """No predictions: only `text` in the header."""
        self.set_predictions(text, ())

    def rows(self) -> list[tuple[str, float]]:
        """The (class name, probability) rows shown, top first."""
        return list(self._rows)
