"""The clicked unit of the microscope, in full: its visualization large, every top image by max
(the crop around the peak) and by mean with its file name and score, its statistics, the
verdict's message and the input channels that feed it most, with links to the other tabs."""

from __future__ import annotations

import html

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.protocol.microscope_format import TopImage, UnitEntry
from gui.microscope.pixmaps import PixmapCache
from gui.microscope.tiles import VERDICT_WORDS

DETAIL_VIS_SIDE = 128
DETAIL_CROP_SIDE = 48
CROP_COLUMNS = 3
SIDE_WIDTH = DETAIL_VIS_SIDE + 24  # the column of the picture, stats and buttons
EMPTY_TEXT = "Click a unit to see its visualization, all its top images and its circuit."


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def stats_text(unit: UnitEntry) -> str:
    """'fires on 43% of the images · mean 0.12 · max 2.13 · quality 4.7× its best real image'."""
    fires = "—" if unit.fires_percent is None else f"{unit.fires_percent:.1f}%"
    parts = [f"fires on {fires} of the images", f"mean {_number(unit.mean)}"]
    parts.append(f"max {_number(unit.max)}")
    if unit.quality is not None:
        parts.append(f"quality {unit.quality:.2g}× its best real image")
    return " · ".join(parts)


def circuit_text(unit: UnitEntry, shown: set[str] | None = None) -> str:
    """The strongest inputs as rich text, one a line: 'conv1 #16 · ‖w‖ 0.425 · Σw −0.046',
    each a link 'conv1:16' when its layer is among `shown` (the microscope's layers)."""
    if not unit.circuit:
        return html.escape(unit.circuit_note or "No circuit: this layer has no kernel to trace.")
    lines = []
    for link in unit.circuit:
        name = f"{link.source_layer or 'input image'} #{link.channel}"
        if link.source_layer is not None and link.source_layer in (shown or set()):
            target = html.escape(f"{link.source_layer}:{link.channel}", quote=True)
            name = f'<a href="{target}">{html.escape(name)}</a>'
        else:
            name = html.escape(name)
        lines.append(f"{name} · ‖w‖ {link.weight_norm:.3g} · Σw {link.weight_sum:+.3g}")
    note = [html.escape(unit.circuit_note)] if unit.circuit_note else []
    return "<br>".join(lines + note)


