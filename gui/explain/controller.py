"""The Explain tab: ask why the model said what it said about the image, and show the answer.

An explanation the user asks for on purpose (the Explain button, Run › Explain) interrupts a
running visualization, which Run › Continue resumes; one made by itself (Live, a new image or
drawing) never does.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from engine.protocol import (
    CancelExplain,
    Explain,
    Explanation,
    ImageOpened,
    JobEnded,
    ModelSummary,
    Progress,
    is_slow_method,
    method_title,
)
from gui.common.feedback import Feedback
from gui.common.file_dialogs import FileDialogs
from gui.common.wording import duration_text
from gui.engine_client import EngineClient, JobSlot
from gui.explain.controls import INNER_UNIT
from gui.explain.files import export_stem, write_explanation
from gui.explain.panel import ExplainPanel
from gui.state import WindowState


class ExplainController(QObject):
    """The Explain panel's requests, progress, results, comparison and exports."""

    shown = Signal(object)  # Explanation of the newest Explain, once it is drawn

    def __init__(
        self,
        client: EngineClient,
        state: WindowState,
        feedback: Feedback,
        panel: ExplainPanel,
        dialogs: FileDialogs,
    ) -> None:
        super().__init__()
        self._client = client
        self._state = state
        self._feedback = feedback
        self._panel = panel
        self._dialogs = dialogs
        self._explain = JobSlot(client)
        self._cancelling = False  # the user pressed Cancel on the running explanation

        state.model_changed.connect(self._on_state_model_changed)
        state.image_changed.connect(self._on_state_image_changed)
        panel.controls.explain_requested.connect(self._on_controls_explain_requested)
        panel.controls.cancel_requested.connect(self.cancel_explanation)
        panel.controls.choice_changed.connect(self._on_controls_choice_changed)
        panel.view.add_requested.connect(self.add_to_comparison)
        panel.view.export_requested.connect(self._on_view_export_requested)
        panel.comparison.panel_chosen.connect(self._on_comparison_panel_chosen)
        panel.comparison.export_requested.connect(self._on_comparison_export_requested)

    # ------------------------------------------------------------------ public actions

    def explain(self, interrupts: bool = True) -> Explain | None:
        """Ask for the explanation chosen in the panel; returns the request, or None when
        something is missing (the message bar then says what). `interrupts`: the user asked
        on purpose, so a running visualization stops for it."""
        if self._state.summary is None or self._state.image is None:
            self._feedback.error("Open an image first: an explanation is about an image.")
            return None
        controls = self._panel.controls
        method, target, layer = controls.method(), controls.target(), self._state.layer
        try:
            position = controls.position()
        except ValueError as error:
            self._feedback.error(str(error))
            return None
        if target == INNER_UNIT:
            unit = self._state.unit
            if layer is None or not layer.visualizable or unit is None:
                self._feedback.error(
                    "To explain an inner unit, select a layer in the tree and a filter in the grid."
                )
                return None
            request = Explain(
                method, None, layer.path, unit, controls.cam_layer(), controls.options(), interrupts
            )
        else:
            target_class = target if isinstance(target, int) else None
            request = Explain(
                method,
                target_class,
                layer=controls.cam_layer(),
                options=controls.options(),
                interrupts=interrupts,
                score=controls.score(),
                position=position,
            )
        controls.set_busy(method_title(method), is_slow_method(method))
        self._cancelling = False
        self._explain.start(request, progress=self._on_job_progress, ended=self._on_job_ended)
        return request

    def cancel_explanation(self) -> None:
        """Stop the running explanation (a visualization goes on); the bar says 'Cancelling…'
        until the engine confirms."""
        self._client.submit(CancelExplain())
        self._cancelling = True
        self._panel.controls.set_cancelling()

    def add_to_comparison(self) -> None:
        """Keep the explanation shown large as a panel of the comparison."""
        explanation = self._panel.view.explanation()
        if explanation is None:
            self._feedback.error("No explanation to keep yet: press Explain first.")
            return
        self._panel.comparison.add(explanation)

    def export_explanation(
        self, path: str | None = None, explanation: Explanation | None = None
    ) -> None:
        """Save an explanation (the one shown large by default) as PNG, as drawn, and its raw
        map as .npy beside it."""
        explanation = explanation or self._panel.view.explanation()
        if explanation is None:
            self._feedback.error("No explanation to export yet: press Explain first.")
            return
        path = path or self._dialogs.save_path(
            "Export explanation", "png", "PNG (*.png)", export_stem(explanation)
        )
        if not path:
            return
        try:
            npy = write_explanation(explanation, self._panel.view.heatmap_style(), path)
        except (ValueError, OSError) as error:
            self._feedback.error(f"Could not export the explanation: {error}")
            return
        self._feedback.say(f"Saved {path} and {npy.name}")

    # ------------------------------------------------------------------ job results

    def _on_job_progress(self, progress: Progress) -> None:
        if self._panel.controls.is_busy():
            self._panel.controls.set_progress(progress.fraction, progress.text)

    def _on_job_ended(self, ended: JobEnded) -> None:
        self._panel.controls.set_idle()
        explanation = ended.value
        if ended.failure is not None:
            self._feedback.error(ended.failure.message)
        elif ended.cancelled or not isinstance(explanation, Explanation):
            if self._cancelling:  # not when a newer job (a visualization) replaced it
                self._feedback.say("Explanation cancelled")
        else:
            self._panel.view.show_explanation(explanation)
            self._feedback.say(
                f"{method_title(explanation.method)} of {explanation.label} "
                f"in {duration_text(explanation.seconds)}"
            )
            self.shown.emit(explanation)

    # ------------------------------------------------------------------ state and widget slots

    def _on_state_model_changed(self, summary: ModelSummary) -> None:
        self._explain.drop()
        self._panel.controls.set_idle()
        self._panel.controls.set_model(summary)
        self._panel.view.clear("Open an image, then press Explain")
        self._panel.comparison.clear()

    def _on_state_image_changed(self, opened: ImageOpened) -> None:
        if self._panel.controls.is_live():
            self.explain(interrupts=False)
        else:
            name = Path(opened.source).name or opened.source
            self._panel.view.show_input(opened.display, f"Input: {name} — press Explain")

    def _on_controls_explain_requested(self) -> None:
        self.explain(interrupts=True)

    def _on_controls_choice_changed(self) -> None:
        if self._panel.controls.is_live() and self._state.image is not None:
            self.explain(interrupts=False)

    def _on_view_export_requested(self) -> None:
        self.export_explanation()

    def _on_comparison_panel_chosen(self, index: int) -> None:
        self._panel.view.show_explanation(self._panel.comparison.explanation(index))

    def _on_comparison_export_requested(self, index: int) -> None:
        self.export_explanation(None, self._panel.comparison.explanation(index))
