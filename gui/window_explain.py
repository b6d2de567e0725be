"""The explanation half of MainWindow: ask why the model said what it said, and show the answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from engine.protocol import (
    EngineFailure,
    Explain,
    Explanation,
    ImageOpened,
    ModelSummary,
    Progress,
    StopRun,
)
from gui.explain_catalog import LONG_METHODS, method_title
from gui.explain_controls import INNER_UNIT
from gui.explain_panel import ExplainPanel
from gui.explain_view import render_explanation


def write_explanation(explanation: Explanation, style, png_path: str | Path) -> Path:
    """Write the picture of `explanation` to `png_path` and its raw heatmap next to it as .npy;
    returns the .npy path."""
    png_path = Path(png_path)
    picture = render_explanation(explanation, style)
    Image.fromarray(picture, "RGB").save(png_path, format="PNG")
    npy_path = png_path.with_suffix(".npy")
    np.save(npy_path, np.asarray(explanation.heatmap, dtype=np.float32))
    return npy_path


class ExplainMixin:
    """Part of MainWindow (it uses the window's engine, widgets and helpers); split out to keep
    each module short."""

    def _init_explain(self) -> None:
        self._explain_id = 0  # the newest Explain submitted; results of others are dropped
        self._explain_cancelling = False
        self.explain_panel = ExplainPanel()

    def _connect_explain(self) -> None:
        self.engine.explanation.connect(self._on_engine_explanation)
        self.engine.progress.connect(self._on_engine_progress)
        controls = self.explain_panel.controls
        controls.explain_requested.connect(self.explain)
        controls.cancel_requested.connect(self.cancel_explanation)
        controls.choice_changed.connect(self._on_explain_choice_changed)
        view = self.explain_panel.view
        view.add_requested.connect(self.add_to_comparison)
        view.export_requested.connect(self._on_explain_view_export_requested)
        comparison = self.explain_panel.comparison
        comparison.panel_chosen.connect(self._on_comparison_panel_chosen)
        comparison.export_requested.connect(self._on_comparison_export_requested)

    # ------------------------------------------------------------------ public actions

    def explain(self) -> Explain | None:
        """Ask the engine for the explanation chosen in the Explain panel; returns the request,
        or None when something is missing (the message bar then says what)."""
        if self.summary is None or self._image is None:
            self._show_error("Open an image first: an explanation is about an image.")
            return None
        controls = self.explain_panel.controls
        method, target = controls.method(), controls.target()
        if target == INNER_UNIT:
            unit = self.filter_picker.current_unit()
            unit = self.unit if unit is None else unit
            if self.layer is None or not self.layer.visualizable or unit is None:
                self._show_error(
                    "To explain an inner unit, select a layer in the tree and a filter in the grid."
                )
                return None
            request = Explain(method, None, self.layer.path, unit, controls.cam_layer(),
                              controls.options())  # fmt: skip
        else:
            request = Explain(method, target, layer=controls.cam_layer(),
                              options=controls.options())  # fmt: skip
        self._explain_id = request.request_id
        self._explain_cancelling = False
        controls.set_busy(method_title(method), method in LONG_METHODS)
        self.engine.submit(request)
        return request

    def cancel_explanation(self) -> None:
        """Stop the running explanation; the bar says 'Cancelling…' until the engine confirms."""
        self.engine.submit(StopRun())
        self._explain_stopping()

    def add_to_comparison(self) -> None:
        """Keep the explanation shown large as a panel of the comparison."""
        explanation = self.explain_panel.view.explanation()
        if explanation is None:
            self._show_error("No explanation to keep yet: press Explain first.")
            return
        self.explain_panel.comparison.add(explanation)

    def export_explanation(self, path: str | None = None, explanation=None) -> None:
        """Save an explanation (the one shown large by default) as PNG, as drawn, and its raw
        map as .npy beside it."""
        explanation = explanation or self.explain_panel.view.explanation()
        if explanation is None:
            self._show_error("No explanation to export yet: press Explain first.")
            return
        stem = f"{explanation.method}-{explanation.label}".replace("'", "").replace(" ", "-")
        path = path or self._ask_save_path("Export explanation", "png", "PNG (*.png)", stem)
        if not path:
            return
        try:
            npy = write_explanation(explanation, self.explain_panel.view.style(), path)
        except (ValueError, OSError) as error:
            self._show_error(f"Could not export the explanation: {error}")
            return
        self._say(f"Saved {path} and {npy.name}")

    # ------------------------------------------------------------------ called by the window

    def _explain_model_loaded(self, summary: ModelSummary) -> None:
        self._drop_explain()
        self.explain_panel.controls.set_model(summary)
        self.explain_panel.view.clear("Open an image, then press Explain")
        self.explain_panel.comparison.clear()

    def _explain_image_opened(self, opened: ImageOpened) -> None:
        if self.explain_panel.controls.is_live():
            self.explain()
        else:
            name = Path(opened.source).name or opened.source
            self.explain_panel.view.show_input(opened.display, f"Input: {name} — press Explain")

    def _explain_engine_idle(self) -> None:
        """The engine finished a job: a cancelled explanation that never started is over too."""
        if self._explain_cancelling:
            self._drop_explain()

    def _explain_stopping(self) -> None:
        """A StopRun went out: it cancels the explanation too, if one is under way."""
        if self.explain_panel.controls.is_busy():
            self._explain_cancelling = True
            self.explain_panel.controls.set_cancelling()

    def _drop_explain(self) -> None:
        """Forget the running explanation (a newer long job replaces it in the engine)."""
        self._explain_id = 0
        self._explain_cancelling = False
        self.explain_panel.controls.set_idle()

    def _on_explain_failed(self, failure: EngineFailure) -> None:
        if failure.what == "explanation" and failure.request_id == self._explain_id:
            self._drop_explain()

    # ------------------------------------------------------------------ engine results

    def _on_engine_explanation(self, explanation: Explanation) -> None:
        if explanation.request_id != self._explain_id:
            return  # an explanation the user has moved on from
        self._drop_explain()
        self.explain_panel.view.show_explanation(explanation)
        self._say(
            f"{method_title(explanation.method)} of {explanation.label} "
            f"in {explanation.seconds:.2f} s"
        )
        self.explanation_shown.emit(explanation)

    def _on_engine_progress(self, progress: Progress) -> None:
        if progress.request_id != self._explain_id or self._explain_id == 0:
            return
        if progress.text == "cancelled":
            self._drop_explain()
            self._say("Explanation cancelled")
        elif not self._explain_cancelling:
            self.explain_panel.controls.set_progress(progress.fraction, progress.text)

    # ------------------------------------------------------------------ widget intents

    def _on_explain_choice_changed(self) -> None:
        if self.explain_panel.controls.is_live() and self._image is not None:
            self.explain()

    def _on_explain_view_export_requested(self) -> None:
        self.export_explanation()

    def _on_comparison_panel_chosen(self, index: int) -> None:
        self.explain_panel.view.show_explanation(self.explain_panel.comparison.explanation(index))

    def _on_comparison_export_requested(self, index: int) -> None:
        self.export_explanation(None, self.explain_panel.comparison.explanation(index))
