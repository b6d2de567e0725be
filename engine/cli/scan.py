"""`python main.py scan`: which images make each filter fire, headless.

`scan` runs a model over a folder and writes `scan.npz` (the whole state) and `scan.json` (per
layer and channel: top images by L2 norm and by max, mean, max, fire fraction; skipped files and
why); Ctrl+C or SIGTERM saves where it got, and the next run resumes. Spreading the work over
several workers is the microscope's `--ray` (the old `scan --shard` and `merge` only say so).
TensorFlow loads only after the arguments are checked.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from engine.cli.common import (
    CliError,
    Parser,
    add_precision,
    add_random_weights,
    load_model_arg,
    precision_arg,
    writable_folder,
)
from engine.images.convert import shown_name
from engine.protocol import LayerPath

STATE_FILE = "scan.npz"
REPORT_FILE = "scan.json"
# Top images are ranked by activations cached across runs: one arithmetic, float32.
SCAN_FLOAT32 = "its rankings are cached across runs"
# What `scan --shard` and `merge`, gone, answer (with exit status 2, a usage error).
SHARDS_GONE = (
    "{what} is gone: to spread the work over several workers, run python main.py microscope "
    "--model M --images DIR --out OUT --ray local:N (N workers here; --ray auto or "
    "--ray ADDRESS for a Ray cluster)"
)


class Interrupted(Exception):
    """Ctrl+C or SIGTERM before the scan began: there is nothing to save yet."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Signals:
    """SIGINT and SIGTERM while a command runs, instead of a traceback or a silent death.

    Before the scan they end the command at once (`Interrupted`); while it scans they only set
    `signum`, so the scan stops between two batches and its state is saved for the next run.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.scanning = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> Signals:
        if threading.current_thread() is threading.main_thread():  # Python's own rule
            for number in (signal.SIGINT, signal.SIGTERM):
                self._previous[number] = signal.signal(number, self._on_signal)
        return self

    def __exit__(self, *_exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]  # as signal.signal gave it

    def _on_signal(self, signum: int, _frame: object) -> None:
        if not self.scanning:
            raise Interrupted(signum)
        self.signum = signum


def _parse_scan(argv: list[str]) -> argparse.Namespace:
    parser = Parser(prog="convscope scan", description="Find each filter's top images, headless.")
    parser.add_argument(
        "--model",
        default="default",
        help="'default', a .keras/.h5 file, a SavedModel folder or zoo:NAME",
    )
    add_random_weights(parser)
    parser.add_argument("--images", required=True, help="folder of images (searched recursively)")
    parser.add_argument("--out", required=True, help="folder for scan.npz and scan.json")
    parser.add_argument("--top-k", type=int, default=9, help="top images kept per filter")
    parser.add_argument("--layers", help="comma-separated layers (default: every 4-D layer)")
    add_precision(parser, SCAN_FLOAT32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--no-cache", action="store_true", help="neither resume nor keep a cache")
    return parser.parse_args(argv)


def report(state, model_label: str) -> dict:
    """The JSON report of a state: per layer and channel, the top images and the statistics."""
    import numpy as np

    # Deliberately lazy: TensorFlow loads only once the arguments have parsed, so --help
    # and usage errors answer at once.
    from engine.dataset.state import top_images

    layers = {}
    for layer in state.layers:
        name = str(LayerPath(layer))
        mean, fire = state.mean(layer), state.fire_fraction(layer)
        peak = state.stats[layer].max
        channels = []
        for unit in range(len(mean)):
            entry: dict[str, object]  # numbers, then the lists of top images below
            entry = {
                "unit": unit,
                "mean": float(mean[unit]),
                "max": float(peak[unit]) if np.isfinite(peak[unit]) else None,
                "fire_fraction": float(fire[unit]),
            }
            for rank in ("l2", "max"):
                paths, scores = top_images(state, layer, unit, rank)
                entry[f"top_{rank}"] = [
                    {"path": str(p), "score": float(s)} for p, s in zip(paths, scores, strict=True)
                ]
            channels.append(entry)
        layers[name] = channels
    return {
        "model": model_label,
        "fingerprint": state.fingerprint,
        "root": state.root,
        "images": len(state.names),
        "scanned": state.count,
        "complete": state.complete,
        "top_k": state.top_k,
        "skipped": state.skipped,
        "layers": layers,
    }


def _write(out: Path, state, model_label: str) -> None:
    state.save(out / STATE_FILE)
    text = json.dumps(report(state, model_label), indent=1)
    temporary = out / (REPORT_FILE + ".tmp")
    temporary.write_text(text + "\n", encoding="utf-8")
    os.replace(temporary, out / REPORT_FILE)


def run_scan(args: argparse.Namespace, signals: Signals | None = None) -> int:
    # Deliberately lazy: TensorFlow loads only once the arguments have parsed, so --help
    # and usage errors answer at once.
    from engine.dataset.sources import folder_source

    if args.top_k < 1 or args.batch_size < 1:
        raise CliError("--top-k and --batch-size must be at least 1")
    source = folder_source(args.images)
    out = writable_folder(args.out)
    precision_arg(args.precision, SCAN_FLOAT32)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Deliberately lazy: TensorFlow loads only once the arguments have parsed, so --help
    # and usage errors answer at once.
    from engine.dataset.scan import Scanner
    from engine.models.introspect import describe_model
    from engine.optvis.memory import plan_batch

    model, meta, label, _ = load_model_arg(args.model, args.random_weights)
    summary = describe_model(model, meta, label)
    layers = [name.strip() for name in args.layers.split(",")] if args.layers else None
    # No more images at once than fit the memory free (a huge input: fewer).
    batch = plan_batch(summary, summary.layers[-1].path, args.batch_size, "scan").batch
    scanner = Scanner(
        model,
        summary.input_shape,
        summary.input_range,
        layers,
        args.top_k,
        batch_size=batch,
        cache=not args.no_cache,
    )
    signals = signals or Signals()
    total = len(source.names)
    print(f"{label}: scanning {total:,} images of {shown_name(source.root)}", flush=True)
    previous = scanner.cached(source)
    if previous is not None and previous.done.any():
        done = int(previous.done.sum())
        if previous.complete:
            print(f"all {total:,} images were scanned before; using the saved results", flush=True)
        else:
            print(f"resuming: {done:,} of {total:,} images were scanned before", flush=True)
    began, shown = time.perf_counter(), [0]

    def progress(done: int, total: int, skipped: int) -> None:
        if done * 10 // total > shown[0] or done == total:
            shown[0] = done * 10 // total
            print(f"{done}/{total} images, {skipped} skipped", flush=True)

    signals.scanning = True
    try:
        state = scanner.scan(source, lambda: signals.signum is not None, progress)
    finally:
        signals.scanning = False
    _write(out, state, label)
    if signals.signum is not None and not state.complete:
        hint = "run again to resume" if not args.no_cache else "nothing kept to resume (--no-cache)"
        done = int(state.done.sum())
        print(f"interrupted at {done:,} of {total:,} images; {hint}", file=sys.stderr, flush=True)
        return 128 + signals.signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM
    elapsed = time.perf_counter() - began
    print(
        f"{state.count} images scanned, {len(state.skipped)} skipped in {elapsed:.1f} s; "
        f"wrote {out}"
    )
    return 0


def _gone(command: str, rest: list[str]) -> str | None:
    """What a removed way of sharding is called when `command rest` asks for one, else None."""
    if command == "merge":
        return "merge"
    if any(arg == "--shard" or arg.startswith("--shard=") for arg in rest):
        return "scan --shard"
    return None


def main(argv: list[str] | None = None) -> int:
    """`scan ...` (argv includes the command); 1 with a message on bad input, 2 (pointing to
    `microscope --ray`) for the removed `scan --shard` and `merge`."""
    argv = sys.argv[1:] if argv is None else argv
    command, rest = (argv[0], argv[1:]) if argv else ("scan", [])
    gone = _gone(command, rest)
    if gone is not None:
        print(f"convscope {command}: {SHARDS_GONE.format(what=gone)}", file=sys.stderr)
        return 2
    try:
        with Signals() as signals:
            return run_scan(_parse_scan(rest), signals)
    except (CliError, ValueError, MemoryError) as error:  # NotEnoughMemory says what fits
        print(f"convscope {command}: error: {error}", file=sys.stderr)
        return 1
    except Interrupted as stop:
        print(
            f"convscope {command}: interrupted ({stop}) before anything was scanned",
            file=sys.stderr,
        )
        return 128 + stop.signum
