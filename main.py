"""convscope: a desktop workbench for seeing inside convolutional neural networks.

python main.py [MODEL] [IMAGE] [--layer NAME] [--filter K] [--steps N] [--screenshot FILE]
               [--size WxH] [--tab NAME] [--random-weights] [--verbose]
               (MODEL: default, a .keras/.h5 file, a SavedModel folder or zoo:NAME;
                `python main.py photo.png` opens the photo with the built-in model)
python main.py train-default [--mnist DIR] [--epochs N]
python main.py atlas [--model default|FILE|VGG16] --layer NAME [--filters 0-63] [--preset lucid]
                     [--steps N] [--seed S] --out DIR    (a layer atlas as PNGs, no window)
python main.py explain [--model M] --image I --method gradcam [--class K] [--unit LAYER:K]
                       [--layer L] --out DIR    (an attribution map as PNGs and .npy, no window)
python main.py scan [--model M] --images DIR --out DIR [--top-k 9] [--layers L1,L2]
                    (each filter's top images over a folder: scan.npz + scan.json, no window)
python main.py microscope [--model M] --images DIR --out DIR [--layers L1,L2] [--preset NAME |
                          --recipe FILE] [--steps N] [--top-k 9] [--seed S] [--force]
                          [--ray local|local:N|auto|ADDRESS]
                    (every unit: visualization, top images with crops, verdict, circuit; resumable)
python main.py microscope-site OUT SITE    (a microscope folder as a static website; no server)
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from engine.cli import COMMANDS, commands_help

if TYPE_CHECKING:  # Qt loads only when the window opens
    from PySide6.QtCore import QSettings

# What a positional argument's suffix says it is: these open as the image, with the built-in model.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
DEFAULT_MODEL_NAMES = ("default", "builtin", "built-in")  # as the subcommands' --model takes them
TAB_NAMES = ("visualize", "explain", "network", "filters", "compare", "dataset", "microscope")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="convscope",
        usage="%(prog)s [MODEL] [IMAGE] [options]  |  %(prog)s COMMAND [--help]",
        description="See inside convolutional neural networks.",
        epilog=commands_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "model",
        nargs="?",
        help="default (the built-in MNIST CNN), a .keras/.h5 file, a SavedModel folder or "
        "zoo:NAME, e.g. zoo:ResNet50; an image file here opens with the built-in model",
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
    parser.add_argument(
        "--size",
        type=window_size,
        metavar="WxH",
        help="window size, e.g. 1280x720 (--screenshot: 1400x860 unless given)",
    )
    parser.add_argument(
        "--tab",
        type=str.lower,
        choices=TAB_NAMES,
        help="centre tab to show (and picture with --screenshot)",
    )
    parser.add_argument(
        "--microscope", metavar="DIR", help="microscope folder to open in the Microscope tab"
    )
    parser.add_argument(
        "--verbose", action="store_true", help="let TensorFlow's start-up notices through"
    )
    return parser.parse_args(argv)


def window_size(text: str) -> tuple[int, int]:
    """(width, height) from "1280x720"; argparse reports the ValueError's bad value."""
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()) or not (200 <= int(width) <= 10000):
        raise argparse.ArgumentTypeError(f"--size {text!r} is not WIDTHxHEIGHT, e.g. 1280x720")
    if not 200 <= int(height) <= 10000:
        raise argparse.ArgumentTypeError(f"--size {text!r}: height must be 200 to 10000 px")
    return int(width), int(height)


def window_arguments(model: str | None, image: str | None) -> tuple[str | None, str | None]:
    """The (model, image) the window opens for the positional arguments: "default" is the
    built-in model (None), and a lone image file opens with the built-in model."""
    if model is not None and image is None and Path(model).suffix.lower() in IMAGE_SUFFIXES:
        return None, model
    if model is not None and model.lower() in DEFAULT_MODEL_NAMES and not Path(model).exists():
        return None, image
    return model, image


