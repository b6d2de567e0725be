"""The Microscope tab's behaviour: open a folder (chosen, dropped, or the last one), read a
layer's units when it is picked, build a microscope of the open model with progress, ETA and
Cancel (then open it), and send a unit to the Visualize or Explain tab when it is of the open
model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QSettings
from PySide6.QtWidgets import QTabWidget

from engine.protocol import (
    BuildMicroscope,
    EndReason,
    ImageOpened,
    JobEnded,
    LayerInfo,
    MicroscopeProgress,
    StopRun,
)
from engine.protocol.microscope_format import (
    Microscope,
    MicroscopeError,
    UnitEntry,
    open_microscope,
    read_units,
)
from gui.common.feedback import Feedback
from gui.common.file_dialogs import FileDialogs
from gui.common.names import MICROSCOPE_KEY, Tab
from gui.engine_client import EngineClient, JobSlot
from gui.explain.controller import ExplainController
from gui.explain.controls import INNER_UNIT, ExplainControls
from gui.images.controller import ImageController
from gui.layers.controller import LayersController
from gui.layers.filter_picker import FilterPicker
from gui.microscope.view import MicroscopeView
from gui.state import WindowState

STAGE_WORDS = {"scan": "Scanning images", "atlas": "Visualizing units", "layers": "Writing layers"}
STAGE_ITEMS = {"scan": "images", "atlas": "units", "layers": "layers"}
# The share of a build each stage takes, roughly (the atlas's optimization dominates).
STAGE_SPANS = {"scan": (0.0, 0.1), "atlas": (0.1, 0.9), "layers": (0.9, 1.0)}


def progress_text(progress: MicroscopeProgress) -> str:
    """'Visualizing units: 24 of 146 units (1 of 4 chunks), about 32 s left'."""
    what = STAGE_WORDS.get(progress.stage, progress.stage)
    items = STAGE_ITEMS.get(progress.stage, "items")
    text = (
        f"{what}: {progress.items:,} of {progress.total_items:,} {items} "
        f"({progress.done} of {progress.total} chunks)"
    )
    if progress.eta is not None and progress.items < progress.total_items:
        left = progress.eta
        text += f", about {left:.0f} s left" if left < 90 else f", about {left / 60:.0f} min left"
    return text


def progress_fraction(progress: MicroscopeProgress) -> float:
    """How far the whole build is, 0..1, from the stage and its share done."""
    low, high = STAGE_SPANS.get(progress.stage, (0.0, 1.0))
    share = progress.items / progress.total_items if progress.total_items else 1.0
    return low + (high - low) * min(max(share, 0.0), 1.0)


def summary_text(microscope: Microscope) -> str:
    """What the folder holds, in one line."""
    units = sum(layer.units for layer in microscope.layers)
    state = "" if microscope.complete else " (not finished: build into it again to go on)"
    return (
        f"{microscope.model_name or 'A model'}: {len(microscope.layers)} layers, {units:,} units, "
        f"top {microscope.top_k} of {microscope.image_count:,} images — {microscope.root}{state}"
    )


@dataclass(frozen=True)
class TabLinks:
    """What the tab drives in the others: selecting a layer and unit, opening an image, and
    explaining it."""

    layers: LayersController
    picker: FilterPicker
    images: ImageController
    explainer: ExplainController
    explain_controls: ExplainControls


class MicroscopeController(QObject):
    """One microscope shown at a time, and one build at a time."""

    def __init__(
        self,
        client: EngineClient,
        state: WindowState,
        feedback: Feedback,
        view: MicroscopeView,
        tabs: QTabWidget,
        dialogs: FileDialogs,
        settings: QSettings,
        links: TabLinks,
    ) -> None:
        super().__init__()
        self._client = client
        self._state = state
        self._feedback = feedback
        self._view = view
        self._tabs = tabs
        self._dialogs = dialogs
        self._settings = settings
        self._links = links
        self._explain_next: str | None = None  # the top image to explain once it is open
        self._job = JobSlot(client)
        self.microscope: Microscope | None = None
        self._opened_last = False

        view.folder_requested.connect(self.choose_folder)
        view.folder_dropped.connect(self.open_folder)
        view.build_requested.connect(self.choose_build)
        view.cancel_requested.connect(self.cancel)
        view.layer_chosen.connect(self._on_view_layer_chosen)
        view.visualize_requested.connect(self._on_view_visualize_requested)
        view.explain_requested.connect(self._on_view_explain_requested)
        state.tab_changed.connect(self._on_state_tab_changed)
        state.image_changed.connect(self._on_state_image_changed)

    # ------------------------------------------------------------------ public actions

    def choose_folder(self) -> None:
        folder = self._dialogs.open_folder("Open a microscope folder")
        if folder:
            self.open_folder(folder)

    def open_last(self) -> None:
        """Open the folder last opened (when the tab first shows), quietly if it is gone."""
        self._opened_last = True
        folder = self._settings.value(MICROSCOPE_KEY)
        if isinstance(folder, str) and (Path(folder) / "manifest.json").is_file():
            self.open_folder(folder)

    def open_folder(self, folder: str) -> bool:
        """Show the microscope in `folder` at its first layer; False (with the reason shown)
        for a folder that is not one."""
        try:
            microscope = open_microscope(folder)
        except MicroscopeError as error:
            self._view.show_message(str(error))
            self._feedback.error(str(error))
            return False
        self.microscope = microscope
        self._settings.setValue(MICROSCOPE_KEY, str(folder))
        self._view.show_microscope(microscope, summary_text(microscope))
        if microscope.layers:
            self._view.select_layer(microscope.layers[0].name)
        return True

    def choose_build(self) -> None:
        """Ask for a folder of images and one to build into, then build."""
        if self._state.summary is None:
            self._feedback.error("Load a model first: a microscope is of a model.")
            return
        images = self._dialogs.open_folder("Images to find each unit's top images in")
        if not images:
            return
        out = self._dialogs.open_folder("Folder to write the microscope into (empty, or its own)")
        if out:
            self.build(images, out)

    def build(self, images: str, out: str, steps: int = 64) -> None:
        """Build the open model's microscope of `images` into `out`, here, then open it."""
        if self._state.summary is None:
            self._feedback.error("Load a model first: a microscope is of a model.")
            return
        if not Path(images).is_dir():
            self._feedback.error(f"{images} is not a folder of images.")
            return
        self._tabs.setCurrentIndex(Tab.MICROSCOPE)
        self._view.set_running(True, f"Building a microscope of {self._state.summary.name}…")
        self._job.start(
            BuildMicroscope(images, out, steps=steps),
            microscope_progress=self._on_job_progress,
            ended=self._on_job_ended,
        )

    def cancel(self) -> None:
        """Stop the build between chunks; building into the folder again resumes it."""
        self._client.submit(StopRun())
        self._view.set_running(True, "Cancelling…")

    # ------------------------------------------------------------------ helpers

    def _target(self, unit: UnitEntry) -> LayerInfo | None:
        """The open model's layer of the unit shown, or None (saying why) when the open model
        is not the microscope's: it must have the same input and every layer of the
        microscope, each with as many units. (The window does not know the weights'
        fingerprint the manifest names, so a retrained copy of the model passes.)"""
        microscope, summary = self.microscope, self._state.summary
        if microscope is None or summary is None:
            self._feedback.error("Load the model this microscope is of first.")
            return None
        layer = microscope.layer(self._view.layer_name)
        same_input = microscope.input_shape in ((), tuple(summary.input_shape))
        infos = [summary.resolve(entry.path) for entry in microscope.layers]
        sizes = [info.size if info is not None else None for info in infos]
        if not same_input or sizes != [entry.units for entry in microscope.layers]:
            self._feedback.error(
                f"This microscope is of {microscope.model_name!r}, whose layers the open model "
                f"({summary.name!r}) does not have: open that model to look at {layer.name} "
                f"#{unit.unit} there."
            )
            return None
        return summary.resolve(layer.path)

    def _select(self, info: LayerInfo, unit: int) -> None:
        if self._state.layer is None or self._state.layer.path != info.path:
            self._links.layers.select_layer(info.path)
        self._links.picker.select_unit(unit)

    # ------------------------------------------------------------------ slots

    def _on_job_progress(self, progress: MicroscopeProgress) -> None:
        self._view.set_progress(progress_fraction(progress), progress_text(progress))

    def _on_job_ended(self, ended: JobEnded) -> None:
        self._view.set_running(False)
        if ended.failure is not None:
            self._view.show_message(f"The build failed: {ended.failure.message}")
            self._feedback.error(ended.failure.message)
            return
        folder = ended.value if isinstance(ended.value, str) else None
        if folder is None:
            self._view.show_message("The build was cancelled before it began.")
            return
        if self.open_folder(folder) and ended.reason is EndReason.CANCELLED:
            self._view.show_message(
                f"Cancelled; what was done is kept: build into {folder} again to go on."
            )

    def _on_state_tab_changed(self, tab: Tab) -> None:
        if tab is Tab.MICROSCOPE and self.microscope is None and not self._opened_last:
            self.open_last()

    def _on_view_layer_chosen(self, name: str) -> None:
        microscope = self.microscope
        if microscope is None:
            return
        try:
            units = read_units(microscope, microscope.layer(name))
        except (MicroscopeError, KeyError) as error:
            self._view.show_units(name, (), note=str(error).strip("'\""))
            return
        self._view.show_units(name, units)

    def _on_view_visualize_requested(self, unit: UnitEntry) -> None:
        info = self._target(unit)
        if info is None:
            return
        self._tabs.setCurrentIndex(Tab.VISUALIZE)  # first: a pick there grows the image
        self._select(info, unit.unit)
        self._state.pick_unit(unit.unit)

    def _on_view_explain_requested(self, unit: UnitEntry, image: str) -> None:
        info = self._target(unit)
        if info is None or self.microscope is None:
            return
        path = Path(self.microscope.images_root) / image
        if not path.is_file():
            self._feedback.error(f"{path} is not there any more: it cannot be explained.")
            return
        self._select(info, unit.unit)
        self._state.set_unit(unit.unit)
        self._links.explain_controls.set_target(INNER_UNIT)  # what made *this unit* fire
        self._tabs.setCurrentIndex(Tab.EXPLAIN)
        self._explain_next = str(path)
        self._links.images.open_image(str(path))

    def _on_state_image_changed(self, opened: ImageOpened) -> None:
        if self._explain_next is not None and opened.source == self._explain_next:
            self._explain_next = None
            self._links.explainer.explain()
