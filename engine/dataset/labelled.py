"""Labelled images to evaluate a model on: a folder whose labels come from its sub-folders (as
Keras's `image_dataset_from_directory(labels="inferred")` reads them) or from its file names
(`3_0042.png`, `cat.12.jpg`), or the built-in model's held-out real MNIST digits.

Only names and labels are listed here; images are decoded later, a batch at a time, so a huge
folder costs little memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from engine.dataset.mnist import load_mnist_dir, split_train_holdout
from engine.dataset.sources import IMAGE_SUFFIXES, ImageSource, digest, list_images

SUBFOLDER_RULE = "sub-folders"
FILE_NAME_RULE = "file names"
MNIST_RULE = "held-out MNIST"
MNIST_SOURCE = "held-out MNIST digits"
# A file-name label is what comes before the first "_", ".", "-" or space of the name's stem.
_NAME_LABEL = re.compile(r"^([^_.\- ]+)[_.\- ]+[^_.\- ]")


@dataclass(frozen=True)
class LabelledSet:
    """Images with a true label each: `labels[i]` indexes `class_names` for `source.names[i]`."""

    source: ImageSource
    labels: tuple[int, ...]
    class_names: tuple[str, ...]
    rule: str  # SUBFOLDER_RULE, FILE_NAME_RULE or MNIST_RULE: where the labels came from
    unlabelled: int = 0  # image files whose name gives no label (file-name rule): left out


def name_label(file_name: str) -> str | None:
    """The label a file name gives ("3_0042.png" → "3", "cat.12.jpg" → "cat"), else None."""
    found = _NAME_LABEL.match(Path(file_name).stem)
    return found.group(1) if found else None


def labelled_folder(folder: str | Path) -> LabelledSet:
    """The images of `folder` with their labels. Sub-folders (in sorted order, hidden ones left
    out) are the classes when any holds an image, and images directly in `folder` are then
    ignored, as Keras does; else the file names give the labels. ValueError when the folder is
    missing or has no labelled image."""
    root = Path(folder).resolve()
    list_images(root)  # a clear error for a missing folder
    rule, unlabelled = SUBFOLDER_RULE, 0
    names, texts = _by_subfolder(root)
    if not names:
        rule = FILE_NAME_RULE
        names, texts, unlabelled = _by_file_name(root)
    if not names:
        raise ValueError(
            f"folder {str(folder)!r} has no labelled images: put each class's images in a "
            "sub-folder named after it, or name the files <label>_<anything>.png"
        )
    classes = sorted(set(texts))  # sorted, as Keras numbers its classes
    index = {name: k for k, name in enumerate(classes)}
    stats = [(root / name).stat() for name in names]
    signature = digest(
        f"{n}\t{s.st_size}\t{s.st_mtime_ns}" for n, s in zip(names, stats, strict=True)
    )
    source = ImageSource(str(root), tuple(names), signature)
    labels = tuple(index[text] for text in texts)
    return LabelledSet(source, labels, tuple(classes), rule, unlabelled)


def _by_subfolder(root: Path) -> tuple[list[str], list[str]]:
    """(names relative to root, label of each) from the non-hidden sub-folders' images."""
    names: list[str] = []
    texts: list[str] = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir() and not entry.name.startswith("."):
            for path in list_images(entry):
                names.append(path.relative_to(root).as_posix())
                texts.append(entry.name)
    return names, texts


def _by_file_name(root: Path) -> tuple[list[str], list[str], int]:
    """(names, label of each, how many image files have no label in their name)."""
    names: list[str] = []
    texts: list[str] = []
    unlabelled = 0
    for path in sorted(root.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        label = name_label(path.name)
        if label is None:
            unlabelled += 1
        else:
            names.append(path.name)
            texts.append(label)
    return names, texts, unlabelled


def mnist_holdout(directory: str | Path) -> LabelledSet:
    """The built-in model's held-out real MNIST digits (those it was not trained on) from the
    IDX files in `directory`; ValueError naming the folder when they are missing or broken."""
    try:
        images, labels = load_mnist_dir(directory)
    except FileNotFoundError as error:
        raise ValueError(f"the MNIST test set is not in {str(directory)!r}: {error}") from error
    _, _, digits, truths = split_train_holdout(images, labels)
    names = tuple(f"mnist/{k:04d}" for k in range(len(digits)))

    def opener(name: str) -> Image.Image:
        return Image.fromarray(np.ascontiguousarray(digits[int(name.rpartition("/")[2])]))

    source = ImageSource(MNIST_SOURCE, names, digest(names), opener)
    classes = tuple(str(d) for d in range(10))
    return LabelledSet(source, tuple(int(t) for t in truths), classes, MNIST_RULE)
