"""Filter thumbnails as icons, with marks drawn over them: a red cross for a dead filter, a
weight badge for a filter in a weighted-sum objective."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPen, QPixmap

from gui.common.imaging import qimage_from_rgb8

_DEAD_RED = QColor(220, 40, 40)
_PLUS_GREEN = QColor(30, 140, 60)


def weight_text(weight: float) -> str:
    """'+1', '−1', '+0.5': a weight as the badge and the label show it."""
    sign = "+" if weight >= 0 else "−"
    return f"{sign}{abs(weight):g}"


def paint_dead(painter: QPainter, width: int, height: int) -> None:
    """A red cross and the word 'dead' over a thumbnail."""
    painter.setPen(QPen(_DEAD_RED, 2))
    painter.drawLine(2, 2, width - 3, height - 3)
    painter.drawLine(width - 3, 2, 2, height - 3)
    band = QRect(0, height - 16, width, 16)
    painter.fillRect(band, QColor(0, 0, 0, 170))
    font = QFont(painter.font())
    font.setBold(True)
    font.setPixelSize(11)
    painter.setFont(font)
    painter.setPen(_DEAD_RED.lighter(140))
    painter.drawText(band, Qt.AlignmentFlag.AlignCenter, "dead")


def paint_weight(painter: QPainter, weight: float) -> None:
    """A small badge with the unit's weight in the objective, top left."""
    badge = QRect(1, 1, 26, 16)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(_PLUS_GREEN if weight >= 0 else _DEAD_RED)
    painter.drawRoundedRect(badge, 4, 4)
    font = QFont(painter.font())
    font.setBold(True)
    font.setPixelSize(11)
    painter.setFont(font)
    painter.setPen(QColor(255, 255, 255))
    painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, weight_text(weight))


def thumbnail_icon(rgb8: np.ndarray, side: int, dead: bool, weight: float | None) -> QIcon:
    """`rgb8` scaled to `side` in a hairline frame, crossed out when `dead`, badged with
    `weight` when it has one."""
    # Nearest neighbour: a 5×5 feature map should look like 25 squares, not a blur.
    image = qimage_from_rgb8(rgb8).scaled(
        side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
    )
    # A hairline frame: a white or background-coloured unit must still read as a square.
    painter = QPainter(image)
    painter.setPen(QColor(128, 128, 128))
    painter.drawRect(0, 0, image.width() - 1, image.height() - 1)
    if dead:
        paint_dead(painter, image.width(), image.height())
    if weight is not None:
        paint_weight(painter, weight)
    painter.end()
    return QIcon(QPixmap.fromImage(image))
