"""The Dataset tab: evaluate the model on a labelled folder (or the held-out MNIST digits),
with progress and Cancel, the accuracy, a confusion matrix and a grid of the images with their
labels and predictions, the misclassified first."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from engine.protocol import Evaluation
from gui.common.drops import accept_file_drag, dropped_path
from gui.dataset.confusion import ConfusionGrid
from gui.filters.kernel_art import image_pixmap

THUMB_SIDE = 56
MAX_SHOWN = 400  # thumbnails in the grid at once: the rest are counted, not drawn
IDLE_TEXT = (
    "Evaluate the model on labelled images: a folder with one sub-folder per class (or files "
    "named <label>_….png), or the built-in model's held-out MNIST digits. Drop a folder here."
)


def grid_order(evaluation: Evaluation, pair: tuple[int, int] | None = None) -> list[int]:
    """The images to show, misclassified first (most confident first within each part), only
    those of `pair` (row, column of the confusion matrix) when given."""
    correct = evaluation.correct()
    indices = np.arange(len(evaluation.names))
    if pair is not None:
        row, column = pair
        keep = (evaluation.true == row) & (evaluation.predicted == evaluation.columns[column])
        indices = indices[keep]
    confidence = np.nan_to_num(evaluation.confidence[indices], nan=0.0)
    order = np.lexsort((-confidence, correct[indices]))  # False (wrong) sorts first
    return [int(k) for k in indices[order]]


class EvaluationView(QWidget):
    """Buttons, progress with Cancel, the verdict line, the confusion matrix and the grid."""

    folder_requested = Signal()  # "Open labelled folder…"
    mnist_requested = Signal()  # "Held-out MNIST digits"
    folder_dropped = Signal(str)  # a folder dropped onto the view
    cancel_requested = Signal()
    image_chosen = Signal(int)  # index into the shown Evaluation's images: open it

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.evaluation: Evaluation | None = None
        self.pair: tuple[int, int] | None = None  # the confusion cell the grid is filtered to
        self.folder_button = QPushButton("Open labelled folder…")
        self.mnist_button = QPushButton("Held-out MNIST digits")
        self.mnist_button.setToolTip(
            "The 2,000 real MNIST digits the built-in model was not trained on"
        )
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(18)
        self.cancel_button = QPushButton("Cancel")
        self.all_button = QPushButton("Show all")
        self.status_label = QLabel(IDLE_TEXT)
        self.status_label.setWordWrap(True)
        self.grid_label = QLabel("")
        self.confusion = ConfusionGrid()
        # The matrix's headers are bare class names: say which way it reads.
        self.confusion_label = QLabel("Confusion matrix — rows: label, columns: predicted")
        self.grid = QListWidget()
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setIconSize(QSize(THUMB_SIDE, THUMB_SIDE))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setUniformItemSizes(True)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setSpacing(4)

        self.folder_button.clicked.connect(self.folder_requested)
        self.mnist_button.clicked.connect(self.mnist_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.all_button.clicked.connect(self._on_all_button_clicked)
        self.confusion.cell_chosen.connect(self._on_confusion_cell_chosen)
        self.grid.itemActivated.connect(self._on_grid_item)
        self.grid.itemClicked.connect(self._on_grid_item)
        self.setAcceptDrops(True)
        self.set_running(False)
        self._lay_out()

    # ------------------------------------------------------------------ public setters

    def set_running(self, running: bool, text: str = "") -> None:
        """Show the progress bar and Cancel while an evaluation runs."""
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        if running:
            self.progress.setValue(0)
        if text:
            self.status_label.setText(text)

    def set_progress(self, fraction: float, text: str) -> None:
        self.progress.setValue(round(100 * fraction))
        self.status_label.setText(text)

    def show_evaluation(self, evaluation: Evaluation, headline: str) -> None:
        """Show `evaluation`: `headline` (accuracy, counts) and its note, the matrix, the grid."""
        self.evaluation = evaluation
        self.status_label.setText(f"{headline} {evaluation.note}".strip())
        self.confusion.show_matrix(evaluation)
        self.filter_to(None)

    def clear(self, text: str = IDLE_TEXT) -> None:
        """Show no evaluation (a new model makes the last one stale)."""
        self.evaluation = None
        self.confusion.clear()
        self.confusion.setRowCount(0)
        self.confusion.setColumnCount(0)
        self.filter_to(None)
        self.status_label.setText(text)

    def filter_to(self, pair: tuple[int, int] | None) -> None:
        """Show only the images of confusion cell `pair` (None: all, misclassified first)."""
        self.pair = pair
        self.all_button.setEnabled(pair is not None)
        evaluation = self.evaluation
        self.grid.clear()
        if evaluation is None:
            self.grid_label.setText("")
            return
        order = grid_order(evaluation, pair)
        correct = evaluation.correct()
        for index in order[:MAX_SHOWN]:
            self.grid.addItem(_tile(evaluation, index, bool(correct[index])))
        what = f"All {len(order):,} images, misclassified first"
        if pair is not None:
            truth, guess = evaluation.class_names[pair[0]], evaluation.column_names[pair[1]]
            what = f"{len(order):,} images labelled {truth!r}, predicted {guess!r}"
        more = f" (the first {MAX_SHOWN} shown)" if len(order) > MAX_SHOWN else ""
        self.grid_label.setText(f"{what}{more}. Click one to open it.")

    def shown_indices(self) -> list[int]:
        """The images in the grid, in its order (indices into the Evaluation)."""
        items = (self.grid.item(row) for row in range(self.grid.count()))
        return [int(item.data(Qt.ItemDataRole.UserRole)) for item in items if item is not None]

    # ------------------------------------------------------------------ events

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        accept_file_drag(event)

    def dropEvent(self, event: QDropEvent) -> None:
        path = dropped_path(event)
        if path:
            self.folder_dropped.emit(path)

    # ------------------------------------------------------------------ slots

    def _on_all_button_clicked(self) -> None:
        self.filter_to(None)

    def _on_confusion_cell_chosen(self, row: int, column: int) -> None:
        self.filter_to((row, column))

    def _on_grid_item(self, item: QListWidgetItem) -> None:
        self.image_chosen.emit(int(item.data(Qt.ItemDataRole.UserRole)))

    # ------------------------------------------------------------------ layout

    def _lay_out(self) -> None:
        buttons = QHBoxLayout()
        for widget in (self.folder_button, self.mnist_button, self.progress, self.cancel_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        grid_box = QWidget()
        grid_layout = QVBoxLayout(grid_box)
        grid_layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        header.addWidget(self.grid_label, 1)
        header.addWidget(self.all_button)
        grid_layout.addLayout(header)
        grid_layout.addWidget(self.grid, 1)
        matrix_box = QWidget()
        matrix_layout = QVBoxLayout(matrix_box)
        matrix_layout.setContentsMargins(0, 0, 0, 0)
        matrix_layout.addWidget(self.confusion_label)
        matrix_layout.addWidget(self.confusion, 1)
        parts = QSplitter(Qt.Orientation.Vertical)
        parts.addWidget(matrix_box)
        parts.addWidget(grid_box)
        parts.setSizes([260, 420])
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.status_label)
        layout.addWidget(parts, 1)


def _tile(evaluation: Evaluation, index: int, right: bool) -> QListWidgetItem:
    """Image `index` with its label, the prediction and its confidence under it."""
    truth = evaluation.class_names[int(evaluation.true[index])]
    predicted = int(evaluation.predicted[index])
    guess = _output_name(evaluation, predicted)
    confidence = float(evaluation.confidence[index])
    mark = "✓" if right else "✗"
    item = QListWidgetItem(f"{mark} {truth} → {guess}\n{confidence:.0%}")
    if index < len(evaluation.thumbnails):
        thumb = evaluation.thumbnails[index].astype(np.float32) / 255.0
        item.setIcon(image_pixmap(thumb, THUMB_SIDE))
    item.setData(Qt.ItemDataRole.UserRole, index)
    item.setToolTip(
        f"{evaluation.names[index]}: labelled {truth!r}, predicted {guess!r} with {confidence:.1%}"
    )
    return item


def _output_name(evaluation: Evaluation, output: int) -> str:
    if output in evaluation.columns:
        return evaluation.column_names[evaluation.columns.index(output)]
    return "?" if output < 0 else f"class {output}"
