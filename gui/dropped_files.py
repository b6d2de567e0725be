"""Decide what a drop onto the window means, before anything is loaded."""

from __future__ import annotations

from pathlib import Path

# Kept in step with engine.model_io.MODEL_SUFFIXES; the GUI may not import that module, which
# pulls in Keras.
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


def classify_drop(paths: list[str]) -> tuple[str, str, str]:
    """(kind, path, problem): kind is "model" or "image"; problem is a message, or "" if none.

    Only the first file counts; anything that is not a model is tried as an image, so that the
    image decoder gives its own precise message for a file it cannot read.
    """
    if not paths:
        return "", "", "Only files can be dropped here (nothing local was dropped)."
    path = Path(paths[0])
    if path.is_dir():
        return "", "", f"{path.name} is a folder: drop an image or a .keras/.h5 model file."
    kind = "model" if path.suffix.lower() in MODEL_SUFFIXES else "image"
    return kind, str(path), ""
