"""Writing a run to disk: an animated GIF of its frames, and its settings as JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

from gui.common.imaging import upscale_nearest

GIF_MAX_FRAMES = 150
GIF_MIN_SIDE = 256
GIF_FRAME_MS = 60
GIF_HOLD_LAST_MS = 1500  # the finished picture stays up a moment before the loop restarts

T = TypeVar("T")


def thin_evenly(items: Sequence[T], limit: int) -> list[T]:
    """At most `limit` items spread evenly over `items`, always keeping the first and last."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if len(items) <= limit:
        return list(items)
    if limit == 1:
        return [items[-1]]
    picks = np.unique(np.round(np.linspace(0, len(items) - 1, limit)).astype(int))
    return [items[int(k)] for k in picks]


def write_gif(
    frames: Sequence[np.ndarray],
    path: str | Path,
    min_side: int = GIF_MIN_SIDE,
    max_frames: int = GIF_MAX_FRAMES,
) -> int:
    """Write (H, W, 3) uint8 frames as a looping GIF; returns how many frames it holds.

    Frames are thinned to `max_frames`, brought to the last frame's size (a run with octaves
    grows its image) and enlarged with square pixels so the short side is >= `min_side`.
    """
    if not frames:
        raise ValueError("there are no frames to write")
    chosen = thin_evenly(frames, max_frames)
    height, width = chosen[-1].shape[:2]
    pictures = []
    for frame in chosen:
        picture = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8), "RGB")
        if picture.size != (width, height):
            picture = picture.resize((width, height), Image.Resampling.NEAREST)
        pictures.append(Image.fromarray(upscale_nearest(np.asarray(picture), min_side), "RGB"))
    durations = [GIF_FRAME_MS] * (len(pictures) - 1) + [GIF_HOLD_LAST_MS]
    pictures[0].save(
        str(path),
        format="GIF",
        save_all=True,
        append_images=pictures[1:],
        duration=durations,
        loop=0,
        optimize=False,
    )
    return len(pictures)


def write_json(document: dict[str, Any], path: str | Path) -> None:
    """Write `document` as indented JSON; NaN and infinities become null (JSON has neither)."""
    text = json.dumps(_finite(document), indent=2, sort_keys=False, allow_nan=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


def read_json(path: str | Path) -> dict[str, Any]:
    """A JSON object from `path`; ValueError when the file holds something else."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError(f"{Path(path).name} is not a text file") from error
    except json.JSONDecodeError as error:
        raise ValueError(f"{Path(path).name} is not JSON: {error.msg}") from error
    if not isinstance(data, dict):
        raise ValueError(f"{Path(path).name} does not hold settings")
    return data


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
