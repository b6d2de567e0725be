"""`python main.py atlas`: a layer atlas without a window, written to a folder.

One PNG per filter, a contact sheet and `atlas.json`. The same seed and settings give the same
files on the same machine. TensorFlow loads only once the arguments have been checked, so a typo
is reported at once.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from engine.cli.common import (
    CliError,
    Parser,
    add_precision,
    add_random_weights,
    layer_arg,
    load_model_arg,
    writable_folder,
)
from engine.optvis import image_stats
from engine.protocol import LayerPath, Verdict, VerdictKind
from engine.protocol.display import (
    DEFAULT_DISPLAY,
    DISPLAY_MODES,
    normalize_for_display,
    screen_colours,
)
from engine.protocol.recipe import PRESETS, Recipe

TILE_MIN_SIDE = 128  # per-filter PNGs are upscaled (nearest neighbour) to at least this
LABEL_HEIGHT = 16
GAP = 4
DEAD_COLOUR = (220, 40, 40)


# The atlas command's errors are the shared command-line errors.
AtlasError = CliError


def parse_filters(text: str) -> list[int]:
    """'0-63', '1,5,9', '3' or a mix ('0-3,8') as a sorted list of distinct filter numbers."""
    units: set[int] = set()
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            low = int(first)
            high = int(last) if dash else low
        except ValueError:
            raise AtlasError(
                f"--filters {text!r}: expected numbers like 0-63, 1,5,9 or 3"
            ) from None
        if low < 0 or high < low:
            raise AtlasError(f"--filters {text!r}: {part.strip()!r} is not a range")
        units.update(range(low, high + 1))
    return sorted(units)


def find_preset(name: str) -> Recipe:
    """A preset by name, ignoring case and treating '-' and '_' as spaces."""
    wanted = " ".join(name.replace("-", " ").replace("_", " ").lower().split())
    for key, recipe in PRESETS.items():
        if key.lower() == wanted:
            return recipe
    raise AtlasError(f"no preset {name!r}; choose one of {', '.join(PRESETS)}")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = Parser(
        prog="convscope atlas", description="Visualize many filters of one layer, headless."
    )
    parser.add_argument(
        "--model",
        default="default",
        help="'default' (built-in MNIST CNN), a .keras/.h5 file, a SavedModel folder, zoo:NAME "
        "or a keras.applications name "
        "such as VGG16 (needs its ImageNet weights)",
    )
    add_random_weights(parser)
    parser.add_argument("--layer", required=True, help="layer name, nested names joined by '/'")
    parser.add_argument("--filters", help="e.g. 0-63, 1,5,9 or 3 (default: all)")
    parser.add_argument("--preset", default="classic", help=f"one of {', '.join(PRESETS)}")
    parser.add_argument(
        "--display",
        default=DEFAULT_DISPLAY,
        choices=DISPLAY_MODES,
        help="how tiles are normalized for the PNGs, as View ▸ Display in the window "
        f"(default {DEFAULT_DISPLAY}: the notebooks' mean ± std)",
    )
    parser.add_argument("--steps", type=int, help="override the preset's steps")
    parser.add_argument("--seed", type=int, help="override the preset's seed")
    add_precision(parser)
    parser.add_argument("--out", required=True, help="folder for the PNGs and atlas.json")
    parser.add_argument(
        "--no-cache", action="store_true", help="do not store the atlas for the window"
    )
    return parser.parse_args(argv)


def to_png(image: np.ndarray, display: str = "raw") -> Image.Image:
    """An (H, W, C) visualization as an 8-bit picture, normalized with `display` (a mode of
    `engine.protocol.display.DISPLAY_MODES`; "raw" clips to [0, 1]), grey for one channel,
    other counts as `screen_colours` draws them, short side ≥ 128 px."""
    image = normalize_for_display(image, display)
    if image.shape[-1] != 1:
        image = screen_colours(image)
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    factor = max(1, math.ceil(TILE_MIN_SIDE / min(pixels.shape[:2])))
    pixels = pixels.repeat(factor, axis=0).repeat(factor, axis=1)
    return Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)


def contact_sheet(tiles: list[Image.Image], units: list[int], dead: list[bool]) -> Image.Image:
    """The tiles in a grid, each filter's number under it; dead filters framed and marked."""
    columns = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / columns)
    width, height = tiles[0].size
    cell_w, cell_h = width + GAP, height + LABEL_HEIGHT + GAP
    sheet = Image.new("RGB", (columns * cell_w + GAP, rows * cell_h + GAP), (32, 32, 32))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for k, (tile, unit, is_dead) in enumerate(zip(tiles, units, dead, strict=True)):
        x, y = GAP + (k % columns) * cell_w, GAP + (k // columns) * cell_h
        sheet.paste(tile.convert("RGB"), (x, y))
        label, colour = f"#{unit}", (230, 230, 230)
        if is_dead:
            label, colour = f"#{unit} dead", DEAD_COLOUR
            draw.rectangle((x, y, x + width - 1, y + height - 1), outline=DEAD_COLOUR, width=3)
        draw.text((x + 2, y + height + 2), label, fill=colour, font=font)
    return sheet


@dataclass(frozen=True)
class FilterResult:
    unit: int
    image: np.ndarray  # (H, W, C) in [0, 1]
    activation: float
    quality: float | None  # activation ÷ the filter's best over real images; None: unknown
    dead: bool
    verdict: Verdict | None = None  # fine / failed / weak / dead, with the evidence


def _compute(model, summary, info, units, recipe, is_default) -> list[FilterResult]:
    """Run the atlas, printing progress; one result per unit, in the order of `units`."""
    # Deliberately lazy: TensorFlow loads only once the arguments have parsed, so --help
    # and usage errors answer at once.
    from engine.optvis.references import reference_images
    from engine.optvis.visualizer import Visualizer
    from engine.protocol import ObjectiveTerm

    shape, value_range = summary.input_shape, summary.input_range
    visualizer = Visualizer(
        model,
        shape,
        value_range,
        lambda: reference_images(is_default, shape, value_range, None),
        summary,
    )
    try:  # what the run computes in, as the visualizer resolves it (float16 on a CPU: refused)
        print(f"precision: {visualizer.precision(recipe).reason}")
    except ValueError as error:
        raise AtlasError(f"--precision {recipe.precision}: {error}") from None
    live_every = 16 * max(1, recipe.steps // 128)
    results: list[FilterResult] = []
    ticks = 0
    began = time.perf_counter()
    for chunk in visualizer.atlas(info.path, units, recipe, lambda: False, live_every):
        if not chunk.final:
            ticks += 1
            print(f"filters {len(results)}/{len(units)} · step {ticks * live_every}/{recipe.steps}")
            continue
        ticks = 0
        if chunk.activations is None or chunk.dead is None:
            raise ValueError(f"the final atlas chunk of units {chunk.units} lacks activations")
        for k, unit in enumerate(chunk.units):
            activation = float(chunk.activations[k])
            term = ObjectiveTerm(info.path, unit)
            quality = visualizer.quality([term], recipe, activation)
            from_real = chunk.from_real is not None and bool(chunk.from_real[k])
            verdict = visualizer.unit_verdict(info.path, unit, activation, from_real)
            dead = verdict.kind is VerdictKind.DEAD
            results.append(FilterResult(unit, chunk.images[k], activation, quality, dead, verdict))
        elapsed = time.perf_counter() - began
        print(f"filters {len(results)}/{len(units)} · {elapsed:.1f} s", flush=True)
    return results


def _write(out: Path, stem: str, results: list[FilterResult], report: dict) -> None:
    """The per-filter PNGs, the contact sheet and atlas.json (`report` plus the filters)."""
    tiles, entries = [], []
    for result in results:
        name = f"{stem}_{result.unit}.png"
        tile = to_png(result.image, report.get("display", DEFAULT_DISPLAY))
        tile.save(out / name)
        tiles.append(tile)
        entries.append(
            {
                "unit": result.unit,
                "file": name,
                "activation": result.activation,
                "quality": result.quality,
                "dead": result.dead,
                **_judged(result),
            }
        )
    sheet = contact_sheet(tiles, [r.unit for r in results], [r.dead for r in results])
    sheet.save(out / "contact_sheet.png")
    text = json.dumps({**report, "summary": atlas_summary(entries), "filters": entries}, indent=2)
    (out / "atlas.json").write_text(text + "\n", encoding="utf-8")


def _judged(result: FilterResult) -> dict:
    """A filter's verdict, its warning (the hint) and its image statistics, for atlas.json."""
    verdict = result.verdict
    return {
        "verdict": None if verdict is None else verdict.kind.value,
        "message": None if verdict is None else verdict.message,
        "warning": verdict.hint if verdict is not None and verdict.hint else None,
        "evidence": None if verdict is None else verdict.to_dict(),
        "high_frequency": image_stats.high_frequency_ratio(result.image),
        "saturated": image_stats.saturated_share(result.image),
    }


def atlas_summary(entries: list[dict]) -> dict:
    """Counts of each verdict, the share of live filters that beat their best real image, and
    the image statistics over the tiles."""
    kinds = [entry.get("verdict") for entry in entries]
    live = [e for e in entries if not e["dead"]]
    beat = [e for e in live if e["quality"] is not None and e["quality"] >= 1]
    return {
        "filters": len(entries),
        "verdicts": {kind.value: kinds.count(kind.value) for kind in VerdictKind},
        "live": len(live),
        "beat_best_real": len(beat),
        "beat_best_real_share": len(beat) / len(live) if live else None,
        "high_frequency": image_stats.summary([e["high_frequency"] for e in entries]),
        "saturated": image_stats.summary([e["saturated"] for e in entries]),
    }


def _cache(model, layer: tuple[str, ...], recipe: Recipe, results: list[FilterResult]) -> None:
    """Store the atlas where the window looks, so it shows this layer at once."""
    # Deliberately lazy: TensorFlow loads only once the arguments have parsed, so --help
    # and usage errors answer at once.
    from engine.optvis import atlas_cache

    weights = [w.numpy() for w in model.weights]
    key = atlas_cache.atlas_key(atlas_cache.weights_fingerprint(weights), layer, recipe)
    qualities = [np.nan if r.quality is None else r.quality for r in results]
    atlas_cache.save(
        key,
        atlas_cache.CachedAtlas(
            units=np.array([r.unit for r in results]),
            images=np.stack([r.image for r in results]),
            activations=np.array([r.activation for r in results], np.float32),
            qualities=np.array(qualities),
            dead=np.array([r.dead for r in results]),
        ),
    )


def _recipe(args: argparse.Namespace) -> Recipe:
    names = ("steps", "seed", "precision")
    overrides = {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}
    try:
        # As the window does: one image per filter, nothing pushing images apart, maximize.
        return replace(find_preset(args.preset), **overrides, batch=1, diversity=0.0, negate=False)
    except ValueError as error:
        raise AtlasError(str(error)) from None


def run(args: argparse.Namespace) -> int:
    """The atlas command with parsed arguments; AtlasError for bad input."""
    units = parse_filters(args.filters) if args.filters else None
    recipe = _recipe(args)
    out = writable_folder(args.out)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Deliberately lazy: TensorFlow loads only once the arguments have parsed, so --help
    # and usage errors answer at once.
    from engine.models.introspect import describe_model

    model, meta, label, is_default = load_model_arg(args.model, args.random_weights)
    summary = describe_model(model, meta, label)
    info = layer_arg(summary, args.layer)
    units = list(range(info.size)) if units is None else units
    if units[-1] >= info.size:
        raise AtlasError(
            f"layer {info.name!r} has {info.size} {info.kind.value} (#0 to #{info.size - 1}); "
            f"there is no #{units[-1]}"
        )
    print(f"{label}: {info.name} {len(units)} filters, {recipe.steps} steps, seed {recipe.seed}")
    results = _compute(model, summary, info, units, recipe, is_default)
    report = {
        "model": args.model,
        "model_label": label,
        "layer": str(LayerPath(info.path)),
        "input_shape": list(summary.input_shape),
        "input_range": list(summary.input_range),
        "recipe": recipe.to_dict(),
        "seed": recipe.seed,
        "display": args.display,  # how the PNGs were normalized (DISPLAY_MODES)
    }
    _write(out, "_".join(info.path), results, report)
    if not args.no_cache:
        _cache(model, info.path, recipe, results)
    live = [r for r in results if not r.dead]
    good = sum(1 for r in live if r.quality is not None and r.quality >= 1)
    for result in results:  # headless users see the warnings the window would show
        verdict = result.verdict
        if verdict is not None and verdict.kind in (VerdictKind.FAILED, VerdictKind.WEAK):
            print(f"#{result.unit} {verdict.message}; {verdict.hint or 'see atlas.json'}")
    print(
        f"{len(results)} filters, {len(results) - len(live)} dead, {good} of {len(live)} live "
        f"reach quality ≥ 1; wrote {out}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """The `atlas` command; returns the exit status (1 with a message on stderr on bad input)."""
    try:
        return run(_parse(sys.argv[1:] if argv is None else argv))
    except (AtlasError, ValueError) as error:  # the engine's ValueErrors name the bad value
        print(f"convscope atlas: error: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        message = _memory_message(error)
        if message is None:
            raise
        print(f"convscope atlas: error: {message}", file=sys.stderr)
        return 1


def _memory_message(error: Exception) -> str | None:
    """What ran out and what to try, when `error` is running out of memory; else None."""
    if "tensorflow" not in sys.modules:  # TensorFlow's errors exist only once it has loaded
        return (str(error) or "Out of memory.") if isinstance(error, MemoryError) else None
    from engine.failures import failure_kind, user_message
    from engine.protocol import FailureKind

    return user_message(error) if failure_kind(error) is FailureKind.MEMORY else None
