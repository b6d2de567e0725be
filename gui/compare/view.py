"""The Compare tab: model A (the window's) and model B side by side on one unit and image."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.protocol import CompareFrame, Comparison, ModelSummary
from gui.common.elided_label import ElidedLabel
from gui.common.names import REPAINT_INTERVAL_MS
from gui.compare.column import CompareColumn

_PROGRESS_STEPS = 1000

CHOOSE_B = "Choose model B to compare with the open model."


class CompareView(QWidget):
    """Buttons and a progress bar over one line saying what differs most, over two columns."""

    choose_requested = Signal()  # the user wants to pick model B's file
    compare_requested = Signal()  # compare A and B on the window's layer and filter
    stop_requested = Signal()  # stop the running comparison

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._running = False
        self._image_changed = False
        self._has_b = False
        self._unit = ""
        self._steps = 1
        self._sides_to_grow: tuple[str, ...] = ("A", "B")
        self._pending: dict[str, CompareFrame] = {}
        self.choose_button = QPushButton("Choose model B…")
        self.choose_button.setToolTip("A second model, or another checkpoint of this one")
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip(
            "Feature maps, predictions and visualizations of the selected layer and filter in "
            "both models, grown with the same method and seed"
        )
        self.stop_button = QPushButton("Stop")
        self.progress = QProgressBar()
        self.progress.setRange(0, _PROGRESS_STEPS)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(12)
        # Cut in the middle, whole in the tooltip: it can name a long path ("Loading model B
        # from …"), and must not widen the centre column.
        self.status_label = ElidedLabel(mode=Qt.TextElideMode.ElideMiddle)
        self.status_label.setEnabled(False)
        self.verdict_label = QLabel()
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.verdict_label.font()
        font.setBold(True)
        self.verdict_label.setFont(font)
        self.column_a = CompareColumn("A")
        self.column_b = CompareColumn("B")
        # As the Visualize canvas: the newest frame per side, 20 times a second, while they come.
        self._repaint = QTimer(self, interval=REPAINT_INTERVAL_MS)

        self.choose_button.clicked.connect(self._on_choose_button_clicked)
        self.compare_button.clicked.connect(self._on_compare_button_clicked)
        self.stop_button.clicked.connect(self._on_stop_button_clicked)
        self._repaint.timeout.connect(self._on_repaint_timeout)
        self._update_buttons()
        self.status_label.setText(CHOOSE_B)

        buttons = QHBoxLayout()
        buttons.addWidget(self.choose_button)
        buttons.addWidget(self.compare_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.progress, 1)
        columns = QSplitter(Qt.Orientation.Horizontal)
        columns.addWidget(self.column_a)
        columns.addWidget(self.column_b)
        columns.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.status_label)
        layout.addWidget(self.verdict_label)
        layout.addWidget(columns, 1)

    # ------------------------------------------------------------------------------- public API

    def set_model_a(self, summary: ModelSummary | None) -> None:
        """A new model A: its name; results of the old one are gone."""
        self.column_a.set_model(summary)
        self._forget("Model A changed: press Compare.")

    def set_model_b(self, summary: ModelSummary) -> None:
        self._has_b = True
        self.column_b.set_model(summary)
        self._forget(f"Model B is {summary.name}: press Compare (or pick a filter).")

    def set_loading_b(self, path: str) -> None:
        self.status_label.setText(f"Loading model B from {path}…")

    def set_image_changed(self) -> None:
        """A new image: the shown maps and predictions are of the old one."""
        if not self._has_b:
            self._forget(CHOOSE_B)  # nothing was compared: there is nothing to compare again
        elif not self._running:
            self._forget("The image changed: press Compare to compare again.")
        else:
            self._image_changed = True  # the running comparison is of the old image: say so

    def start(self, unit: str, steps: int) -> None:
        """A comparison of `unit` over `steps` steps per side has been asked for."""
        self._unit, self._steps = unit, max(1, steps)
        self._sides_to_grow = ("A", "B")
        self._pending.clear()
        self._running = True
        self._image_changed = False
        self.column_a.clear("comparing…")
        self.column_b.clear("comparing…")
        self.verdict_label.setText("")
        self.progress.setValue(0)
        self.status_label.setText(f"Comparing {unit}…")
        self._update_buttons()

    def add_frame(self, frame: CompareFrame) -> None:
        if not self._running:
            return
        self._pending[frame.side] = frame  # only the newest per side is ever painted
        if not self._repaint.isActive():
            self._repaint.start()

    def set_comparison(self, result: Comparison) -> None:
        """Show both sides' maps and predictions, before the visualizations (or with them)."""
        self._paint_pending()
        has_image = not result.note
        for column, side in ((self.column_a, result.a), (self.column_b, result.b)):
            column.set_result(side, self._unit, has_image)
        self._sides_to_grow = tuple(s.side for s in (result.a, result.b) if not s.note) or ("A",)
        self.verdict_label.setText(result.verdict)
        if self._running:
            self.status_label.setText(result.note or f"Comparing {self._unit}: growing images…")

    def finish(self, result: Comparison | None, cancelled: bool) -> None:
        """The comparison ended with `result` (None: stopped before anything was compared)."""
        if result is not None:
            self.set_comparison(result)
        self._pending.clear()
        self._repaint.stop()
        self._running = False
        self.progress.setValue(_PROGRESS_STEPS)
        ended = "stopped" if cancelled else "done"
        note = result.note if result is not None else ""
        stale = " The image changed meanwhile: press Compare for the new one." * self._image_changed
        self.status_label.setText(f"{self._unit}: {ended}. {note}{stale}".strip())
        self._update_buttons()

    def set_idle(self, text: str = "") -> None:
        """The comparison failed or was dropped: nothing runs any more."""
        self._running = False
        self._pending.clear()
        self._repaint.stop()
        if text:
            self.status_label.setText(text)
        self._update_buttons()

    def is_running(self) -> bool:
        return self._running

    # ------------------------------------------------------------------------------- helpers

    def _forget(self, text: str) -> None:
        self._running = False
        self._pending.clear()
        self._repaint.stop()
        self.column_a.clear()
        self.column_b.clear()
        self.verdict_label.setText("")
        self.progress.setValue(0)
        self.status_label.setText(text)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.compare_button.setEnabled(self._has_b)
        self.stop_button.setEnabled(self._running)

    def _paint_pending(self) -> None:
        for side, frame in list(self._pending.items()):
            column = self.column_a if side == "A" else self.column_b
            column.show_frame(frame.image, f"{self._unit} in {side} · step {frame.step}")
            order = self._sides_to_grow.index(side) if side in self._sides_to_grow else 0
            done = (order + frame.step / max(1, frame.steps)) / len(self._sides_to_grow)
            self.progress.setValue(round(done * _PROGRESS_STEPS))
        self._pending.clear()

    # ------------------------------------------------------------------------------- slots

    def _on_repaint_timeout(self) -> None:
        if not self._pending:
            self._repaint.stop()  # no frame since the last paint: the next one starts it again
            return
        self._paint_pending()

    def _on_choose_button_clicked(self) -> None:
        self.choose_requested.emit()

    def _on_compare_button_clicked(self) -> None:
        self.compare_requested.emit()

    def _on_stop_button_clicked(self) -> None:
        self.stop_requested.emit()
