"""Well-known ImageNet classifiers from keras.applications, wrapped to take plain RGB pixels.

Every zoo model is `Input (RGB, 0-255) → a fixed preprocessing front → the keras.applications
model as a nested sub-model (e.g. "vgg16")`, named `zoo_<name>`. The front is made of ordinary,
serializable layers (no Lambda): a 1×1 convolution with fixed weights for Caffe-style channel
reversal and mean subtraction, `Rescaling` for the [-1, 1] family. So the rest of convscope can
treat every zoo model like any other model whose input range is (0, 255), and a zoo model saved
to a .keras file loads back without custom objects.

At the architecture's default input size the model is the original classifier
(`include_top=True`). At any other size the base is built with `include_top=False,
pooling="avg"` and followed by a fresh `Dense(1000, softmax)` named "predictions": its weights
are random even when the base has ImageNet weights (the original top only fits the default
size). That path exists mainly to build small models quickly (tests).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras

from engine.models.meta import ModelLoadError, ModelMeta, WeightsUnavailableError
from engine.models.preprocessing import front_layers
from engine.models.weights_download import (
    REPORT_EVERY_S,
    WEIGHTS,
    DownloadCancelled,
    ensure_weights,
    is_cached,
)
from engine.protocol import DownloadProgress, LoadComparison, LoadModel, Status
from engine.protocol.input_spec import InputPreprocessing

PREFIX = "zoo:"
UNTRAINED = "untrained (random weights)"
CLASS_INDEX_URL = (
    "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
)
# The class names, offline; see scripts/make_imagenet_classes.py.
CLASS_NAMES_FILE = Path(__file__).resolve().parents[2] / "resources" / "imagenet_classes.json"
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)
FAMILIES = ("caffe", "tf", "torch", "none")


@dataclass(frozen=True)
class ZooEntry:
    """One architecture: its keras.applications constructor and what its input must be."""

    name: str  # as shown to the user, e.g. "ResNet50"
    constructor: str  # the keras.applications attribute
    size: int  # default (ImageNet-trained) input side
    min_size: int  # smallest side the architecture accepts
    family: str  # preprocessing: "caffe", "tf", "torch" or "none"


ZOO: dict[str, ZooEntry] = {
    entry.name: entry
    for entry in (
        ZooEntry("VGG16", "VGG16", 224, 32, "caffe"),
        ZooEntry("VGG19", "VGG19", 224, 32, "caffe"),
        ZooEntry("ResNet50", "ResNet50", 224, 32, "caffe"),
        ZooEntry("MobileNetV2", "MobileNetV2", 224, 32, "tf"),
        ZooEntry("InceptionV3", "InceptionV3", 299, 75, "tf"),
        ZooEntry("Xception", "Xception", 299, 71, "tf"),
        ZooEntry("DenseNet121", "DenseNet121", 224, 32, "torch"),
        ZooEntry("EfficientNetB0", "EfficientNetB0", 224, 32, "none"),
        ZooEntry("ConvNeXtTiny", "ConvNeXtTiny", 224, 32, "none"),
    )
}


def zoo_entry(name: str) -> ZooEntry | None:
    """The entry `name` means ("zoo:ResNet50", "resnet50", …), or None."""
    key = name[len(PREFIX) :] if name.lower().startswith(PREFIX) else name
    key = key.strip().lower()
    return next((entry for entry in ZOO.values() if entry.name.lower() == key), None)


def _entry_or_error(name: str) -> ZooEntry:
    entry = zoo_entry(name)
    if entry is None:
        raise ValueError(f"there is no zoo model {name!r}; known: {', '.join(ZOO)}")
    return entry


# ----------------------------------------------------------------------------- preprocessing


def preprocessing_layers(family: str) -> list[keras.layers.Layer]:
    """Frozen layers mapping RGB pixels in [0, 255] to what `family` expects."""
    if family not in FAMILIES:
        raise ValueError(f"unknown preprocessing family {family!r}; known: {', '.join(FAMILIES)}")
    if family == "tf":
        return [keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="preprocess_tf")]
    spec = {
        "caffe": InputPreprocessing.caffe(),
        "torch": InputPreprocessing.mean_std(TORCH_MEAN, TORCH_STD),
        "none": InputPreprocessing.value_range(0, 255),
    }[family]
    return front_layers(spec, 3)  # the same frozen 1×1 convolutions a model file can ask for


# ----------------------------------------------------------------------------- building


def build_zoo_model(
    name: str, weights: str | None = "imagenet", input_size: int | None = None
) -> keras.Model:
    """The zoo classifier `name`, wrapped to take RGB pixels in [0, 255] (see the module doc).

    `weights` is "imagenet" (downloaded into ~/.keras by Keras, raises on failure) or None.
    """
    entry = _entry_or_error(name)
    if weights not in ("imagenet", None):
        raise ValueError(f"weights={weights!r}: expected 'imagenet' or None")
    size = entry.size if input_size is None else int(input_size)
    if size < entry.min_size:
        raise ValueError(f"input_size {size} is below {entry.name}'s minimum of {entry.min_size}")
    constructor = getattr(keras.applications, entry.constructor)
    shape = (size, size, 3)
    if size == entry.size:
        base = constructor(include_top=True, weights=weights, input_shape=shape)
        head = None
    else:
        base = constructor(include_top=False, weights=weights, input_shape=shape, pooling="avg")
        head = keras.layers.Dense(1000, activation="softmax", name="predictions")
    inputs = keras.Input(shape, name="pixels")
    x = inputs
    for layer in preprocessing_layers(entry.family):
        layer.trainable = False
        x = layer(x)
    x = base(x)
    if head is not None:
        x = head(x)
    return keras.Model(inputs, x, name=f"zoo_{entry.name.lower()}")


# ----------------------------------------------------------------------------- loading


def imagenet_class_names() -> tuple[str, ...] | None:
    """The 1000 ImageNet class names in Keras's class order ("tabby cat" for class 281).

    They ship in resources/imagenet_classes.json (made by scripts/make_imagenet_classes.py from
    timm's package data), so they need no network; a missing or broken file falls back to
    Keras's class index (cached, else downloaded) and then to None.
    """
    try:
        names = json.loads(CLASS_NAMES_FILE.read_text(encoding="utf-8"))["names"]
        if len(names) == 1000:
            return tuple(str(name) for name in names)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # a damaged checkout: try Keras's copy
    return _keras_class_names()


def _keras_class_names() -> tuple[str, ...] | None:
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Keras prints "Downloading data from …"
            path = keras.utils.get_file(
                "imagenet_class_index.json",
                CLASS_INDEX_URL,
                cache_subdir="models",
                file_hash="c2c37ea517e94d9795004a39431a14cb",
            )
        index = json.loads(Path(path).read_text(encoding="utf-8"))
        return tuple(str(index[str(k)][1]) for k in range(1000))
    except Exception:  # offline, a broken cache file: the caller falls back to numbers
        return None


def load_zoo(name: str, random_weights: bool = False) -> tuple[keras.Model, ModelMeta, str]:
    """(model, meta, label) for the zoo model `name`, like `model_io.load_model`.

    Raises ModelLoadError for an unknown name or when the ImageNet weights cannot be had.
    """
    entry = zoo_entry(name)
    if entry is None:
        raise ModelLoadError(f"{name!r} is not a zoo model; the zoo has {', '.join(ZOO)}")
    label = f"{PREFIX}{entry.name}" + (" (random weights)" if random_weights else "")
    if random_weights:
        model = build_zoo_model(entry.name, weights=None)
    else:
        # Our own download (the engine thread has usually done it, with progress and Cancel)
        # gives a clear message offline and leaves no partial file; Keras then finds the
        # checked file in its cache and downloads nothing.
        ensure_weights(entry.name)
        try:
            with contextlib.redirect_stdout(sys.stderr):  # keep stdout for a command's output
                model = build_zoo_model(entry.name, weights="imagenet")
        except Exception as error:  # e.g. a Keras that wants another file than WEIGHTS says
            reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
            raise WeightsUnavailableError(
                f"{entry.name} could not be built with its ImageNet weights: {reason}. "
                "Open it with random weights instead (--random-weights, or "
                f"Model › Zoo › {entry.name} (random weights))"
            ) from None
    parts = [f"{entry.name} from keras.applications"]
    parts.append(UNTRAINED if random_weights else "ImageNet weights")
    names = imagenet_class_names()
    if names is None:
        names = tuple(f"class {k}" for k in range(1000))
        parts.append("ImageNet class names unavailable (offline?): classes are numbered")
    meta = ModelMeta(
        class_names=names,
        input_range=(0.0, 255.0),
        description="; ".join(parts),
        untrained=random_weights,
    )
    return model, meta, label


# ----------------------------------------------------------------------------- for the engine


def fetch_weights_for(
    request: LoadModel | LoadComparison,
    emit: Callable[[object], None],
    should_stop: Callable[[], bool],
) -> bool:
    """Before loading `request` (model A, or model B of a comparison), download its ImageNet
    weights if it needs them and they are not cached, emitting DownloadProgress; False when the
    user cancelled (nothing changed)."""
    entry = zoo_entry(request.path) if isinstance(request.path, str) else None
    is_zoo = isinstance(request.path, str) and request.path.lower().startswith("zoo:")
    if not is_zoo or entry is None or request.random_weights or entry.name not in WEIGHTS:
        return True  # load_zoo reports an unknown name itself
    if is_cached(WEIGHTS[entry.name]):
        return True
    what = f"ImageNet weights for {entry.name}"
    emit(Status(f"Downloading {what}…", busy=True))
    reported_at, done_bytes, total_bytes = 0.0, 0, 0  # when the last report went; the counts

    def report(done: int, total: int) -> None:
        nonlocal reported_at, done_bytes, total_bytes
        done_bytes, total_bytes = done, total
        now = time.monotonic()
        if now - reported_at >= REPORT_EVERY_S:
            reported_at = now
            emit(DownloadProgress(request.request_id, what, done, total))

    try:
        ensure_weights(entry.name, report, should_stop)
    except DownloadCancelled:
        kept = (
            "model B stays as it was"
            if isinstance(request, LoadComparison)
            else ("the current model stays open")
        )
        emit(Status(f"Download of the {what} cancelled; {kept}"))
        return False
    except ModelLoadError as error:
        # The window offers the same architecture with random weights on this kind of failure.
        raise WeightsUnavailableError(str(error)) from None
    # The last counts, unthrottled.
    emit(DownloadProgress(request.request_id, what, done_bytes, total_bytes))
    return True
