"""Loading models and their sidecars, with errors a user can act on."""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path

import h5py
import keras

from engine.models.custom_classes import quiet_legacy_load, unknown_classes
from engine.models.keras2_layers import KERAS2_LAYERS
from engine.models.meta import (
    DEFAULT_MODEL_LABEL,
    DEFAULT_MODEL_PATH,
    MODEL_SUFFIXES,
    ModelLoadError,
    ModelMeta,
    read_sidecar,
)
from engine.models.savedmodel import check_folder, keras3_readable_h5, load_saved_model
from engine.models.trust import check_model_file
from engine.models.zoo import load_zoo
from engine.optvis.memory import (
    LOAD_PEAK_FACTOR,
    NotEnoughMemory,
    available_bytes,
    gigabytes,
)


def _check_container(model_path: Path, label: str) -> None:
    """Refuse a file that is not even the right kind of archive, in words a user can act on.

    Keras says "File not found" for a .keras file that is not a zip, and speaks of a "file
    signature" for an .h5 file that is not HDF5.
    """
    suffix = model_path.suffix.lower()
    if suffix == ".keras" and not zipfile.is_zipfile(model_path):
        raise ModelLoadError(
            f"{label} is not a Keras model: a .keras file is a zip archive and this one is not. "
            "It may be damaged (an interrupted download?) or another kind of file renamed."
        )
    if suffix in (".h5", ".hdf5") and not h5py.is_hdf5(model_path):
        raise ModelLoadError(
            f"{label} is not a Keras model: a {suffix} file is an HDF5 file and this one is not. "
            "It may be damaged (an interrupted download?) or another kind of file renamed."
        )


def _check_image_model(model: keras.Model, label: str) -> None:
    """Refuse what convscope cannot show: one image input (any channel count) and one output."""
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise ModelLoadError(
            f"{label} has no defined input shape; build it with keras.Input before saving"
        )
    if len(inputs) != 1:
        raise ModelLoadError(
            f"{label} has {len(inputs)} inputs; convscope works with models that take one image "
            "input (batch, height, width, channels)"
        )
    outputs = getattr(model, "outputs", None) or []
    if len(outputs) > 1:
        raise ModelLoadError(
            f"{label} has {len(outputs)} outputs; convscope works with models that have one "
            "output (class scores or a feature map). Save the part you want to study as its "
            "own model, e.g. keras.Model(model.inputs, model.outputs[0])"
        )
    shape = tuple(inputs[0].shape)
    if len(shape) != 4:
        raise ModelLoadError(
            f"{label} expects input shape {shape}; convscope needs images "
            "(batch, height, width, channels)"
        )
    # Any channel count opens: engine.images.channels says how a picture fills 2, 4 or more
    # channels.
    if shape[-1] is None or shape[-1] < 1:
        raise ModelLoadError(
            f"{label} expects input shape {shape}, with no fixed channel count; convscope needs "
            "to know how many channels an image has (1 greyscale, 3 RGB, or any other number)"
        )


def check_room_to_load(model_path: Path, label: str) -> None:
    """Refuse, before loading, a model file that would need more memory than is free."""
    needed = LOAD_PEAK_FACTOR * model_path.stat().st_size
    free = available_bytes()
    if free is not None and needed > free:
        raise NotEnoughMemory(
            f"{label} ({gigabytes(model_path.stat().st_size)}) needs about {gigabytes(needed)} "
            f"of memory to open (models peak at about {LOAD_PEAK_FACTOR}x their file size while "
            f"loading); about {gigabytes(free)} is free. Close other programs, or set "
            "CONVSCOPE_MEMORY_BUDGET if more is free than convscope sees."
        )


def load_model(
    path: str | Path | None, *, random_weights: bool = False, trusted: bool = False
) -> tuple[keras.Model, ModelMeta, str]:
    """Load a Keras model file (None: the built-in default) and check it takes images.

    A string "zoo:NAME" builds a keras.applications classifier (see engine.models.zoo), with random
    weights when `random_weights` (which files ignore). Returns the model, its sidecar metadata
    and a label for the window.

    Unless the user `trusted` the file, one whose config carries code (engine.models.trust: a
    Lambda layer, a serialized function, side-effecting graph ops) is refused with an
    UntrustedFileError that names it, and the rest load in Keras's safe mode.
    """
    if isinstance(path, str) and path.lower().startswith("zoo:"):
        return load_zoo(path, random_weights=random_weights)
    if path is None:
        model_path, label = DEFAULT_MODEL_PATH, DEFAULT_MODEL_LABEL
        if not model_path.is_file():
            raise ModelLoadError(
                f"the built-in model is missing at {model_path}; "
                "run `python main.py train-default` to create it"
            )
    else:
        model_path = Path(path)
        label = model_path.name
        if not model_path.exists():
            raise ModelLoadError(f"{label}: no such file")
        if model_path.is_dir():
            # A TensorFlow SavedModel folder; engine.models.savedmodel refuses other folders.
            check_folder(model_path, label)
            model, meta = load_saved_model(model_path, label, trusted=trusted)
            _check_image_model(model, label)
            return model, meta, label
        if model_path.suffix.lower() not in MODEL_SUFFIXES:
            raise ModelLoadError(
                f"{label} is not a Keras model file (expected .keras or .h5, "
                f"got {model_path.suffix or 'no extension'})"
            )
        if model_path.stat().st_size == 0:
            raise ModelLoadError(f"{label} is empty (0 bytes)")
        _check_container(model_path, label)
    if not trusted:
        # Decided from the parsed config before Keras sees the file; Keras's safe mode below
        # stays on as a second line of defence.
        check_model_file(model_path, label)
    check_room_to_load(model_path, label)
    try:
        # safe_mode=False reaches nested models too: Keras scopes it over the whole load.
        # A Keras 2 .h5 file loads through the same config patch as a Keras 2 SavedModel.
        with quiet_legacy_load(model_path), keras3_readable_h5(model_path) as readable:
            model = keras.models.load_model(
                readable, compile=False, safe_mode=not trusted, custom_objects=KERAS2_LAYERS
            )
    except Exception as error:  # Keras raises many types for bad files; all mean "unusable".
        missing = unknown_classes(model_path)
        if missing:
            raise ModelLoadError(
                f"{label} needs the custom class{'es' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}, defined in the Python code that built the model and not "
                "saved in the file; convscope cannot open it without that code"
            ) from error
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(f"{label} could not be loaded: {reason[:300]}") from error
    if not isinstance(model, keras.Model):
        raise ModelLoadError(f"{label} holds a {type(model).__name__}, not a model")
    _check_image_model(model, label)
    return model, replace(read_sidecar(model_path), file_bytes=model_path.stat().st_size), label
