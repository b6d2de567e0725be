"""Decide what a drop onto the window means, before anything is loaded."""

from __future__ import annotations

from pathlib import Path

# Kept in step with engine.models.loading.MODEL_SUFFIXES; the GUI may not import that module, which
# pulls in Keras.
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
SAVED_MODEL_FILE = "saved_model.pb"  # what makes a folder a TensorFlow SavedModel


def classify_drop(paths: list[str]) -> tuple[str, str, str]:
    """(kind, path, problem): kind is "model" or "image"; problem is a message, or "" if none.

    Only the first file counts; a folder is a model if it is a SavedModel. Anything that is not
    a model is tried as an image, so that the image decoder gives its own precise message for a
    file it cannot read.
    """
    if not paths:
        return "", "", "Only files can be dropped here (nothing local was dropped)."
    path = Path(paths[0])
    if path.is_dir():
        if (path / SAVED_MODEL_FILE).is_file():
            return "model", str(path), ""
        problem = (
            f"{path.name} is a folder: drop an image, a .keras/.h5 model file or a SavedModel "
            f"folder (one holding {SAVED_MODEL_FILE})."
        )
        return "", "", problem
    kind = "model" if path.suffix.lower() in MODEL_SUFFIXES else "image"
    return kind, str(path), ""
