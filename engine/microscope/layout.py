"""Where everything of a microscope folder lives, and atomic writes.

Every file is written to a temporary name beside it and renamed over it (`os.replace`), so a
run killed at any moment (kill -9 included) leaves either the whole file or none: a chunk file
that exists is a finished chunk.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from engine.protocol import LayerPath

# The names a reader needs are the protocol's (the window reads a folder through it).
from engine.protocol.microscope_format import IMAGES_LIST, MANIFEST, UNITS

SCAN_STATE = "scan.npz"  # the merged scan state, in `python main.py scan`'s format
CHUNKS = ".chunks"


def layer_folder_name(layer: tuple[str, ...]) -> str:
    """A layer's folder: its path with nested names joined by '__' ('block1__conv1')."""
    return "__".join(layer)


class Layout:
    """The paths of one microscope folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def images_list(self) -> Path:
        return self.root / IMAGES_LIST

    @property
    def scan_state(self) -> Path:
        return self.root / SCAN_STATE

    def layer(self, layer: tuple[str, ...]) -> Path:
        return self.root / layer_folder_name(layer)

    def units(self, layer: tuple[str, ...]) -> Path:
        return self.layer(layer) / UNITS

    def vis(self, layer: tuple[str, ...], unit: int) -> Path:
        return self.layer(layer) / "vis" / f"{unit}.png"

    def crop(self, layer: tuple[str, ...], unit: int, rank_by: str, rank: int) -> Path:
        return self.layer(layer) / "top" / f"{unit}_{rank_by}_{rank}.png"

    def chunk(self, chunk_id: str) -> Path:
        """Where the result of chunk `chunk_id` (plan.py's ids) is kept."""
        return self.root / CHUNKS / f"{chunk_id}.npz"

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def _temporary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_bytes(path: Path, data: bytes) -> None:
    """`data` to `path`, atomically."""
    temporary = _temporary(path)
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def write_json(path: Path, value: object) -> None:
    """`value` as indented JSON (keys in order), atomically."""
    write_bytes(path, (json.dumps(value, indent=1) + "\n").encode("utf-8"))


def read_json(path: Path) -> dict:
    """A JSON object from `path`; ValueError names a file that is not one."""
    value = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(value, dict):
        raise ValueError(f"{str(path)!r} holds {type(value).__name__}, expected a JSON object")
    return value


def write_png(path: Path, picture: Image.Image) -> None:
    """`picture` as PNG, atomically."""
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    write_bytes(path, buffer.getvalue())


def write_npy(path: Path, array: np.ndarray) -> None:
    """`array` as .npy, atomically."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    write_bytes(path, buffer.getvalue())


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """`arrays` as one .npz, atomically (a chunk's result)."""
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    write_bytes(path, buffer.getvalue())


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """A chunk's arrays; OSError/ValueError for a missing or damaged file."""
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def layer_text(layer: tuple[str, ...]) -> str:
    return str(LayerPath(layer))
