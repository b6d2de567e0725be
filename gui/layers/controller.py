"""The layer tree and the filter grid: which layer and filter are selected, and the current
image's feature maps of that layer on the thumbnails."""

from __future__ import annotations

from PySide6.QtCore import QObject

from engine.protocol import (
    FeatureMaps,
    JobEnded,
    LayerInfo,
    LayerKind,
    LayerPath,
    ModelSummary,
    ShowFeatureMaps,
)
from gui.common.feedback import Feedback
from gui.engine_client import EngineClient, JobSlot
from gui.layers.filter_picker import FilterPicker
from gui.layers.graph_view import GraphView
from gui.layers.layer_tree import LayerTree
from gui.layers.picker_sort import SortBar
from gui.layers.properties import LayerPropertiesPane
from gui.state import WindowState


class LayersController(QObject):
    """Keeps the tree and the grid on the state's layer; picks in the grid go to the state.

    Created before the controllers that decorate the grid (atlas, dataset flags): its slots
    fill the grid for a new layer first.
    """

    def __init__(
        self,
        client: EngineClient,
        state: WindowState,
        feedback: Feedback,
        tree: LayerTree,
        picker: FilterPicker,
        sort_bar: SortBar,
        properties: LayerPropertiesPane | None = None,
        graph: GraphView | None = None,
    ) -> None:
        super().__init__()
        self._state = state
        self._feedback = feedback
        self._tree = tree
        self._properties = properties
        self._graph = graph
        self._picker = picker
        self._maps = JobSlot(client)

        state.model_changed.connect(self._on_state_model_changed)
        state.layer_changed.connect(self._on_state_layer_changed)
        state.maps_changed.connect(self._on_state_maps_changed)
        tree.layer_selected.connect(self._on_tree_layer_selected)
        if graph is not None:
            # A click on a box selects the layer exactly as a click on its row does.
            graph.layer_selected.connect(self._on_tree_layer_selected)
        picker.filter_selected.connect(self._on_picker_filter_selected)
        sort_bar.sort_changed.connect(picker.set_sort)

    def select_layer(self, path: tuple[str, ...]) -> None:
        """Select a layer as if the user clicked it in the tree (a bare name finds it in
        nested models, as `main.py --layer block_13_expand` asks)."""
        if self._state.select_layer(path) is None:
            self._feedback.error(f"No layer {str(LayerPath(path))!r} in this model.")

    # ------------------------------------------------------------------ slots

    def _on_state_model_changed(self, summary: ModelSummary) -> None:
        self._maps.drop()
        self._tree.set_summary(summary)
        if self._graph is not None:
            self._graph.set_summary(summary)
        if self._properties is not None:
            self._properties.set_layer(None)

    def _on_state_layer_changed(self, info: LayerInfo) -> None:
        self._maps.drop()
        self._tree.select_layer(info.path)
        if self._graph is not None:
            self._graph.select_layer(info.path)
        self._show_properties(info)
        if not info.visualizable:
            self._picker.clear()
            # Information, not an error: nothing went wrong, the layer just has nothing to show.
            self._feedback.info(
                f"Layer {info.name!r} ({info.type_name}, output {_shape_text(info)}) has no "
                "channels or units to show. Pick a convolution, pooling or Dense layer."
            )
            return
        self._feedback.clear()
        summary = self._state.summary
        labels = None
        if info.is_output and info.kind is LayerKind.UNITS and summary is not None:
            labels = list(summary.class_names)
        self._picker.set_layer(info, labels)
        if self._state.image is not None:
            self._maps.start(
                ShowFeatureMaps(info.path),
                feature_maps=self._on_job_feature_maps,
                ended=self._on_job_ended,
            )

    def _on_state_maps_changed(self, maps: FeatureMaps) -> None:
        self._picker.set_feature_maps(maps.maps)

    def _on_tree_layer_selected(self, info: LayerInfo) -> None:
        self._state.set_layer(info)

    def _on_picker_filter_selected(self, unit: int) -> None:
        self._state.pick_unit(unit)

    def _on_job_feature_maps(self, maps: FeatureMaps) -> None:
        self._state.set_maps(maps)

    def _on_job_ended(self, ended: JobEnded) -> None:
        if ended.failure is not None:
            self._feedback.error(ended.failure.message)

    def _show_properties(self, info: LayerInfo) -> None:
        if self._properties is None:
            return
        summary = self._state.summary
        height, width = summary.input_shape[:2] if summary is not None else (None, None)
        self._properties.set_layer(info, (height or 0, width or 0))


def _shape_text(info: LayerInfo) -> str:
    if info.output_shape is None:
        return "unknown shape"
    return "×".join("?" if d is None else str(d) for d in info.output_shape[1:]) or "scalar"
