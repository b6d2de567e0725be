"""The Kernels and Circuits sub-tabs of the Filters tab: the selected filter's weights and the
input channels that feed it, asked for when shown, and the circuit walked back and forth.

Picking a filter here inspects it without growing it, so a running scan goes on.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QTabWidget

from engine.protocol import (
    Ascend,
    Atlas,
    AtlasTile,
    Circuit,
    EndReason,
    JobEnded,
    Kernels,
    LayerPath,
    ShowKernels,
    TraceCircuit,
)
from gui.common.feedback import Feedback
from gui.common.names import FiltersTab, Tab
from gui.engine_client import EngineClient, Job, JobSlot
from gui.filters.circuit_view import source_name
from gui.filters.panel import FiltersPanel
from gui.layers.filter_picker import FilterPicker
from gui.state import WindowState
from gui.visualize.controls import AscentControls

Target = tuple[tuple[str, ...], int]  # (layer path, unit)


class FiltersController(QObject):
    """Kernels and circuits of the filter last picked (or walked to)."""

    def __init__(
        self,
        client: EngineClient,
        state: WindowState,
        feedback: Feedback,
        panel: FiltersPanel,
        tabs: QTabWidget,
        picker: FilterPicker,
        controls: AscentControls,
    ) -> None:
        super().__init__()
        self._client = client
        self._state = state
        self._feedback = feedback
        self._panel = panel
        self._tabs = tabs
        self._picker = picker
        self._controls = controls
        self._kernels = JobSlot(client)
        self._circuit = JobSlot(client)
        self._thumbs: list[Job] = []  # cache look-ups for the circuit's source images
        self._shown_for: dict[FiltersTab, Target] = {}  # what each sub-tab shows or was asked
        self._traced: Target | None = None
        self._back: list[Target] = []
        self._forward: list[Target] = []

        state.model_changed.connect(self._on_state_model_changed)
        state.unit_picked.connect(self._on_state_unit_picked)
        state.tab_changed.connect(self._on_tab_changed)
        panel.currentChanged.connect(self._on_tab_changed)
        panel.kernel_view.filter_chosen.connect(self._on_kernel_view_filter_chosen)
        panel.kernel_view.weight_grid.channel_changed.connect(self._on_weight_grid_channel_changed)
        panel.circuit_view.link_chosen.connect(self._on_circuit_view_link_chosen)
        panel.circuit_view.visualize_requested.connect(self._on_circuit_view_visualize_requested)
        panel.circuit_view.back_requested.connect(self.circuit_back)
        panel.circuit_view.forward_requested.connect(self.circuit_forward)

    # ------------------------------------------------------------------ public actions

    def show_filters(self, sub: FiltersTab | None = None) -> None:
        """Bring the Filters tab to the front, at sub-tab `sub` when given."""
        if sub is not None:
            self._panel.show_sub_tab(sub)
        self._tabs.setCurrentIndex(Tab.FILTERS)

    def trace_circuit(self, target: Target, record: bool = True) -> None:
        """Ask which channels feed `target`; with `record`, the walk's Back returns here."""
        if record and self._traced is not None and self._traced != target:
            self._back.append(self._traced)
            self._forward.clear()
        self._traced = target
        self._shown_for[FiltersTab.CIRCUITS] = target
        self._panel.circuit_view.clear(f"Tracing {_label(target)}…")
        self._update_history()
        self._circuit.start(
            TraceCircuit(LayerPath(target[0]), target[1]),
            circuit=self._on_job_circuit,
            ended=partial(self._on_job_ended, "No circuit"),
        )

    def circuit_back(self) -> None:
        """Retrace the filter traced before the current one."""
        if self._back and self._traced is not None:
            self._forward.append(self._traced)
            self._go_to(self._back.pop())

    def circuit_forward(self) -> None:
        """Retrace the filter Back left."""
        if self._forward and self._traced is not None:
            self._back.append(self._traced)
            self._go_to(self._forward.pop())

    # ------------------------------------------------------------------ job results

    def _on_job_kernels(self, kernels: Kernels) -> None:
        self._panel.kernel_view.show_kernels(kernels)
        self._show_effect(kernels)

    def _on_job_circuit(self, circuit: Circuit) -> None:
        self._panel.circuit_view.show_circuit(circuit, _label((circuit.layer, circuit.unit)))
        by_layer: dict[tuple[str, ...], list[int]] = {}
        for link in circuit.links:
            if link.source_layer is not None:
                by_layer.setdefault(link.source_layer, []).append(link.channel)
        for job in self._thumbs:
            job.drop()
        settings = self._controls.settings()
        self._thumbs = [
            self._client.start(
                Atlas(LayerPath(layer), tuple(channels), settings, cache_only=True),
                atlas_tile=self._on_job_atlas_tile,
            )
            for layer, channels in by_layer.items()
        ]

    def _on_job_atlas_tile(self, tile: AtlasTile) -> None:
        if tile.final:
            self._panel.circuit_view.set_source_image(tile.layer, tile.unit, tile.image)

    def _on_job_ended(self, what: str, ended: JobEnded) -> None:
        if ended.failure is None:
            return
        view = self._panel.kernel_view if what == "No kernels" else self._panel.circuit_view
        view.clear(f"{what}: {ended.failure.message}")
        self._feedback.error(ended.failure.message)

    def _on_grown_ended(self, target: Target, ended: JobEnded) -> None:
        grown = ended.reason in (EndReason.FINISHED, EndReason.CONVERGED)
        image = getattr(ended.value, "image", None)
        if grown and image is not None:
            self._panel.circuit_view.set_source_image(target[0], target[1], image)
            self._feedback.say(f"Grew {_label(target)} for the circuit")
        elif ended.failure is not None:
            self._feedback.error(ended.failure.message)

    # ------------------------------------------------------------------ helpers

    def _refresh(self) -> None:
        """Ask for what the visible sub-tab shows of the current filter, unless it has it."""
        target, sub = selected_filter(self._state), self._panel.sub_tab()
        if self._state.tab is not Tab.FILTERS or target is None or sub is FiltersTab.DATASET:
            return
        if self._shown_for.get(sub) == target:
            return
        layer = self._state.layer
        if layer is None or not layer.has_kernels:
            kind = layer.type_name if layer is not None else "layer"
            view = (
                self._panel.kernel_view if sub is FiltersTab.KERNELS else self._panel.circuit_view
            )
            view.clear(f"A {kind} layer has no kernels: select a filter of a convolution layer.")
            return
        if sub is FiltersTab.KERNELS:
            self._shown_for[sub] = target
            self._show_kernels(ShowKernels(LayerPath(target[0]), target[1]))
        else:
            self.trace_circuit(target)

    def _show_kernels(self, request: ShowKernels) -> None:
        self._kernels.start(
            request, kernels=self._on_job_kernels, ended=partial(self._on_job_ended, "No kernels")
        )

    def _go_to(self, target: Target) -> None:
        """Select `target` in the tree and grid (without growing it) and trace it."""
        layer, unit = target
        current = self._state.layer
        if current is None or current.path != layer:
            current = self._state.select_layer(layer)
        if current is None or current.path != layer:
            return
        self._picker.select_unit(unit)
        self._state.set_unit(unit)
        self.trace_circuit(target, record=False)

    def _update_history(self) -> None:
        self._panel.circuit_view.set_history(bool(self._back), bool(self._forward))

    def _show_effect(self, kernels: Kernels) -> None:
        image = self._state.image.display if self._state.image is not None else None
        maps = self._state.maps
        values = maps.maps if maps is not None and maps.layer == kernels.layer else None
        fits = values is not None and values.ndim == 3 and kernels.unit < values.shape[-1]
        feature_map = values[..., kernels.unit] if fits and values is not None else None
        summary = self._state.summary
        channels = summary.input_shape[2] if summary is not None else None
        self._panel.kernel_view.effect.show_effect(
            kernels.kernel, image, feature_map, channels, kernels.input_maps
        )

    # ------------------------------------------------------------------ state and widget slots

    def _on_state_model_changed(self, _summary: object) -> None:
        self._kernels.drop()
        self._circuit.drop()
        self._traced = None
        self._shown_for.clear()
        self._back.clear()
        self._forward.clear()
        self._panel.kernel_view.clear("Select a filter of a convolution layer to see its weights")
        self._panel.circuit_view.clear("Select a filter to trace the channels that feed it")
        self._update_history()

    def _on_state_unit_picked(self, _unit: int) -> None:
        self._refresh()  # the tab follows the filter picked when it shows

    def _on_tab_changed(self, _index: object) -> None:
        self._refresh()

    def _on_kernel_view_filter_chosen(self, unit: int) -> None:
        if self._state.layer is not None and 0 <= unit < self._picker.unit_count():
            self._picker.select_unit(unit)
            self._state.pick_unit(unit)

    def _on_weight_grid_channel_changed(self, channel: int) -> None:
        shown = self._panel.kernel_view.kernels()
        if shown is not None:
            self._show_kernels(ShowKernels(shown.layer, shown.unit, channel))

    def _on_circuit_view_link_chosen(self, row: int) -> None:
        link = self._panel.circuit_view.links()[row]
        if link.source_layer is None:
            self._feedback.say(f"{source_name(link)} is the input image: the walk ends here.")
            return
        if self._traced is not None:
            self._back.append(self._traced)
            self._forward.clear()
        self._go_to((link.source_layer, link.channel))

    def _on_circuit_view_visualize_requested(self, row: int) -> None:
        link = self._panel.circuit_view.links()[row]
        if link.source_layer is None:
            return
        target: Target = (link.source_layer, link.channel)
        request = Ascend(LayerPath(link.source_layer), link.channel, self._controls.settings())
        self._feedback.say(f"Growing {source_name(link)} for the circuit…")
        self._client.start(request, ended=partial(self._on_grown_ended, target))


def selected_filter(state: WindowState) -> Target | None:
    """The filter the Filters tab is about: the one selected in the grid, if any."""
    layer, unit = state.layer, state.unit
    if layer is None or not layer.visualizable or unit is None:
        return None
    return layer.path, unit


def _label(target: Target) -> str:
    return f"{LayerPath(target[0])} #{target[1]}"
