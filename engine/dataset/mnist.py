"""Reading MNIST from its original IDX files, with numpy only.

The machines this project runs on are often offline, so `keras.datasets.mnist` cannot be relied
on; the shared copy of the MNIST test set (`../shared/data/mnist`) is read with this module
instead. Nothing here imports TensorFlow, so tests and tools can use it cheaply.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

IMAGES_FILE = "t10k-images-idx3-ubyte.gz"
LABELS_FILE = "t10k-labels-idx1-ubyte.gz"

# IDX type codes (third magic byte) -> big-endian numpy dtype, as in LeCun's format description.
_IDX_DTYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    """Return the file's content, decompressed when it is gzip (detected by content, not name)."""
    raw = path.read_bytes()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise ValueError(f"{str(path)!r} looks gzipped but cannot be decompressed: {exc}") from exc


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw or gzipped) into an array of its declared dtype and shape.

    Raises ValueError naming the file when it is empty, has a bad magic number, or its length
    does not match the dimensions in its header.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"{str(path)!r} is not an IDX file: only {len(data)} bytes")
    zero, type_code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or type_code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(f"{str(path)!r} has bad IDX magic number 0x{data[:4].hex()}")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise ValueError(f"{str(path)!r} is truncated inside its {ndim}-dimension header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header_len != expected:
        raise ValueError(
            f"{str(path)!r} holds {len(data) - header_len} data bytes, "
            f"header shape {shape} needs {expected}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    # Native byte order and a writable copy, so callers never hold a view of the file buffer.
    return array.astype(dtype.newbyteorder("="))


def load_mnist_dir(directory: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Load the MNIST test set from `directory`.

    Returns (images, labels): uint8 arrays of shape (N, 28, 28) and (N,), labels in 0..9.
    Raises FileNotFoundError when a file is missing and ValueError when the data is malformed.
    """
    directory = Path(directory)
    images_path, labels_path = directory / IMAGES_FILE, directory / LABELS_FILE
    for path in (images_path, labels_path):
        if not path.is_file():
            raise FileNotFoundError(f"MNIST file {str(path)!r} not found")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"{str(images_path)!r} holds {images.dtype} {images.shape}, expected uint8 (N, 28, 28)"
        )
    if labels.dtype != np.uint8 or labels.shape != images.shape[:1]:
        raise ValueError(
            f"{str(labels_path)!r} holds {labels.dtype} {labels.shape}, "
            f"expected uint8 ({images.shape[0]},)"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"{str(labels_path)!r} has label {int(labels.max())}, expected 0..9")
    return images, labels


def split_train_holdout(
    images: np.ndarray,
    labels: np.ndarray,
    n_train: int = 8000,
    n_holdout: int = 2000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split into disjoint train and held-out parts by a permutation fixed by `seed`.

    Returns (train_images, train_labels, holdout_images, holdout_labels). The same inputs and
    seed always give the same split.
    """
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if n_train < 0 or n_holdout < 0:
        raise ValueError(f"n_train={n_train} and n_holdout={n_holdout} must be non-negative")
    if n_train + n_holdout > len(images):
        raise ValueError(
            f"n_train + n_holdout = {n_train + n_holdout} exceeds the {len(images)} images"
        )
    order = np.random.default_rng(seed).permutation(len(images))
    train, holdout = order[:n_train], order[n_train : n_train + n_holdout]
    return images[train], labels[train], images[holdout], labels[holdout]
