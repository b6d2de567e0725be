"""The Dataset examples sub-tab of the Filters tab: scan images for how each filter fires, flag
dead and rare filters in the grid and the tree, and show the selected filter's top images."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QTabWidget

from engine.protocol import (
    JobEnded,
    LayerInfo,
    LayerPath,
    ScanImages,
    ScanProgress,
    ScanSummary,
    ShowTopImages,
    StopRun,
    TopImages,
)
from gui.common.feedback import Feedback
from gui.common.file_dialogs import FileDialogs
from gui.common.names import FiltersTab, Tab
from gui.engine_client import EngineClient, JobSlot
from gui.filters.controller import Target, selected_filter
from gui.filters.panel import FiltersPanel
from gui.filters.scan_flags import filter_flags, layer_note, per_layer
from gui.layers.filter_picker import FilterPicker
from gui.layers.layer_tree import LayerTree
from gui.state import WindowState

_RANK_WORDS = {"l2": "L2 norm of its map", "max": "its map's maximum"}


class DatasetController(QObject):
    """Scans (one at a time), their flags, and the top images of the selected filter."""

    def __init__(
        self,
        client: EngineClient,
        state: WindowState,
        feedback: Feedback,
        panel: FiltersPanel,
        tabs: QTabWidget,
        picker: FilterPicker,
        tree: LayerTree,
        dialogs: FileDialogs,
    ) -> None:
        super().__init__()
        self._client = client
        self._state = state
        self._feedback = feedback
        self._panel = panel
        self._view = panel.dataset_view
        self._tabs = tabs
        self._picker = picker
        self._tree = tree
        self._dialogs = dialogs
        self._scan_job = JobSlot(client)
        self._top = JobSlot(client)
        self._scan: ScanSummary | None = None  # the last scan's statistics
        self._shown_for: Target | None = None  # the filter whose top images are shown or asked

        state.model_changed.connect(self._on_state_model_changed)
        state.layer_changed.connect(self._on_state_layer_changed)
        state.unit_picked.connect(self._on_state_unit_picked)
        state.tab_changed.connect(self._on_tab_changed)
        panel.currentChanged.connect(self._on_tab_changed)
        self._view.scan_folder_requested.connect(self.choose_scan_folder)
        self._view.scan_builtin_requested.connect(self.scan_builtin)
        self._view.cancel_requested.connect(self.cancel_scan)
        self._view.ranking_changed.connect(self.show_top_images)

    # ------------------------------------------------------------------ public actions

    def choose_scan_folder(self) -> None:
        """Ask for a folder of images and scan it."""
        folder = self._dialogs.open_folder("Scan folder for dataset examples")
        if folder:
            self.scan_folder(folder)

    def scan_folder(self, path: str | None) -> None:
        """Run the images of `path` (None: the built-in ones) through the model, recording how
        every filter fires; the top images and dead/rare flags follow."""
        if self._state.summary is None:
            self._feedback.error("Load a model first: a scan records how its filters fire.")
            return
        self._view.start_scan(Path(path).name if path else "the built-in images")
        self._panel.show_sub_tab(FiltersTab.DATASET)
        self._tabs.setCurrentIndex(Tab.FILTERS)
        self._scan_job.start(
            ScanImages(path),
            scan_progress=self._view.set_progress,
            scan_summary=self._on_job_scan_summary,
            ended=self._on_scan_ended,
        )

    def scan_builtin(self) -> None:
        self.scan_folder(None)

    def cancel_scan(self) -> None:
        """Stop the running scan; what it has seen so far still counts."""
        self._client.submit(StopRun())
        self._view.set_status("Cancelling the scan…")

    def show_top_images(self) -> None:
        """Ask for the selected filter's top images, ranked and projected as the combos say."""
        target = selected_filter(self._state)
        if target is None:
            self._view.clear_tiles("Select a filter to see the images it fires most on.")
            return
        self._shown_for = target
        if self._scan is None:
            self._view.clear_tiles("Scan a folder (or the built-in images) first.")
            return
        request = ShowTopImages(
            LayerPath(target[0]), target[1], self._view.rank_by(), self._view.projection()
        )
        self._top.start(request, top_images=self._on_job_top_images, ended=self._on_top_ended)

    # ------------------------------------------------------------------ job results

    def _on_job_scan_summary(self, summary: ScanSummary) -> None:
        self._scan = summary
        for info in self._state.summary.walk() if self._state.summary else ():
            fractions = per_layer(summary.fire_fraction, info.path)
            if fractions is not None:
                note = layer_note(filter_flags(fractions), summary.images)
                self._tree.set_note(info.path, f"Scan of {summary.source}: {note}")
        self._flag_layer()
        self._feedback.say(f"Scanned {summary.images:,} images of {summary.source}")
        self._shown_for = None
        self._refresh()

    def _on_scan_ended(self, ended: JobEnded) -> None:
        progress = ended.value if isinstance(ended.value, ScanProgress) else None
        self._view.finish(progress, ended.cancelled)
        if ended.failure is not None:
            self._view.set_status(f"Scan failed: {ended.failure.message}")
            self._feedback.error(ended.failure.message)

    def _on_job_top_images(self, top: TopImages) -> None:
        rank = _RANK_WORDS.get(top.rank_by, top.rank_by)
        title = f"{LayerPath(top.layer)} #{top.unit}: the images it fires on most, by {rank}"
        self._view.show_top_images(top, title)

    def _on_top_ended(self, ended: JobEnded) -> None:
        if ended.failure is not None:
            self._feedback.error(ended.failure.message)

    # ------------------------------------------------------------------ helpers

    def _refresh(self) -> None:
        """Ask for the top images when the sub-tab shows a filter it does not show yet."""
        on_show = self._state.tab is Tab.FILTERS and self._panel.sub_tab() is FiltersTab.DATASET
        target = selected_filter(self._state)
        if on_show and target is not None and target != self._shown_for:
            self.show_top_images()

    def _flag_layer(self) -> None:
        """Flag the dead and rare filters of the layer in the grid, from the last scan."""
        layer = self._state.layer
        if self._scan is None or layer is None:
            return
        fractions = per_layer(self._scan.fire_fraction, layer.path)
        if fractions is not None and fractions.shape[0] == self._picker.unit_count():
            self._picker.set_flags(filter_flags(fractions))

    # ------------------------------------------------------------------ state and widget slots

    def _on_state_model_changed(self, _summary: object) -> None:
        self._scan_job.drop()
        self._top.drop()
        self._scan, self._shown_for = None, None
        self._view.finish(None, cancelled=True)  # the engine stops a scan of the old model
        self._view.clear_tiles("")
        self._view.set_status("No scan yet: scan a folder to find each filter's top images.")

    def _on_state_layer_changed(self, info: LayerInfo) -> None:
        if info.visualizable:
            self._flag_layer()

    def _on_state_unit_picked(self, _unit: int) -> None:
        self._refresh()

    def _on_tab_changed(self, _index: object) -> None:
        self._refresh()
