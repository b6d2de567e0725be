"""What the model thinks the current image is: the top classes with their probabilities."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QResizeEvent, QTextLayout
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from engine.protocol import Prediction
from gui.common.elided_label import ElidedLabel

MAX_ROWS = 5
_BAR_STEPS = 1000  # per-mille resolution: a bar of 100 steps cannot tell 0.4 % from 0 %
NOTE_LINES = 2  # a note longer than this many lines is cut with "…", all of it in the tooltip
# How far the note's ink moves from the text colour towards the background: muted enough to read
# as an aside, dark enough to read (about 7:1 contrast on a light theme, not the disabled grey).
_NOTE_FADE = 0.3


def muted_text_color(palette: QPalette) -> QColor:
    """The text colour moved _NOTE_FADE of the way towards the window colour."""
    ink = palette.color(QPalette.ColorRole.WindowText)
    paper = palette.color(QPalette.ColorRole.Window)
    ends = [(ink.red(), paper.red()), (ink.green(), paper.green()), (ink.blue(), paper.blue())]
    return QColor(*(round(a + (b - a) * _NOTE_FADE) for a, b in ends))


class NoteLabel(QLabel):
    """A word-wrapped aside in muted ink, at most NOTE_LINES lines; `text()` is the whole."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def setText(self, text: str) -> None:
        """Show `text`, cut after NOTE_LINES lines of the width there is."""
        super().setText(text)
        self._update_tip()
        self.updateGeometry()
        self.update()

    def shown_lines(self, width: int | None = None) -> list[str]:
        """The lines drawn at `width` (the label's own by default), the last one cut if need be."""
        width = self.contentsRect().width() if width is None else width
        text = " ".join(self.text().split())
        if not text or width <= 0:
            return [text] if text else []
        layout = QTextLayout(text, self.font())
        layout.beginLayout()
        starts: list[tuple[int, int]] = []
        while len(starts) <= NOTE_LINES:
            line = layout.createLine()
            if not line.isValid():
                break
            line.setLineWidth(width)
            starts.append((line.textStart(), line.textLength()))
        layout.endLayout()
        lines = [text[start : start + length].strip() for start, length in starts[:NOTE_LINES]]
        if len(starts) > NOTE_LINES:  # the rest goes on the last line, cut with "…"
            rest = text[starts[NOTE_LINES - 1][0] :]
            metrics = self.fontMetrics()
            lines[-1] = metrics.elidedText(rest, Qt.TextElideMode.ElideRight, width)
        return lines

    def is_elided(self) -> bool:
        """Whether part of the text is cut off (then the tooltip holds all of it)."""
        return " ".join(self.shown_lines()) != " ".join(self.text().split())

    def heightForWidth(self, width: int) -> int:
        margins = self.contentsMargins()
        inner = width - margins.left() - margins.right()
        count = max(1, len(self.shown_lines(inner)))
        return count * self.fontMetrics().lineSpacing() + margins.top() + margins.bottom()

    def sizeHint(self) -> QSize:
        width = self.fontMetrics().horizontalAdvance("x" * 20)
        return QSize(width, self.heightForWidth(max(width, self.width())))

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def _update_tip(self) -> None:
        self.setToolTip(self.text() if self.is_elided() else "")

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(muted_text_color(self.palette()))
        rect = self.contentsRect()
        spacing = self.fontMetrics().lineSpacing()
        for row, line in enumerate(self.shown_lines()):
            top = rect.top() + row * spacing
            painter.drawText(rect.left(), top, rect.width(), spacing, 0, line)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_tip()


class PredictionsPanel(QWidget):
    """A header naming the image, up to five 'class  probability' rows with bars, and notes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, float]] = []

        # Mostly a file name: one line, cut in the middle (its suffix tells files apart), the
        # whole in the tooltip; a long name without spaces must not widen the side panel.
        self.header_label = ElidedLabel(mode=Qt.TextElideMode.ElideMiddle)
        font = self.header_label.font()
        font.setBold(True)
        self.header_label.setFont(font)
        self.notes_label = NoteLabel()
        small = self.notes_label.font()
        small.setPointSizeF(small.pointSizeF() * 0.92)  # an aside, yet as readable as the rows
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
