"""The Compare tab of MainWindow: load model B beside the window's model A and compare them on
the selected layer and filter; a new filter picked while the tab is shown compares again."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from engine.protocol import (
    TRUST_NOTE,
    Compare,
    Comparison,
    ComparisonLoaded,
    EngineFailure,
    ImageOpened,
    LoadComparison,
    ModelLoaded,
)
from gui.compare_view import CompareView
from gui.dropped_files import MODEL_SUFFIXES
from gui.window_download import WEIGHTS_PROBLEM

TAB_COMPARE = 4
TRUST_BUTTON_B = "Open B anyway (I trust this file)"
RANDOM_WEIGHTS_BUTTON_B = "Open B with random weights"
SETTINGS_KEY = "compare/model_b"  # the last model B, so the file dialog starts beside it


class CompareMixin:
    """Part of MainWindow (it uses the window's engine, widgets and helpers); split out to keep
    each module short."""

    def _init_compare(self) -> None:
        self.model_b = None  # ModelSummary of model B once loaded
        self._comparison_request: LoadComparison | None = None  # the newest B asked for
        self._compare_id = 0  # the running Compare (0: none)
        self.compare_view = CompareView()

    def _connect_compare(self) -> None:
        self.engine.comparison_loaded.connect(self._on_engine_comparison_loaded)
        self.engine.comparison.connect(self._on_engine_comparison)
        self.engine.compare_frame.connect(self.compare_view.add_frame)
        self.engine.model_loaded.connect(self._on_compare_model_loaded)
        self.engine.image_opened.connect(self._on_compare_image_opened)
        self.compare_view.choose_requested.connect(self.choose_comparison)
        self.compare_view.compare_requested.connect(self.compare)
        self.compare_view.stop_requested.connect(self.stop)

    # ------------------------------------------------------------------ public actions

    def choose_comparison(self) -> None:
        """Ask for model B's file, then load it."""
        suffixes = " ".join(f"*{s}" for s in MODEL_SUFFIXES)
        last = self._settings.value(SETTINGS_KEY)
        folder = str(Path(last).parent) if last else str(self._last_dir())
        path, _ = QFileDialog.getOpenFileName(
            self, "Compare with model", folder, f"Keras models ({suffixes});;All files (*)"
        )
        if path:
            self.compare_with(path)

    def compare_with(
        self, path: str | None, random_weights: bool = False, trusted: bool = False
    ) -> None:
        """Load model B (a file, "zoo:NAME", None for the built-in model) and show the tab."""
        self.message_bar.clear()
        if self.compare_view.is_running():
            self.stop()  # B is loaded only after the running comparison of the old B ends
        self._drop_download(self._comparison_request)
        preprocessing, input_size = self.remembered_input(path)  # as when opened as model A
        request = LoadComparison(
            path,
            random_weights=random_weights,
            trusted=trusted,
            preprocessing=preprocessing,
            input_size=input_size,
        )
        self._comparison_request = request
        if path is not None and Path(path).is_file():
            self._settings.setValue(SETTINGS_KEY, path)
        self.compare_view.set_loading_b(path or "the built-in model")
        self.centre_tabs.setCurrentIndex(TAB_COMPARE)
        self.engine.submit(request)

    def compare(self) -> None:
        """Compare A and B on the selected layer and filter (filter #0 when none is picked)."""
        if self.summary is None:
            self._show_error("Open a model first: it is model A of the comparison.")
            return
        if self.model_b is None:
            self._show_error("Choose model B first: Model › Compare with…")
            return
        if self.layer is None or not self.layer.visualizable:
            self._show_error("Pick a layer with channels or units first.")
            return
        unit = self.unit if self.unit is not None else 0
        settings = self.controls.settings()
        request = Compare(self.layer.path, unit, settings)
        self.show_compare()  # Run › Compare A and B may come from any tab
        self._compare_id = request.request_id
        if not self.message_bar.is_error():
            self.message_bar.clear()
        self._drop_explain()  # the engine cancels it: one long job at a time
        label = f"{'/'.join(self.layer.path)} {self._unit_label(unit)}"
        self.compare_view.start(request.request_id, label, settings.steps)
        self.engine.submit(request)

    def show_compare(self) -> None:
        self.centre_tabs.setCurrentIndex(TAB_COMPARE)

    # ------------------------------------------------------------------ called by the window

    def _compare_filter_selected(self, unit: int) -> None:
        if self.centre_tabs.currentIndex() == TAB_COMPARE and self.model_b is not None:
            self.compare()

    def _on_compare_failed(self, failure: EngineFailure) -> bool:
        """Show a failed comparison or model B; True when the message was shown here."""
        request = self._comparison_request
        if request is not None and failure.request_id == request.request_id:
            self.compare_view.set_idle("Model B could not be opened.")
            message = f"Could not open model B: {failure.message}"
            path = request.path
            offline = (
                isinstance(path, str)
                and path.lower().startswith("zoo:")
                and not request.random_weights
                and WEIGHTS_PROBLEM in failure.message
            )
            if TRUST_NOTE in failure.message and path is not None:
                self.message_bar.show_error(
                    message, TRUST_BUTTON_B, lambda: self.compare_with(path, trusted=True)
                )
                self.error_shown.emit(message)
            elif offline:
                self.message_bar.show_error(
                    message,
                    RANDOM_WEIGHTS_BUTTON_B,
                    lambda: self.compare_with(path, random_weights=True),
                )
                self.error_shown.emit(message)
            else:
                self._show_error(message)
            return True
        if failure.request_id == self._compare_id and self._compare_id:
            self._compare_id = 0
            self.compare_view.set_idle("The comparison failed.")
            self._show_error(f"Could not compare: {failure.message}")
            return True
        return False

    # ------------------------------------------------------------------ engine results

    def _on_engine_comparison_loaded(self, loaded: ComparisonLoaded) -> None:
        request = self._comparison_request
        if request is None or loaded.request_id != request.request_id:
            return  # an older B, replaced before it arrived
        self.model_b = loaded.summary
        self.compare_view.set_model_b(loaded.summary)
        # Only on the tab: a user who moved on meanwhile started something a compare would stop.
        on_tab = self.centre_tabs.currentIndex() == TAB_COMPARE
        if on_tab and self.layer is not None and self.layer.visualizable:
            self.compare()

    def _on_engine_comparison(self, result: Comparison) -> None:
        if result.request_id != self._compare_id:
            return
        self.compare_view.set_comparison(result)
        if result.finished:
            self._compare_id = 0
            self._say(f"Compared {'/'.join(result.layer)} #{result.unit}: {result.verdict}")

    def _on_compare_model_loaded(self, loaded: ModelLoaded) -> None:
        self._compare_id = 0  # the engine dropped a comparison of the old model A
        self.compare_view.set_model_a(loaded.summary)

    def _on_compare_image_opened(self, _opened: ImageOpened) -> None:
        self.compare_view.set_image_changed()
