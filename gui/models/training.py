"""Model › Train the MNIST CNN: start and cancel a training run, draw its epochs, open the
trained model."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from engine.protocol import EndReason, JobEnded, StopRun, TrainDefault, TrainingDone
from gui.common.feedback import Feedback
from gui.dialogs.training_dialog import TrainingDialog
from gui.engine_client import EngineClient, JobSlot


class TrainingController(QObject):
    """The training dialog (made the first time it is shown) and its one training job."""

    trained = Signal(str)  # the path of a model just trained and saved, to open

    def __init__(self, client: EngineClient, feedback: Feedback, parent_widget: QWidget) -> None:
        super().__init__()
        self._client = client
        self._feedback = feedback
        self._parent_widget = parent_widget
        self.dialog: TrainingDialog | None = None
        self._training = JobSlot(client)

    def show_training(self) -> TrainingDialog:
        """Show the (non-modal) training dialog, creating it on first use."""
        if self.dialog is None:
            self.dialog = TrainingDialog(self._parent_widget)
            self.dialog.start_requested.connect(self.start_training)
            self.dialog.cancel_requested.connect(self.cancel_training)
            self.dialog.open_requested.connect(self.trained)
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    def start_training(self, request: TrainDefault) -> None:
        """Submit `request` (the dialog's options) and show its progress in the dialog."""
        dialog = self.show_training()
        dialog.set_started(request.epochs, request)
        self._training.start(request, training=dialog.add_progress, ended=self._on_job_ended)

    def cancel_training(self) -> None:
        if self._training.is_running():
            self._client.submit(StopRun())

    def _on_job_ended(self, ended: JobEnded) -> None:
        dialog = self.dialog
        if dialog is None:
            return
        if ended.failure is not None:
            dialog.set_failed(ended.failure.message)
            self._feedback.error(ended.failure.message)
        elif ended.reason is EndReason.CANCELLED or not isinstance(ended.value, TrainingDone):
            dialog.set_cancelled()
        else:
            dialog.finish(ended.value)
            self.trained.emit(ended.value.path)  # the trained model opens directly
