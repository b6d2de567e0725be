"""A black square to draw on in thick white strokes; the drawing becomes the current image."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

PAD_SIDE = 280
BRUSH_WIDTH = 18  # on 280 px about 2 px of a 28×28 digit, as MNIST's strokes are
SEND_INTERVAL_MS = 100  # while drawing, the picture goes out at most this often


class SketchPad(QWidget):
    """Draw with the left mouse button; the picture is announced while drawing and on release."""

    # (PAD_SIDE, PAD_SIDE) uint8 picture, white strokes on black: the drawing changed.
    sketch_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image = QImage(PAD_SIDE, PAD_SIDE, QImage.Format.Format_Grayscale8)
        self._image.fill(0)
        self._last: QPointF | None = None  # where the stroke is, while the button is down
        self._dirty = False
        self._timer = QTimer(self, interval=SEND_INTERVAL_MS, singleShot=True)
        self.surface = QLabel()
        self.surface.setFixedSize(PAD_SIDE, PAD_SIDE)
        self.surface.setCursor(Qt.CursorShape.CrossCursor)
        self.surface.setToolTip("Draw with the mouse; the model looks at the drawing as you go.")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Wipe the pad (the model then sees a black image).")
        hint = QLabel("Draw a digit: predictions (and a live explanation) follow the pen.")
        hint.setWordWrap(True)
        hint.setEnabled(False)
        self._refresh()

        self.surface.installEventFilter(self)
        self._timer.timeout.connect(self._on_timer_timeout)
        self.clear_button.clicked.connect(self._on_clear_button_clicked)

        buttons = QHBoxLayout()
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.surface, alignment=Qt.AlignmentFlag.AlignHCenter)
        layout.addLayout(buttons)
        layout.addWidget(hint)
        layout.addStretch(1)

    # ------------------------------------------------------------------------------- public API

    def pixels(self) -> np.ndarray:
        """The drawing as a fresh (PAD_SIDE, PAD_SIDE) uint8 array."""
        stride = self._image.bytesPerLine()
        data = np.frombuffer(self._image.constBits(), np.uint8, count=stride * PAD_SIDE)
        return data.reshape(PAD_SIDE, stride)[:, :PAD_SIDE].copy()

    def clear(self) -> None:
        """Wipe the pad and announce the black picture."""
        self._image.fill(0)
        self._last = None
        self._refresh()
        self._send()

    # ------------------------------------------------------------------------------- helpers

    def _stroke_to(self, point: QPointF) -> None:
        painter = QPainter(self._image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(Qt.GlobalColor.white, BRUSH_WIDTH)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        if self._last is None:
            painter.drawPoint(point)  # a click alone leaves a dot
        else:
            painter.drawLine(self._last, point)
        painter.end()
        self._last = point
        self._dirty = True
        self._refresh()

    def _refresh(self) -> None:
        self.surface.setPixmap(QPixmap.fromImage(self._image))

    def _send(self) -> None:
        self._timer.stop()
        self._dirty = False
        self.sketch_changed.emit(self.pixels())

    # ------------------------------------------------------------------------------- events

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is not self.surface or not isinstance(event, QMouseEvent):
            return super().eventFilter(watched, event)
        kind = event.type()
        point = event.position()
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._last = None
            self._stroke_to(point)
            self._timer.start()
            return True
        if kind == QEvent.Type.MouseMove and self._last is not None:
            self._stroke_to(point)
            if not self._timer.isActive():
                self._timer.start()
            return True
        if kind == QEvent.Type.MouseButtonRelease and self._last is not None:
            self._stroke_to(point)
            self._last = None
            self._send()  # the finished stroke goes out at once
            return True
        return super().eventFilter(watched, event)

    # ------------------------------------------------------------------------------- slots

    def _on_timer_timeout(self) -> None:
        if self._dirty:
            self._send()

    def _on_clear_button_clicked(self) -> None:
        self.clear()
