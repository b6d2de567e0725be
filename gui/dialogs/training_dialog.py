"""Model › Train the MNIST CNN: seed, digits, epochs and batch size, Start, Cancel, live loss
and accuracy curves, and at the end whether the result equals the built-in model."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.protocol import TrainDefault, TrainingDone, TrainProgress
from gui.common.wording import plural

_TRAIN_PEN = pg.mkPen("#4fc3f7", width=2)
_VAL_PEN = pg.mkPen("#ffb74d", width=2, style=pg.QtCore.Qt.DashLine)
# What built resources/models/mnist_cnn.keras (its JSON sidecar): 8,000 of the local digits.
BUILTIN_OPTIONS = {"seed": 0, "train_images": 8000, "epochs": 15, "batch_size": 64}


def _curves(plot: pg.PlotWidget, name: str) -> tuple[pg.PlotDataItem, pg.PlotDataItem]:
    plot.setLabel("bottom", "epoch")
    plot.setLabel("left", name)
    # Plain numbers: an SI prefix turns 75-95 % into 'accuracy (x0.001)' from 750 to 950.
    for side in ("bottom", "left"):
        plot.getAxis(side).enableAutoSIPrefix(False)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.addLegend(offset=(-10, 10))
    train = plot.plot(pen=_TRAIN_PEN, symbol="o", symbolSize=5, name="training")
    val = plot.plot(pen=_VAL_PEN, symbol="o", symbolSize=5, name="validation (held out)")
    return train, val


class TrainingDialog(QDialog):
    """Non-modal: the window stays usable while the engine trains."""

    start_requested = Signal(object)  # a TrainDefault with the options: train from scratch
    cancel_requested = Signal()  # stop the running training; nothing is saved
    open_requested = Signal(str)  # path of the trained model, to open in the window

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1, value=BUILTIN_OPTIONS["seed"])
        self.train_images = QSpinBox(minimum=1, maximum=60000, singleStep=1000)
        self.train_images.setValue(BUILTIN_OPTIONS["train_images"])
        self.epochs = QSpinBox(minimum=1, maximum=200, value=15, suffix=" epochs")
        self.epochs.valueChanged.connect(self._on_epochs_value_changed)
        self.batch_size = QSpinBox(minimum=1, maximum=4096, value=BUILTIN_OPTIONS["batch_size"])
        self.seed.setToolTip("Fixes the data split, initial weights, shuffling and augmentation")
        self.train_images.setToolTip(
            "Training digits; the local MNIST copy has 8,000 (2,000 others are held out)"
        )
        self._started: TrainDefault | None = None
        self.start_button = QPushButton("&Start")
        self.cancel_button = QPushButton("&Cancel")
        self.open_button = QPushButton("&Open the trained model")
        self.status = QLabel("Trains the built-in CNN from scratch on MNIST digits.")
        self.loss_plot = pg.PlotWidget()
        self.accuracy_plot = pg.PlotWidget()
        self.loss_curve, self.val_loss_curve = _curves(self.loss_plot, "loss")
        self.accuracy_curve, self.val_accuracy_curve = _curves(self.accuracy_plot, "accuracy (%)")
        self._epochs: list[TrainProgress] = []
        self._path = ""

        self.status.setWordWrap(True)
        self.cancel_button.setEnabled(False)
        self.open_button.setEnabled(False)
        self.start_button.clicked.connect(self._on_start_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.open_button.clicked.connect(self._on_open_clicked)

        buttons = QHBoxLayout()
        for label, spin in (("Seed", self.seed), ("Digits", self.train_images),
                            ("Train for", self.epochs), ("Batch", self.batch_size)):  # fmt: skip
            buttons.addWidget(QLabel(label))
            buttons.addWidget(spin)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(self.open_button)
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.accuracy_plot)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addLayout(plots, 1)
        layout.addWidget(self.status)
        self.setWindowTitle("Train the MNIST CNN")
        self.setModal(False)
        self.resize(820, 420)

    # ------------------------------------------------------------------ public setters

    def options(self) -> TrainDefault:
        """A request with the options shown (saved to a new file in the user's data folder)."""
        return TrainDefault(
            epochs=self.epochs.value(),
            seed=self.seed.value(),
            train_images=self.train_images.value(),
            batch_size=self.batch_size.value(),
        )

    def set_started(self, epochs: int, request: TrainDefault | None = None) -> None:
        """A training run of `epochs` was submitted: clear the curves and offer Cancel.
        `request` (its options) lets the end say whether they were the built-in model's."""
        self._epochs, self._path, self._started = [], "", request
        for curve in self._all_curves():
            curve.setData([], [])
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.setXRange(1, max(epochs, 2), padding=0.05)
        self._set_running(True)
        self.status.setText(f"Loading MNIST and training for {plural(epochs, 'epoch')}…")

    def add_progress(self, progress: TrainProgress) -> None:
        """Draw one epoch."""
        self._epochs.append(progress)
        x = np.array([p.epoch for p in self._epochs], dtype=np.float64)
        for curve, key in zip(self._all_curves(), _KEYS, strict=True):
            y = np.array([getattr(p, key) for p in self._epochs], dtype=np.float64)
            y = y * _PERCENT if key in _ACCURACIES else y
            finite = np.isfinite(y)
            curve.setData(x[finite], y[finite])
        self.status.setText(
            f"Epoch {progress.epoch}/{progress.epochs}: loss {progress.loss:.4f}, "
            f"accuracy {progress.accuracy:.2%}; held out: loss {progress.val_loss:.4f}, "
            f"accuracy {progress.val_accuracy:.2%}"
        )

    def set_failed(self, message: str) -> None:
        self._set_running(False)
        self.status.setText(f"Training failed: {message}")

    def finish(self, done: TrainingDone) -> None:
        """The training ended and saved the model: say how good it is, offer to open it."""
        self._set_running(False)
        self._path = done.path
        self.open_button.setEnabled(bool(done.path))
        accuracy = done.held_out_accuracy
        score = "" if math.isnan(accuracy) else f"held-out accuracy {accuracy:.2%}; "
        self.status.setText(f"Done: {score}{self._verdict(done)}; saved {done.path}")

    def set_cancelled(self) -> None:
        self._set_running(False)
        epochs = self._epochs[-1].epoch if self._epochs else 0
        self.status.setText(f"Cancelled after {plural(epochs, 'epoch')}; nothing was saved.")

    def points(self) -> dict[str, list[float]]:
        """The values drawn, by curve ("loss", "val_loss", "accuracy", "val_accuracy");
        accuracies as fractions, though the plot shows them in %."""
        drawn = {}
        for key, curve in zip(_KEYS, self._all_curves(), strict=True):
            y = curve.getData()[1]
            scale = _PERCENT if key in _ACCURACIES else 1.0
            drawn[key] = [] if y is None else [float(v) / scale for v in y]
        return drawn

    # ------------------------------------------------------------------ private

    def _verdict(self, done: TrainingDone) -> str:
        difference = done.builtin_difference
        if difference is None:
            return "not compared with the built-in model (its file could not be read)"
        if difference == 0.0:
            verdict = "identical to the built-in model (every weight equal, compared exactly)"
        else:
            verdict = f"differs from the built-in model (max weight difference {difference:.3g})"
        request = self._started
        if request is not None and _options(request) != BUILTIN_OPTIONS:
            verdict += "; its options differ from the built-in model's"
        return verdict

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        for spin in (self.seed, self.train_images, self.epochs, self.batch_size):
            spin.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if running:
            self.open_button.setEnabled(False)

    def _all_curves(self) -> tuple[pg.PlotDataItem, ...]:
        return (self.loss_curve, self.val_loss_curve, self.accuracy_curve, self.val_accuracy_curve)

    def _on_epochs_value_changed(self, value: int) -> None:
        self.epochs.setSuffix(" epoch" if value == 1 else " epochs")  # not "1 epochs"

    def _on_start_clicked(self) -> None:
        self.start_requested.emit(self.options())

    def _on_cancel_clicked(self) -> None:
        self.cancel_button.setEnabled(False)
        self.status.setText("Cancelling after this batch…")
        self.cancel_requested.emit()

    def _on_open_clicked(self) -> None:
        if self._path:
            self.open_requested.emit(self._path)


def _options(request: TrainDefault) -> dict[str, int | None]:
    return {key: getattr(request, key) for key in BUILTIN_OPTIONS}


_KEYS = ("loss", "val_loss", "accuracy", "val_accuracy")
_ACCURACIES = ("accuracy", "val_accuracy")
_PERCENT = 100.0  # accuracy is drawn in %, read in plain numbers: 80, not 0.8