def run_app(
    model: str | None,
    image: str | None,
    screenshot: str | None = None,
    layer: tuple[str, ...] | None = None,
    unit: int | None = None,
    steps: int | None = None,
    preset: str | None = None,
    random_weights: bool = False,
    size: tuple[int, int] | None = None,
    tab: str | None = None,
    microscope: str | None = None,
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
    freeze_when_ready(engine)
    scratch = tempfile.TemporaryDirectory(prefix="convscope-screenshot-") if screenshot else None
    window = MainWindow(engine, _screenshot_settings(scratch.name) if scratch else None)
    window.show()
    # Paint the window before TensorFlow's import starts: that import holds the interpreter
    # for seconds, and a window shown but not yet painted looks like a hang.
    app.processEvents()
    engine.start()  # TensorFlow loads in the engine thread while the window is already up
    startup = Startup(
        window, model, image, screenshot, layer, unit, steps, preset,
        random_weights=random_weights, size=size, tab=tab, microscope=microscope,
    )  # fmt: skip
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
    if scratch is not None:
        scratch.cleanup()
    return status or startup.exit_code


def freeze_when_ready(engine) -> None:
    """When `engine` first says it is idle (TensorFlow and Keras loaded: ~300,000 objects that
    live as long as the app), freeze every object there is: the collector's full passes (on the
    GUI thread's timer, see run_app) then skip them, and each pass stops pausing the window for
    ~0.2 s. No collection first: it would take those 0.2 s just as the first model loads, for
    ~2,000 objects of garbage the import leaves (measured), which now stay."""

    def on_status(status) -> None:
        if status.busy:
            return
        engine.status.disconnect(on_status)
        gc.freeze()

    engine.status.connect(on_status)


def _screenshot_settings(folder: str) -> QSettings:
    """Empty settings in a throw-away `folder`: a picture shows the default layout and recipe,
    not the splitter positions, window size or presets this machine's user left behind."""
    from PySide6.QtCore import QSettings

    return QSettings(os.path.join(folder, "convscope.conf"), QSettings.Format.IniFormat)


def main(argv: list[str] | None = None) -> int:
    """Run the window or a subcommand (`python main.py --help` lists them); the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    command = COMMANDS.get(argv[0]) if argv else None
    if command is not None:
        rest = [arg for arg in argv[1:] if arg != "--verbose"]
        entry = importlib.import_module(command.module).main
        return int(entry(argv[:1] + rest if command.with_name else rest))
    args = _parse(argv)
    layer = tuple(args.layer.split("/")) if args.layer else None
    preset = _preset_name(args.preset) if args.preset else None
    if args.preset and preset is None:
        print(f"convscope: no preset called {args.preset!r}", file=sys.stderr)
        return 2
    model, image = window_arguments(args.model, args.image)
    return run_app(
        model, image, args.screenshot, layer, args.filter, args.steps, preset,
        random_weights=args.random_weights, size=args.size, tab=args.tab,
        microscope=args.microscope,
    )  # fmt: skip


def _preset_name(text: str) -> str | None:
    """The built-in preset `text` names, ignoring case, spaces and dashes."""
    from engine.protocol.recipe import PRESETS

    def key(name: str) -> str:
        return name.lower().replace(" ", "").replace("-", "").replace("_", "")

    return next((name for name in PRESETS if key(name) == key(text)), None)


if __name__ == "__main__":
    # Before anything imports TensorFlow: its C++ start-up notices stay out of the terminal.
    # Only here, not in main(): a caller's own stderr is not ours to redirect.
    from engine.cli.noise import quiet_tensorflow

    stop_filter = quiet_tensorflow() if "--verbose" not in sys.argv[1:] else lambda: None
    try:
        code = main()
    finally:
        stop_filter()  # passes on what it still holds (--help and usage errors exit in main)
    # Everything is saved and the engine thread has stopped by now. TensorFlow's and Qt's own
    # teardown would take another second and do nothing a user needs, so leave at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
