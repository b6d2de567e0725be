"""How a picture becomes a model input with any number of channels, and how it is shown.

A picture has at most four meaningful channels (red, green, blue and alpha); a model may take
any number C ≥ 1. The rule, applied to pixels already in [0, 1]:

- C = 1: grey (luma, ITU-R 601 weights).
- C = 2: grey + alpha, alpha 1 (opaque) where the picture has no transparency.
- C = 3: R, G, B.
- C = 4: R, G, B + alpha, alpha 1 where the picture has no transparency.
- C > 4: R, G, B, then the remaining C - 3 channels all filled with the grey image, since a
  picture has nothing else to put there.

What the window shows (`display_part`) is always (H, W, 1) or (H, W, 3): the grey channel for
C = 1 or 2, the R, G, B part otherwise. Pure numpy, tested without TensorFlow.
"""

from __future__ import annotations

import numpy as np

# Luma weights (ITU-R BT.601), as Pillow uses for "L".
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def expand_channels(
    rgb: np.ndarray, alpha: np.ndarray | None, channels: int
) -> tuple[np.ndarray, list[str]]:
    """(H, W, 3) colours and an optional (H, W) alpha, all in [0, 1], as (H, W, `channels`).

    Returns the pixels and the notes a user should read about what was made up. Only for
    `channels` other than 1 and 3, whose conversions `engine.images.convert` words itself.
    """
    if channels < 1:
        raise ValueError(f"a model input needs at least 1 channel, not {channels}")
    rgb = np.asarray(rgb, dtype=np.float32)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"expected (H, W, 3) colours, got shape {rgb.shape}")
    grey = rgb @ LUMA
    if channels == 1:
        return grey[..., None], []
    if channels == 3:
        return rgb, []
    if channels in (2, 4):
        opaque = alpha is None
        plane = np.ones_like(grey) if opaque else np.asarray(alpha, dtype=np.float32)
        source = "1 everywhere: the picture has no transparency" if opaque else "its transparency"
        if channels == 2:
            note = f"the model takes 2 channels: grey + alpha ({source}); shown as grey"
            return np.stack([grey, plane], axis=-1), [note]
        note = f"the model takes 4 channels: R, G, B + alpha ({source}); shown as RGB"
        return np.concatenate([rgb, plane[..., None]], axis=-1), [note]
    extra = channels - 3
    filled = np.repeat(grey[..., None], extra, axis=-1)
    span = "channel 4" if extra == 1 else f"channels 4–{channels}"
    note = (
        f"the model takes {channels} channels: R, G, B, then {span} filled with the grey "
        "image (a picture has only 3 colours); shown as RGB"
    )
    return np.concatenate([rgb, filled], axis=-1), [note]


def display_part(unit: np.ndarray) -> np.ndarray:
    """The part of an (H, W, C) [0, 1] model image the window can draw: (H, W, 1) or (H, W, 3).

    Grey for C = 1 or 2 (the alpha of a grey + alpha model is not a picture), R, G, B otherwise.
    """
    unit = np.asarray(unit, dtype=np.float32)
    if unit.ndim != 3 or unit.shape[-1] < 1:
        raise ValueError(f"expected an (H, W, C) image, got shape {unit.shape}")
    keep = 1 if unit.shape[-1] <= 2 else 3
    return np.array(unit[..., :keep], dtype=np.float32, copy=True)


def to_model_channels(shown: np.ndarray, channels: int) -> np.ndarray:
    """A grey (H, W, 1) or RGB (H, W, 3) image in [0, 1], such as `display_part` gives, back
    as (H, W, `channels`) by the same rule, alpha opaque (what `display_part` dropped is gone).

    For code that has only the shown image and must feed the model; an RGBA (H, W, 4) image
    loses its alpha unless the model takes 4 channels.
    """
    shown = np.asarray(shown, dtype=np.float32)
    have = shown.shape[-1] if shown.ndim == 3 else 0
    if have == channels:
        return shown
    if have == 4:
        shown, have = shown[..., :3], 3
    if have == 1:
        shown, have = np.repeat(shown, 3, axis=-1), 3
    if have != 3:
        raise ValueError(
            f"cannot turn an image with {have} channels (shape {shown.shape}) into one with "
            f"{channels} channels"
        )
    return expand_channels(shown, None, channels)[0]
