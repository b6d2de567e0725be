"""What every model loader shares: where the built-in model lives, the sidecar, the error."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from engine.protocol.input_spec import InputPreprocessing

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL_PATH = REPO_ROOT / "resources" / "models" / "mnist_cnn.keras"
DEFAULT_MODEL_LABEL = "built-in default model (MNIST CNN)"
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


class ModelLoadError(Exception):
    """A model file could not be used; the message is meant for the user."""


class UntrustedFileError(ModelLoadError):
    """The file holds Python code (a Lambda layer): it loads only if the user trusts it."""


class WeightsUnavailableError(ModelLoadError):
    """A zoo model's ImageNet weights could not be had (offline, damaged, refused)."""


@dataclass(frozen=True)
class ModelMeta:
    """What a sidecar JSON says about a model's input and classes (defaults when absent)."""

    class_names: tuple[str, ...] = ()
    input_range: tuple[float, float] = (0.0, 1.0)
    description: str = ""
    # What the sidecar says the pixels need; None when nothing says (the window then asks).
    preprocessing: InputPreprocessing | None = None
    untrained: bool = False  # a zoo architecture built with random weights
    signature_only: bool = False  # a SavedModel wrapped around its serving signature
    file_bytes: int = field(default=0, compare=False)  # the file's size (0: a folder, the zoo)


def read_sidecar(model_path: Path) -> ModelMeta:
    """The `<stem>.json` beside a model file; a missing or broken sidecar gives the defaults."""
    sidecar = model_path.with_suffix(".json")
    if not sidecar.is_file():
        return ModelMeta()
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        stated = data.get("input")
        preprocessing = None if stated is None else InputPreprocessing.from_json(stated)
        names = data.get("class_names", ())
        if isinstance(names, str):
            raise TypeError(f"class_names is the string {names!r}, not a list")
        return ModelMeta(
            class_names=tuple(str(name) for name in names),
            input_range=(preprocessing or InputPreprocessing()).input_range,
            description=str(data.get("description", "")),
            preprocessing=preprocessing,
        )
    except (OSError, ValueError, TypeError, AttributeError):
        # A sidecar is a convenience: a broken one must not stop the model from loading.
        return ModelMeta()
