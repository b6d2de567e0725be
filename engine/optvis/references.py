"""Real images that say how strongly a filter can fire, to judge a visualization against.

For the built-in model these are real MNIST digits (held out from its training); for other
models, the images in the folder of the current image, else the bundled samples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.dataset.mnist import load_mnist_dir, split_train_holdout
from engine.dataset.sources import IMAGE_SUFFIXES
from engine.images.convert import ImageError, convert_image, read_image
from engine.images.samples import load_sample
from engine.models.meta import REPO_ROOT
from engine.protocol.catalogue import sample_names

MNIST_DIR = REPO_ROOT.parent / "shared" / "data" / "mnist"
MNIST_REFERENCE_COUNT = 1000
FOLDER_LIMIT = 64


def mnist_references(count: int = MNIST_REFERENCE_COUNT) -> np.ndarray | None:
    """Held-out real MNIST digits, (N, 28, 28, 1) in [0, 1], or None where the data is absent."""
    try:
        images, labels = load_mnist_dir(MNIST_DIR)
    except (OSError, ValueError):
        return None
    _, _, held_out, _ = split_train_holdout(images, labels)
    return (held_out[:count, :, :, None] / 255.0).astype(np.float32)


def folder_references(
    folder: Path,
    input_shape: tuple[int | None, int | None, int],
    input_range: tuple[float, float],
) -> np.ndarray | None:
    """Up to FOLDER_LIMIT images of `folder`, converted for the model; None if there are none."""
    converted = []
    for path in sorted(folder.iterdir())[: FOLDER_LIMIT * 4]:
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        try:
            converted.append(convert_image(read_image(path), input_shape, input_range).pixels)
        except ImageError:
            continue  # a broken file in the folder just does not count
        if len(converted) == FOLDER_LIMIT:
            break
    return _stack(converted)


def sample_references(
    input_shape: tuple[int | None, int | None, int], input_range: tuple[float, float]
) -> np.ndarray | None:
    """The bundled samples, converted for the model."""
    pictures = [load_sample(key) for key, _ in sample_names()]
    return _stack([convert_image(p, input_shape, input_range).pixels for p in pictures])


def _stack(arrays: list[np.ndarray]) -> np.ndarray | None:
    if not arrays:
        return None
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:  # free-size models: keep the images of the most common size
        common = max(shapes, key=lambda shape: sum(a.shape == shape for a in arrays))
        arrays = [a for a in arrays if a.shape == common]
    return np.stack(arrays).astype(np.float32)


def reference_images(
    is_default_model: bool,
    input_shape: tuple[int | None, int | None, int],
    input_range: tuple[float, float],
    image_path: str | None,
) -> np.ndarray | None:
    """The reference set for a model, as model inputs."""
    if is_default_model:
        digits = mnist_references()
        if digits is not None:
            return digits
    if image_path:
        folder = Path(image_path).parent
        if folder.is_dir():
            found = folder_references(folder, input_shape, input_range)
            if found is not None:
                return found
    return sample_references(input_shape, input_range)
