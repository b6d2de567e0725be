"""Training the built-in MNIST CNN from the window: a TrainDefault request run in the engine.

`run_training` (a job, engine/jobs/job.py) calls `engine.models.training.train_default` with a
callback that reports every epoch as a `TrainProgress` and stops `fit` as soon as
`should_stop()` is true; it ends with a TrainingDone that says how far the trained weights are
from the shipped built-in model's. The model is written
next to its destination first and moved there only when training completed, so a cancelled run
leaves no file and never replaces an existing one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import keras

from engine.jobs.job import Done, Emit, Job, ShouldStop
from engine.models.training import (
    DEFAULT_MODEL_PATH,
    builtin_difference,
    check_options,
    train_default,
)
from engine.protocol import EndReason, Status, TrainDefault, TrainingDone, TrainProgress


def models_folder() -> Path:
    """Where trained models go by default: $XDG_DATA_HOME (or ~/.local/share)/convscope/models."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "convscope" / "models"


def default_output() -> Path:
    """A new file name in `models_folder()`, never the shipped resources/models/mnist_cnn.keras."""
    return models_folder() / f"mnist_cnn_{time.strftime('%Y%m%d-%H%M%S')}.keras"


def _number(logs: dict, key: str) -> float:
    value = logs.get(key)
    return float("nan") if value is None else float(value)


class _Reporter(keras.callbacks.Callback):
    """Emits a TrainProgress after each epoch; stops training when asked to."""

    def __init__(self, request: TrainDefault, emit: Callable[[object], None], should_stop):
        super().__init__()
        self._request = request
        self._emit = emit
        self._should_stop = should_stop
        self.cancelled = False
        self.last: TrainProgress | None = None

    def _check(self) -> None:
        if not self.cancelled and self._should_stop():
            self.cancelled = True
            self.model.stop_training = True

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._check()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.cancelled:
            return  # stopped mid-epoch: its metrics cover part of the data only
        logs = logs or {}
        self.last = TrainProgress(
            self._request.request_id,
            epoch + 1,
            self._request.epochs,
            _number(logs, "loss"),
            _number(logs, "accuracy"),
            _number(logs, "val_loss"),
            _number(logs, "val_accuracy"),
        )
        self._emit(self.last)
        self._check()


def run_training(request: TrainDefault, emit: Emit, should_stop: ShouldStop) -> Job:
    """Train, report every epoch (from Keras's callback, so through `emit`), save."""
    check_options(request.epochs, request.train_images, request.batch_size, request.seed)
    output = Path(request.output) if request.output else default_output()
    if output.suffix != ".keras":
        raise ValueError(f"output path {str(output)!r} must end in .keras")
    partial = output.with_name(output.stem + ".partial.keras")
    yield Status(f"Training the MNIST CNN for {request.epochs} epochs…", busy=True)
    reporter = _Reporter(request, emit, should_stop)
    try:
        sidecar = train_default(
            partial,
            request.mnist_dir,
            request.epochs,
            request.seed,
            callbacks=[reporter],
            validate=True,
            train_images=request.train_images,
            batch_size=request.batch_size,
        )
    except BaseException:
        _remove(partial)
        raise
    if reporter.cancelled:
        _remove(partial)
        return Done(None, EndReason.CANCELLED)
    partial.replace(output)
    partial.with_suffix(".json").replace(output.with_suffix(".json"))
    accuracy = float(sidecar["held_out_accuracy"])
    return Done(TrainingDone(str(output), accuracy, request.epochs, _difference(output)))


def _difference(output: Path) -> float | None:
    # The verdict "identical to the built-in model" needs the shipped file; without it, none.
    try:
        return builtin_difference(output, DEFAULT_MODEL_PATH)
    except (OSError, ValueError):
        return None


def _remove(partial: Path) -> None:
    partial.unlink(missing_ok=True)
    partial.with_suffix(".json").unlink(missing_ok=True)
