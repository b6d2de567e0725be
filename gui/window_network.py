"""The network half of MainWindow: walk every layer for the current image, export its maps as
pictures, and take drawings from the sketch pad as the image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QFileDialog, QTabWidget

from engine.protocol import EngineFailure, FeatureMaps, ModelSummary, OpenImage, WalkNetwork
from gui.feature_grids import file_stem, layer_grid
from gui.network_view import NetworkView
from gui.picker_sort import SortBar
from gui.sketch_pad import SketchPad

TAB_VISUALIZE, TAB_EXPLAIN, TAB_NETWORK = 0, 1, 2


def write_layer_grids(maps: dict[tuple[str, ...], np.ndarray], folder: str | Path) -> list[Path]:
    """One PNG per layer, '<layer>.png', each a grid of its channel maps; returns the paths."""
    folder = Path(folder)
    written = []
    for path, values in maps.items():
        target = folder / f"{file_stem(path)}.png"
        Image.fromarray(layer_grid(values), "RGB").save(target, format="PNG")
        written.append(target)
    return written


class NetworkMixin:
    """Part of MainWindow (it uses the window's engine, widgets and helpers); split out to keep
    each module short."""

    def _init_network(self) -> None:
        self._walk_id = 0  # the WalkNetwork whose maps fill the Network tab
        self._walk_current = False  # the walk asked for is of the image shown now
        self._export_folder: str | None = None  # waiting for the walk to export its maps
        self.network = NetworkView()
        self.sketch_pad = SketchPad()
        self.sort_bar = SortBar()
        self.centre_tabs = QTabWidget()
        self.left_tabs = QTabWidget()

    def _connect_network(self) -> None:
        self.centre_tabs.currentChanged.connect(self._on_centre_tabs_changed)
        self.sketch_pad.sketch_changed.connect(self._on_sketch_pad_changed)
        self.sort_bar.sort_changed.connect(self.filter_picker.set_sort)

    # ------------------------------------------------------------------ public actions

    def walk_network(self) -> None:
        """Ask for the feature maps of every layer for the current image."""
        if self._image is None or self.summary is None:
            return
        request = WalkNetwork()
        self._walk_id = request.request_id
        self._walk_current = True
        self.network.clear_maps()
        self.engine.submit(request)

    def export_feature_maps(self, folder: str | None = None) -> None:
        """Write '<layer>.png' for every layer into `folder` (asked for with None), once the
        walk through the network for the current image is complete."""
        if self._image is None or self.summary is None:
            self._show_error("Open an image first: feature maps are that image's activations.")
            return
        if folder is None:
            folder = QFileDialog.getExistingDirectory(
                self, "Export feature maps into folder", str(self._last_dir())
            )
            if not folder:
                return
            self._settings.setValue("paths/last_dir", folder)
        self._export_folder = folder
        if self._walk_current and self.network.is_complete():
            self._write_pending_export()
        else:
            if not self._walk_current:
                self.walk_network()
            self._say("Walking through the network to export its feature maps…")

    def show_tab(self, index: int) -> None:
        """Bring the Visualize (0), Explain (1) or Network (2) tab to the front."""
        self.centre_tabs.setCurrentIndex(index)

    def show_sketch_pad(self) -> None:
        self.left_tabs.setCurrentWidget(self.sketch_pad)

    def active_canvas(self):
        """The canvas of the tab in front: what Export Canvas and Fit act on."""
        index = self.centre_tabs.currentIndex()
        if index == TAB_EXPLAIN:
            return self.explain_panel.view.canvas
        if index == TAB_NETWORK:
            return self.network.canvas
        return self.canvas

    def fit_canvas(self) -> None:
        self.active_canvas().fit()

    # ------------------------------------------------------------------ called by the window

    def _network_model_loaded(self, summary: ModelSummary) -> None:
        self._walk_id, self._walk_current, self._export_folder = 0, False, None
        self.network.set_model(summary)

    def _network_image_opened(self) -> None:
        self._walk_current = False
        self.network.clear_maps()
        if self.centre_tabs.currentIndex() == TAB_NETWORK:
            self.walk_network()

    def _network_feature_maps(self, maps: FeatureMaps) -> None:
        if maps.request_id != self._walk_id or self._walk_id == 0:
            return
        self.network.set_maps(maps.layer, maps.maps)
        if self._export_folder is not None and self.network.is_complete():
            self._write_pending_export()

    def _on_network_failed(self, failure: EngineFailure) -> bool:
        """Say that a failed walk spoiled the export asked for; True when it said so."""
        if failure.request_id != self._walk_id or self._export_folder is None:
            return False
        self._export_folder = None
        self._show_error(f"Could not export the feature maps: {failure.message}")
        return True

    # ------------------------------------------------------------------ helpers

    def _write_pending_export(self) -> None:
        folder, self._export_folder = self._export_folder, None
        try:
            written = write_layer_grids(self.network.all_maps(), folder)
        except (ValueError, OSError) as error:
            self._show_error(f"Could not export the feature maps: {error}")
            return
        self._say(f"Saved {len(written)} feature-map grids (one PNG per layer) in {folder}")

    # ------------------------------------------------------------------ widget intents

    def _on_centre_tabs_changed(self, index: int) -> None:
        if index == TAB_NETWORK and not self._walk_current:
            self.walk_network()

    def _on_sketch_pad_changed(self, pixels: np.ndarray) -> None:
        if self.summary is None:
            return  # no model yet to look at the drawing
        layer = self.layer.path if self.layer and self.layer.visualizable else None
        self.engine.submit(OpenImage(pixels=pixels, source="drawing", layer=layer))
