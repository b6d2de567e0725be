"""The explanation large: its heatmap over the image, with opacity, colormap and 'map alone'."""

from __future__ import annotations

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
from gui.common.heatmaps import HEATMAP_COLORMAPS, HeatmapStyle, render


def explanation_title(explanation: Explanation) -> str:
    """'Grad-CAM · class '7' · conv3 · 0.04 s' and, for signed maps, how to read the colours."""
    parts = [method_title(explanation.method), explanation.label]
    if explanation.layer:
        parts.append(str(LayerPath(explanation.layer)))
    parts.append(f"{explanation.seconds:.2f} s")
    if explanation.signed:
        parts.append("red for, blue against")
    return " · ".join(part for part in parts if part)


def render_explanation(
    explanation: Explanation, style: HeatmapStyle, min_side: int = EXPORT_MIN_SIDE
) -> np.ndarray:
    """The (h, w, 3) uint8 picture of `explanation` drawn in `style`, short side >= `min_side`."""
    return render(
        explanation.image,
        explanation.heatmap,
        explanation.signed,
        style,
        explanation.details,
        min_side,
    )


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
        self.add_button = QPushButton("Add to comparison")
        self.add_button.setToolTip("Keep this explanation in the strip below, beside others.")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the picture as PNG and the raw map as .npy.")
        self.clear("Open an image, then press Explain")

        self.opacity_slider.valueChanged.connect(self._on_style_changed)
        self.colormap_combo.currentIndexChanged.connect(self._on_style_changed)
        self.alone_check.toggled.connect(self._on_style_changed)
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.export_button.clicked.connect(self._on_export_button_clicked)

        knobs = QHBoxLayout()
        knobs.setSpacing(6)
        knobs.addWidget(QLabel("Opacity"))
        knobs.addWidget(self.opacity_slider, 1)
        knobs.addWidget(self.colormap_combo)
        knobs.addWidget(self.alone_check)
        knobs.addWidget(self.add_button)
        knobs.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(knobs)

    # ------------------------------------------------------------------------------- public API

    def show_explanation(self, explanation: Explanation) -> None:
        """Draw `explanation` with the current style and make it the one shown."""
        self._explanation = explanation
        self._set_available(True)
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
        )

    def set_style(self, style: HeatmapStyle) -> None:
        """Set every knob (each change repaints and announces the style once)."""
        self.opacity_slider.setValue(round(style.opacity * 100))
        self.colormap_combo.setCurrentText(style.colormap)
        self.alone_check.setChecked(style.alone)

    # ------------------------------------------------------------------------------- helpers

    def _paint(self) -> None:
        explanation = self._explanation
        if explanation is None:
            return
        picture = render_explanation(explanation, self.heatmap_style())
        self.canvas.show_rgb8(picture, explanation_title(explanation))

    def _set_available(self, available: bool) -> None:
        self.add_button.setEnabled(available)
        self.export_button.setEnabled(available)

    # ------------------------------------------------------------------------------- slots

    def _on_style_changed(self, *_args) -> None:
        self._paint()
        self.style_changed.emit(self.heatmap_style())

    def _on_add_button_clicked(self) -> None:
        self.add_requested.emit()

    def _on_export_button_clicked(self) -> None:
        self.export_requested.emit()
