"""The knobs of activation maximization, the step counter, and Stop / Restart."""

from __future__ import annotations

import math

from PySide6.QtCore import QSettings, QSignalBlocker, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.messages import AscentSettings

_GROUP = "ascent"
_NEXT_START = " Takes effect on the next start."


def _spin(low: int, high: int, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setToolTip(tip + _NEXT_START)
    box.setAccelerated(True)
    return box


class AscentControls(QWidget):
    """Settings for the next run; they never change a run already going."""

    # The user wants the running visualization to stop, keeping its image.
    stop_requested = Signal()
    # The user wants the current unit grown again from scratch with the current settings.
    restart_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.steps_box = _spin(1, 100_000, "How many gradient steps a run takes.")
        self.learning_rate_box = QDoubleSpinBox()
        self.learning_rate_box.setRange(0.0001, 10.0)
        self.learning_rate_box.setDecimals(4)
        self.learning_rate_box.setSingleStep(0.01)
        self.learning_rate_box.setToolTip(
            "Step size, in units of the model's input range: larger is faster but noisier."
            + _NEXT_START
        )
        self.jitter_box = _spin(0, 32, "Random shift in pixels each step; it discourages noise.")
        self.seed_box = _spin(0, 2**31 - 1, "Seed of the starting noise: same seed, same picture.")
        self.frame_every_box = _spin(
            1, 1000, "Send a picture to the window every N steps; fewer frames run faster."
        )
        self.progress_label = QLabel()
        self.progress_label.setToolTip("Steps done in the current run, of the steps it asked for.")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the running visualization and keep its current image.")
        self.restart_button = QPushButton("Restart")
        self.restart_button.setToolTip("Grow the selected unit again with the settings above.")

        self.set_settings(AscentSettings())
        self.set_progress(0, AscentSettings().steps)
        self.set_running(False)

        self.stop_button.clicked.connect(self._on_stop_button_clicked)
        self.restart_button.clicked.connect(self._on_restart_button_clicked)

        form = QFormLayout()
        form.addRow("Steps", self.steps_box)
        form.addRow("Learning rate", self.learning_rate_box)
        form.addRow("Jitter px", self.jitter_box)
        form.addRow("Seed", self.seed_box)
        form.addRow("Frame every N steps", self.frame_every_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress_label, stretch=1)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.restart_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addStretch(1)

    # ------------------------------------------------------------------------------- public API

    def settings(self) -> AscentSettings:
        """The settings the next run should use."""
        return AscentSettings(
            steps=self.steps_box.value(),
            learning_rate=self.learning_rate_box.value(),
            jitter=self.jitter_box.value(),
            seed=self.seed_box.value(),
            frame_every=self.frame_every_box.value(),
        )

    def set_settings(self, settings: AscentSettings) -> None:
        """Show `settings`; values outside a box's range are clamped to it."""
        pairs = (
            (self.steps_box, settings.steps),
            (self.learning_rate_box, settings.learning_rate),
            (self.jitter_box, settings.jitter),
            (self.seed_box, settings.seed),
            (self.frame_every_box, settings.frame_every),
        )
        for box, value in pairs:
            _set_clamped(box, value)

    def set_running(self, running: bool) -> None:
        """Enable Stop only while a run is going."""
        self.stop_button.setEnabled(running)

    def set_progress(self, step: int, steps: int) -> None:
        """Show 'step 120 / 256'."""
        self.progress_label.setText(f"step {step} / {steps}")

    def save(self, store: QSettings) -> None:
        """Remember the settings under the group 'ascent'."""
        current = self.settings()
        store.beginGroup(_GROUP)
        try:
            store.setValue("steps", current.steps)
            store.setValue("learning_rate", current.learning_rate)
            store.setValue("jitter", current.jitter)
            store.setValue("seed", current.seed)
            store.setValue("frame_every", current.frame_every)
        finally:
            store.endGroup()

    def restore(self, store: QSettings) -> None:
        """Load settings saved by `save`; missing or unreadable values keep what is shown."""
        boxes = (
            ("steps", self.steps_box, int),
            ("learning_rate", self.learning_rate_box, float),
            ("jitter", self.jitter_box, int),
            ("seed", self.seed_box, int),
            ("frame_every", self.frame_every_box, int),
        )
        store.beginGroup(_GROUP)
        try:
            for key, box, kind in boxes:
                value = _parse(store.value(key), kind)
                if value is not None:
                    _set_clamped(box, value)
        finally:
            store.endGroup()

    # ------------------------------------------------------------------------------- slots

    def _on_stop_button_clicked(self) -> None:
        self.stop_requested.emit()

    def _on_restart_button_clicked(self) -> None:
        self.restart_requested.emit()


def _set_clamped(box: QSpinBox | QDoubleSpinBox, value: float) -> None:
    # Clamp before Qt sees it: an int beyond 2**31 would overflow the C int setValue takes.
    with QSignalBlocker(box):
        box.setValue(min(max(value, box.minimum()), box.maximum()))


def _parse(raw: object, kind: type[int] | type[float]) -> int | float | None:
    """A stored value as `kind`, or None: a hand-edited or old settings file must not crash us."""
    if raw is None or isinstance(raw, bool):
        return None
    try:
        number = float(raw) if kind is float else int(str(raw).strip())
    except (TypeError, ValueError):
        return None
    if kind is float and not math.isfinite(number):
        return None
    return number
