"""Real images that ship with the dependencies, for trying a model without files of your own.

scikit-image's photographs (public domain / CC0) and scikit-learn's 8×8 handwritten digits. The
libraries are imported only when a sample is asked for.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from engine.images.convert import from_array
from engine.protocol.catalogue import sample_names


def _photo(name: str) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        import skimage.data

        return from_array(getattr(skimage.data, name)())

    return load


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as ((N, 8, 8) ink 0..16, (N,) labels). Read from the package's data
    file without importing scikit-learn (~0.8 s), since the window's first prediction waits on
    it; `load_digits` where that file is not where scikit-learn 1.x keeps it."""
    spec = importlib.util.find_spec("sklearn")  # finds the package without running it
    folders = list(spec.submodule_search_locations or ()) if spec else []
    for folder in folders:
        path = Path(folder) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            table = np.loadtxt(path, delimiter=",", dtype=np.float32)
            return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(int)
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target


def _digit(label: int) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        images, targets = _digits()
        first = int(np.flatnonzero(targets == label)[0])
        ink = images[first] / 16.0  # 0..16 ink density, white digit on black like MNIST
        # MNIST centres each digit in a 20×20 box with a 4-pixel margin; do the same so a model
        # trained on MNIST sees a familiar picture.
        box = Image.fromarray((ink * 255).astype(np.uint8)).resize(
            (20, 20), Image.Resampling.BICUBIC
        )
        canvas = Image.new("L", (28, 28), 0)
        canvas.paste(box, (4, 4))
        return canvas

    return load


def _loader(key: str) -> Callable[[], Image.Image]:
    kind, _, name = key.partition(":")
    return _photo(name) if kind == "photo" else _digit(int(name))


SAMPLES: dict[str, tuple[str, Callable[[], Image.Image]]] = {
    key: (title, _loader(key)) for key, title in sample_names()
}


def load_sample(key: str) -> Image.Image:
    """The sample `key` as a Pillow image; ValueError names an unknown key."""
    if key not in SAMPLES:
        raise ValueError(f"no sample named {key!r}; known: {', '.join(SAMPLES)}")
    return SAMPLES[key][1]()
