"""`python main.py microscope`: every unit of a model visualized, with its dataset examples.

For every chosen layer (default: every conv layer and the output layer) and unit: the atlas
visualization and verdict, the statistics and top-k images of a folder by the channel's max
(with the receptive-field crop around it) and mean, and its strongest input channels, in one
folder described by `manifest.json` (engine/microscope/). A rerun skips what is done; an
interrupted run loses at most the chunk in flight. TensorFlow loads only once the arguments
have been checked.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

from engine.cli.atlas import find_preset
from engine.cli.common import CliError, Parser, add_random_weights, layer_arg, writable_folder
from engine.cli.scan import Interrupted, Signals
from engine.dataset.sources import folder_source
from engine.microscope import manifest
from engine.microscope.build import build
from engine.microscope.layout import CHUNKS, Layout
from engine.microscope.local import LocalExecutor, Progress, format_seconds
from engine.microscope.plan import ATLAS_CHUNK, SCAN_CHUNK
from engine.microscope.prepare import (
    BuildSettings,
    Prepared,
    atlas_recipe,
    model_source,
)
from engine.microscope.prepare import prepare as prepare_build
from engine.microscope.work import Context, Spec
from engine.protocol.display import DEFAULT_DISPLAY, DISPLAY_MODES
from engine.protocol.recipe import PRESETS, Recipe


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = Parser(
        prog="convscope microscope",
        description="Visualize every unit of a model with its top dataset images, headless.",
    )
    parser.add_argument("--model", default="default", help="'default', a .keras/.h5 file, zoo:NAME")
    add_random_weights(parser)
    parser.add_argument("--images", required=True, help="folder of images (searched recursively)")
    parser.add_argument("--out", required=True, help="the microscope's folder")
    parser.add_argument(
        "--layers", help="comma-separated layers (default: every conv layer and the output)"
    )
    parser.add_argument("--preset", default="classic", help=f"one of {', '.join(PRESETS)}")
    parser.add_argument("--recipe", help="a recipe as JSON (the window's saved recipes)")
    parser.add_argument("--steps", type=int, help="override the recipe's steps")
    parser.add_argument("--seed", type=int, help="override the recipe's seed")
    parser.add_argument("--top-k", type=int, default=9, help="top images kept per unit")
    parser.add_argument("--display", default=DEFAULT_DISPLAY, choices=DISPLAY_MODES)
    parser.add_argument("--batch-size", type=int, default=64, help="images per forward pass")
    parser.add_argument("--force", action="store_true", help="rebuild a folder made for another")
    parser.add_argument(
        "--scan-chunk", type=int, default=SCAN_CHUNK, help="images per scan chunk (resumable unit)"
    )
    parser.add_argument(
        "--atlas-chunk", type=int, default=ATLAS_CHUNK, help="units per atlas chunk (one batch)"
    )
    parser.add_argument(
        "--ray",
        metavar="local|local:N|auto|ADDRESS",
        help="run on Ray: a new local Ray of N workers (default: one per CPU), or a cluster "
        "(needs the cluster extra: pip install 'convscope[cluster]')",
    )
    return parser.parse_args(argv)


def _recipe(args: argparse.Namespace) -> Recipe:
    if args.recipe:
        try:
            recipe = Recipe.from_dict(json.loads(Path(args.recipe).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, AttributeError) as error:
            raise CliError(f"--recipe {args.recipe!r} is not a readable recipe ({error})") from None
    else:
        recipe = find_preset(args.preset)
    overrides = {k: getattr(args, k) for k in ("steps", "seed") if getattr(args, k) is not None}
    try:
        return atlas_recipe(replace(recipe, **overrides))
    except ValueError as error:
        raise CliError(str(error)) from None


def _layers(args: argparse.Namespace, summary) -> tuple[tuple[str, ...], ...] | None:
    """The paths of the layers --layers names (None: the default choice), each checked."""
    if not args.layers:
        return None
    return tuple(tuple(layer_arg(summary, name.strip()).path) for name in args.layers.split(","))


def _wipe(layout: Layout, existing: dict) -> None:
    """Remove what an earlier microscope wrote in the folder (and nothing else)."""
    for entry in existing.get("layers", []):
        shutil.rmtree(layout.root / entry.get("folder", "\0"), ignore_errors=True)
    shutil.rmtree(layout.root / CHUNKS, ignore_errors=True)
    for path in (layout.manifest, layout.images_list):
        path.unlink(missing_ok=True)


def _check_numbers(args: argparse.Namespace) -> None:
    for name in ("top_k", "batch_size", "scan_chunk", "atlas_chunk"):
        if getattr(args, name) < 1:
            option = "--" + name.replace("_", "-")
            raise CliError(f"{option} must be at least 1, got {getattr(args, name)}")


def prepare(args: argparse.Namespace) -> Prepared:
    """Check the arguments, load the model, refuse a folder built for another (ManifestMismatch)
    and plan the chunks; TensorFlow loads only once the arguments are good."""
    _check_numbers(args)
    _ray_target(args)
    recipe = _recipe(args)
    source = folder_source(args.images)
    layout = Layout(writable_folder(args.out))
    if args.force:
        _forget(layout)
    manifest.load(layout)  # a damaged manifest is refused before the model loads
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Deliberately lazy: TensorFlow loads only once the arguments have been checked.
    from engine.optvis.atlas_cache import weights_fingerprint

    spec = Spec(args.model, args.random_weights, source.root, (), (), {}, 1)
    context = Context.build(spec)
    settings = BuildSettings(
        recipe, args.top_k, _layers(args, context.summary), args.display, args.batch_size,
        args.scan_chunk, args.atlas_chunk,
    )  # fmt: skip
    fingerprint = weights_fingerprint([w.numpy() for w in context.model.weights])
    origin = model_source(args.model)
    return prepare_build(layout, source, context, fingerprint, settings, origin)


def run(
    args: argparse.Namespace,
    signals: Signals,
    after_chunk: Callable[[str], None] = lambda _id: None,
) -> int:
    """The microscope command with parsed arguments; CliError for bad input."""
    ready = prepare(args)
    units = sum(layer["units"] for layer in ready.body["layers"])
    print(
        f"{ready.context.label}: {len(ready.spec.names):,} images, "
        f"{len(ready.body['layers'])} layers, {units:,} units, {ready.steps} steps; "
        f"{ready.layout.root}",
        flush=True,
    )
    signals.scanning = True
    try:
        with _executor(args, ready, lambda: signals.signum is not None) as executor:
            body = {**ready.body, "engine": executor.label}
            outcome = build(
                ready.layout, ready.plan, body, executor, lambda: ready.context,
                executor.should_stop, Progress(), after_chunk,
            )  # fmt: skip
    finally:
        signals.scanning = False
    if not outcome.complete:
        print("interrupted; run the same command again to resume", file=sys.stderr, flush=True)
        return 128 + (signals.signum or signal.SIGINT)
    print(_summary_line(outcome, ready.steps, ready.layout.root))
    return 0


def _ray_target(args: argparse.Namespace):
    """The --ray target, checked before the model loads; None without --ray."""
    if args.ray is None:
        return None
    try:
        from engine.microscope.ray_executor import parse_target
    except ImportError as error:
        raise CliError(
            f"--ray needs Ray ({error}); install it with: pip install 'convscope[cluster]'"
        ) from None
    return parse_target(args.ray)


def _executor(args: argparse.Namespace, ready: Prepared, should_stop: Callable[[], bool]):
    """The run's executor, as a context manager: here, or on Ray (which it shuts down)."""
    target = _ray_target(args)
    if target is None:
        # The model is loaded already: the local executor reuses it.
        return nullcontext(LocalExecutor(ready.spec, should_stop, ready.context))
    from engine.microscope.ray_executor import RayExecutor

    return RayExecutor(ready.spec, should_stop, target)


