"""The microscope's pictures, loaded from disk only when a tile or the detail pane shows them,
and kept in a bounded least-recently-used cache, so scrolling a 2,048-unit layer holds only the
pictures of the tiles around the view and a missing or broken file draws a placeholder."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap

# About 40 screens of tiles (a tile shows up to 7 pictures); small PNGs, a few MB in all.
CACHE_SIZE = 2048
PLACEHOLDER_COLOUR = QColor(70, 70, 70)


class PixmapCache:
    """Pixmaps by (path, side), scaled once, the least recently used dropped past `size`."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        if size < 1:
            raise ValueError(f"a pixmap cache holds at least 1 picture, got {size}")
        self._size = size
        self._pixmaps: OrderedDict[tuple[str, int], QPixmap] = OrderedDict()
        self.loads = 0  # pictures read from disk so far (tests count them)

    def get(self, path: str | Path | None, side: int) -> QPixmap:
        """The picture at `path` scaled to fit `side` × `side` (nearest neighbour: the pixels of
        a small visualization stay sharp); a grey placeholder for a missing or broken file."""
        key = (str(path), side)
        found = self._pixmaps.get(key)
        if found is not None:
            self._pixmaps.move_to_end(key)
            return found
        pixmap = self._load(path, side)
        self._pixmaps[key] = pixmap
        if len(self._pixmaps) > self._size:
            self._pixmaps.popitem(last=False)
        return pixmap

    def clear(self) -> None:
        self._pixmaps.clear()

    def __len__(self) -> int:
        return len(self._pixmaps)

    def _load(self, path: str | Path | None, side: int) -> QPixmap:
        if path is None:
            return placeholder(side)
        self.loads += 1
        pixmap = QPixmap(str(path))
        if pixmap.isNull():
            return placeholder(side)
        return pixmap.scaled(
            QSize(side, side),
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.FastTransformation,
        )


def placeholder(side: int) -> QPixmap:
    """A grey square with a cross: a picture the folder should have but does not."""
    pixmap = QPixmap(side, side)
    pixmap.fill(PLACEHOLDER_COLOUR)
    painter = QPainter(pixmap)
    painter.setPen(QColor(120, 120, 120))
    painter.drawLine(0, 0, side - 1, side - 1)
    painter.drawLine(0, side - 1, side - 1, 0)
    painter.end()
    return pixmap
