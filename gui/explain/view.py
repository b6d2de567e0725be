"""The explanation large: its heatmap over the image, with opacity, colormap and 'map alone'."""

from __future__ import annotations

import re

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from engine.protocol import Explanation, LayerPath, method_title
from gui.common.canvas import EXPORT_MIN_SIDE, Canvas
from gui.common.heatmaps import (
    HEATMAP_COLORMAPS,
    LEGEND_OUTLINES,
    LEGEND_SIGNED,
    HeatmapStyle,
    render,
    with_colorbar,
)
from gui.common.wording import duration_text


def explanation_title(explanation: Explanation) -> str:
    """'Grad-CAM · class '7' · conv3 · 0.04 s', what was scored ("logit"), "EMPTY MAP" when the
    map shows nothing, and for signed maps (and LIME's outlines) how to read the colours."""
    parts = [method_title(explanation.method), explanation.label]
    if explanation.score and explanation.class_index is not None:
        # "logit of class 3, spatial mean of ..." without the class, which the label names.
        parts.append(re.sub(r" of class \d+", "", explanation.score))
    if explanation.layer:
        parts.append(str(LayerPath(explanation.layer)))
    parts.append(duration_text(explanation.seconds))
    if explanation.verdict != "ok":
        parts.append(f"{explanation.verdict.upper()} MAP")
    if explanation.signed:
        parts.append(LEGEND_SIGNED)
    if explanation.details.get("top_positive") or explanation.details.get("top_negative"):
        parts.append(LEGEND_OUTLINES)
    return " · ".join(part for part in parts if part)


def render_explanation(
    explanation: Explanation,
    style: HeatmapStyle,
    min_side: int = EXPORT_MIN_SIDE,
    colorbar: bool = True,
) -> np.ndarray:
    """The (h, w, 3) uint8 picture of `explanation` drawn in `style`, short side >= `min_side`,
    with the colorbar of its raw values on the right (unless `colorbar` is False, or the plain
    superpixel plot is drawn)."""
    base = explanation.image
    if style.on_photo and explanation.original is not None:
        base = explanation.original
    picture = render(
        base,
        explanation.heatmap,
        explanation.signed,
        style,
        explanation.details,
        min_side,
    )
    plain = style.superpixels and explanation.details.get("segments") is not None
    if not colorbar or plain:
        return picture
    return with_colorbar(picture, explanation.heatmap, explanation.signed, style.colormap)


