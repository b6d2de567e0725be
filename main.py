"""convscope: a desktop workbench for seeing inside convolutional neural networks.

python main.py [MODEL] [IMAGE] [--layer NAME] [--filter K] [--steps N] [--screenshot FILE]
               [--random-weights]    (MODEL: a .keras/.h5 file, a SavedModel folder or zoo:NAME)
python main.py train-default [--mnist DIR] [--epochs N]
python main.py atlas [--model default|FILE|VGG16] --layer NAME [--filters 0-63] [--preset lucid]
                     [--steps N] [--seed S] --out DIR    (a layer atlas as PNGs, no window)
python main.py explain [--model M] --image I --method gradcam [--class K] [--unit LAYER:K]
                       [--layer L] --out DIR    (an attribution map as PNGs and .npy, no window)
python main.py scan [--model M] --images DIR --out DIR [--top-k 9] [--shard i/n] [--layers L1,L2]
                    (each filter's top images over a folder: scan.npz + scan.json, no window)
python main.py merge --out DIR SHARD_DIR...    (combine `scan --shard` results into one scan)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="convscope", description="See inside convolutional neural networks."
    )
    parser.add_argument(
        "model",
        nargs="?",
        help=".keras/.h5 file, SavedModel folder or zoo:NAME, e.g. zoo:ResNet50 (default: MNIST)",
    )
    parser.add_argument("image", nargs="?", help="image to open (default: a sample)")
    parser.add_argument(
        "--screenshot",
        metavar="FILE",
        help="render the window with one finished visualization to FILE and exit",
    )
    parser.add_argument("--layer", help="layer to visualize, nested names joined by '/'")
    parser.add_argument("--filter", type=int, help="channel or unit to visualize at start")
    parser.add_argument("--steps", type=int, help="ascent steps for this session")
    parser.add_argument("--preset", help="method preset, e.g. Lucid, Notebook, 'Fast preview'")
    parser.add_argument(
        "--random-weights",
        action="store_true",
        help="open a zoo model untrained (no ImageNet weights download)",
    )
    return parser.parse_args(argv)


def run_app(
    model: str | None,
    image: str | None,
    screenshot: str | None = None,
    layer: tuple[str, ...] | None = None,
    unit: int | None = None,
    steps: int | None = None,
    preset: str | None = None,
    random_weights: bool = False,
) -> int:
    """Open the window; returns the process exit status.

    This is the one place that knows both halves: it creates the engine thread and hands it to
    the window, so `gui/` never imports the engine's TensorFlow side.
    """
    if screenshot and not os.environ.get("QT_QPA_PLATFORM") and not os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
    from pyqtgraph.util.garbage_collector import GarbageCollector
    from PySide6.QtCore import QCoreApplication, QTimer
    from PySide6.QtWidgets import QApplication

    from engine.worker import EngineThread
    from gui.main_window import MainWindow
    from gui.startup import Startup

    QCoreApplication.setOrganizationName("convscope")
    QCoreApplication.setApplicationName("convscope")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    # Python's garbage collector runs in whichever thread allocates, mostly the engine thread,
    # and freeing a window's Qt objects there can deadlock against the GUI thread. This turns
    # automatic collection off and collects on a timer in the GUI thread instead.
    collector = GarbageCollector(interval=1.0)  # noqa: F841 (kept alive for the run)
    engine = EngineThread()
    window = MainWindow(engine)
    window.show()
    engine.start()  # TensorFlow loads in the engine thread while the window is already up
    startup = Startup(
        window, model, image, screenshot, layer, unit, steps, preset, random_weights=random_weights
    )
    startup.begin()
    # Ctrl+C or a polite kill closes the window the normal way (engine stopped, settings saved).
    # Python only runs signal handlers between bytecodes, so a timer lets it look regularly.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: QTimer.singleShot(0, window.close))
    heartbeat = QTimer(interval=200)
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start()
    status = app.exec()
    if engine.isRunning():
        engine.stop()
        engine.wait()
    return status or startup.exit_code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train-default"]:
        from engine.models.training import main as train_main

        return train_main(argv[1:])
    if argv[:1] == ["explain"]:
        from engine.cli.explain import main as explain_main

        return explain_main(argv[1:])
    if argv[:1] == ["atlas"]:
        from engine.cli.atlas import main as atlas_main

        return atlas_main(argv[1:])
    if argv[:1] in (["scan"], ["merge"]):
        from engine.cli.scan import main as scan_main

        return scan_main(argv)
    args = _parse(argv)
    layer = tuple(args.layer.split("/")) if args.layer else None
    preset = _preset_name(args.preset) if args.preset else None
    if args.preset and preset is None:
        print(f"convscope: no preset called {args.preset!r}", file=sys.stderr)
        return 2
    return run_app(
        args.model, args.image, args.screenshot, layer, args.filter, args.steps, preset,
        random_weights=args.random_weights,
    )  # fmt: skip


def _preset_name(text: str) -> str | None:
    """The built-in preset `text` names, ignoring case, spaces and dashes."""
    from engine.protocol.recipe import PRESETS

    def key(name: str) -> str:
        return name.lower().replace(" ", "").replace("-", "").replace("_", "")

    return next((name for name in PRESETS if key(name) == key(text)), None)


if __name__ == "__main__":
    code = main()
    # Everything is saved and the engine thread has stopped by now. TensorFlow's and Qt's own
    # teardown would take another second and do nothing a user needs, so leave at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
