"""Where the images of a dataset scan come from: a folder, a list of files, or the built-in
samples, each with a signature that changes when a file does (so caches know to rescan)."""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from engine.images.convert import read_image
from engine.images.samples import load_sample
from engine.protocol.catalogue import SAMPLE_PHOTOS

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
BUILTIN_ROOT = "builtin:samples"


@dataclass(frozen=True)
class ImageSource:
    """The images of a scan: a folder (or the built-in samples) and its files, sorted."""

    root: str  # absolute folder path, or BUILTIN_ROOT
    names: tuple[str, ...]  # relative to root, POSIX separators
    signature: str  # sizes and modification times: a changed file gives a new cache key
    opener: Callable[[str], Image.Image] | None = None  # None: read the file at root/name

    def open(self, name: str) -> Image.Image:
        return self.opener(name) if self.opener else read_image(Path(self.root) / name)

    def subset(self, names: Sequence[str]) -> ImageSource:
        """The same source restricted to `names` (a shard)."""
        return ImageSource(self.root, tuple(names), digest([self.signature, *names]), self.opener)


def list_images(folder: str | Path) -> list[Path]:
    """Every image file under `folder`, recursively, sorted; ValueError names a missing folder."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ValueError(f"image folder {str(folder)!r} {what}")
    return sorted(
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    )


def folder_source(folder: str | Path) -> ImageSource:
    """The images of `folder` as a scan source; ValueError if it has none."""
    root = Path(folder).resolve()
    paths = list_images(root)
    if not paths:
        raise ValueError(f"folder {str(folder)!r} has no images convscope can read")
    names = tuple(path.relative_to(root).as_posix() for path in paths)
    stats = [path.stat() for path in paths]
    rows = zip(names, stats, strict=True)
    signature = digest(f"{n}\t{s.st_size}\t{s.st_mtime_ns}" for n, s in rows)
    return ImageSource(str(root), names, signature)


def paths_source(paths: Sequence[str | Path]) -> ImageSource:
    """Image files given one by one, named relative to their common folder."""
    if not paths:
        raise ValueError("the list of images is empty: it has no images convscope can read")
    resolved = sorted(Path(p).resolve() for p in paths)
    root = Path(os.path.commonpath([p.parent for p in resolved]))
    names = tuple(p.relative_to(root).as_posix() for p in resolved)
    parts = []
    for name, path in zip(names, resolved, strict=True):
        stat = path.stat() if path.exists() else None
        parts.append(f"{name}\t{stat.st_size if stat else -1}\t{stat.st_mtime_ns if stat else -1}")
    return ImageSource(str(root), names, digest(parts))


def builtin_images() -> ImageSource:
    """scikit-learn's 1797 digits (MNIST-like, 28×28) and scikit-image's photos, as one source."""
    count = len(_digits())
    names = (*(f"digit/{i:04d}" for i in range(count)), *(f"photo/{key}" for key in SAMPLE_PHOTOS))

    def opener(name: str) -> Image.Image:
        kind, _, key = name.partition("/")
        return _digit_image(int(key)) if kind == "digit" else load_sample(f"photo:{key}")

    return ImageSource(BUILTIN_ROOT, names, digest(names), opener)


@functools.cache
def _digits() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().images


def _digit_image(index: int) -> Image.Image:
    """scikit-learn digit `index`, white on black in a 20×20 box with a 4-pixel margin (MNIST)."""
    ink = _digits()[index] / 16.0
    box = Image.fromarray((ink * 255).astype(np.uint8)).resize((20, 20), Image.Resampling.BICUBIC)
    canvas = Image.new("L", (28, 28), 0)
    canvas.paste(box, (4, 4))
    return canvas


def digest(parts: Iterable[object]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        # A file name that is not valid UTF-8 holds lone surrogates: hash its bytes as on disk.
        digest.update(str(part).encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
    return digest.hexdigest()


def as_source(source: ImageSource | str | Path | Sequence[str | Path]) -> ImageSource:
    """An ImageSource as it is, a folder path as its images, or a list of file paths."""
    if isinstance(source, ImageSource):
        return source
    if isinstance(source, str | Path):
        return folder_source(source)
    return paths_source(list(source))
