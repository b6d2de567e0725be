"""What happens after the window opens: load the model, an image, and optionally take a picture.

The same sequence serves `python main.py [MODEL] [IMAGE]` and `--screenshot FILE`, which also
visualizes one filter, saves the window (at `size`, on the `tab` asked for) as a PNG and quits.
A model that fails to open leaves the built-in one open, the error still in the message bar.
"""

from __future__ import annotations

import sys
from dataclasses import replace

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication

from engine.protocol import ImageOpened, LayerPath, LoadModel, ModelSummary, RunFinished
from gui.common.names import Tab
from gui.main_window import MainWindow
from gui.models.opening import RANDOM_WEIGHTS_BUTTON, TRUST_BUTTON
from gui.startup_trace import watch as watch_startup

SCREENSHOT_SIZE = (1400, 860)  # the same picture whatever size was remembered


def default_sample(summary: ModelSummary) -> str:
    """A sample that suits the model: a digit for small grey inputs, a photo otherwise."""
    height, _, channels = summary.input_shape
    return "digit:3" if channels == 1 and (height or 999) <= 64 else "photo:chelsea"


def tab_named(name: str) -> Tab:
    """The centre tab called `name` (any case), e.g. "explain"."""
    tab = Tab.__members__.get(name.upper())
    if tab is None:
        names = ", ".join(t.name.lower() for t in Tab)
        raise ValueError(f"no tab called {name!r}; the tabs are {names}")
    return tab


