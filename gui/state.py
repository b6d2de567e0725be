"""What the tabs of the window share: the model, the selected layer and unit, the image and its
feature maps there, the tab in front and the visualization (or atlas) under way."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QObject, Signal

from engine.protocol import (
    FeatureMaps,
    ImageOpened,
    JobEnded,
    LayerInfo,
    LayerPath,
    ModelSummary,
)
from gui.common.names import Tab
from gui.common.wording import class_text
from gui.engine_client import Job


class WindowState(QObject):
    """One small model object; the controllers subscribe to its signals."""

    model_changed = Signal(object)  # ModelSummary: a new model A; layer, unit and maps are reset
    layer_changed = Signal(object)  # LayerInfo: the layer selected (maybe with nothing to show)
    unit_picked = Signal(int)  # the user picked a filter of the selected layer
    image_changed = Signal(object)  # ImageOpened: the current image
    maps_changed = Signal(object)  # FeatureMaps: the current image's maps at the selected layer
    tab_changed = Signal(object)  # Tab: the centre tab in front
    running_changed = Signal(object)  # Job | None: the visualization or atlas under way

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.summary: ModelSummary | None = None
        self.layer: LayerInfo | None = None
        self.unit: int | None = None
        self.image: ImageOpened | None = None
        self.maps: FeatureMaps | None = None
        self.tab = Tab.VISUALIZE
        self.running: Job | None = None

    # ------------------------------------------------------------------ setters

    def set_model(self, summary: ModelSummary) -> None:
        """Show `summary`: everyone resets, then its default layer is selected."""
        self.summary = summary
        self.layer, self.unit, self.maps = None, None, None
        self.model_changed.emit(summary)
        default = summary.default_layer()
        if default is not None:
            self.set_layer(default)

    def select_layer(self, path: tuple[str, ...]) -> LayerInfo | None:
        """Select the layer at `path` (a bare name finds it in nested models); None if the model
        has no such layer."""
        info = self.summary.resolve(path) if self.summary is not None else None
        if info is not None:
            self.set_layer(info)
        return info

    def set_layer(self, info: LayerInfo) -> None:
        self.layer, self.unit, self.maps = info, None, None
        self.layer_changed.emit(info)

    def pick_unit(self, unit: int) -> None:
        """The user picked `unit`: each tab does what a pick means to it."""
        self.unit = unit
        self.unit_picked.emit(unit)

    def set_unit(self, unit: int | None) -> None:
        """The unit a tab works on now (a visualization, a circuit walked back), picked by the
        window rather than the user: nothing else follows."""
        self.unit = unit

    def set_image(self, opened: ImageOpened) -> None:
        self.image = opened
        self.image_changed.emit(opened)

    def set_maps(self, maps: FeatureMaps) -> None:
        """Keep `maps` if they are of the selected layer (the user may have moved on)."""
        if self.layer is None or maps.layer != self.layer.path:
            return
        self.maps = maps
        self.maps_changed.emit(maps)

    def set_tab(self, tab: Tab) -> None:
        self.tab = tab
        self.tab_changed.emit(tab)

    def set_running(self, job: Job) -> None:
        """`job` (a visualization or an atlas) is under way until it ends or is dropped."""
        self.running = job
        job.ended.connect(partial(self._on_running_over, job))
        job.dropped.connect(partial(self._on_running_over, job))
        self.running_changed.emit(job)

    # ------------------------------------------------------------------ derived

    def unit_label(self, unit: int) -> str:
        """ "class '7'" for a unit of the output layer, "#12" for any other."""
        layer, summary = self.layer, self.summary
        if layer and layer.is_output and summary and unit < len(summary.class_names):
            return class_text(summary.class_names[unit])
        return f"#{unit}"

    def layer_text(self) -> str:
        """'base/conv3': the selected layer as written in titles."""
        return str(LayerPath(self.layer.path)) if self.layer is not None else ""

    # ------------------------------------------------------------------ slots

    def _on_running_over(self, job: Job, _ended: JobEnded | None = None) -> None:
        if job is self.running:
            self.running = None
            self.running_changed.emit(None)
