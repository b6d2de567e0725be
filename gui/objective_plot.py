"""The objective of a running visualization, step by step: is it still climbing?"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

_INITIAL_CAPACITY = 1024


class ObjectivePlot(pg.PlotWidget):
    """One curve of objective against step, fed a few values at a time."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Steps and values live in buffers that double when full, so a 100 000-step run costs
        # a few reallocations rather than one per frame.
        self._steps = np.empty(_INITIAL_CAPACITY, dtype=np.float64)
        self._values = np.empty(_INITIAL_CAPACITY, dtype=np.float64)
        self._count = 0

        self.setLabel("bottom", "step")
        self.setLabel("left", "objective")
        self.showGrid(x=True, y=True, alpha=0.25)
        self.setMouseEnabled(x=False, y=False)  # the curve follows the run; dragging fights it
        self.hideButtons()
        self.setClipToView(True)
        self.setDownsampling(auto=True, mode="peak")
        self.curve = self.plot(pen=pg.mkPen("#4fc3f7", width=2))

    # ------------------------------------------------------------------------------- public API

    def reset(self, title: str = "") -> None:
        """Forget the curve; the next value appended is step 1."""
        self._count = 0
        self.curve.setData([], [])
        self.setTitle(title or None)

    def append(self, values: Sequence[float]) -> None:
        """Add the objectives of consecutive steps after the last one plotted."""
        new = np.asarray(values, dtype=np.float64).ravel()
        if new.size == 0:
            return
        end = self._count + new.size
        if end > self._values.size:
            capacity = max(end, 2 * self._values.size)
            self._steps = np.resize(self._steps, capacity)
            self._values = np.resize(self._values, capacity)
        self._steps[self._count : end] = np.arange(self._count + 1, end + 1)
        self._values[self._count : end] = new
        self._count = end
        self.curve.setData(self._steps[:end], self._values[:end])

    def values(self) -> list[float]:
        """Every objective plotted since the last reset, in step order."""
        return self._values[: self._count].tolist()
