"""Real images that say how strongly a filter can fire, to judge a visualization against.

For the built-in model these are real MNIST digits (held out from its training); for other
models, the images in the folder of the current image, else the bundled samples.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.dataset.mnist import load_mnist_dir, split_train_holdout
from engine.dataset.sources import IMAGE_SUFFIXES
from engine.images.convert import ImageError, convert_image, read_image
from engine.images.samples import load_sample
from engine.models.meta import REPO_ROOT
from engine.protocol.catalogue import sample_names
from engine.protocol.model import FREE_INPUT_SIZE

MNIST_DIR = REPO_ROOT.parent / "shared" / "data" / "mnist"
MNIST_REFERENCE_COUNT = 1000
FOLDER_LIMIT = 64  # images of a folder decoded at most, when a quality is asked for
REFERENCE_BYTES = 256 * 2**20  # and at most this much model input kept


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
    """A sample of `folder`'s images, converted for the model; None if there are none.

    At most FOLDER_LIMIT files, and no more than REFERENCE_BYTES of model input, spread evenly
    over the folder's sorted names (the same folder gives the same sample); only those are
    decoded, plus as many spares as files in the sample turn out broken.
    """
    height, width, channels = input_shape
    pixels = (height or FREE_INPUT_SIZE) * (width or FREE_INPUT_SIZE) * channels
    count = max(1, min(FOLDER_LIMIT, REFERENCE_BYTES // (4 * pixels)))
    try:
        names = sorted(
            entry.name
            for entry in os.scandir(folder)
            if Path(entry.name).suffix.lower() in IMAGE_SUFFIXES
        )
    except OSError:
        return None
    converted = []
    for name in sample_names_evenly(names, count):
        try:
            picture = read_image(folder / name)
            converted.append(convert_image(picture, input_shape, input_range).pixels)
        except ImageError:
            continue  # a broken file in the folder just does not count
        if len(converted) == count:
            break
    return _stack(converted)


def sample_names_evenly(names: list[str], count: int) -> list[str]:
    """`count` of `names` spread evenly over them, then as many spares spread between those."""
    if len(names) <= count:
        return list(names)
    picks = np.linspace(0, len(names), 2 * count, endpoint=False).astype(int)
    order = [*picks[0::2], *picks[1::2]]  # the even spread first; the spares only if needed
    return [names[k] for k in dict.fromkeys(int(k) for k in order)]


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