def _forget(layout: Layout) -> None:
    """--force: remove the folder's earlier microscope, readable or not."""
    try:
        existing = manifest.load(layout)
    except manifest.ManifestMismatch:
        existing = None
    _wipe(layout, existing or {})


def _summary_line(outcome, steps: int, out: Path) -> str:
    verdicts = outcome.manifest.get("summary", {}).get("verdicts", {})
    units = outcome.manifest.get("summary", {}).get("units", 0)
    images_rate = outcome.images_scanned / outcome.scan_seconds if outcome.scan_seconds else 0.0
    steps_rate = (
        outcome.units_visualized * steps / outcome.atlas_seconds if outcome.atlas_seconds else 0.0
    )
    skipped = len(outcome.manifest["images"].get("skipped", {}))
    if not outcome.images_scanned and not outcome.units_visualized:
        rates = "nothing left to do (all done before)"
    else:
        rates = f"{images_rate:,.1f} images/s, {steps_rate:,.0f} filter-steps/s"
    return (
        f"{units:,} units: {verdicts.get('dead', 0)} dead, {verdicts.get('weak', 0)} weak, "
        f"{verdicts.get('failed', 0)} failed; {skipped} images skipped; "
        f"{format_seconds(outcome.seconds)}; {rates}; wrote {out}"
    )


def main(argv: list[str] | None = None) -> int:
    """The `microscope` command; 1 with a message on stderr on bad input."""
    try:
        with Signals() as signals:
            return run(_parse(sys.argv[1:] if argv is None else argv), signals)
    except (CliError, ValueError, MemoryError) as error:  # ManifestMismatch is a ValueError
        print(f"convscope microscope: error: {error}", file=sys.stderr)
        return 1
    except Interrupted as stop:
        print(f"convscope microscope: interrupted ({stop})", file=sys.stderr)
        return 128 + stop.signum
