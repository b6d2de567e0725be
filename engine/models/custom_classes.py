"""Which classes a model file needs that Keras does not have, read from the file's own config.

A model built with a custom layer saves only that layer's name; the class itself lives in the
Python code that built it. When such a file fails to load, the message names the classes,
taken from the parsed config (`config.json` of a .keras archive, `model_config` of an .h5 file),
never from Keras's error text, which changes between releases and often omits them.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py
import keras

# Class names of the serialization format itself, not classes anyone defines.
_FORMAT_NAMES = frozenset({"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "function"})
# Keras 2 names of classes Keras 3 reads under other names.
_LEGACY_NAMES = frozenset({"Functional", "TFOpLambda", "SlicingOpLambda"})


def file_config(path: Path) -> object | None:
    """The parsed model config of a .keras or .h5 file, or None when it cannot be read."""
    try:
        if path.suffix.lower() == ".keras":
            with zipfile.ZipFile(path) as archive:
                return json.loads(archive.read("config.json"))
        with h5py.File(path, "r") as file:
            text = file.attrs.get("model_config")
        if text is None:
            return None
        return json.loads(text.decode() if isinstance(text, bytes) else text)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def unknown_classes(path: Path) -> list[str]:
    """Custom classes `path` needs that this Keras cannot find, in file order, each once.

    A class is custom when the config says it comes from outside Keras (its "module" is not
    Keras's, or it has none, as a class registered by its own package has); in legacy .h5 configs,
    which name no module, a layer whose class name Keras does not know.
    """
    config = file_config(path)
    found: dict[str, None] = {}
    for entry in _entries(config):
        name = entry["class_name"]
        if name in _FORMAT_NAMES or not isinstance(name, str):
            continue
        registered = entry.get("registered_name")
        lookup = registered if isinstance(registered, str) else name
        if "module" in entry:
            module = entry.get("module")
            if isinstance(module, str) and (module.startswith("keras") or module == "builtins"):
                continue
        elif _known_to_keras(name):
            continue
        if keras.saving.get_registered_object(lookup) is None:
            found[name if lookup == name else f"{name} (registered as {lookup})"] = None
    return list(found)


def _entries(config: object) -> Iterator[dict]:
    """Every serialized object in a config: a dict with a "class_name" and a "config"."""
    if isinstance(config, dict):
        if "class_name" in config and "config" in config:
            yield config
        for value in config.values():
            yield from _entries(value)
    elif isinstance(config, list):
        for value in config:
            yield from _entries(value)


def _known_to_keras(name: str) -> bool:
    spaces = (keras.layers, keras.models, keras.initializers, keras.regularizers, keras.constraints)
    return name in _LEGACY_NAMES or any(hasattr(space, name) for space in spaces)


@contextmanager
def quiet_legacy_load(path: Path) -> Iterator[None]:
    """Loading a legacy .h5 file without Keras's advice on how the model should have been built.

    Keras 3 rebuilds a Keras 2 Sequential model from layers that carry `input_shape`, and warns
    that one should use `keras.Input` instead, on every command: advice for the author of the
    file, not for whoever opens it. Only that warning, only while an .h5 file loads.
    """
    if path.suffix.lower() not in (".h5", ".hdf5"):
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"Do not pass an `input_shape`/`input_dim`", category=UserWarning
        )
        yield
