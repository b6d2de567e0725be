"""A one-line label that cuts a text too long for it with "…" and shows the whole in its tooltip.

A plain QLabel asks its layout for the width of its whole text: one long caption ("predictions
class '8' · done at step 512 · …") would widen its column and squeeze the others. This one asks
for a few characters and draws what fits.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

# The narrowest an elided label asks to be: room for a few letters and the "…".
MIN_CHARACTERS = 6


class ElidedLabel(QLabel):
    """A QLabel whose `text()` is the whole text but whose width never depends on it.

    `mode` says where the cut goes: at the right for captions, in the middle for file names
    (whose end, the suffix, tells files apart as much as their start).
    """

    def __init__(
        self,
        text: str = "",
        parent: QWidget | None = None,
        mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
    ) -> None:
        super().__init__(parent)
        self._mode = mode
        self._tip = ""  # a tooltip set by the program, shown when the text is not cut
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setText(text)

    # ------------------------------------------------------------------------------- public API

    def setText(self, text: str) -> None:
        """Show `text` (one line), cut to the width there is."""
        super().setText(" ".join(str(text).split("\n")))
        self._update_tip()
        self.update()

    def setToolTip(self, tip: str) -> None:
        """A tooltip of the program's own, shown while the whole text fits."""
        self._tip = tip
        self._update_tip()

    def is_elided(self) -> bool:
        """Whether the text shown is cut (then the tooltip holds all of it)."""
        return self._elided_text() != self.text()

    def minimumSizeHint(self) -> QSize:
        width = self.fontMetrics().horizontalAdvance("x" * MIN_CHARACTERS)
        margins = self.contentsMargins()
        return QSize(width + margins.left() + margins.right(), super().minimumSizeHint().height())

    # ------------------------------------------------------------------------------- helpers

    def _elided_text(self) -> str:
        width = max(0, self.contentsRect().width() - 2 * self.margin() - 2 * max(0, self.indent()))
        return self.fontMetrics().elidedText(self.text(), self._mode, width)

    def _update_tip(self) -> None:
        elided = self.is_elided()
        tip = self.text() if elided else self._tip
        if elided and self._tip and self._tip != self.text():
            tip = f"{self.text()}\n{self._tip}"
        super().setToolTip(tip)

    # ------------------------------------------------------------------------------- events

    def paintEvent(self, event: QPaintEvent) -> None:
        if not self.is_elided():
            super().paintEvent(event)  # the whole text, selectable as before
            return
        group = QPalette.ColorGroup.Active if self.isEnabled() else QPalette.ColorGroup.Disabled
        painter = QPainter(self)
        painter.setPen(self.palette().color(group, self.foregroundRole()))
        rect = self.contentsRect().adjusted(self.margin(), self.margin(), -self.margin(), 0)
        painter.drawText(rect, int(self.alignment()), self._elided_text())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._update_tip()
