"""What a scan says of each filter: dead (never fired) or rare, per channel and per layer."""

from __future__ import annotations

import numpy as np

from engine.protocol import LayerPath

RARE_BELOW = 0.01  # a filter firing on fewer than 1% of the scanned images is rare


def per_layer(values: dict, path: tuple[str, ...]) -> np.ndarray | None:
    """`values[path]`, accepting keys that are the path, 'a/b' or the layer's name."""
    for key in (tuple(path), str(LayerPath(path)), path[-1] if path else None):
        if key in values:
            return np.asarray(values[key])
    return None


def filter_flags(fire_fraction: np.ndarray) -> dict[int, str]:
    """'dead' for channels that never fired, 'rare 0.4%' for those below RARE_BELOW."""
    flags = {}
    for unit, fraction in enumerate(np.asarray(fire_fraction, dtype=np.float64)):
        if fraction <= 0:
            flags[unit] = "dead"
        elif fraction < RARE_BELOW:
            flags[unit] = f"rare {fraction:.1%}"
    return flags


def layer_note(flags: dict[int, str], images: int) -> str:
    """'3 dead, 2 rare filters on 1,797 images' (or 'no dead or rare filters on …')."""
    dead = sum(1 for text in flags.values() if text == "dead")
    rare = len(flags) - dead
    if not flags:
        return f"no dead or rare filters on {images:,} images"
    parts = [f"{dead} dead"] if dead else []
    parts += [f"{rare} rare"] if rare else []
    return f"{', '.join(parts)} filter{'s' if len(flags) != 1 else ''} on {images:,} images"
