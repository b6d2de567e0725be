"""What the microscope tests build on: a tiny conv model saved as .keras, and folders of real
MNIST digits (with a corrupt file where a test needs one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from engine.dataset.mnist import load_mnist_dir
from engine.models.meta import REPO_ROOT

MNIST = REPO_ROOT.parent / "shared" / "data" / "mnist"


def tiny_model(
    path: Path, seed: int, *, first: str = "conv1", name: str = "mini", classes: int = 4
) -> Path:
    """conv `first` (4) → pool → conv2 (4) → global pooling → Dense `out`, saved at `path`."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name=first)(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(classes, name="out")(x)
    keras.Model(inputs, outputs, name=name).save(path)
    return path


def digit_folder(folder: Path, count: int = 100, *, corrupt: bool = True) -> Path:
    """`folder` with the first `count` MNIST test digits as PNGs, and a corrupt 'broken.png';
    skips the test where the MNIST test set is missing."""
    if not MNIST.is_dir():
        pytest.skip("the MNIST test set is not in ../shared/data/mnist")
    folder.mkdir(parents=True)
    digits, _ = load_mnist_dir(MNIST)
    for k in range(count):
        Image.fromarray(digits[k]).save(folder / f"digit_{k:03d}.png")
    if corrupt:
        (folder / "broken.png").write_bytes(b"this is not a PNG")
    return folder
