"""What the headless commands (`atlas`, `explain`) share: argument errors, loading a model by
name or path, checking a layer and an output folder, all before or without a window."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from engine.models.weights_download import ensure_weights
from engine.protocol import LayerKind

# keras.applications families trained on inputs in [-1, 1]; the others take 0-255 pixels
# (their own preprocessing layers, or Caffe-style mean subtraction, which is close enough).
_MINUS_ONE_TO_ONE = (
    "MobileNet", "MobileNetV2", "InceptionV3", "InceptionResNetV2", "Xception",
    "NASNetLarge", "NASNetMobile", "ResNet50V2", "ResNet101V2", "ResNet152V2",
)  # fmt: skip


class CliError(Exception):
    """Bad input to a headless command; the message is meant for the user."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # exit 1 with our own wording instead of argparse's 2
        raise CliError(message)


def writable_folder(path: str) -> Path:
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise CliError(f"cannot write to --out {path!r}: {error.strerror or error}") from None
    return folder


def load_model_arg(name: str, random_weights: bool = False):
    """(model, meta, label, is_default) for 'default', a file, a zoo name ("zoo:ResNet50" or
    "ResNet50", any case; untrained with `random_weights`) or another keras.applications name."""
    # Deliberately lazy: TensorFlow loads only once the arguments have parsed, so --help
    # and usage errors answer at once.
    from engine.models.loading import load_model
    from engine.models.meta import ModelLoadError, ModelMeta
    from engine.models.preprocessing import with_preprocessing
    from engine.models.zoo import load_zoo, zoo_entry

    is_default = name.lower() in ("default", "builtin", "built-in")
    if (zoo_entry(name) or name.lower().startswith("zoo:")) and not Path(name).exists():
        entry = zoo_entry(name)
        try:
            if entry is not None and not random_weights:
                _download_with_progress(entry.name)
            model, meta, label = load_zoo(name, random_weights=random_weights)
        except ModelLoadError as error:
            raise CliError(str(error)) from None
        return model, meta, label, False
    if is_default or Path(name).suffix or os.sep in name or Path(name).exists():
        try:
            model, meta, label = load_model(None if is_default else name)
            if meta.preprocessing is not None:
                # The sidecar's Caffe or mean/std preprocessing, as the window applies it.
                model = with_preprocessing(model, meta.preprocessing)
        except (ModelLoadError, ValueError) as error:
            raise CliError(f"{error}") from None
        return model, meta, label, is_default
    import keras

    constructor = getattr(keras.applications, name, None)
    if not callable(constructor):
        raise CliError(
            f"--model {name!r} is neither 'default', a .keras/.h5 file, "
            "nor a keras.applications model such as VGG16 or zoo:ResNet50"
        )
    try:
        model = constructor(weights=None if random_weights else "imagenet")
    except Exception as error:  # a failed download surfaces as a bare Exception from get_file
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        raise CliError(
            f"could not download ImageNet weights for {name} (offline?); "
            f"pass a model file instead [{reason}]"
        ) from None
    value_range = (-1.0, 1.0) if name in _MINUS_ONE_TO_ONE else (0.0, 255.0)
    return model, ModelMeta(input_range=value_range), name, False


def _download_with_progress(model_name: str) -> None:
    """Fetch a zoo model's ImageNet weights (if not cached), with a progress line on stderr."""
    terminal = sys.stderr.isatty()
    shown = {"at": 0.0, "lines": 0, "tenth": -1}

    def progress(done: int, total: int) -> None:
        # On a terminal one line counts up (4 times a second at most); in a log, a line per
        # tenth of the file, or per 50 MB when the server does not give the size.
        tenth = 10 * done // total if total else done // 50_000_000
        now = time.monotonic()
        last = total and done >= total
        if (now - shown["at"] < 0.25 and not last) if terminal else tenth == shown["tenth"]:
            return
        shown.update(at=now, tenth=tenth, lines=shown["lines"] + 1)
        size = f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        end = "\r" if terminal else "\n"
        print(f"downloading ImageNet weights for {model_name}: {size}", end=end, file=sys.stderr)

    ensure_weights(model_name, progress)
    if shown["lines"] and terminal:
        print(file=sys.stderr)  # end the line that counted up


def add_random_weights(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--random-weights",
        action="store_true",
        help="build a zoo/keras.applications model untrained (no ImageNet download)",
    )


def add_precision(parser: argparse.ArgumentParser, float32_only: str | None = None) -> None:
    """`--precision`: what the model computes in. A command whose numbers are float32-only
    (`float32_only` says why) accepts auto and float32 and refuses the rest."""
    from engine.protocol.recipe import PRECISIONS

    note = (
        f" This command computes in float32 ({float32_only}): auto means float32."
        if float32_only
        else " auto: bfloat16 where the CPU has AVX512_BF16/AMX, float16 on a GPU, else float32."
    )
    parser.add_argument(
        "--precision", default="auto", choices=PRECISIONS, help="model arithmetic." + note
    )


def precision_arg(requested: str, float32_only: str):
    """The Precision of a command that computes in float32 only (`float32_only` says why),
    printed; CliError for any `--precision` but auto and float32."""
    from engine.protocol.precision import Precision

    if requested not in ("auto", "float32"):
        raise CliError(
            f"--precision {requested}: this command computes in float32 only ({float32_only})"
        )
    picked = Precision(requested, "float32", f"float32: {float32_only}")
    print(f"precision: {picked.reason}")
    return picked


def layer_arg(summary, name: str):
    info = summary.resolve(tuple(name.split("/")))  # a bare name reaches into nested models
    if info is None:
        names = ", ".join(lay.name for lay in summary.walk() if lay.visualizable)
        raise CliError(f"the model has no layer {name!r}; layers with filters: {names}")
    if info.kind is LayerKind.NONE:
        raise CliError(
            f"layer {info.name!r} ({info.type_name}) has output shape {info.output_shape}: "
            "it has no channels or units to show. Pick a convolution, pooling or Dense layer."
        )
    return info
