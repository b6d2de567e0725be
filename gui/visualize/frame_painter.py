"""The frames of a running visualization, painted on the canvas at most 20 times a second.

Frames may arrive at 60 a second; each replaces the one waiting, and a timer paints the newest
with the objectives of every step since the last paint. The timer runs only while frames come:
it starts with the first and stops at a tick that finds none waiting, or when the run ends.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from engine.protocol import Frame
from gui.common.canvas import Canvas
from gui.common.names import REPAINT_INTERVAL_MS
from gui.visualize.controls import AscentControls
from gui.visualize.filmstrip import Filmstrip
from gui.visualize.objective_plot import ObjectivePlot


class FramePainter(QObject):
    """Puts a run's frames on the canvas, the curve, the filmstrip and the step counter."""

    painted = Signal(object)  # Frame: now on the canvas (or behind a feature map shown large)

    def __init__(
        self,
        canvas: Canvas,
        plot: ObjectivePlot,
        filmstrip: Filmstrip,
        controls: AscentControls,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._canvas = canvas
        self._plot = plot
        self._filmstrip = filmstrip
        self._controls = controls
        self._label = ""
        self._pending: Frame | None = None
        self._objectives: list[float] = []
        self.frames_shown = 0
        # The user asked to see a feature map large: frames go on behind it, unseen.
        self.map_pinned = False
        self.timer = QTimer(self, interval=REPAINT_INTERVAL_MS)

        self.timer.timeout.connect(self._on_timer_timeout)

    # ------------------------------------------------------------------ public setters

    def begin(self, label: str, steps: int) -> None:
        """A new run of `label` over `steps` steps: empty curve, filmstrip and counter."""
        self.resume(label)
        self._filmstrip.reset()
        self._plot.reset(label, steps)
        self._controls.set_progress(0, steps)

    def resume(self, label: str) -> None:
        """The frames that come next belong to `label`; the curve and filmstrip go on."""
        self.stop()
        self._label = label
        self.map_pinned = False

    def add(self, frame: Frame) -> None:
        """Keep `frame` as the one to paint next; a milestone goes in the filmstrip at once."""
        self._pending = frame
        self._objectives.extend(frame.objectives)
        if frame.milestone:
            self._filmstrip.add(frame.step, frame.image)
        if not self.timer.isActive():
            self.timer.start()

    def flush(self) -> None:
        """Paint the waiting frame now, if there is one."""
        frame, self._pending = self._pending, None
        if frame is None:
            return
        if not self.map_pinned:
            self._canvas.show_visualization(frame.image, f"{self._label} · step {frame.step}")
        self._plot.append(self._objectives)
        self._objectives = []
        self._controls.set_progress(frame.step, frame.steps)
        self.frames_shown += 1
        self.painted.emit(frame)

    def finish(self) -> None:
        """The run ended: paint what waits, draw the whole curve, stop the timer."""
        self.flush()
        self._plot.flush()
        self.timer.stop()

    def stop(self) -> None:
        """Forget what waits and stop the timer (the run was dropped)."""
        self._pending = None
        self._objectives = []
        self.timer.stop()

    # ------------------------------------------------------------------ slots

    def _on_timer_timeout(self) -> None:
        if self._pending is None:
            self.timer.stop()  # no frame since the last paint; the next one starts it again
            return
        self.flush()
