"""The graph view's drawing area: wheel zooms, drag pans, a click or double-click on a box
names its layer."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRectF, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QGraphicsRectItem, QGraphicsView, QWidget

# A press and release further apart than this is a drag (a pan), not a click.
CLICK_SLOP_PX = 4
ZOOM_STEP = 1.15  # per wheel notch
MIN_SCALE, MAX_SCALE = 0.05, 4.0


class GraphCanvas(QGraphicsView):
    """A QGraphicsView over a level's scene that announces which box the user clicked."""

    # The layer name of the box the user clicked (press and release without dragging).
    box_clicked = Signal(str)
    # The layer name of the box the user double-clicked.
    box_double_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self._pressed_at: QPoint | None = None

    def box_at(self, point: QPoint) -> str | None:
        """The layer name of the box under `point` (viewport coordinates), or None."""
        for item in self.items(point):
            while item is not None and not isinstance(item, QGraphicsRectItem):
                item = item.parentItem()
            if item is not None and item.data(0):
                return str(item.data(0))
        return None

    def fit_all(self) -> None:
        """Zoom so that the whole level shows (never larger than life)."""
        self._fit(self.sceneRect())

    def fit_width(self) -> None:
        """Zoom so that the level's width shows, from its top: a tall graph stays readable."""
        rect = self.sceneRect()
        self._fit(QRectF(rect.left(), rect.top(), rect.width(), min(rect.height(), 1.0)))
        self.ensureVisible(QRectF(rect.left(), rect.top(), 1, 1), 0, 0)

    def _fit(self, rect: QRectF) -> None:
        if rect.isEmpty() and rect.width() <= 0:
            return
        self.fitInView(rect.adjusted(-10, -10, 10, 10), Qt.AspectRatioMode.KeepAspectRatio)
        scale = self.transform().m11()
        if scale > 1.0:
            self.resetTransform()

    # ------------------------------------------------------------------------------- events

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120
        if not notches:
            return
        factor = ZOOM_STEP**notches
        scale = self.transform().m11() * factor
        if MIN_SCALE <= scale <= MAX_SCALE:
            self.scale(factor, factor)
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._pressed_at = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        start, self._pressed_at = self._pressed_at, None
        point = event.position().toPoint()
        if start is None or (point - start).manhattanLength() > CLICK_SLOP_PX:
            return
        name = self.box_at(point)
        if name is not None and event.button() == Qt.MouseButton.LeftButton:
            self.box_clicked.emit(name)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        name = self.box_at(event.position().toPoint())
        if name is not None and event.button() == Qt.MouseButton.LeftButton:
            self.box_double_clicked.emit(name)
            return
        super().mouseDoubleClickEvent(event)
