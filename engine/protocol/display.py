"""How an image with any number of channels is drawn on a three-colour screen.

Shared by the window and the headless commands; numpy only.
"""

from __future__ import annotations

import numpy as np


def screen_colours(image: np.ndarray) -> np.ndarray:
    """An (H, W, C) image with C ≥ 2, such as a visualization for the model, as (H, W, 3).

    C = 2 is drawn in false colour, red = channel 0, green = channel 1, blue = their mean, so
    both channels stay visible; C ≥ 3 keeps the first three channels (a screen has three
    colours, so an RGBA model's alpha or a multispectral model's extra bands are not drawn).
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] < 2:
        raise ValueError(f"expected an (H, W, C) image with C >= 2, got shape {image.shape}")
    if image.shape[-1] == 2:
        first, second = image[..., 0], image[..., 1]
        return np.stack([first, second, (first + second) / 2.0], axis=-1)
    return image[..., :3]
