"""What streaming every frame to a real window costs: steps/s with the window against without.

Run from the repo root: `.venv/bin/python benchmarks/stream_overhead.py [--quick]`.

(a) Windowed: the real `EngineThread` (engine/worker.py) and a `MainWindow` (gui/main_window.py)
    in an offscreen QApplication. The window starts a visualization of the built-in model's conv3
    with the Classic recipe, 2000 steps (`--quick`: one round of 20) and a frame every step;
    its rate is `RunFinished.steps_done` ÷ the time from the start request to the window's
    `visualization_finished` signal. Everything the app does per frame counts: the engine's copy,
    the queued signal, the window storing the frame and repainting (at most 30 times a second).
(b) Headless: the same run through `Visualizer.run` in this process (its own compiled program),
    snapshots consumed and dropped, timed from the call to the final `RunResult`.

Both programs are compiled by an untimed warm-up run first. The cases alternate round by round in
this one process and each rate is the median over rounds. The script reports; it never fails on
a slow result.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench_common import arguments, print_versions, use_checkout

LAYER = ("conv3",)
TARGET = 0.10  # the window may cost at most this fraction of the headless steps/s
TIMEOUT_S = 300
# --quick: one short round after a warm-up just long enough to compile both programs.
QUICK_STEPS, QUICK_ROUNDS, QUICK_WARM_UP = 20, 1, 2


def _wait(done, signal=None, timeout_s: float = TIMEOUT_S) -> None:
    """Run a Qt event loop, as the app's own does, until `done()` is true (checked when `signal`
    fires and every 10 ms); RuntimeError after `timeout_s`."""
    from PySide6.QtCore import QEventLoop, QTimer

    if done():
        return
    loop = QEventLoop()
    check = QTimer(interval=10)
    check.timeout.connect(lambda: done() and loop.quit())
    give_up = QTimer(singleShot=True, interval=int(timeout_s * 1000))
    give_up.timeout.connect(loop.quit)
    if signal is not None:
        signal.connect(loop.quit)
    check.start()
    give_up.start()
    loop.exec()
    check.stop()
    give_up.stop()
    if signal is not None:
        signal.disconnect(loop.quit)
    if not done():
        raise RuntimeError(f"nothing happened within {timeout_s} s")


def _quiet_qt(kind, context, message: str) -> None:
    # The offscreen platform says this of every top-level window; it is not ours to fix.
    if "propagateSizeHints" not in message:
        print(message, file=sys.stderr)


class Windowed:
    """The real app without its command line: engine thread plus window, offscreen."""

    def __init__(self, app, settings) -> None:
        from engine.worker import EngineThread
        from gui.main_window import MainWindow

        self.app = app
        self.engine = EngineThread()
        self.window = MainWindow(self.engine, settings)
        self.finished = []
        self.window.runs.finished.connect(self.finished.append)
        self.window.show()
        self.engine.start()
        shown = []
        self.window.models.shown.connect(lambda summary, _request: shown.append(summary))
        self.window.models.open_model(None)
        _wait(lambda: shown, self.window.models.shown)
        self.window.layers.select_layer(LAYER)
        self.settle()

    def settle(self) -> None:
        """Let the window's own requests (cache look-ups, feature maps) finish first."""
        _wait(lambda: not self.engine.is_busy())
        for _ in range(20):
            self.app.processEvents()

    def run(self, recipe, unit: int) -> float:
        """Steps per second of one visualization shown in the window."""
        self.window.ui.controls.set_settings(recipe)
        self.finished.clear()
        frames_before = self.window.runs.painter.frames_shown
        began, gui_began = time.perf_counter(), time.thread_time()
        self.window.runs.visualize(unit)
        _wait(lambda: self.finished, self.window.runs.finished)
        elapsed = time.perf_counter() - began
        # CPU the GUI thread (this one) burnt meanwhile: on 2 cores it is taken from the engine.
        self.gui_cpu_s = time.thread_time() - gui_began
        done = self.finished[0]
        if done.steps_done != recipe.steps:
            raise RuntimeError(f"the windowed run ended early, at step {done.steps_done}")
        self.repaints = self.window.runs.painter.frames_shown - frames_before
        self.settle()
        return done.steps_done / elapsed

    def close(self) -> None:
        self.window.close()  # stops the engine thread and waits for it


def headless(visualizer, recipe, unit: int) -> float:
    """Steps per second of the same visualization with nobody watching."""
    from engine.protocol import ObjectiveTerm

    began = time.perf_counter()
    run = visualizer.run([ObjectiveTerm(LAYER, unit)], recipe, lambda: False)
    while True:
        try:
            next(run)
        except StopIteration as ended:
            result = ended.value  # the RunResult
            break
    elapsed = time.perf_counter() - began
    if result.outcome.steps_done != recipe.steps or result.outcome.reason != "steps":
        raise RuntimeError(f"the headless run ended early: {result.outcome.reason}")
    return result.outcome.steps_done / elapsed


def main(argv: list[str] | None = None) -> int:
    quick_help = f"one round of {QUICK_STEPS} steps: a smoke test"
    args = arguments(__doc__, argv, quick_help, skip_vgg=False).parse_args(argv)
    use_checkout()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    scratch = tempfile.TemporaryDirectory(prefix="convscope-bench-")
    os.environ["CONVSCOPE_CACHE_DIR"] = scratch.name  # never read or fill the user's atlases
    from PySide6.QtCore import QSettings, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    qInstallMessageHandler(_quiet_qt)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    settings = QSettings(str(Path(scratch.name) / "settings.ini"), QSettings.IniFormat)
    windowed = Windowed(app, settings)  # starts the engine thread, which imports TensorFlow

    from engine.models.introspect import describe_model
    from engine.models.loading import load_model
    from engine.optvis.visualizer import Visualizer
    from engine.protocol.recipe import PRESETS

    print_versions()
    steps, rounds = (QUICK_STEPS, QUICK_ROUNDS) if args.quick else (2000, 7)
    recipe = replace(PRESETS["Classic"], steps=steps, frame_every=1)
    model, meta, label = load_model(None)
    summary = describe_model(model, meta, label)
    visualizer = Visualizer(model, summary.input_shape, summary.input_range, lambda: None)
    warm_up = replace(recipe, steps=QUICK_WARM_UP if args.quick else 20)
    windowed.run(warm_up, 0)
    headless(visualizer, warm_up, 0)

    window_rates: list[float] = []
    bare_rates: list[float] = []
    try:
        for index in range(rounds):
            unit, seeded = index % 64, replace(recipe, seed=index)
            window_rates.append(windowed.run(seeded, unit))
            bare_rates.append(headless(visualizer, seeded, unit))
            print(
                f"  round {index + 1}/{rounds}: window {window_rates[-1]:8.1f} steps/s "
                f"({windowed.repaints} repaints, GUI thread {windowed.gui_cpu_s:.2f} s CPU)  "
                f"headless {bare_rates[-1]:8.1f} steps/s",
                flush=True,
            )
    finally:
        windowed.close()
    window, bare = statistics.median(window_rates), statistics.median(bare_rates)
    cost = 1 - window / bare
    print(
        f"\n{steps} steps of conv3, a frame every step: window {window:.1f} steps/s, "
        f"headless {bare:.1f} steps/s"
    )
    print(
        f"window/headless steps/s ratio {window / bare:.2f}: the window costs {cost:.0%} "
        f"of steps per second (target at most {TARGET:.0%})"
    )
    scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
