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
from PIL import Image

from engine.cli.common import (
    CliError,
    Parser,
    add_random_weights,
    layer_arg,
    load_model_arg,
    writable_folder,
)
from engine.images.convert import ImageError, check_image_path, shown_name
from engine.protocol import EXPLAIN_METHODS

MIN_SIDE = 256  # PNGs are upscaled (nearest neighbour) to at least this on their short side
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
    parser.add_argument("--out", required=True, help="folder for the PNGs and the .npy")
    return parser.parse_args(argv)


def colorize(heatmap: np.ndarray, signed: bool) -> np.ndarray:
    """(H, W) raw map → (H, W, 3) uint8: hot colours for unsigned maps, red/blue for signed."""
    values = np.nan_to_num(np.asarray(heatmap, dtype=np.float64))
    if signed:
        scale = np.abs(values).max() or 1.0
        t = values / scale  # -1 .. 1
        red = np.where(t > 0, 1.0, 1.0 + t)
        blue = np.where(t < 0, 1.0, 1.0 - t)
        green = 1.0 - np.abs(t)
        rgb = np.stack([red, green, blue], axis=-1)
    else:
        low, high = values.min(), values.max()
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
    # Deliberately lazy: TensorFlow loads only once the arguments have parsed, so --help
    # and usage errors answer at once.
    from engine.attribution import Target, explain
    from engine.images.convert import convert_image, read_image
    from engine.models.introspect import describe_model

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
    predicted = int(np.argmax(outputs))
    if unit_layer is not None:
        target = Target(unit_layer=unit_layer, unit=unit)
    else:
        chosen = predicted if args.target_class is None else args.target_class
        if not 0 <= chosen < outputs.shape[-1]:
            raise CliError(f"--class {chosen}: the model has {outputs.shape[-1]} classes")
        target = Target(class_index=chosen)
    started = time.perf_counter()
    try:
        low, high = meta.input_range
        result = explain(
            model,
            converted.pixels,
            args.method,
            target,
            layer=layer,
            options={"low": low, "high": high},
        )
    except ValueError as error:
        raise CliError(str(error)) from None
    seconds = time.perf_counter() - started
    colours = colorize(result.heatmap, result.signed)
    stem = args.method.replace("+", "p")
    np.save(out / f"{stem}.npy", result.heatmap.astype(np.float32))
    _png(colours).save(out / f"{stem}_heatmap.png")
    _png(overlay(converted.display, colours)).save(out / f"{stem}_overlay.png")
    report = {
        "model": label,
        "image": str(image_path),
        "method": args.method,
        "class": target.class_index,
        "predicted": predicted,
        "unit": None if unit_layer is None else {"layer": "/".join(unit_layer), "channel": unit},
        "layer": None if result.layer is None else "/".join(result.layer),
        "signed": result.signed,
        "seconds": round(seconds, 4),
        "notes": list(converted.notes),
    }
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"{args.method}: wrote {stem}_heatmap.png, {stem}_overlay.png, {stem}.npy to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(_parse(sys.argv[1:] if argv is None else argv))
    except CliError as error:
        print(f"convscope explain: error: {error}", file=sys.stderr)
        return 1
