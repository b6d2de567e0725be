"""One column of the Compare tab: what one model (A or B) makes of the compared unit and image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QSplitter, QVBoxLayout, QWidget

from engine.protocol import CompareSide, ModelSummary
from gui.common.canvas import Canvas
from gui.common.elided_label import ElidedLabel
from gui.common.predictions import PredictionsPanel
from gui.files.dropped_files import MODEL_SUFFIXES

MIN_PICTURES_HEIGHT = 240  # feature map over visualization, each at least ~120 px tall
MIN_PICTURE_WIDTH = 140


def model_title(side: str, summary: ModelSummary | None) -> str:
    """'A · mnist_cnn.keras' (a file's name, else the model's), with '(untrained)' for a model
    of random weights, so two checkpoints of one architecture are not taken for trained ones."""
    if summary is None:
        return f"{side} · no model yet"
    untrained = " (untrained)" if summary.untrained else ""
    # Two checkpoints of one architecture share the model's name: their files tell them apart.
    file = Path(summary.source).name
    source = Path(summary.source)
    is_file = source.suffix.lower() in MODEL_SUFFIXES or source.is_dir()  # or a SavedModel
    named = file if is_file else summary.name  # the tooltip has the whole path
    return f"{side} · {named}{untrained}"


class CompareColumn(QWidget):
    """Model name, a note when the model cannot show the unit, its feature map, its live
    visualization and its top predictions, top to bottom."""

    def __init__(self, side: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.side = side
        # A file's name is cut in the middle (its suffix tells checkpoints apart), whole in
        # the tooltip: two long names must not push model B's column off the screen.
        self.title_label = ElidedLabel(model_title(side, None), mode=Qt.TextElideMode.ElideMiddle)
        font = self.title_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title_label.setFont(font)
        self.note_label = QLabel()
        self.note_label.setWordWrap(True)
        self.note_label.setStyleSheet("color: #a0521d;")  # readable on light and dark themes
        self.note_label.setVisible(False)
        self.map_canvas = Canvas()
        self.vis_canvas = Canvas()
        for canvas in (self.map_canvas, self.vis_canvas):
            # A canvas's title sets its minimum width; two columns must fit a narrow centre
            # column (1280 px screens), so the pictures give way and long titles are cut.
            canvas.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            canvas.setMinimumWidth(MIN_PICTURE_WIDTH)
        self.predictions = PredictionsPanel()
        self.clear()

        pictures = QSplitter(Qt.Orientation.Vertical)
        pictures.addWidget(self.map_canvas)
        pictures.addWidget(self.vis_canvas)
        pictures.setChildrenCollapsible(False)
        # The canvases' large size hints would make the column taller than the tab (it sits in
        # a scroll area that sizes it by its hints): they share whatever height there is.
        pictures.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        pictures.setMinimumHeight(MIN_PICTURES_HEIGHT)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.title_label)
        layout.addWidget(self.note_label)
        layout.addWidget(pictures, 1)
        layout.addWidget(self.predictions)

    # ------------------------------------------------------------------------------- public API

    def set_model(self, summary: ModelSummary | None) -> None:
        self.title_label.setText(model_title(self.side, summary))
        self.setToolTip(summary.source if summary else "")

    def clear(self, hint: str = "Press Compare") -> None:
        """Forget the last result: empty pictures and predictions, no note."""
        self.map_canvas.clear(f"Feature map — {hint}")
        self.vis_canvas.clear(f"Visualization — {hint}")
        self.predictions.clear("No predictions yet")
        self.set_note("")

    def set_note(self, note: str) -> None:
        self.note_label.setText(note[:1].upper() + note[1:])
        self.note_label.setVisible(bool(note))

    def set_result(self, result: CompareSide, unit: str, has_image: bool) -> None:
        """Show the maps, value, predictions and (once grown) the visualization of `result`."""
        self.set_note(result.note)
        if result.feature_map is not None:
            self.map_canvas.show_map(result.feature_map, f"{unit} · mean {result.value:.3g}")
        elif result.value is not None:
            self.map_canvas.clear(f"{unit} = {result.value:.4g} for the image (a Dense unit)")
        elif not has_image:
            self.map_canvas.clear("No image open: open one to compare feature maps")
        else:
            self.map_canvas.clear("No feature map: see the note above")
        if result.predictions:
            self.predictions.set_predictions(f"{self.side} predicts", result.predictions)
        else:
            self.predictions.clear("No predictions" if has_image else "No image open")
        if result.image is not None:
            reached = "" if result.activation is None else f" · activation {result.activation:.3g}"
            self.show_frame(result.image, f"{unit} grown{reached}")
        elif result.note:
            self.vis_canvas.clear("Not visualized: see the note above")

    def show_frame(self, image: np.ndarray, title: str) -> None:
        self.vis_canvas.show_image(image, title)
