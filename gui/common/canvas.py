"""The large picture: the image being grown, the input image, or one feature map."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget

from gui.common.elided_label import ElidedLabel
from gui.common.heatmaps import value_range
from gui.common.imaging import (
    apply_colormap,
    normalize_per_channel,
    qimage_from_rgb8,
    to_rgb8,
    upscale_nearest,
    visualization_rgb8,
)
from gui.common.readout import readout_text

EXPORT_MIN_SIDE = 256


def configure_pyqtgraph() -> None:
    """Make pyqtgraph read arrays as (row, column) like numpy and every image library does.

    Global and idempotent; called from Canvas rather than at import to keep imports side-effect
    free.
    """
    pg.setConfigOptions(imageAxisOrder="row-major")


def color_map(name: str) -> pg.ColorMap:
    """The pyqtgraph ColorMap of the exact table `apply_colormap(…, name)` paints with."""
    table = apply_colormap(np.linspace(0.0, 1.0, 256)[np.newaxis, :], name)[0]
    return pg.ColorMap(np.linspace(0.0, 1.0, 256), table)


class Canvas(QWidget):
    """A zoomable, pannable view of one image with a title above it."""

    # (row, column) of the feature-map pixel the user clicked; only while a map is shown.
    pixel_clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        configure_pyqtgraph()
        self._rgb8: np.ndarray | None = None
        self._shape: tuple[int, int] | None = None
        self._showing_map = False
        # The raw visualization on screen, kept to redraw it when the display mode changes.
        self._visualization: np.ndarray | None = None
        # The raw values behind the picture, for the readout under the mouse: what they are
        # ('pixel', 'activation', 'heatmap') and the (rows, columns) of the picture they cover.
        self._readout: np.ndarray | None = None
        self._readout_what = ""
        self._readout_span: tuple[int, int] = (0, 0)
        self._mouse: QPointF | None = None  # scene position, so a new frame reads at once

        # Cut to the column's width (whole in the tooltip): a long title must not widen it.
        self.title_label = ElidedLabel()
        self.title_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.title_label.font()
        font.setBold(True)
        self.title_label.setFont(font)

        self.message_label = QLabel()
        self.message_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message_label.setWordWrap(True)
        self.message_label.setEnabled(False)  # the disabled palette greys the hint text

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)
        self.view: pg.ViewBox = self.graphics.addViewBox()
        self.view.setAspectLocked(True)
        self.view.invertY(True)  # image row 0 is the top row, as the user expects
        self.view.disableAutoRange()  # zoom is the user's until the picture changes shape
        self.image_item = pg.ImageItem()
        self.view.addItem(self.image_item)
        # A feature map's colours with the raw values they stand for; in the layout only
        # while a map is shown.
        self.colorbar = pg.ColorBarItem(values=(0.0, 1.0), width=14, interactive=False)
        self.colorbar.axis.enableAutoSIPrefix(False)
        self._colorbar_shown = False

        # Where the mouse is and the raw value there, as image viewers show it.
        self.readout_label = QLabel()
        self.readout_label.setEnabled(False)  # greyed: a remark on the picture
        self.readout_label.setFixedHeight(self.readout_label.fontMetrics().height())
        # Long values must never widen the column the canvas sits in.
        self.readout_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

        # The message page replaces the view when empty: an empty black box looks broken.
        self.pages = QStackedWidget()
        self.pages.addWidget(self.message_label)
        self.pages.addWidget(self.graphics)

        self.graphics.scene().sigMouseClicked.connect(self._on_scene_mouse_clicked)
        self.graphics.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)
        self.graphics.viewport().installEventFilter(self)  # to clear the readout on leave

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.title_label)
        layout.addWidget(self.pages, stretch=1)
        layout.addWidget(self.readout_label)

    # ------------------------------------------------------------------------------- public API

    def show_image(self, image: np.ndarray, title: str = "", colormap: str | None = None) -> None:
        """Show an (H, W, C) image in [0, 1]; single-channel ones in grey or through `colormap`.

        The view re-fits only when the shape changes, so zoom and pan survive the frames of a run.
        """
        self._show(to_rgb8(image, colormap), title)
        self.set_readout(image, "pixel")
        self._set_map_mode(False)

    def show_visualization(self, image: np.ndarray, title: str = "") -> None:
        """Show an (H, W, C) visualization (raw values, maybe outside [0, 1]) with the window's
        display mode (`gui.common.imaging.display_mode`); `redraw` applies a new mode."""
        self._show(visualization_rgb8(image), title)
        self._visualization = np.array(image, copy=True)
        self.set_readout(self._visualization, "pixel")  # the raw values, not the display's
        self._set_map_mode(False)

    def redraw(self) -> None:
        """Draw the visualization on screen again with the current display mode, if one is."""
        visualization = self._visualization
        if visualization is not None:
            self._show(visualization_rgb8(visualization), self.title())
            # _show forgets it; keep it so that every later mode change redraws too.
            self._visualization = visualization
            self.set_readout(visualization, "pixel")

    def show_rgb8(self, rgb8: np.ndarray, title: str = "") -> None:
        """Show finished (H, W, 3) uint8 pixels as they are (an overlay, a rendered chart)."""
        rgb8 = np.asarray(rgb8)
        if rgb8.dtype != np.uint8 or rgb8.ndim != 3 or rgb8.shape[2] != 3:
            raise ValueError(f"expected (H, W, 3) uint8 pixels, got {rgb8.dtype} {rgb8.shape}")
        self._show(np.ascontiguousarray(rgb8), title)
        self._set_map_mode(False)

    def show_map(
        self, values: np.ndarray, title: str = "", colormap: str = "viridis", clickable: bool = True
    ) -> None:
        """Show one raw (H, W) feature map, scaled to its own min and max, through `colormap`,
        with a colorbar of its raw values beside it and its activations in the readout.

        While it is shown, a click on one of its pixels emits `pixel_clicked` (unless not
        `clickable`: where nothing listens, a cross-hair would promise what does not come).
        """
        values = np.asarray(values)
        if values.ndim != 2:
            raise ValueError(f"a feature map must be (H, W), got shape {values.shape}")
        scaled = normalize_per_channel(values[:, :, np.newaxis])
        self._show(to_rgb8(scaled, colormap), title)
        self.set_readout(values, "activation")
        self._show_colorbar(values, colormap)
        self._set_map_mode(clickable)

    def set_readout(
        self, values: np.ndarray | None, what: str, span: tuple[int, int] | None = None
    ) -> None:
        """Read (H, W) or (H, W, C) raw `values` under the mouse, named `what` ('heatmap');
        they cover the picture's top-left `span` (rows, columns), all of it by default (a
        picture enlarged or with a colorbar beside it passes the part the values fill)."""
        values = None if values is None else np.asarray(values)
        if values is not None and values.ndim not in (2, 3):
            raise ValueError(f"readout values must be (H, W) or (H, W, C), got {values.shape=}")
        if values is None or self._shape is None or 0 in values.shape:  # nothing to read
            self._readout = None
            self.readout_label.setText("")
            return
        self._readout = values
        self._readout_what = what
        self._readout_span = span or self._shape
        self._update_readout(self._mouse)

    def readout_text(self) -> str:
        """What the readout under the picture says now, e.g. 'x 3, y 5 · activation 1.27'."""
        return self.readout_label.text()

    def is_showing_map(self) -> bool:
        """Whether the picture is a feature map, whose pixels can be clicked."""
        return self._showing_map

    def clear(self, message: str = "") -> None:
        """Remove the picture and show `message` in its place."""
        self.image_item.clear()
        self._rgb8 = None
        self._shape = None
        self._readout = None
        self.readout_label.setText("")
        self._show_colorbar(None, "")
        self._set_map_mode(False)
        self.title_label.setText("")
        self.message_label.setText(message)
        self.pages.setCurrentWidget(self.message_label)

    def current_rgb8(self) -> np.ndarray | None:
        """The (H, W, 3) uint8 picture on screen, colormap applied; None when empty."""
        return None if self._rgb8 is None else self._rgb8.copy()

    def title(self) -> str:
        """The title shown above the picture."""
        return self.title_label.text()

    def export_png(self, path: str) -> None:
        """Save the picture as a PNG, enlarged with square pixels so the short side >= 256 px."""
        if self._rgb8 is None:
            raise ValueError("nothing to export")
        image = qimage_from_rgb8(upscale_nearest(self._rgb8, EXPORT_MIN_SIDE))
        # The stubs say bytes for the format; this PySide6 accepts only str.
        if not image.save(str(path), "PNG"):  # type: ignore[call-overload]
            raise OSError(f"could not write PNG to {path}")

    def fit(self) -> None:
        """Reset zoom and pan so the whole picture fills the view."""
        if self._shape is None:
            return
        height, width = self._shape
        self.view.setRange(QRectF(0, 0, width, height), padding=0.02)

    # ------------------------------------------------------------------------------- helpers

    def _show(self, rgb8: np.ndarray, title: str) -> None:
        # Pixels are made here rather than by pyqtgraph's levels and lookup table, so that
        # current_rgb8() and export_png() are exactly what is on screen.
        self._visualization = None  # show_visualization sets it again after this
        self._readout = None  # and the caller its raw values, if it has them
        self.readout_label.setText("")
        self._show_colorbar(None, "")
        self.image_item.setImage(rgb8, autoLevels=False, levels=(0, 255))
        self._rgb8 = rgb8
        self.title_label.setText(title)
        self.pages.setCurrentWidget(self.graphics)
        shape = (rgb8.shape[0], rgb8.shape[1])
        if shape != self._shape:
            self._shape = shape
            self.fit()

    def _show_colorbar(self, values: np.ndarray | None, colormap: str) -> None:
        # Only a map with a spread of values has a scale to show; a constant one reads its
        # single value in the readout.
        low, high = value_range(values, False) if values is not None else (0.0, 0.0)
        wanted = values is not None and high > low
        if wanted:
            self.colorbar.setColorMap(color_map(colormap))
            self.colorbar.setLevels((low, high))
        if wanted != self._colorbar_shown:
            if wanted:
                self.graphics.addItem(self.colorbar, row=0, col=1)
            else:
                self.graphics.removeItem(self.colorbar)
            self._colorbar_shown = wanted

    def _update_readout(self, scene_pos: QPointF | None) -> None:
        values, span = self._readout, self._readout_span
        if values is None or scene_pos is None:
            self.readout_label.setText("")
            return
        point = self.view.mapSceneToView(scene_pos)
        y, x = float(point.y()), float(point.x())
        if not (0 <= y < span[0] and 0 <= x < span[1]):
            self.readout_label.setText("")
            return
        # Picture pixels to value pixels: the values may be coarser than the picture.
        row = min(int(y * values.shape[0] / span[0]), values.shape[0] - 1)
        column = min(int(x * values.shape[1] / span[1]), values.shape[1] - 1)
        self.readout_label.setText(readout_text(values, row, column, self._readout_what))

    def _set_map_mode(self, on: bool) -> None:
        # A cross-hair says the pixels can be clicked.
        self._showing_map = on
        if on:
            self.graphics.setCursor(Qt.CursorShape.CrossCursor)
        else:
            self.graphics.unsetCursor()

    # ------------------------------------------------------------------------------- slots

    def _on_scene_mouse_clicked(self, event) -> None:
        if not self._showing_map or self._shape is None:
            return
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        point = self.view.mapSceneToView(event.scenePos())
        row, column = int(np.floor(point.y())), int(np.floor(point.x()))
        height, width = self._shape
        if 0 <= row < height and 0 <= column < width:
            self.pixel_clicked.emit(row, column)

    def _on_scene_mouse_moved(self, scene_pos: QPointF) -> None:
        self._mouse = QPointF(scene_pos)
        self._update_readout(self._mouse)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Clear the readout when the mouse leaves the picture (nothing is under it then)."""
        if watched is self.graphics.viewport() and event.type() == QEvent.Type.Leave:
            self._mouse = None
            self._update_readout(None)
        return super().eventFilter(watched, event)
