"""Layer atlases kept on disk, so a layer visualized once shows at once the next time.

The key covers the model's weights, the layer and every setting of the recipe: the same key
means the same images.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.protocol.recipe import Recipe


@dataclass(frozen=True)
class CachedAtlas:
    units: np.ndarray  # (N,)
    images: np.ndarray  # (N, H, W, C) float32, fractions of the input range (may leave [0, 1])
    activations: np.ndarray  # (N,)
    qualities: np.ndarray  # (N,), NaN where unknown
    dead: np.ndarray  # (N,) bool


def cache_root() -> Path:
    """The folder every convscope cache lives under: $CONVSCOPE_CACHE_DIR, else the user's."""
    explicit = os.environ.get("CONVSCOPE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "convscope"


def cache_dir() -> Path:
    """Where atlases live: $CONVSCOPE_CACHE_DIR itself, else `atlas` in the user's cache."""
    root = cache_root()
    return root if os.environ.get("CONVSCOPE_CACHE_DIR") else root / "atlas"


def weights_fingerprint(weights: list[np.ndarray]) -> str:
    """A hash of a model's weights: a retrained model gets new atlases."""
    digest = hashlib.sha256()
    for array in weights:
        digest.update(str(array.shape).encode())
        # A view of the bytes, not a copy: VGG16's weights are half a gigabyte, hashed on
        # every model load (the same digest, in 40 % of the time).
        contiguous = np.ascontiguousarray(array)
        if contiguous.size:  # an empty array has no bytes (and no byte view)
            digest.update(contiguous.data.cast("B"))
    return digest.hexdigest()


def atlas_key(fingerprint: str, layer: tuple[str, ...], recipe: Recipe) -> str:
    digest = hashlib.sha256()
    for part in (fingerprint, "/".join(layer), recipe.to_json()):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def load(key: str) -> CachedAtlas | None:
    """The cached atlas for `key`, or None (a damaged file counts as none)."""
    path = cache_dir() / f"{key}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path) as data:
            return CachedAtlas(
                units=data["units"],
                images=_images(data["images"]),
                activations=data["activations"],
                qualities=data["qualities"],
                dead=data["dead"],
            )
    except (OSError, KeyError, ValueError):
        return None


def save(key: str, atlas: CachedAtlas) -> None:
    """Store an atlas; a cache that cannot be written is skipped, not an error."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f"{key}.tmp.npz"
        np.savez_compressed(
            temporary,
            units=atlas.units,
            # float16, not 8-bit: unclipped images leave [0, 1] and are normalized for display
            images=atlas.images.astype(np.float16),
            activations=atlas.activations,
            qualities=atlas.qualities,
            dead=atlas.dead,
        )
        temporary.replace(folder / f"{key}.npz")  # never leave a half-written file under the key
    except OSError:
        pass


def _images(stored: np.ndarray) -> np.ndarray:
    """Stored tiles as float32: 8-bit ones (older caches, always clipped) scaled to [0, 1]."""
    if stored.dtype == np.uint8:
        return stored.astype(np.float32) / 255.0
    return stored.astype(np.float32)