class Startup(QObject):
    """Drives the window through its first model, image and (for screenshots) visualization."""

    def __init__(
        self,
        window: MainWindow,
        model: str | None,
        image: str | None,
        screenshot: str | None = None,
        layer: tuple[str, ...] | None = None,
        unit: int | None = None,
        steps: int | None = None,
        preset: str | None = None,
        timeout_s: float = 300.0,
        random_weights: bool = False,
        size: tuple[int, int] | None = None,
        tab: str | None = None,
        microscope: str | None = None,
    ) -> None:
        super().__init__(window)
        self._microscope = microscope
        self._window = window
        self._model, self._image = model, image
        self._random_weights = random_weights
        self._screenshot, self._layer, self._unit = screenshot, layer, unit
        self._steps = steps
        self._preset = preset
        # A screenshot always shows a finished visualization; otherwise only when asked for one.
        self._wants_run = bool(screenshot) or layer is not None or unit is not None
        self._image_requested = False
        self._started_run = False
        self._timeout_s = timeout_s
        self._size = size or (SCREENSHOT_SIZE if screenshot else None)
        self._tab = tab_named(tab) if tab else None
        # The failed model's message and button, shown again once the built-in model is open.
        self._load_error: tuple[str, str | None] | None = None
        self._fallback_model: str | None = None  # the model that failed to open
        self._reshowing = False
        self.exit_code = 0

    def begin(self) -> None:
        window = self._window
        watch_startup(window)  # only with CONVSCOPE_STARTUP_TRACE set (benchmarks/startup.py)
        window.models.shown.connect(self._on_models_shown)
        window.state.image_changed.connect(self._on_state_image_changed)
        window.runs.finished.connect(self._on_runs_finished)
        window.feedback.error_shown.connect(self._on_feedback_error_shown)
        if self._size:
            window.resize(*self._size)
        if self._microscope and window.microscope.open_folder(self._microscope):
            first = window.ui.microscope_view.model.unit_at(0)
            if first is not None:  # a picture shows a unit's detail, not an empty pane
                window.ui.microscope_view.show_unit(first.unit)
        if self._tab is not None:
            window.show_tab(self._tab)
        if self._screenshot:
            QTimer.singleShot(int(self._timeout_s * 1000), self._on_timeout)
        window.models.open_model(self._model, random_weights=self._random_weights)

    def _on_models_shown(self, summary: ModelSummary, _request: LoadModel | None) -> None:
        if self._image_requested:
            return
        self._image_requested = True
        if self._image:
            self._window.images.open_image(self._image)
        else:
            self._window.images.open_image(sample=default_sample(summary))

    def _on_state_image_changed(self, _opened: ImageOpened | None) -> None:
        if self._load_error is not None:
            self._show_load_error()  # opening the image cleared the message bar
        if not self._wants_run or self._started_run:
            return
        self._started_run = True
        window = self._window
        controls = window.ui.controls
        if self._layer:
            window.layers.select_layer(self._layer)
        if self._preset:
            controls.choose_preset(self._preset)
        if self._steps:
            controls.set_settings(replace(controls.settings(), steps=self._steps))
        layer = window.state.layer
        if layer is None or not layer.visualizable:
            return  # the window already says why
        unit = self._unit or 0
        print(f"convscope: visualizing {LayerPath(layer.path)} #{unit}", flush=True)
        self._pick(unit)

    def _pick(self, unit: int) -> None:
        """Pick `unit` as a click in the filter picker does, so every tab (the Filters tab's
        kernels and circuits too) shows it, and grow its image."""
        window = self._window
        picker = window.ui.filter_picker
        if not 0 <= unit < picker.unit_count():
            window.feedback.error(
                f"No filter #{unit} in {window.state.layer_text()}: "
                f"it has {picker.unit_count()}, numbered from 0."
            )
            if self._screenshot:
                self.exit_code = 1  # the picture does not show the filter asked for
                self._take_screenshot()
            return
        picker.select_unit(unit)
        window.state.pick_unit(unit)
        if window.state.running is None:
            window.runs.visualize(unit)  # on the Filters and Compare tabs a pick grows nothing

    def _on_runs_finished(self, _done: RunFinished) -> None:
        if not self._screenshot:
            return
        if self._tab is not None:
            self._window.show_tab(self._tab)  # the run may have brought Visualize forward
        if self._tab is Tab.EXPLAIN:
            # A picture of the Explain tab shows an explanation of the image, not "press Explain".
            self._window.explainer.shown.connect(self._on_explainer_shown)
            if self._window.explainer.explain() is not None:
                return
        QTimer.singleShot(100, self._take_screenshot)  # let the last paint land

    def _on_explainer_shown(self, _explanation: object) -> None:
        QTimer.singleShot(100, self._take_screenshot)

    def _on_feedback_error_shown(self, text: str) -> None:
        if self._reshowing:
            return  # already said on the terminal, and handled
        print(f"convscope: {text}", file=sys.stderr)
        window = self._window
        if not window.state.summary and self._model is not None:
            # The model asked for did not open: the built-in one does, so there is always a
            # model to look at. The error (and its button) come back once it has.
            button = window.ui.message_bar.action_button
            self._load_error = (text, button.text() if button.isVisibleTo(window) else None)
            self._fallback_model = self._model
            self._model = None
            if self._screenshot:
                self.exit_code = 1  # the picture does not show the model asked for
            window.models.open_model(None)
        elif self._screenshot and not window.state.summary:
            self.exit_code = 1  # not even the built-in model: the picture would show nothing
            self._take_screenshot()
        elif self._wants_run and not self._started_run and self._image_requested:
            self._on_state_image_changed(None)  # a bad image still gets a visualization

    def _show_load_error(self) -> None:
        if self._load_error is None:
            return
        (text, button), self._load_error = self._load_error, None
        path, models = self._fallback_model, self._window.models
        actions = {
            TRUST_BUTTON: lambda: models.open_model(path, trusted=True),
            RANDOM_WEIGHTS_BUTTON: lambda: models.open_model(path, random_weights=True),
        }
        action = actions.get(button or "")
        self._reshowing = True
        try:
            self._window.feedback.error(
                f"{text} The built-in model is open instead.", button if action else None, action
            )
        finally:
            self._reshowing = False

    def _take_screenshot(self) -> None:
        picture = self._window.grab()
        if not self._screenshot or not picture.save(self._screenshot):
            print(f"convscope: could not write {self._screenshot}", file=sys.stderr)
            self.exit_code = 1
        else:
            print(f"convscope: wrote {self._screenshot}")
        self._window.close()
        QApplication.exit(self.exit_code)

    def _on_timeout(self) -> None:
        print("convscope: gave up waiting for the visualization", file=sys.stderr)
        self.exit_code = 1
        self._take_screenshot()
