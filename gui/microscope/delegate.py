"""How one unit's tile is drawn in the microscope grid: its visualization, its top dataset crops
beside it, and under them the unit number, a verdict badge and how often it fires.

Pictures come from a PixmapCache as the tile is painted, so only tiles in view cost anything.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from engine.protocol.microscope_format import UnitEntry
from gui.microscope.pixmaps import PixmapCache
from gui.microscope.tiles import UNIT_ROLE, VERDICT_WORDS

VIS_SIDE = 64
CROP_SIDE = 31
CROP_COLUMNS, CROP_ROWS = 3, 2  # the first six crops by max: enough to see what it likes
GAP = 2
TEXT_HEIGHT = 16
TILE_SIZE = QSize(
    VIS_SIDE + 3 * GAP + CROP_COLUMNS * (CROP_SIDE + GAP), VIS_SIDE + TEXT_HEIGHT + 3 * GAP
)
VERDICT_COLOURS = {
    "fine": QColor(40, 150, 70),
    "weak": QColor(215, 140, 20),
    "dead": QColor(200, 40, 40),
    "failed": QColor(120, 60, 170),
}


class TileDelegate(QStyledItemDelegate):
    """Paints UnitListModel rows as tiles of TILE_SIZE."""

    def __init__(self, cache: PixmapCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cache = cache

    def sizeHint(
        self, _option: QStyleOptionViewItem, _index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return TILE_SIZE

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        unit = index.data(UNIT_ROLE)
        if not isinstance(unit, UnitEntry):
            return
        rect: QRect = option.rect
        state = option.state
        painter.save()
        if state & QStyle.StateFlag.State_Selected:
            painter.fillRect(rect, option.palette.highlight())
        left, top = rect.left() + GAP, rect.top() + GAP
        painter.drawPixmap(left, top, self.cache.get(unit.vis, VIS_SIDE))
        for k, crop in enumerate(unit.top_max[: CROP_COLUMNS * CROP_ROWS]):
            row, column = divmod(k, CROP_COLUMNS)
            x = left + VIS_SIDE + GAP + column * (CROP_SIDE + GAP)
            painter.drawPixmap(
                x, top + row * (CROP_SIDE + GAP), self.cache.get(crop.png, CROP_SIDE)
            )
        band = QRect(left, top + VIS_SIDE + GAP, rect.width() - 2 * GAP, TEXT_HEIGHT)
        text = option.palette.text().color()
        self._paint_caption(painter, unit, band, text)
        painter.restore()

    @staticmethod
    def _paint_caption(painter: QPainter, unit: UnitEntry, band: QRect, text: QColor) -> None:
        """'#12', the verdict as a coloured badge, 'fires 43%'."""
        font = QFont(painter.font())
        font.setPixelSize(11)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QPen(text))
        number = QRect(band.left(), band.top(), 44, band.height())
        painter.drawText(
            number, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, f"#{unit.unit}"
        )
        word = VERDICT_WORDS.get(unit.verdict, unit.verdict)
        badge = QRect(number.right() + 2, band.top() + 1, 44, band.height() - 2)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(VERDICT_COLOURS.get(unit.verdict, QColor(110, 110, 110)))
        painter.drawRoundedRect(badge, 4, 4)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, word)
        font.setBold(False)
        painter.setFont(font)
        painter.setPen(text)
        fires = "—" if unit.fires_percent is None else f"{unit.fires_percent:.0f}%"
        rest = QRect(badge.right() + 4, band.top(), band.right() - badge.right() - 4, band.height())
        painter.drawText(
            rest, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, f"fires {fires}"
        )
