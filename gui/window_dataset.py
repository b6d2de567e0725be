"""The Dataset examples part of MainWindow's Filters tab: scan images for how each filter fires,
flag dead and rare filters, and show the selected filter's top images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QFileDialog

from engine.protocol import (
    EngineFailure,
    ScanImages,
    ScanProgress,
    ScanSummary,
    ShowTopImages,
    StopRun,
    TopImages,
)

_RANK_WORDS = {"l2": "L2 norm of its map", "max": "its map's maximum"}
RARE_BELOW = 0.01  # a filter firing on fewer than 1% of the scanned images is rare


def per_layer(values: dict, path: tuple[str, ...]) -> np.ndarray | None:
    """`values[path]`, accepting keys that are the path, 'a/b' or the layer's name."""
    for key in (tuple(path), "/".join(path), path[-1] if path else None):
        if key in values:
            return np.asarray(values[key])
    return None


def filter_flags(fire_fraction: np.ndarray) -> dict[int, str]:
    """'dead' for channels that never fired, 'rare 0.4%' for those below RARE_BELOW."""
    flags = {}
    for unit, fraction in enumerate(np.asarray(fire_fraction, dtype=np.float64)):
        if fraction <= 0:
            flags[unit] = "dead"
        elif fraction < RARE_BELOW:
            flags[unit] = f"rare {fraction:.1%}"
    return flags


def layer_note(flags: dict[int, str], images: int) -> str:
    """'3 dead, 2 rare filters on 1,797 images' (or 'no dead or rare filters on …')."""
    dead = sum(1 for text in flags.values() if text == "dead")
    rare = len(flags) - dead
    if not flags:
        return f"no dead or rare filters on {images:,} images"
    parts = [f"{dead} dead"] if dead else []
    parts += [f"{rare} rare"] if rare else []
    return f"{', '.join(parts)} filter{'s' if len(flags) != 1 else ''} on {images:,} images"


class DatasetMixin:
    """Part of MainWindow (it uses the window's engine, widgets and helpers); split out to keep
    each module short."""

    def _init_dataset(self) -> None:
        self._scan_id = 0
        self._scan: ScanSummary | None = None
        self._top_id = 0

    def _connect_dataset(self) -> None:
        self.engine.scan_progress.connect(self._on_engine_scan_progress)
        self.engine.scan_summary.connect(self._on_engine_scan_summary)
        self.engine.top_images.connect(self._on_engine_top_images)
        view = self.dataset_view
        view.scan_folder_requested.connect(self.choose_scan_folder)
        view.scan_builtin_requested.connect(self.scan_builtin)
        view.cancel_requested.connect(self.cancel_scan)
        view.ranking_changed.connect(self.show_top_images)

    # ------------------------------------------------------------------ public actions

    def choose_scan_folder(self) -> None:
        """Ask for a folder of images and scan it."""
        folder = QFileDialog.getExistingDirectory(
            self, "Scan folder for dataset examples", str(self._last_dir())
        )
        if folder:
            self._settings.setValue("paths/last_dir", folder)
            self.scan_folder(folder)

    def scan_folder(self, path: str | None) -> None:
        """Run the images of `path` (None: the built-in ones) through the model, recording how
        every filter fires; the top images and dead/rare flags follow."""
        if self.summary is None:
            self._show_error("Load a model first: a scan records how its filters fire.")
            return
        request = ScanImages(path)
        self._scan_id = request.request_id
        self.dataset_view.start_scan(Path(path).name if path else "the built-in images")
        self.show_filters(2)
        self.engine.submit(request)

    def scan_builtin(self) -> None:
        self.scan_folder(None)

    def cancel_scan(self) -> None:
        """Stop the running scan; what it has seen so far still counts."""
        self.engine.submit(StopRun())
        self.dataset_view.set_status("Cancelling the scan…")

    def show_top_images(self) -> None:
        """Ask for the selected filter's top images, ranked and projected as the combos say."""
        target = self._filters_target
        if target is None:
            self.dataset_view.clear_tiles("Select a filter to see the images it fires most on.")
            return
        if self._scan is None:
            self.dataset_view.clear_tiles("Scan a folder (or the built-in images) first.")
            return
        view = self.dataset_view
        request = ShowTopImages(target[0], target[1], view.rank_by(), view.projection())
        self._top_id = request.request_id
        self.engine.submit(request)

    # ------------------------------------------------------------------ called by the window

    def _dataset_model_loaded(self) -> None:
        self._scan, self._scan_id, self._top_id = None, 0, 0
        self.dataset_view.clear_tiles("")
        self.dataset_view.set_status("No scan yet: scan a folder to find each filter's top images.")

    def _dataset_layer_shown(self) -> None:
        """The picker shows a new layer: flag its dead and rare filters from the last scan."""
        if self._scan is None or self.layer is None:
            return
        fractions = per_layer(self._scan.fire_fraction, self.layer.path)
        if fractions is not None and fractions.shape[0] == self.filter_picker.unit_count():
            self.filter_picker.set_flags(filter_flags(fractions))

    def _on_dataset_failed(self, failure: EngineFailure) -> None:
        if failure.what == "scan" and failure.request_id == self._scan_id:
            self.dataset_view.set_progress(ScanProgress(failure.request_id, 0, 0, finished=True))
            self.dataset_view.set_status(f"Scan failed: {failure.message}")

    # ------------------------------------------------------------------ engine results

    def _on_engine_scan_progress(self, progress: ScanProgress) -> None:
        if progress.request_id == self._scan_id:
            self.dataset_view.set_progress(progress)

    def _on_engine_scan_summary(self, summary: ScanSummary) -> None:
        if summary.request_id != self._scan_id:
            return
        self._scan = summary
        for info in self.summary.walk() if self.summary else ():
            fractions = per_layer(summary.fire_fraction, info.path)
            if fractions is not None:
                note = layer_note(filter_flags(fractions), summary.images)
                self.layer_tree.set_note(info.path, f"Scan of {summary.source}: {note}")
        self._dataset_layer_shown()
        self._say(f"Scanned {summary.images:,} images of {summary.source}")
        self._shown_for.pop(2, None)
        self._refresh_filters()

    def _on_engine_top_images(self, top: TopImages) -> None:
        if top.request_id != self._top_id:
            return
        rank = _RANK_WORDS.get(top.rank_by, top.rank_by)
        title = f"{'/'.join(top.layer)} #{top.unit}: the images it fires on most, by {rank}"
        self.dataset_view.show_top_images(top, title)
