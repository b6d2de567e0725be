"""The Microscope tab's behaviour: open a folder (chosen, dropped, or the last one), read a
layer's units when it is picked, build a microscope of the open model (with the Method panel's
recipe, top-k and layers from a small form) with progress, ETA and Cancel, then open it, and
send a unit to the Visualize or Explain tab only when the open model is the microscope's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QSettings
from PySide6.QtWidgets import QDialog, QTabWidget

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
from gui.microscope.build_form import BuildChoice, BuildForm
from gui.microscope.texts import (
    another_model_text,
    progress_fraction,
    progress_text,
    recipe_text,
    summary_text,
)
from gui.microscope.view import MicroscopeView
from gui.state import WindowState
from gui.visualize.controls import AscentControls


@dataclass(frozen=True)
class TabLinks:
    """What the tab drives in the others: selecting a layer and unit, opening an image, and
    explaining it; and the Method panel whose recipe a build uses."""

    layers: LayersController
    picker: FilterPicker
    images: ImageController
    explainer: ExplainController
    explain_controls: ExplainControls
    controls: AscentControls


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
        self.build_form: BuildForm | None = None  # while it is open
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
        """Open the Build form (the last answers filled in); Build in it builds."""
        summary = self._state.summary
        if summary is None:
            self._feedback.error("Load a model first: a microscope is of a model.")
            return
        if self.build_form is not None:  # one form at a time
            self.build_form.raise_()
            return
        controls = self._links.controls
        text = recipe_text(controls.current_preset(), controls.settings())
        form = BuildForm(summary, text, self._dialogs, self._view)
        form.set_choice(BuildChoice.restore(self._settings))
        form.finished.connect(self._on_build_form_finished)
        self.build_form = form
        form.open()

    def build(
        self,
        images: str,
        out: str,
        top_k: int = 9,
        layers: tuple[tuple[str, ...], ...] | None = None,
    ) -> None:
        """Build the open model's microscope of `images` into `out`, here, with the Method
        panel's recipe, then open it."""
        if self._state.summary is None:
            self._feedback.error("Load a model first: a microscope is of a model.")
            return
        if not Path(images).is_dir():
            self._feedback.error(f"{images} is not a folder of images.")
            return
        recipe = self._links.controls.settings()
        self._tabs.setCurrentIndex(Tab.MICROSCOPE)
        self._view.set_running(True, f"Building a microscope of {self._state.summary.name}…")
        request = BuildMicroscope(
            images, out, layers, recipe.steps, top_k, recipe.seed, recipe=recipe
        )
        self._job.start(
            request, microscope_progress=self._on_job_progress, ended=self._on_job_ended
        )

    def cancel(self) -> None:
        """Stop the build between chunks; building into the folder again resumes it."""
        self._client.submit(StopRun())
        self._view.set_running(True, "Cancelling…")

    # ------------------------------------------------------------------ helpers

    def _target(self, unit: UnitEntry) -> LayerInfo | None:
        """The open model's layer of the unit shown, or None (saying why) when the open model
        is not the microscope's: its weights' fingerprint must be the manifest's. (A folder
        that records none: the same input and every layer, each with as many units.)"""
        microscope, summary = self.microscope, self._state.summary
        if microscope is None or summary is None:
            self._feedback.error("Load the model this microscope is of first.")
            return None
        layer = microscope.layer(self._view.layer_name)
        if microscope.fingerprint and summary.fingerprint:
            if microscope.fingerprint != summary.fingerprint:
                text = another_model_text(microscope, summary, f"{layer.name} #{unit.unit}")
                self._feedback.error(text)
                return None
            return summary.resolve(layer.path)
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

    def _on_build_form_finished(self, result: int) -> None:
        form, self.build_form = self.build_form, None
        if form is None:
            return
        form.deleteLater()
        if result == QDialog.DialogCode.Accepted:
            choice = form.choice()
            choice.save(self._settings)
            self.build(choice.images, choice.out, choice.top_k, form.layers())

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
