"""The Filters tab of MainWindow, kernels and circuits: ask for the selected filter's weights and
its input channels when the tab shows them, and walk back through a circuit."""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget

from engine.protocol import (
    Ascend,
    Atlas,
    AtlasTile,
    Circuit,
    EngineFailure,
    Kernels,
    RunFinished,
    ShowKernels,
    TraceCircuit,
)
from gui.circuit_view import CircuitView, source_name
from gui.dataset_view import DatasetView
from gui.kernel_view import KernelView
from gui.window_dataset import DatasetMixin

TAB_FILTERS = 3
SUB_KERNELS, SUB_CIRCUITS, SUB_DATASET = 0, 1, 2

Target = tuple[tuple[str, ...], int]  # (layer path, unit)


class FiltersMixin(DatasetMixin):
    """Part of MainWindow (it uses the window's engine, widgets and helpers); split out to keep
    each module short."""

    def _init_filters(self) -> None:
        self._filters_target: Target | None = None  # the filter the tab is about
        self._shown_for: dict[int, Target] = {}  # sub-tab: the filter it shows or was asked for
        self._kernels_id = 0
        self._circuit_id = 0
        self._circuit_target: Target | None = None
        self._walk_back: list[Target] = []
        self._walk_forward: list[Target] = []
        self._thumb_ids: set[int] = set()  # cache look-ups for the circuit's source images
        self._grow_ids: dict[int, Target] = {}  # 'visualize' runs started from a circuit link
        self.kernel_view = KernelView()
        self.circuit_view = CircuitView()
        self.dataset_view = DatasetView()
        self.filters_panel = QTabWidget()
        self.filters_panel.setDocumentMode(True)
        self.filters_panel.addTab(self.kernel_view, "Kernels")
        self.filters_panel.addTab(self.circuit_view, "Circuits")
        self.filters_panel.addTab(self.dataset_view, "Dataset examples")
        self._init_dataset()

    def _connect_filters(self) -> None:
        self.engine.kernels.connect(self._on_engine_kernels)
        self.engine.circuit.connect(self._on_engine_circuit)
        self.engine.atlas_tile.connect(self._on_engine_circuit_tile)
        self.engine.run_finished.connect(self._on_engine_circuit_run_finished)
        self.centre_tabs.currentChanged.connect(self._on_filters_tab_changed)
        self.filters_panel.currentChanged.connect(self._on_filters_tab_changed)
        self.kernel_view.filter_chosen.connect(self._on_kernel_view_filter_chosen)
        self.kernel_view.weight_grid.channel_changed.connect(self._on_weight_grid_channel_changed)
        self.circuit_view.link_chosen.connect(self._on_circuit_view_link_chosen)
        self.circuit_view.visualize_requested.connect(self._on_circuit_view_visualize_requested)
        self.circuit_view.back_requested.connect(self.circuit_back)
        self.circuit_view.forward_requested.connect(self.circuit_forward)
        self._connect_dataset()

    # ------------------------------------------------------------------ public actions

    def show_filters(self, sub: int | None = None) -> None:
        """Bring the Filters tab to the front, at sub-tab Kernels (0), Circuits (1) or Dataset
        examples (2) when given."""
        if sub is not None:
            self.filters_panel.setCurrentIndex(sub)
        self.centre_tabs.setCurrentIndex(TAB_FILTERS)

    def trace_circuit(self, target: Target, record: bool = True) -> None:
        """Ask which channels feed `target`; with `record`, the walk's Back returns here."""
        if record and self._circuit_target is not None and self._circuit_target != target:
            self._walk_back.append(self._circuit_target)
            self._walk_forward.clear()
        self._circuit_target = target
        self._shown_for[SUB_CIRCUITS] = target
        request = TraceCircuit(*target)
        self._circuit_id = request.request_id
        self.circuit_view.clear(f"Tracing {_label(target)}…")
        self._update_history()
        self.engine.submit(request)

    def circuit_back(self) -> None:
        """Retrace the filter traced before the current one."""
        if self._walk_back:
            self._walk_forward.append(self._circuit_target)
            self._go_to(self._walk_back.pop())

    def circuit_forward(self) -> None:
        """Retrace the filter Back left."""
        if self._walk_forward:
            self._walk_back.append(self._circuit_target)
            self._go_to(self._walk_forward.pop())

    # ------------------------------------------------------------------ called by the window

    def _filters_model_loaded(self) -> None:
        self._filters_target, self._circuit_target = None, None
        self._shown_for.clear()
        self._walk_back.clear()
        self._walk_forward.clear()
        self._kernels_id = self._circuit_id = 0
        self.kernel_view.clear("Select a filter of a convolution layer to see its weights")
        self.circuit_view.clear("Select a filter to trace the channels that feed it")
        self._update_history()
        self._dataset_model_loaded()

    def _filters_filter_selected(self, unit: int) -> None:
        """The user picked `unit` of the selected layer: the tab follows it when it shows."""
        if self.layer is None or not self.layer.visualizable:
            return
        self._filters_target = (self.layer.path, unit)
        self._refresh_filters()

    def _on_filters_failed(self, failure: EngineFailure) -> None:
        if failure.what == "kernels" and failure.request_id == self._kernels_id:
            self.kernel_view.clear(f"No kernels: {failure.message}")
        if failure.what == "circuit" and failure.request_id == self._circuit_id:
            self.circuit_view.clear(f"No circuit: {failure.message}")
        self._on_dataset_failed(failure)

    # ------------------------------------------------------------------ engine results

    def _on_engine_kernels(self, kernels: Kernels) -> None:
        if kernels.request_id != self._kernels_id:
            return
        self.kernel_view.show_kernels(kernels)
        self._show_effect(kernels)

    def _on_engine_circuit(self, circuit: Circuit) -> None:
        if circuit.request_id != self._circuit_id:
            return
        self.circuit_view.show_circuit(circuit, _label((circuit.layer, circuit.unit)))
        by_layer: dict[tuple[str, ...], list[int]] = {}
        for link in circuit.links:
            if link.source_layer is not None:
                by_layer.setdefault(link.source_layer, []).append(link.channel)
        self._thumb_ids.clear()
        for layer, channels in by_layer.items():
            look_up = Atlas(layer, tuple(channels), self.controls.settings(), cache_only=True)
            self._thumb_ids.add(look_up.request_id)
            self.engine.submit(look_up)

    def _on_engine_circuit_tile(self, tile: AtlasTile) -> None:
        if tile.request_id in self._thumb_ids and tile.final:
            self.circuit_view.set_source_image(tile.layer, tile.unit, tile.image)

    def _on_engine_circuit_run_finished(self, done: RunFinished) -> None:
        target = self._grow_ids.pop(done.request_id, None)
        if target is not None and not done.cancelled:
            self.circuit_view.set_source_image(*target, done.image)
            self._say(f"Grew {_label(target)} for the circuit")

    # ------------------------------------------------------------------ helpers

    def _refresh_filters(self) -> None:
        """Ask for what the visible sub-tab shows of the current filter, unless it has it."""
        target = self._filters_target
        if self.centre_tabs.currentIndex() != TAB_FILTERS or target is None:
            return
        sub = self.filters_panel.currentIndex()
        if self._shown_for.get(sub) == target:
            return
        if sub == SUB_DATASET:
            self._shown_for[sub] = target
            self.show_top_images()
            return
        if self.layer is None or "Conv" not in self.layer.type_name:
            kind = self.layer.type_name if self.layer else "layer"
            view = self.kernel_view if sub == SUB_KERNELS else self.circuit_view
            view.clear(f"A {kind} layer has no kernels: select a filter of a convolution layer.")
            return
        if sub == SUB_KERNELS:
            self._shown_for[sub] = target
            request = ShowKernels(*target)
            self._kernels_id = request.request_id
            self.engine.submit(request)
        else:
            self.trace_circuit(target)

    def _go_to(self, target: Target) -> None:
        """Select `target` in the tree and grid (without growing it) and trace it."""
        layer, unit = target
        if self.layer is None or self.layer.path != layer:
            self.select_layer(layer)
        if self.layer is None or self.layer.path != layer:
            return
        self.filter_picker.select_unit(unit)
        self._filters_target = target
        self.trace_circuit(target, record=False)

    def _update_history(self) -> None:
        self.circuit_view.set_history(bool(self._walk_back), bool(self._walk_forward))

    def _show_effect(self, kernels: Kernels) -> None:
        image = self._image.display if self._image is not None else None
        maps = self._maps.maps if self._maps is not None else None
        fits = maps is not None and self._maps.layer == kernels.layer and maps.ndim == 3
        feature_map = maps[..., kernels.unit] if fits and kernels.unit < maps.shape[-1] else None
        channels = self.summary.input_shape[2] if self.summary is not None else None
        self.kernel_view.effect.show_effect(kernels.kernel, image, feature_map, channels)

    # ------------------------------------------------------------------ widget intents

    def _on_filters_tab_changed(self, _index: int) -> None:
        self._refresh_filters()

    def _on_kernel_view_filter_chosen(self, unit: int) -> None:
        if self.layer is not None and 0 <= unit < self.filter_picker.unit_count():
            self.filter_picker.select_unit(unit)
            self._filters_filter_selected(unit)

    def _on_weight_grid_channel_changed(self, channel: int) -> None:
        shown = self.kernel_view.kernels()
        if shown is None:
            return
        request = ShowKernels(shown.layer, shown.unit, channel)
        self._kernels_id = request.request_id
        self.engine.submit(request)

    def _on_circuit_view_link_chosen(self, row: int) -> None:
        link = self.circuit_view.links()[row]
        if link.source_layer is None:
            self._say(f"{source_name(link)} is the input image: the walk ends here.")
            return
        target = (link.source_layer, link.channel)
        if self._circuit_target is not None:
            self._walk_back.append(self._circuit_target)
            self._walk_forward.clear()
        self._go_to(target)

    def _on_circuit_view_visualize_requested(self, row: int) -> None:
        link = self.circuit_view.links()[row]
        request = Ascend(link.source_layer, link.channel, self.controls.settings())
        self._grow_ids[request.request_id] = (link.source_layer, link.channel)
        self._say(f"Growing {source_name(link)} for the circuit…")
        self.engine.submit(request)


def _label(target: Target) -> str:
    return f"{'/'.join(target[0])} #{target[1]}"
