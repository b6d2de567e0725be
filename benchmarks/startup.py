"""Start-up time: launch to window visible, to the layer tree filled, to the first prediction.

Run from the repo root: `.venv/bin/python benchmarks/startup.py [--quick] [--phases]`.

Each launch is a fresh `python main.py` (offscreen Qt, a throw-away settings folder so nothing
remembered from earlier sessions changes what opens) with CONVSCOPE_STARTUP_TRACE set: the
window then writes its milestones (gui/startup_trace.py) and closes itself after the last one.
Times run from just before the process is started, so the interpreter's own start-up and every
import count, as a user waits for them. Each number is the median over fresh launches.

`--phases` also times, in one more fresh process and without a window, what the engine thread
does before the first prediction: importing TensorFlow and Keras (the engine's way,
engine/tf_import.py, without scikit-learn and pandas), the rest of the engine,
loading the built-in model, the first and second predictions of the sample digit and the first
and second visualizations of a conv3 filter (4 steps; the first traces the compiled step), as
the engine's own jobs do them. The script reports; it never fails on
a slow result.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_common import REPO_ROOT, arguments

EVENTS = (
    ("window_shown", "window visible", 1.5),
    ("tree_filled", "model loaded and layer tree filled", 4.0),
    ("first_prediction", "first prediction of the sample image", 5.0),
)
LAUNCH_TIMEOUT_S = 180

PHASES_SCRIPT = """
import os, sys, time
began = time.perf_counter()
def mark(name):
    global began
    now = time.perf_counter()
    print(f"{name} {now - began:.3f}", flush=True)
    began = now
sys.path.insert(0, os.getcwd())
import numpy as np
import PySide6.QtWidgets, pyqtgraph
mark("import numpy, Qt and pyqtgraph")
from engine.tf_import import import_tensorflow
import_tensorflow()
mark("import TensorFlow and Keras")
from engine.session import EngineSession, warm_up
mark("import the rest of the engine")
warm_up()
mark("TensorFlow warm-up")
session = EngineSession(lambda message: None)
from engine.protocol import LoadModel, OpenImage
session.handle(LoadModel(), lambda: False)
mark("load the built-in model (job)")
session.handle(OpenImage(sample="digit:3"), lambda: False)
mark("first prediction (job)")
session.handle(OpenImage(sample="digit:3"), lambda: False)
mark("second prediction (job)")
from engine.protocol import Ascend, Recipe
session.handle(Ascend(("conv3",), 1, Recipe(steps=4)), lambda: False)
mark("first visualization, 4 steps (job)")
session.handle(Ascend(("conv3",), 2, Recipe(steps=4)), lambda: False)
mark("second visualization (job)")
"""


def launch(settings: Path, trace: Path, script: str = "main.py") -> dict[str, float]:
    """One fresh window; the seconds from launch to each milestone it wrote."""
    trace.unlink(missing_ok=True)
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "CONVSCOPE_STARTUP_TRACE": str(trace),
        "XDG_CONFIG_HOME": str(settings),  # where QSettings keeps the window's memory
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": str(REPO_ROOT),  # a --script outside the checkout still finds the engine
    }
    began = time.time()
    completed = subprocess.run(
        [sys.executable, script],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=LAUNCH_TIMEOUT_S,
    )
    seen: dict[str, float] = {}
    if trace.exists():
        for line in trace.read_text(encoding="utf-8").splitlines():
            event, wall, _age = line.split()
            seen[event] = float(wall) - began
    missing = [event for event, _, _ in EVENTS if event not in seen]
    if missing:
        raise RuntimeError(
            f"{script} (exit {completed.returncode}) wrote no {missing} to its trace; "
            f"stderr: {completed.stderr[-2000:]}"
        )
    return seen


def phases() -> None:
    """Where the engine's start-up time goes, in one fresh process."""
    completed = subprocess.run(
        [sys.executable, "-c", PHASES_SCRIPT],
        cwd=REPO_ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=LAUNCH_TIMEOUT_S,
    )
    if completed.returncode != 0:
        print(f"  phases failed: {completed.stderr[-2000:]}")
        return
    print("\nengine start-up phases (one fresh process, no window):")
    for line in completed.stdout.splitlines():
        name, _, seconds = line.rpartition(" ")
        print(f"  {name:<32} {float(seconds):6.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__, argv, "one launch instead of five: a smoke test", skip_vgg=False)
    parser.add_argument("--phases", action="store_true", help="also time the engine's phases")
    parser.add_argument(
        "--script", default="main.py", help="the entry point to launch (to try a changed one)"
    )
    args = parser.parse_args(argv)
    launches = 1 if args.quick else 5
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {launches} fresh launches "
        f"of {args.script}"
    )
    times: dict[str, list[float]] = {event: [] for event, _, _ in EVENTS}
    with tempfile.TemporaryDirectory(prefix="convscope-startup-") as folder:
        for index in range(launches):
            seen = launch(Path(folder) / "settings", Path(folder) / "trace.txt", args.script)
            for event, _, _ in EVENTS:
                times[event].append(seen[event])
            row = "  ".join(f"{event} {seen[event]:.2f} s" for event, _, _ in EVENTS)
            print(f"  launch {index + 1}/{launches}: {row}", flush=True)
    for event, words, target in EVENTS:
        median = statistics.median(times[event])
        print(f"start-up: {words} in {median:.2f} s (target {target:g} s)")
    if args.phases:
        phases()
    return 0


if __name__ == "__main__":
    sys.exit(main())