class UnitDetail(QWidget):
    """One unit's detail; `show_unit` fills it, `clear` empties it."""

    visualize_requested = Signal(object)  # UnitEntry: grow it in the Visualize tab
    explain_requested = Signal(object, str)  # UnitEntry, a top image's file: explain it there
    input_chosen = Signal(str, int)  # a circuit input's layer and channel: show that unit

    def __init__(self, cache: PixmapCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cache = cache
        self.unit: UnitEntry | None = None
        self.title = QLabel(EMPTY_TEXT)
        self.title.setWordWrap(True)
        self.picture = QLabel()
        self.picture.setFixedSize(DETAIL_VIS_SIDE, DETAIL_VIS_SIDE)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stats = QLabel()
        self.stats.setWordWrap(True)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.visualize_button = QPushButton("Open in Visualize")
        self.visualize_button.setToolTip("Select this layer and unit and grow its image there")
        self.explain_button = QPushButton("Explain top image")
        self.explain_button.setToolTip(
            "Open the unit's strongest image (by max) and go to the Explain tab; click any top "
            "image below to explain that one instead"
        )
        self.max_label = QLabel("Top images by max (crop around the peak)")
        self.max_grid = QGridLayout()
        self.mean_label = QLabel("Top images by mean (whole image)")
        self.mean_grid = QGridLayout()
        self.circuit_label = QLabel("Strongest inputs")
        for label in (self.max_label, self.mean_label):
            label.setWordWrap(True)
        self.circuit = QLabel()
        self.circuit.setWordWrap(True)
        self.circuit.setTextFormat(Qt.TextFormat.RichText)
        self.circuit.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.layers: set[str] = set()  # the microscope's layers: their inputs are links
        self.crop_buttons: list[QToolButton] = []

        self.visualize_button.clicked.connect(self._on_visualize_button_clicked)
        self.explain_button.clicked.connect(self._on_explain_button_clicked)
        self.circuit.linkActivated.connect(self._on_circuit_link_activated)
        self._lay_out()
        self.clear()

    # ------------------------------------------------------------------ public setters

    def show_unit(self, layer: str, unit: UnitEntry) -> None:
        """Show `unit` of layer `layer` with every picture the folder has of it."""
        self.unit = unit
        verdict = VERDICT_WORDS.get(unit.verdict, unit.verdict)
        self.title.setText(f"<b>{layer} #{unit.unit}</b> · {verdict}")
        self.picture.setPixmap(self._cache.get(unit.vis, DETAIL_VIS_SIDE))
        self.stats.setText(stats_text(unit))
        self.message.setText(unit.message)
        self.crop_buttons.clear()
        self._fill(self.max_grid, unit.top_max)
        self._fill(self.mean_grid, unit.top_mean)
        self.circuit.setText(circuit_text(unit, self.layers))
        self._set_shown(True)
        self.explain_button.setEnabled(bool(unit.top_max))

    def clear(self, text: str = EMPTY_TEXT) -> None:
        self.unit = None
        self.title.setText(text)
        self.picture.clear()
        for grid in (self.max_grid, self.mean_grid):
            _empty(grid)
        self.crop_buttons.clear()
        self._set_shown(False)

    # ------------------------------------------------------------------ helpers

    def _fill(self, grid: QGridLayout, tops: tuple[TopImage, ...]) -> None:
        _empty(grid)
        for k, top in enumerate(tops):
            button = QToolButton()
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            button.setIcon(QIcon(self._cache.get(top.png, DETAIL_CROP_SIDE)))
            button.setIconSize(QSize(DETAIL_CROP_SIDE, DETAIL_CROP_SIDE))
            button.setText(f"{_short(top.image)}\n{top.score:.3g}")
            button.setToolTip(f"{top.image}: score {top.score:.4g}. Click to explain it.")
            button.setAutoRaise(True)
            button.clicked.connect(lambda _checked=False, name=top.image: self._explain(name))
            grid.addWidget(button, *divmod(k, CROP_COLUMNS))
            self.crop_buttons.append(button)

    def _set_shown(self, shown: bool) -> None:
        for widget in (
            self.picture, self.stats, self.message, self.visualize_button, self.explain_button,
            self.max_label, self.mean_label, self.circuit_label, self.circuit,
        ):  # fmt: skip
            widget.setVisible(shown)

    def _explain(self, image: str) -> None:
        if self.unit is not None:
            self.explain_requested.emit(self.unit, image)

    def _lay_out(self) -> None:
        # Two columns under the grid: the unit itself on the left, its images on the right.
        side = QWidget()
        side.setFixedWidth(SIDE_WIDTH)
        column = QVBoxLayout(side)
        column.setContentsMargins(0, 0, 0, 0)
        for part in (self.title, self.picture, self.stats, self.visualize_button):
            column.addWidget(part)
        column.addWidget(self.explain_button)
        column.addWidget(self.message)
        column.addStretch(1)
        images = QVBoxLayout()
        images.addWidget(self.max_label)
        images.addLayout(self.max_grid)
        images.addWidget(self.mean_label)
        images.addLayout(self.mean_grid)
        images.addWidget(self.circuit_label)
        images.addWidget(self.circuit)
        images.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(side, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(images, 1)

    # ------------------------------------------------------------------ slots

    def _on_visualize_button_clicked(self) -> None:
        if self.unit is not None:
            self.visualize_requested.emit(self.unit)

    def _on_circuit_link_activated(self, target: str) -> None:
        layer, _, channel = target.rpartition(":")
        if layer and channel.isdigit():
            self.input_chosen.emit(layer, int(channel))

    def _on_explain_button_clicked(self) -> None:
        if self.unit is not None and self.unit.top_max:
            self._explain(self.unit.top_max[0].image)


def _short(name: str, most: int = 9) -> str:
    """A file name cut to `most` characters (the whole name is in the tooltip)."""
    name = name.rsplit("/", 1)[-1]
    return name if len(name) <= most else name[: most - 1] + "…"


def _empty(grid: QGridLayout) -> None:
    while grid.count():
        item = grid.takeAt(0)
        widget = item.widget() if item is not None else None
        if widget is not None:
            widget.deleteLater()