class ExplainView(QWidget):
    """A canvas for the current explanation and the knobs of how it is drawn."""

    # HeatmapStyle: the user changed opacity, colormap or 'map alone'.
    style_changed = Signal(object)
    # The user wants the shown explanation kept in the comparison.
    add_requested = Signal()
    # The user wants the shown explanation written as PNG and .npy.
    export_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._explanation: Explanation | None = None
        self.canvas = Canvas()
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(50)
        self.opacity_slider.setToolTip("How strongly the heatmap covers the image.")
        self.colormap_combo = QComboBox()
        self.colormap_combo.addItems(list(HEATMAP_COLORMAPS))
        self.colormap_combo.setToolTip(
            "Colours of maps that only go up. Signed maps (positive and negative evidence) always "
            "use red-white-blue, white at zero."
        )
        self.alone_check = QCheckBox("Map alone")
        self.alone_check.setToolTip("Show the heatmap without the image under it.")
        self.photo_check = QCheckBox("On photo")
        self.photo_check.setToolTip(
            "Draw the map over the original photo at its own size and shape: the model saw it "
            "resized, so the map is stretched back the same way."
        )
        self.superpixels_check = QCheckBox("Superpixels")
        self.superpixels_check.setToolTip(
            "LIME: the image with every superpixel's boundary, to judge the segmentation."
        )
        # Says that a map shows nothing (all zero, constant, NaN), why, and what to try.
        self.warning_label = QLabel()
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet("color: #b35900; font-weight: bold;")
        self.warning_label.setVisible(False)
        self.add_button = QPushButton("Add to comparison")
        self.add_button.setToolTip("Keep this explanation in the strip below, beside others.")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the picture as PNG and the raw map as .npy.")
        self.clear("Open an image, then press Explain")

        self.opacity_slider.valueChanged.connect(self._on_style_changed)
        self.colormap_combo.currentIndexChanged.connect(self._on_style_changed)
        self.alone_check.toggled.connect(self._on_style_changed)
        self.superpixels_check.toggled.connect(self._on_style_changed)
        self.photo_check.toggled.connect(self._on_style_changed)
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.export_button.clicked.connect(self._on_export_button_clicked)

        # Two short rows rather than one long one: the centre column fits a 1280 px screen.
        knobs = QHBoxLayout()
        knobs.setSpacing(6)
        knobs.addWidget(QLabel("Opacity"))
        knobs.addWidget(self.opacity_slider, 1)
        knobs.addWidget(self.colormap_combo)
        knobs.addWidget(self.add_button)
        knobs.addWidget(self.export_button)
        checks = QHBoxLayout()
        checks.setSpacing(6)
        checks.addWidget(self.alone_check)
        checks.addWidget(self.superpixels_check)
        checks.addWidget(self.photo_check)
        checks.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.warning_label)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(knobs)
        layout.addLayout(checks)

    # ------------------------------------------------------------------------------- public API

    def show_explanation(self, explanation: Explanation) -> None:
        """Draw `explanation` with the current style and make it the one shown."""
        self._explanation = explanation
        self._set_available(True)
        self.warning_label.setText(explanation.warning)
        self.warning_label.setVisible(bool(explanation.warning))
        self._paint()

    def show_input(self, image: np.ndarray, title: str) -> None:
        """Show the plain image (no explanation yet for it)."""
        self._explanation = None
        self._set_available(False)
        self.canvas.show_image(image, title)

    def clear(self, message: str) -> None:
        self._explanation = None
        self._set_available(False)
        self.canvas.clear(message)

    def explanation(self) -> Explanation | None:
        """The explanation on the canvas, or None."""
        return self._explanation

    def heatmap_style(self) -> HeatmapStyle:
        return HeatmapStyle(
            opacity=self.opacity_slider.value() / 100.0,
            colormap=self.colormap_combo.currentText(),
            alone=self.alone_check.isChecked(),
            superpixels=self.superpixels_check.isChecked(),
            on_photo=self.photo_check.isChecked(),
        )

    def set_style(self, style: HeatmapStyle) -> None:
        """Set every knob (each change repaints and announces the style once)."""
        self.opacity_slider.setValue(round(style.opacity * 100))
        self.colormap_combo.setCurrentText(style.colormap)
        self.alone_check.setChecked(style.alone)
        self.superpixels_check.setChecked(style.superpixels)
        self.photo_check.setChecked(style.on_photo)

    # ------------------------------------------------------------------------------- helpers

    def _paint(self) -> None:
        explanation = self._explanation
        if explanation is None:
            return
        style = self.heatmap_style()
        picture = render_explanation(explanation, style)
        self.canvas.show_rgb8(picture, explanation_title(explanation))
        # The heatmap's raw value under the mouse: it fills the picture left of the colorbar,
        # enlarged by a whole factor from the image it is drawn over.
        base = explanation.original if style.on_photo and explanation.original is not None else None
        rows, columns = (explanation.image if base is None else base).shape[:2]
        factor = max(1, picture.shape[0] // rows)
        self.canvas.set_readout(explanation.heatmap, "heatmap", (rows * factor, columns * factor))

    def _set_available(self, available: bool) -> None:
        self.add_button.setEnabled(available)
        self.export_button.setEnabled(available)
        explanation = self._explanation
        has_segments = explanation is not None and "segments" in explanation.details
        self.superpixels_check.setEnabled(available and has_segments)
        has_photo = explanation is not None and explanation.original is not None
        self.photo_check.setEnabled(available and has_photo)
        if not available:
            self.warning_label.setVisible(False)

    # ------------------------------------------------------------------------------- slots

    def _on_style_changed(self, *_args) -> None:
        self._paint()
        self.style_changed.emit(self.heatmap_style())

    def _on_add_button_clicked(self) -> None:
        self.add_requested.emit()

    def _on_export_button_clicked(self) -> None:
        self.export_requested.emit()
