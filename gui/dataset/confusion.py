"""The confusion matrix of an evaluation: rows are the images' labels, columns the model's
predictions; a cell's shade is its share of its row, and clicking it picks that pair."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem, QWidget

from engine.protocol import Evaluation

CELL_SIDE = 34
RIGHT = QColor(46, 125, 50)  # a correct cell, at full share of its row
WRONG = QColor(198, 40, 40)  # a confusion


class ConfusionGrid(QTableWidget):
    """Counts of (label, prediction) pairs; the diagonal (where the label means the column's
    output) shaded green, the rest red, each by its share of the row."""

    # (row: dataset class index, column: index into Evaluation.columns) of the clicked cell
    cell_chosen = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.horizontalHeader().setDefaultSectionSize(CELL_SIDE)
        self.verticalHeader().setDefaultSectionSize(CELL_SIDE * 2 // 3)
        self.setToolTip(
            "Rows: the images' labels; columns: what the model predicted. "
            "Click a cell to see its images."
        )
        self.cellClicked.connect(self._on_self_cell_clicked)

    def show_matrix(self, evaluation: Evaluation) -> None:
        """Fill the grid from `evaluation`'s confusion matrix."""
        counts = np.asarray(evaluation.confusion)
        self.blockSignals(True)
        self.clear()
        self.setRowCount(counts.shape[0])
        self.setColumnCount(counts.shape[1])
        self.setVerticalHeaderLabels(list(evaluation.class_names))
        self.setHorizontalHeaderLabels(list(evaluation.column_names))
        totals = np.maximum(counts.sum(axis=1, keepdims=True), 1)
        for row in range(counts.shape[0]):
            for column in range(counts.shape[1]):
                self.setItem(row, column, _cell(evaluation, counts, totals, row, column))
        self.blockSignals(False)

    def count(self, row: int, column: int) -> int:
        """The number written in a cell."""
        item = self.item(row, column)
        return int(item.text()) if item is not None and item.text() else 0

    def _on_self_cell_clicked(self, row: int, column: int) -> None:
        self.cell_chosen.emit(row, column)


def _cell(
    evaluation: Evaluation, counts: np.ndarray, totals: np.ndarray, row: int, column: int
) -> QTableWidgetItem:
    value = int(counts[row, column])
    item = QTableWidgetItem(str(value) if value else "")
    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
    share = value / int(totals[row, 0])
    right = evaluation.expected[row] == evaluation.columns[column]
    base = RIGHT if right else WRONG
    shade = QColor(base)
    shade.setAlphaF(0.15 + 0.85 * share if value else 0.0)
    item.setBackground(QBrush(shade))
    truth, guess = evaluation.class_names[row], evaluation.column_names[column]
    item.setToolTip(
        f"{value} images labelled {truth!r} predicted {guess!r} ({share:.0%} of the row)"
    )
    return item
