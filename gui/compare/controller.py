"""The Compare tab: load model B beside the window's model A and compare them on the selected
layer and filter; a filter picked while the tab is in front compares again."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QTabWidget

from engine.protocol import (
    Compare,
    Comparison,
    ComparisonLoaded,
    FailureKind,
    JobEnded,
    LayerPath,
    LoadComparison,
    ModelSummary,
    StopRun,
)
from gui.common.feedback import Feedback
from gui.common.file_dialogs import FileDialogs
from gui.common.names import MODEL_B_KEY, Tab
from gui.compare.view import CompareView
from gui.engine_client import EngineClient, JobSlot
from gui.files.dropped_files import MODEL_SUFFIXES
from gui.models.input_memory import ModelInputs, is_zoo
from gui.state import WindowState
from gui.visualize.controls import AscentControls

TRUST_BUTTON_B = "Open B anyway (I trust this file)"
RANDOM_WEIGHTS_BUTTON_B = "Open B with random weights"


class CompareController(QObject):
    """Model B (its own load, kept across new models A) and the comparison job."""

    load_started = Signal(object, str)  # Job of a LoadComparison; what stays if it is cancelled

    def __init__(
        self,
        client: EngineClient,
        state: WindowState,
        feedback: Feedback,
        view: CompareView,
        tabs: QTabWidget,
        controls: AscentControls,
        inputs: ModelInputs,
        dialogs: FileDialogs,
        settings: QSettings,
    ) -> None:
        super().__init__()
        self._client = client
        self._state = state
        self._feedback = feedback
        self._view = view
        self._tabs = tabs
        self._controls = controls
        self._inputs = inputs
        self._dialogs = dialogs
        self._settings = settings
        self.model_b: ModelSummary | None = None
        self._load = JobSlot(client)
        self._compare = JobSlot(client)
        self._compared = ""  # what the running comparison is of, e.g. "conv2 #4"

        state.model_changed.connect(self._on_state_model_changed)
        state.image_changed.connect(self._on_state_image_changed)
        state.unit_picked.connect(self._on_state_unit_picked)
        view.choose_requested.connect(self.choose_comparison)
        view.compare_requested.connect(self.compare)
        view.stop_requested.connect(self._on_view_stop_requested)

    # ------------------------------------------------------------------ public actions

    def choose_comparison(self) -> None:
        """Ask for model B's file, then load it."""
        suffixes = " ".join(f"*{s}" for s in MODEL_SUFFIXES)
        last = self._settings.value(MODEL_B_KEY)
        folder = str(Path(str(last)).parent) if last else None
        path = self._dialogs.open_file(
            "Compare with model", f"Keras models ({suffixes});;All files (*)", folder
        )
        if path:
            self.compare_with(path)

    def compare_with(
        self, path: str | None, random_weights: bool = False, trusted: bool = False
    ) -> None:
        """Load model B (a file, "zoo:NAME", None for the built-in model) and show the tab."""
        self._feedback.clear()
        if self._compare.is_running():
            self._client.submit(StopRun())  # B loads only after the comparison of the old B
        preprocessing, input_size = self._inputs.remembered(path)  # as when opened as model A
        request = LoadComparison(path, random_weights, trusted, preprocessing, input_size)
        if path is not None and Path(path).is_file():
            self._settings.setValue(MODEL_B_KEY, path)
        self._view.set_loading_b(path or "the built-in model")
        self._tabs.setCurrentIndex(Tab.COMPARE)
        job = self._load.start(
            request,
            comparison_loaded=self._on_job_comparison_loaded,
            ended=partial(self._on_load_ended, request),
        )
        self.load_started.emit(job, "; model B stays as it was")

    def compare(self) -> None:
        """Compare A and B on the selected layer and filter (filter #0 when none is picked)."""
        layer = self._state.layer
        if self._state.summary is None:
            self._feedback.error("Open a model first: it is model A of the comparison.")
            return
        if self.model_b is None:
            self._feedback.error("Choose model B first: Model › Compare with…")
            return
        if layer is None or not layer.visualizable:
            self._feedback.error("Pick a layer with channels or units first.")
            return
        unit = self._state.unit if self._state.unit is not None else 0
        settings = self._controls.settings()
        self._tabs.setCurrentIndex(Tab.COMPARE)  # Run › Compare A and B may come from any tab
        self._feedback.clear_notice()
        self._compared = f"{self._state.layer_text()} {self._state.unit_label(unit)}"
        self._view.start(self._compared, settings.steps)
        self._compare.start(
            Compare(layer.path, unit, settings),
            comparison=self._view.set_comparison,
            compare_frame=self._view.add_frame,
            ended=self._on_compare_ended,
        )

    # ------------------------------------------------------------------ job results

    def _on_job_comparison_loaded(self, loaded: ComparisonLoaded) -> None:
        self.model_b = loaded.summary
        self._view.set_model_b(loaded.summary)
        # Only on the tab: a user who moved on meanwhile started something a compare would stop.
        layer = self._state.layer
        if self._state.tab is Tab.COMPARE and layer is not None and layer.visualizable:
            self.compare()

    def _on_load_ended(self, request: LoadComparison, ended: JobEnded) -> None:
        failure, path = ended.failure, request.path
        if ended.cancelled:
            self._view.set_idle("Model B was not loaded: its download was cancelled.")
        if failure is None:
            return
        self._view.set_idle("Model B could not be opened.")
        message = f"Could not open model B: {failure.message}"
        if failure.kind is FailureKind.UNTRUSTED and path is not None:
            self._feedback.error(
                message, TRUST_BUTTON_B, lambda: self.compare_with(path, trusted=True)
            )
        elif failure.kind is FailureKind.DOWNLOAD and is_zoo(path) and not request.random_weights:
            self._feedback.error(
                message,
                RANDOM_WEIGHTS_BUTTON_B,
                lambda: self.compare_with(path, random_weights=True),
            )
        else:
            self._feedback.error(message)

    def _on_compare_ended(self, ended: JobEnded) -> None:
        if ended.failure is not None:
            self._view.set_idle("The comparison failed.")
            self._feedback.error(f"Could not compare: {ended.failure.message}")
            return
        result = ended.value if isinstance(ended.value, Comparison) else None
        self._view.finish(result, ended.cancelled)
        if result is not None and not ended.cancelled:
            compared = f"{LayerPath(result.layer)} #{result.unit}"
            self._feedback.say(f"Compared {compared}: {result.verdict}")

    # ------------------------------------------------------------------ state and widget slots

    def _on_state_model_changed(self, summary: ModelSummary) -> None:
        self._compare.drop()  # the engine drops a comparison of the old model A
        self._view.set_model_a(summary)

    def _on_state_image_changed(self, _opened: object) -> None:
        self._view.set_image_changed()

    def _on_state_unit_picked(self, _unit: int) -> None:
        if self._state.tab is Tab.COMPARE and self.model_b is not None:
            self.compare()

    def _on_view_stop_requested(self) -> None:
        self._client.submit(StopRun())
