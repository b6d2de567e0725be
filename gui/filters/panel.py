"""The Filters tab: the selected filter's kernels, its circuit and its dataset examples."""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QWidget

from gui.common.names import FiltersTab
from gui.filters.circuit_view import CircuitView
from gui.filters.dataset_view import DatasetView
from gui.filters.kernel_view import KernelView


class FiltersPanel(QTabWidget):
    """Three sub-tabs, in FiltersTab order."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kernel_view = KernelView()
        self.circuit_view = CircuitView()
        self.dataset_view = DatasetView()

        self.setDocumentMode(True)
        self.insertTab(FiltersTab.KERNELS, self.kernel_view, "Kernels")
        self.insertTab(FiltersTab.CIRCUITS, self.circuit_view, "Circuits")
        self.insertTab(FiltersTab.DATASET, self.dataset_view, "Dataset examples")

    def sub_tab(self) -> FiltersTab:
        return FiltersTab(self.currentIndex())

    def show_sub_tab(self, sub: FiltersTab) -> None:
        self.setCurrentIndex(sub)
