"""Real images that ship with the dependencies, for trying a model without files of your own.

scikit-image's photographs (public domain / CC0) and scikit-learn's 8×8 handwritten digits. The
libraries are imported only when a sample is asked for.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from engine.images.convert import from_array
from engine.protocol.catalogue import sample_names


def _photo(name: str) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        import skimage.data

        return from_array(getattr(skimage.data, name)())

    return load


def _digit(label: int) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        from sklearn.datasets import load_digits

        digits = load_digits()
        first = int(np.flatnonzero(digits.target == label)[0])
        ink = digits.images[first] / 16.0  # 0..16 ink density, white digit on black like MNIST
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
