"""`python main.py explain`: an attribution map without a window, written to a folder.

Writes `<method>_heatmap.png` (the map alone, coloured), `<method>_overlay.png` (over the image)
and `<method>.npy` (the raw map), so results can be scripted into reports.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from engine.cli.common import (
    CliError,
    Parser,
    add_precision,
    add_random_weights,
    layer_arg,
    load_model_arg,
    precision_arg,
    writable_folder,
)
from engine.images.convert import ImageError, check_image_path, shown_name
from engine.protocol import EXPLAIN_METHODS
from engine.protocol.json_values import explain_settings, json_ready

MIN_SIDE = 256  # PNGs are upscaled (nearest neighbour) to at least this on their short side
ORIGINAL_MAX_SIDE = 2048  # the overlay on the original photo, at most this on its long side
# Attribution maps are compared against predictions and saved as numbers: not in bfloat16.
EXPLAIN_FLOAT32 = "its maps and scores are compared as float32 numbers"
OVERLAY_OPACITY = 0.5


def _parse(argv: list[str]):
    parser = Parser(prog="convscope explain", description="Explain one image's prediction.")
    parser.add_argument(
        "--model",
        default="default",
        help="'default', a .keras/.h5 file, a SavedModel folder, zoo:VGG16",
    )
    add_random_weights(parser)
    parser.add_argument("--image", required=True, help="the image to explain")
    parser.add_argument("--method", required=True, choices=EXPLAIN_METHODS)
    parser.add_argument("--class", dest="target_class", type=int, help="class (default: the top)")
    parser.add_argument("--unit", help="explain an inner unit instead: LAYER:CHANNEL")
    parser.add_argument("--layer", help="conv layer for the CAM methods (default: the last)")
    parser.add_argument(
        "--score",
        choices=("logit", "probability"),
        default="logit",
        help="what a class's map explains: its logit (default) or its probability",
    )
    parser.add_argument(
        "--position", help="for a map output (fully convolutional): score at ROW,COL, not the mean"
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a method setting, e.g. patch=8, stride=4, n_segments=30, fill=0, samples=500",
    )
    parser.add_argument(
        "--on-original",
        action="store_true",
        help="also draw the map over the original photo at its own size",
    )
    add_precision(parser, EXPLAIN_FLOAT32)
    parser.add_argument("--out", required=True, help="folder for the PNGs and the .npy")
    return parser.parse_args(argv)


def colorbar_png(heatmap: np.ndarray, signed: bool, height: int = MIN_SIDE) -> Image.Image:
    """The colours of `colorize` from the map's highest raw value (top) to its lowest, with
    those values written beside the bar (0 in the middle of a signed map's)."""
    values = np.nan_to_num(np.asarray(heatmap, dtype=np.float64))
    top = float(np.abs(values).max()) if signed else float(values.max())
    bottom = -top if signed else float(values.min())
    ramp = np.linspace(top, bottom, height)[:, None].repeat(16, axis=1)
    if not signed and top <= bottom:
        ramp = np.linspace(1.0, 0.0, height)[:, None].repeat(16, axis=1)  # a flat map: a ramp
    bar = colorize(ramp, signed)
    paper = Image.new("RGB", (90, height), (255, 255, 255))
    paper.paste(Image.fromarray(bar), (4, 0))
    draw = ImageDraw.Draw(paper)
    labels = [(0, top), (height - 12, bottom)] + ([(height // 2 - 6, 0.0)] if signed else [])
    for row, value in labels:
        draw.text((24, row), f"{value:.3g}", fill=(0, 0, 0))
    return paper


def on_original(image_path: Path, heatmap: np.ndarray, signed: bool) -> Image.Image:
    """The map over the original photo at the photo's own size: the model input is the photo
    resized (engine/images/convert.py), so the map goes back by the inverse resize."""
    from engine.images.convert import read_image

    photo = read_image(image_path).convert("RGB")
    scale = min(1.0, ORIGINAL_MAX_SIDE / max(photo.size))  # a 20-megapixel photo needs no more
    size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
    photo = photo.resize(size, Image.Resampling.LANCZOS) if scale < 1.0 else photo
    raw = Image.fromarray(np.asarray(heatmap, dtype=np.float32), mode="F")
    resized = np.asarray(raw.resize(size, Image.Resampling.BILINEAR))
    base = np.asarray(photo, dtype=np.float64) / 255.0
    # Coloured on the model-size map's range, so the colorbar holds for this picture too.
    values = np.nan_to_num(np.asarray(heatmap, dtype=np.float64))
    span = (float(values.min()), float(values.max()))
    return Image.fromarray(overlay(base, colorize(resized, signed, span)))


def _options(pairs: list[str]) -> dict[str, float]:
    """--option KEY=VALUE pairs as the method's options; CliError naming a bad one."""
    options: dict[str, float] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        try:
            options[key.strip()] = float(value)
        except ValueError:
            raise CliError(f"--option {pair!r}: expected KEY=NUMBER, e.g. patch=8") from None
        if not key.strip():
            raise CliError(f"--option {pair!r}: expected KEY=NUMBER, e.g. patch=8")
    return options


def _position(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    row, _, column = text.partition(",")
    if not (row.strip().isdigit() and column.strip().isdigit()):
        raise CliError(f"--position {text!r}: expected ROW,COL, e.g. 3,4")
    return int(row), int(column)


def colorize(
    heatmap: np.ndarray, signed: bool, span: tuple[float, float] | None = None
) -> np.ndarray:
    """(H, W) raw map → (H, W, 3) uint8: hot colours for unsigned maps, red/blue for signed;
    scaled to `span` (low, high) when given (another map's range), else to the map's own."""
    values = np.nan_to_num(np.asarray(heatmap, dtype=np.float64))
    if span is not None:
        values = np.clip(values, *span)
    if signed:
        scale = (max(abs(span[0]), abs(span[1])) if span else np.abs(values).max()) or 1.0
        t = values / scale  # -1 .. 1
        red = np.where(t > 0, 1.0, 1.0 + t)
        blue = np.where(t < 0, 1.0, 1.0 - t)
        green = 1.0 - np.abs(t)
        rgb = np.stack([red, green, blue], axis=-1)
    else:
        low, high = span if span is not None else (values.min(), values.max())
        t = (values - low) / (high - low) if high > low else np.zeros_like(values)
        # black → red → yellow → white: readable on screen and in grey print
        rgb = np.stack(
            [np.clip(3 * t, 0, 1), np.clip(3 * t - 1, 0, 1), np.clip(3 * t - 2, 0, 1)], -1
        )
    return (rgb * 255).round().astype(np.uint8)


def overlay(image: np.ndarray, colours: np.ndarray, opacity: float = OVERLAY_OPACITY) -> np.ndarray:
    """The coloured map blended over an (H, W, C) [0, 1] image, as uint8 RGB."""
    base = np.asarray(image, dtype=np.float64)
    if base.shape[-1] == 1:
        base = np.repeat(base, 3, axis=-1)
    mixed = (1 - opacity) * base * 255 + opacity * colours.astype(np.float64)
    return mixed.round().clip(0, 255).astype(np.uint8)


def _png(rgb: np.ndarray) -> Image.Image:
    factor = max(1, -(-MIN_SIDE // min(rgb.shape[:2])))
    return Image.fromarray(np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1))


def run(args) -> int:
    """The explain command with parsed arguments; CliError for bad input."""
    out = writable_folder(args.out)
    precision_arg(args.precision, EXPLAIN_FLOAT32)
    image_path = Path(args.image)
    try:  # before TensorFlow loads: a folder or /dev/zero is answered at once
        check_image_path(image_path)
    except ImageError as error:
        raise CliError(f"--image: {error}") from None
    unit_layer: tuple[str, ...] | None = None
    unit = 0  # the channel of unit_layer, when there is one
    if args.unit:
        name, _, channel = args.unit.rpartition(":")
        if not name or not channel.isdigit():
            raise CliError(f"--unit {args.unit!r}: expected LAYER:CHANNEL, e.g. conv3:5")
        unit_layer, unit = tuple(name.split("/")), int(channel)
    options, position = _options(args.option), _position(args.position)
    # Deliberately lazy: TensorFlow loads only once the arguments have parsed, so --help
    # and usage errors answer at once.
    from engine.attribution import Target, explain
    from engine.images.convert import convert_image, read_image
    from engine.models.introspect import describe_model
    from engine.models.predictions import class_scores

    model, meta, label, _ = load_model_arg(args.model, args.random_weights)
    summary = describe_model(model, meta, label)
    layer = layer_arg(summary, args.layer).path if args.layer else None
    if unit_layer is not None:
        info = layer_arg(summary, "/".join(unit_layer))
        if not 0 <= unit < info.size:
            raise CliError(f"layer {info.name!r} has {info.size} {info.kind.value}; no #{unit}")
    try:
        converted = convert_image(read_image(image_path), summary.input_shape, meta.input_range)
    except ImageError as error:
        raise CliError(str(error)) from None
    for note in converted.notes:
        print(f"{shown_name(image_path.name)}: {note}", file=sys.stderr)
    outputs = model(converted.pixels[None], training=False).numpy()[0]
    if not np.isfinite(outputs).all():  # argmax of NaN is 0: never report that as a prediction
        raise CliError(f"the model's outputs for {shown_name(image_path.name)} are NaN or infinite")
    scores = class_scores(outputs)  # a map output: one score per channel, its spatial mean
    predicted = int(np.argmax(scores))
    if unit_layer is not None:
        target = Target(unit_layer=unit_layer, unit=unit)
    else:
        chosen = predicted if args.target_class is None else args.target_class
        if not 0 <= chosen < len(scores):
            what = "output channels (its classes)" if outputs.ndim == 3 else "classes"
            raise CliError(f"--class {chosen}: the model has {len(scores)} {what}")
        try:
            target = Target(class_index=chosen, score=args.score, position=position)
        except ValueError as error:
            raise CliError(str(error)) from None
    started = time.perf_counter()
    try:
        low, high = meta.input_range
        result = explain(
            model,
            converted.pixels,
            args.method,
            target,
            layer=layer,
            options={"low": low, "high": high, **options},
        )
    except ValueError as error:
        raise CliError(str(error)) from None
    seconds = time.perf_counter() - started
    colours = colorize(result.heatmap, result.signed)
    stem = args.method.replace("+", "p")
    np.save(out / f"{stem}.npy", result.heatmap.astype(np.float32))
    _png(colours).save(out / f"{stem}_heatmap.png")
    _png(overlay(converted.display, colours)).save(out / f"{stem}_overlay.png")
    colorbar_png(result.heatmap, result.signed).save(out / f"{stem}_colorbar.png")
    written = [f"{stem}_heatmap.png", f"{stem}_overlay.png", f"{stem}_colorbar.png"]
    if args.on_original:
        on_original(image_path, result.heatmap, result.signed).save(
            out / f"{stem}_overlay_original.png"
        )
        written.append(f"{stem}_overlay_original.png")
    if result.warning:
        print(f"warning: {result.warning}", file=sys.stderr)
    report = {
        "model": label,
        "image": str(image_path),
        "method": args.method,
        "class": target.class_index,
        "predicted": predicted,
        "unit": None if unit_layer is None else {"layer": "/".join(unit_layer), "channel": unit},
        "layer": None if result.layer is None else "/".join(result.layer),
        "signed": result.signed,
        "score": result.score,
        "position": None if target.position is None else list(target.position),
        "verdict": result.verdict,
        "warning": result.warning,
        "check": json_ready(result.details.get("check")),
        "options": options,
        "files": [*written, f"{stem}.npy"],
        "settings": explain_settings(result.details),
        "range": [float(np.nanmin(result.heatmap)), float(np.nanmax(result.heatmap))],
        "seconds": round(seconds, 4),
        "notes": list(converted.notes),
    }
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"{args.method}: wrote {', '.join(written)}, {stem}.npy to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(_parse(sys.argv[1:] if argv is None else argv))
    except CliError as error:
        print(f"convscope explain: error: {error}", file=sys.stderr)
        return 1
