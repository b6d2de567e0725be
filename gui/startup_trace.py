"""Start-up milestones for benchmarks/startup.py: off unless CONVSCOPE_STARTUP_TRACE names a file.

With `CONVSCOPE_STARTUP_TRACE=FILE`, the window appends one line per milestone to FILE,
"EVENT WALL_CLOCK SECONDS_SINCE_PROCESS_START": `window_shown` (the window's first paint is
done), `tree_filled` (the first model is open and its layer tree filled) and
`first_prediction` (the first image's predictions are on screen). After the last one the window
closes itself, so a benchmark can start the next fresh process. The wall clock lets the launcher
measure from before the interpreter started; the process's own age is for a person reading it.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QTimer

if TYPE_CHECKING:
    from engine.protocol import ImageOpened, LoadModel, ModelSummary
    from gui.main_window import MainWindow

TRACE_VARIABLE = "CONVSCOPE_STARTUP_TRACE"
EVENTS = ("window_shown", "tree_filled", "first_prediction")


def process_age() -> float:
    """Seconds since this process started (Linux's /proc; elsewhere since this module loaded)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            # The command name (field 2) may hold spaces: count fields after its closing ')'.
            fields = stat.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as uptime:
            up = float(uptime.read().split()[0])
        return up - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _LOADED


_LOADED = time.monotonic()


class StartupTrace(QObject):
    """Writes each milestone once; closes the window after the last. A child of the window,
    so it lives as long as the window does."""

    def __init__(self, window: MainWindow, path: str) -> None:
        super().__init__(window)
        self._window = window
        self._path = path
        self._written: set[str] = set()
        window.models.shown.connect(self._on_models_shown)
        window.state.image_changed.connect(self._on_state_image_changed)
        handle = window.windowHandle()
        if handle is not None and handle.isExposed():
            self.mark("window_shown")  # already exposed, so painted, before tracing began
        else:
            window.installEventFilter(self)  # visible once its first paint is done

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() == QEvent.Type.Paint:
            # Marked from the event loop's next pass: the paint itself has finished by then.
            self._window.removeEventFilter(self)
            QTimer.singleShot(0, lambda: self.mark("window_shown"))
        return False

    def mark(self, event: str) -> None:
        """Append `event` with the time now, the first time only."""
        if event not in EVENTS:
            raise ValueError(f"unknown start-up event {event!r}; expected one of {EVENTS}")
        if event in self._written:
            return
        self._written.add(event)
        try:
            with open(self._path, "a", encoding="utf-8") as trace:
                trace.write(f"{event} {time.time():.6f} {process_age():.3f}\n")
        except OSError:
            pass  # a trace that cannot be written must not stop the window
        if self._written == set(EVENTS):
            QTimer.singleShot(0, self._window.close)

    def _on_models_shown(self, summary: ModelSummary, _request: LoadModel | None) -> None:
        # The layers controller fills the tree on state.model_changed, before `shown` fires.
        if self._window.ui.layer_tree.topLevelItemCount() > 0 or not summary.layers:
            self.mark("tree_filled")

    def _on_state_image_changed(self, opened: ImageOpened | None) -> None:
        if opened is not None and opened.predictions:
            self.mark("first_prediction")


def watch(window: MainWindow) -> StartupTrace | None:
    """Start tracing `window` if CONVSCOPE_STARTUP_TRACE is set; the trace lives on the window."""
    path = os.environ.get(TRACE_VARIABLE)
    if not path:
        return None
    return StartupTrace(window, path)
