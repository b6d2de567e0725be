"""One level of a model's graph as QGraphicsItems: a box per layer (name and type, coloured by
kind), an arrow per inbound edge, laid out by graph_layout."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QBrush, QColor, QFont, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import (
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
)

from engine.protocol import LayerInfo
from gui.layers.graph_layout import layered_layout

BOX_WIDTH, BOX_HEIGHT = 160.0, 40.0
COLUMN_PITCH, RANK_PITCH = 180.0, 72.0
MERGE_TYPES = frozenset(
    {"Add", "Concatenate", "Multiply", "Average", "Maximum", "Minimum", "Subtract", "Dot"}
)
# Fill colours by what a layer does, so that a residual block reads at a glance.
KIND_COLOURS = {
    "conv": QColor("#cfe2ff"),
    "dense": QColor("#ffe0b3"),
    "merge": QColor("#c8f0c8"),
    "model": QColor("#e6d5f7"),
    "other": QColor("#eeeeee"),
}
_EDGE_PEN = QPen(QColor("#555555"), 1.4)
_BOX_PEN = QPen(QColor("#777777"), 1.0)
_SELECTED_PEN = QPen(QColor("#d9480f"), 3.5)


def kind_of(layer: LayerInfo) -> str:
    """'conv', 'dense', 'merge', 'model' (a nested sub-model) or 'other'."""
    if layer.children:
        return "model"
    if layer.type_name in MERGE_TYPES:
        return "merge"
    if layer.has_kernels or "Conv" in layer.type_name:
        return "conv"
    if layer.type_name in ("Dense", "EinsumDense"):
        return "dense"
    return "other"


@dataclass
class LevelScene:
    """A level's scene and its boxes by layer name; `edges` counts the arrows drawn."""

    scene: QGraphicsScene
    boxes: dict[str, QGraphicsRectItem] = field(default_factory=dict)
    layers: dict[str, LayerInfo] = field(default_factory=dict)
    edges: int = 0
    chain: bool = False  # every layer feeds only the next: a sequential model


def build_level(layers: tuple[LayerInfo, ...]) -> LevelScene:
    """The scene of one level (the model's top layers, or a sub-model's children)."""
    names = [layer.name for layer in layers]
    inbound = {layer.name: layer.inbound for layer in layers}
    layout = layered_layout(names, inbound)
    level = LevelScene(QGraphicsScene(), layers={layer.name: layer for layer in layers})
    widest = max(layout.widths, default=1)

    def centre(rank: int, column: int) -> QPointF:
        # Each rank centred on the widest, so that a chain runs down the middle.
        offset = (widest - layout.widths[rank]) * COLUMN_PITCH / 2
        return QPointF(offset + column * COLUMN_PITCH + BOX_WIDTH / 2, rank * RANK_PITCH)

    for layer in layers:
        rank, column = layout.slots[layer.name]
        level.boxes[layer.name] = _box(level.scene, layer, centre(rank, column))
    consumers: dict[str, int] = {}
    for layer in layers:
        for source in layer.inbound:
            if source not in level.boxes:
                continue
            consumers[source] = consumers.get(source, 0) + 1
            bends = [centre(*slot) for slot in layout.bends.get((source, layer.name), ())]
            start, end = level.boxes[source].rect(), level.boxes[layer.name].rect()
            if source == layer.name:
                _loop(level.scene, end)
            else:
                _arrow(level.scene, start, end, bends)
            level.edges += 1
    level.chain = all(len(lay.inbound) <= 1 for lay in layers) and all(
        n <= 1 for n in consumers.values()
    )
    return level


def set_highlight(box: QGraphicsRectItem, selected: bool) -> None:
    """Draw `box` as the selected layer (thick orange outline) or as a plain one."""
    box.setPen(_SELECTED_PEN if selected else _BOX_PEN)
    box.setZValue(2 if selected else 1)


def _box(scene: QGraphicsScene, layer: LayerInfo, centre: QPointF) -> QGraphicsRectItem:
    rect = QRectF(centre.x() - BOX_WIDTH / 2, centre.y() - BOX_HEIGHT / 2, BOX_WIDTH, BOX_HEIGHT)
    box = scene.addRect(rect, _BOX_PEN, QBrush(KIND_COLOURS[kind_of(layer)]))
    box.setZValue(1)
    box.setData(0, layer.name)
    box.setToolTip(f"{layer.name}\n{layer.type_name}")
    title = QGraphicsSimpleTextItem(_elide(layer.name, 22), box)
    bold = QFont()
    bold.setBold(True)
    title.setFont(bold)
    subtitle = QGraphicsSimpleTextItem(_elide(layer.type_name, 24), box)
    if layer.children:
        subtitle.setText(_elide(f"{layer.type_name} ▸ double-click", 26))
    for k, text in enumerate((title, subtitle)):
        width = text.boundingRect().width()
        text.setPos(centre.x() - width / 2, rect.top() + 3 + k * 17)
    return box


def _arrow(scene: QGraphicsScene, start: QRectF, end: QRectF, bends: list[QPointF]) -> None:
    path = QPainterPath(QPointF(start.center().x(), start.bottom()))
    for bend in bends:
        path.lineTo(bend)
    tip = QPointF(end.center().x(), end.top())
    # Arrows into one box converge on its top centre, so a merge visibly joins its branches.
    path.lineTo(tip)
    scene.addPath(path, _EDGE_PEN).setZValue(0)
    previous = bends[-1] if bends else QPointF(start.center().x(), start.bottom())
    _head(scene, previous, tip)


def _head(scene: QGraphicsScene, before: QPointF, tip: QPointF) -> None:
    dx, dy = tip.x() - before.x(), tip.y() - before.y()
    length = max((dx * dx + dy * dy) ** 0.5, 1e-6)
    ux, uy = dx / length, dy / length
    size = 8.0
    left = QPointF(tip.x() - size * ux + size * 0.5 * uy, tip.y() - size * uy - size * 0.5 * ux)
    right = QPointF(tip.x() - size * ux - size * 0.5 * uy, tip.y() - size * uy + size * 0.5 * ux)
    head = scene.addPolygon(QPolygonF([tip, left, right]), _EDGE_PEN, QBrush(_EDGE_PEN.color()))
    head.setZValue(0)


def _loop(scene: QGraphicsScene, box: QRectF) -> None:
    # A layer called on its own output: an arc from its right side back into it.
    path = QPainterPath(QPointF(box.right(), box.center().y() - 8))
    path.cubicTo(
        QPointF(box.right() + 30, box.top() - 10),
        QPointF(box.right() + 30, box.bottom() + 10),
        QPointF(box.right(), box.center().y() + 8),
    )
    item: QGraphicsPathItem = scene.addPath(path, _EDGE_PEN)
    item.setZValue(0)
    _head(scene, QPointF(box.right() + 10, box.center().y() + 12), path.currentPosition())


def _elide(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
