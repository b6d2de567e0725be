"""The training part of MainWindow: Model › Train the MNIST CNN and its dialog."""

from __future__ import annotations

from engine.protocol import EngineFailure, StopRun, TrainDefault, TrainProgress
from gui.training_dialog import TrainingDialog


class TrainingMixin:
    """Part of MainWindow (it uses the window's engine and open_model). The dialog and its
    connections are made the first time it is shown."""

    training_dialog: TrainingDialog | None = None
    _training_id = 0  # the TrainDefault whose progress the dialog shows

    def show_training(self) -> TrainingDialog:
        """Show the (non-modal) training dialog, creating it on first use."""
        if self.training_dialog is None:
            self.training_dialog = TrainingDialog(self)
            self.training_dialog.start_requested.connect(self.start_training)
            self.training_dialog.cancel_requested.connect(self.cancel_training)
            self.training_dialog.open_requested.connect(self.open_model)
            self.engine.training.connect(self._on_engine_training)
            self.engine.failed.connect(self._on_training_failed)
        self.training_dialog.show()
        self.training_dialog.raise_()
        return self.training_dialog

    def start_training(self, epochs: int) -> None:
        request = TrainDefault(epochs=epochs)
        self._training_id = request.request_id
        self.show_training().set_started(epochs)
        self.engine.submit(request)

    def cancel_training(self) -> None:
        if self._training_id:
            self.engine.submit(StopRun())

    def _on_engine_training(self, progress: TrainProgress) -> None:
        if progress.request_id != self._training_id or self.training_dialog is None:
            return  # an older run's epochs
        self.training_dialog.add_progress(progress)
        if progress.finished:
            self._training_id = 0
            if progress.path:
                self.open_model(progress.path)  # the trained model opens directly

    def _on_training_failed(self, failure: EngineFailure) -> None:
        if failure.request_id == self._training_id and self.training_dialog is not None:
            self._training_id = 0
            self.training_dialog.set_failed(failure.message)
