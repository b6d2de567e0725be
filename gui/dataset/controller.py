"""The Dataset tab's behaviour: start an evaluation (a folder chosen or dropped, or the held-out
MNIST digits), show its progress with an ETA, cancel it, show its result, and open a clicked
image as the current image so the other tabs look at it."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QTabWidget

from engine.protocol import EvaluateDataset, Evaluation, JobEnded, Progress, StopRun
from gui.common.feedback import Feedback
from gui.common.file_dialogs import FileDialogs
from gui.common.names import Tab
from gui.dataset.view import EvaluationView
from gui.engine_client import EngineClient, JobSlot
from gui.images.controller import ImageController
from gui.state import WindowState

MNIST_WORDS = "the held-out MNIST digits"


def eta_text(fraction: float, elapsed_s: float) -> str:
    """About how long is left, from the share done in `elapsed_s` seconds ("" at the start)."""
    if fraction <= 0 or fraction >= 1 or elapsed_s < 0.5:
        return ""
    left = elapsed_s * (1 - fraction) / fraction
    return f"about {left:.0f} s left" if left < 90 else f"about {left / 60:.0f} min left"


def headline(evaluation: Evaluation, cancelled: bool) -> str:
    """The verdict line: accuracy with the counts it comes from."""
    done = len(evaluation.names)
    stopped = f" Cancelled after {done:,} of {evaluation.total:,}." if cancelled else ""
    if evaluation.accuracy is None:
        return f"{done:,} images predicted (labels from {evaluation.rule}).{stopped}"
    right = int(evaluation.correct().sum())
    return (
        f"Accuracy {evaluation.accuracy:.1%}: {right:,} of {done:,} images right "
        f"(labels from {evaluation.rule}).{stopped}"
    )


class EvaluationController(QObject):
    """One evaluation at a time; its result stays shown until the next or a new model."""

    def __init__(
        self,
        client: EngineClient,
        state: WindowState,
        feedback: Feedback,
        view: EvaluationView,
        tabs: QTabWidget,
        images: ImageController,
        dialogs: FileDialogs,
    ) -> None:
        super().__init__()
        self._client = client
        self._state = state
        self._feedback = feedback
        self._view = view
        self._tabs = tabs
        self._images = images
        self._dialogs = dialogs
        self._job = JobSlot(client)
        self._started = 0.0

        state.model_changed.connect(self._on_state_model_changed)
        view.folder_requested.connect(self.choose_folder)
        view.mnist_requested.connect(self.evaluate_mnist)
        view.folder_dropped.connect(self.evaluate_folder)
        view.cancel_requested.connect(self.cancel)
        view.image_chosen.connect(self._on_view_image_chosen)

    # ------------------------------------------------------------------ public actions

    def choose_folder(self) -> None:
        folder = self._dialogs.open_folder("Evaluate on a labelled folder")
        if folder:
            self.evaluate_folder(folder)

    def evaluate_mnist(self) -> None:
        self.evaluate_folder(None)

    def evaluate_folder(self, folder: str | None) -> None:
        """Predict every image of `folder` (None: the held-out MNIST digits) against its label."""
        if self._state.summary is None:
            self._feedback.error("Load a model first: an evaluation is of a model.")
            return
        if folder is not None and not Path(folder).is_dir():
            self._feedback.error(f"{Path(folder).name} is not a folder: drop a labelled folder.")
            return
        what = Path(folder).name if folder else MNIST_WORDS
        self._tabs.setCurrentIndex(Tab.DATASET)
        self._view.set_running(True, f"Evaluating on {what}…")
        self._started = time.monotonic()
        self._job.start(
            EvaluateDataset(folder), progress=self._on_job_progress, ended=self._on_job_ended
        )

    def cancel(self) -> None:
        """Stop the evaluation; the images done so far are shown."""
        self._client.submit(StopRun())
        self._view.set_running(True, "Cancelling…")

    # ------------------------------------------------------------------ job results

    def _on_job_progress(self, progress: Progress) -> None:
        eta = eta_text(progress.fraction, time.monotonic() - self._started)
        self._view.set_progress(progress.fraction, f"{progress.text}" + (f", {eta}" if eta else ""))

    def _on_job_ended(self, ended: JobEnded) -> None:
        self._view.set_running(False)
        if ended.failure is not None:
            self._view.set_running(False, f"Evaluation failed: {ended.failure.message}")
            self._feedback.error(ended.failure.message)
            return
        if isinstance(ended.value, Evaluation):
            line = headline(ended.value, ended.cancelled)
            self._view.show_evaluation(ended.value, line)
            self._feedback.say(line)
        elif ended.cancelled:
            self._view.set_running(False, "Evaluation cancelled.")

    # ------------------------------------------------------------------ state and widget slots

    def _on_state_model_changed(self, _summary: object) -> None:
        self._job.drop()  # the engine stops an evaluation of the old model by itself
        self._view.set_running(False)
        self._view.clear()

    def _on_view_image_chosen(self, index: int) -> None:
        evaluation = self._view.evaluation
        if evaluation is None or not 0 <= index < len(evaluation.names):
            return
        name = evaluation.names[index]
        if evaluation.root:
            self._images.open_image(str(Path(evaluation.root) / name))
        elif index < len(evaluation.thumbnails):
            self._images.open_pixels(evaluation.thumbnails[index][..., 0], name)
