"""The objective of a running visualization, step by step: is it still climbing?"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

from gui.common.names import PLOT_REDRAW_INTERVAL_MS

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
        self._drawn = 0
        self._y_range: tuple[float, float] | None = None
        self._steps_planned: int | None = None
        # Runs only while values come in.
        self._redraw = QTimer(self, interval=PLOT_REDRAW_INTERVAL_MS)

        self.setLabel("bottom", "step")
        self.setLabel("left", "objective")
        # Plain numbers on the axes: an SI prefix reads as 'objective (x1e-09)', a puzzle.
        for name in ("bottom", "left"):
            self.getAxis(name).enableAutoSIPrefix(False)
        self.showGrid(x=True, y=True, alpha=0.25)
        self.setMouseEnabled(x=False, y=False)  # the curve follows the run; dragging fights it
        self.hideButtons()
        self.setClipToView(True)
        self.setDownsampling(auto=True, mode="peak")
        self.curve = self.plot(pen=pg.mkPen("#4fc3f7", width=2))
        # Ranges are set by hand: auto-ranging re-lays out the axes on every update.
        self.disableAutoRange()
        self._redraw.timeout.connect(self.flush)

    # ------------------------------------------------------------------------------- public API

    def reset(self, title: str = "", steps: int | None = None) -> None:
        """Forget the curve; the next value appended is step 1. `steps` fixes the x axis."""
        self._redraw.stop()
        self._count = 0
        self._drawn = 0
        self._y_range = None
        self.curve.setData([], [])
        self.setTitle(title or None)
        self._steps_planned = steps
        self.setXRange(0, steps or 100, padding=0.02)

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
        if not self._redraw.isActive():
            self._redraw.start()

    def flush(self) -> None:
        """Draw what was appended since the last redraw (the timer calls this)."""
        count = self._count
        if count == self._drawn:
            self._redraw.stop()  # nothing came since the last redraw: the run paused or ended
            return
        self._drawn = count
        self.curve.setData(self._steps[:count], self._values[:count])
        if not self._steps_planned or count > self._steps_planned:
            self.setXRange(0, max(100, _nice_above(count)), padding=0.02)
        finite = self._values[:count][np.isfinite(self._values[:count])]
        if finite.size:
            self._fit_y(float(finite.min()), float(finite.max()))

    def _fit_y(self, low: float, high: float) -> None:
        # Grow in coarse steps, so the axis changes a few times per run instead of every redraw.
        current = self._y_range
        if current is not None and current[0] <= low and high <= current[1]:
            return
        span = max(high - low, abs(high), 1e-6)
        margin = 2.0 ** math.ceil(math.log2(span)) / 4
        bottom = math.floor(low / margin) * margin
        top = math.ceil(high / margin) * margin
        if current is not None:
            bottom, top = min(bottom, current[0]), max(top, current[1])
        self._y_range = (bottom, top if top > bottom else bottom + margin)
        self.setYRange(*self._y_range, padding=0.02)

    def values(self) -> list[float]:
        """Every objective plotted since the last reset, in step order."""
        return self._values[: self._count].tolist()


def _nice_above(count: int) -> int:
    """A round number of steps at or above `count`: 100, 200, 500, 1000, ..."""
    magnitude = 10 ** max(2, math.floor(math.log10(max(count, 1))))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= count:
            return factor * magnitude
    return 10 * magnitude
