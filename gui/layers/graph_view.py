"""The model as a graph, as Netron draws it: branches and merges, a box per layer; a click
selects the layer as the layer tree does, a double-click opens a nested sub-model."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from engine.protocol import LayerInfo, LayerPath, ModelSummary
from gui.common.elided_label import ElidedLabel
from gui.layers.graph_canvas import GraphCanvas
from gui.layers.graph_scene import LevelScene, build_level, set_highlight


class GraphView(QWidget):
    """One level of the loaded model's graph at a time (the model, or a sub-model opened by a
    double-click), with Up and Fit buttons; the selected layer is outlined."""

    # The LayerInfo of the box the user clicked.
    layer_selected = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.up_button = QToolButton()
        self.up_button.setText("↑ Up")
        self.up_button.setToolTip("Back to the model that holds this sub-model")
        self.fit_button = QToolButton()
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Zoom to show the whole graph (wheel zooms, drag pans)")
        self.crumbs = ElidedLabel("")
        self.note = QLabel("")
        self.note.setStyleSheet("color: gray;")
        # Wrapped: an unwrapped label's whole text would set the left column's narrowest width.
        self.note.setWordWrap(True)
        self.canvas = GraphCanvas()

        self._summary: ModelSummary | None = None
        self._level = LayerPath()
        self._scenes: dict[LayerPath, LevelScene] = {}  # built once per model and level
        self._selected = LayerPath()
        self._fit_pending = False  # zoomed while hidden, when the view's size meant nothing

        self.up_button.clicked.connect(self._on_up_clicked)
        self.fit_button.clicked.connect(self._on_fit_clicked)
        self.canvas.box_clicked.connect(self._on_canvas_box_clicked)
        self.canvas.box_double_clicked.connect(self._on_canvas_box_double_clicked)

        bar = QHBoxLayout()
        bar.setContentsMargins(2, 2, 2, 0)
        bar.addWidget(self.up_button)
        bar.addWidget(self.crumbs, 1)
        bar.addWidget(self.fit_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.note)
        layout.addWidget(self.canvas, 1)
        self._show_level(LayerPath())

    # ------------------------------------------------------------------------------- public API

    def set_summary(self, summary: ModelSummary | None) -> None:
        """Show the top level of `summary`'s graph; nothing is selected afterwards."""
        self._summary = summary
        self._scenes.clear()
        self._selected = LayerPath()
        self._show_level(LayerPath())

    def select_layer(self, path: tuple[str, ...]) -> None:
        """Outline the layer at `path` without announcing it, opening the level that holds it,
        and scroll it into view."""
        self._selected = LayerPath(path)
        holder = LayerPath(path[:-1])
        if holder != self._level and self._level_layers(holder) is not None:
            self._show_level(holder)
        else:
            self._highlight()
        self._scroll_to_selected()

    def open_level(self, path: tuple[str, ...]) -> bool:
        """Show the graph inside the sub-model at `path`; False if it is not a sub-model."""
        layers = self._level_layers(LayerPath(path))
        if not layers:
            return False
        self._show_level(LayerPath(path))
        return True

    def level(self) -> LayerPath:
        """The sub-model whose graph is shown; () for the model itself."""
        return self._level

    def box_names(self) -> list[str]:
        """The layers drawn at this level, in model order."""
        return list(self._scene().boxes)

    def edge_count(self) -> int:
        """How many arrows this level draws: one per inbound of each layer."""
        return self._scene().edges

    def box_point(self, name: str) -> QPoint | None:
        """Where the box of layer `name` is, in the canvas's viewport coordinates (after
        scrolling it into view); None when it is not drawn."""
        box = self._scene().boxes.get(name)
        if box is None:
            return None
        self.canvas.ensureVisible(box, 0, 0)
        return self.canvas.mapFromScene(box.sceneBoundingRect().center())

    def is_outlined(self, name: str) -> bool:
        """Whether the box of layer `name` is drawn as the selection."""
        return name == self._selected_box_name()

    # ------------------------------------------------------------------------------- helpers

    def _level_layers(self, path: LayerPath) -> tuple[LayerInfo, ...] | None:
        if self._summary is None:
            return () if not path else None
        if not path:
            return self._summary.layers
        holder = self._summary.find(path)
        return holder.children if holder is not None and holder.children else None

    def _scene(self) -> LevelScene:
        scene = self._scenes.get(self._level)
        if scene is None:
            scene = build_level(self._level_layers(self._level) or ())
            self._scenes[self._level] = scene
        return scene

    def _show_level(self, path: LayerPath) -> None:
        self._level = path
        level = self._scene()
        self.canvas.setScene(level.scene)
        self.canvas.setSceneRect(level.scene.itemsBoundingRect())
        name = self._summary.name if self._summary is not None else ""
        self.crumbs.setText(" › ".join([name, *path]) if name else "")
        self.up_button.setEnabled(bool(path))
        self.note.setText(self._note(level))
        self._highlight()
        self._fit_pending = not self.isVisible()
        self.canvas.fit_width()

    def _note(self, level: LevelScene) -> str:
        if len(level.boxes) > 1 and level.edges == 0:
            # A subclassed model's call() is Python code: Keras keeps no graph of it.
            return "No connections recorded (a subclassed model?): layers in model order"
        if level.chain:
            return "Sequential model: a simple chain"
        return f"{len(level.boxes)} layers, {level.edges} connections"

    def _selected_box_name(self) -> str | None:
        # The box of the selected layer, or of the sub-model at this level that holds it.
        selected, depth = self._selected, len(self._level)
        if len(selected) <= depth or tuple(selected[:depth]) != tuple(self._level):
            return None
        name = selected[depth]
        return name if name in self._scene().boxes else None

    def _scroll_to_selected(self) -> None:
        name = self._selected_box_name()
        if name is not None:
            self.canvas.centerOn(self._scene().boxes[name])

    def _highlight(self) -> None:
        outlined = self._selected_box_name()
        for name, box in self._scene().boxes.items():
            set_highlight(box, name == outlined)

    # ------------------------------------------------------------------------------- events

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._fit_pending:
            self._fit_pending = False
            self.canvas.fit_width()
            self._scroll_to_selected()

    # ------------------------------------------------------------------------------- slots

    def _on_up_clicked(self) -> None:
        if self._level:
            self._show_level(LayerPath(self._level[:-1]))

    def _on_fit_clicked(self) -> None:
        self.canvas.fit_all()

    def _on_canvas_box_clicked(self, name: str) -> None:
        info = self._scene().layers.get(name)
        if info is not None:
            self.layer_selected.emit(info)

    def _on_canvas_box_double_clicked(self, name: str) -> None:
        self.open_level((*self._level, name))
