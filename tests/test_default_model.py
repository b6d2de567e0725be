"""The shipped default model (resources/models/mnist_cnn.keras), its sidecar and its data reader."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import keras
import numpy as np
import pytest

from engine.dataset.mnist import load_mnist_dir, read_idx, split_train_holdout
from engine.models import training

MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
SIDECAR_PATH = training.DEFAULT_MODEL_PATH.with_suffix(".json")
SIDECAR_KEYS = {
    "name",
    "description",
    "class_names",
    "input",
    "provenance",
    "held_out_accuracy",
    "training",
    "created_with",
}
needs_mnist = pytest.mark.skipif(
    not MNIST_DIR.is_dir(), reason=f"MNIST copy not found at {MNIST_DIR} (shared data absent)"
)


@pytest.fixture(scope="module")
def shipped_model() -> keras.Model:
    return keras.models.load_model(training.DEFAULT_MODEL_PATH, compile=False)


@pytest.fixture(scope="module")
def sidecar() -> dict:
    return json.loads(SIDECAR_PATH.read_text(encoding="utf-8"))


def _idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = bytes([0, 0, type_code, array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _check_architecture(model: keras.Model) -> None:
    expected = [
        ("conv1", keras.layers.Conv2D),
        ("pool1", keras.layers.MaxPooling2D),
        ("conv2", keras.layers.Conv2D),
        ("pool2", keras.layers.MaxPooling2D),
        ("conv3", keras.layers.Conv2D),
        ("pool3", keras.layers.MaxPooling2D),
        ("flatten", keras.layers.Flatten),
        ("dense", keras.layers.Dense),
        ("dropout", keras.layers.Dropout),
        ("predictions", keras.layers.Dense),
    ]
    assert model.name == "mnist_cnn"
    assert tuple(model.input_shape) == (None, 28, 28, 1)
    assert [(layer.name, type(layer)) for layer in model.layers] == expected
    for name, filters in [("conv1", 24), ("conv2", 48), ("conv3", 64)]:
        conv = model.get_layer(name)
        assert (conv.filters, conv.kernel_size, conv.padding) == (filters, (3, 3), "same")
        assert conv.activation is keras.activations.relu
    dense, dropout, predictions = (model.get_layer(n) for n in ("dense", "dropout", "predictions"))
    assert (dense.units, dense.activation) == (128, keras.activations.relu)
    assert dropout.rate == pytest.approx(0.25)
    assert (predictions.units, predictions.activation) == (10, keras.activations.softmax)
    assert tuple(model.output_shape) == (None, 10)


def test_shipped_model_is_small_and_matches_the_spec(shipped_model: keras.Model) -> None:
    assert training.DEFAULT_MODEL_PATH.stat().st_size < 5 * 1024 * 1024
    _check_architecture(shipped_model)


def test_built_model_matches_the_spec() -> None:
    _check_architecture(training.build_default_model())


def test_sidecar_describes_the_model(sidecar: dict) -> None:
    assert set(sidecar) == SIDECAR_KEYS
    assert sidecar["name"] == "mnist_cnn"
    assert sidecar["class_names"] == [str(d) for d in range(10)]
    assert sidecar["input"] == {
        "shape": [28, 28, 1],
        "color": "grayscale",
        "range": [0.0, 1.0],
        "scaling": "pixel / 255",
        "foreground": "white digit on black",
    }
    assert set(sidecar["provenance"]) == {
        "dataset",
        "source",
        "images_sha256",
        "train_images",
        "held_out_images",
        "seed",
    }
    assert set(sidecar["training"]) == {"epochs", "batch_size", "optimizer", "augmentation"}
    assert set(sidecar["created_with"]) == {"tensorflow", "keras"}
    assert sidecar["held_out_accuracy"] >= 0.975


@needs_mnist
def test_shipped_model_classifies_held_out_digits(
    shipped_model: keras.Model, sidecar: dict
) -> None:
    images, labels = load_mnist_dir(MNIST_DIR)
    seed = sidecar["provenance"]["seed"]
    _, _, held_images, held_labels = split_train_holdout(images, labels, 8000, 2000, seed)
    inputs = (held_images[:2000].astype(np.float32) / 255.0)[..., np.newaxis]
    probabilities = shipped_model.predict(inputs, batch_size=500, verbose=0)
    assert probabilities.shape == (2000, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    accuracy = np.mean(np.argmax(probabilities, axis=1) == held_labels[:2000])
    assert accuracy >= 0.97


@needs_mnist
def test_local_mnist_matches_its_readme() -> None:
    images, labels = load_mnist_dir(MNIST_DIR)
    assert (images.shape, images.dtype, labels.dtype) == ((10000, 28, 28), np.uint8, np.uint8)
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(labels).tolist()[:3] == [980, 1135, 1032]


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trips_raw_and_gzipped(tmp_path: Path, compress: bool) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.int32).reshape(2, 3, 4) - 5
    data = _idx_bytes(array, type_code=0x0C)
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    np.testing.assert_array_equal(read_idx(path), array)


def test_read_idx_rejects_a_bad_magic_number(tmp_path: Path) -> None:
    path = tmp_path / "bad.idx"
    path.write_bytes(b"\x01\x02\x08\x01" + (3).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match=r"bad\.idx"):
        read_idx(path)


def test_read_idx_rejects_empty_and_truncated_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.idx"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.idx"):
        read_idx(empty)
    short = tmp_path / "short.idx"
    short.write_bytes(_idx_bytes(np.zeros((4, 2), np.uint8))[:-1])
    with pytest.raises(ValueError, match=r"short\.idx"):
        read_idx(short)
    corrupt = tmp_path / "corrupt.gz"
    corrupt.write_bytes(gzip.compress(b"\x00\x00\x08\x01")[:-6])
    with pytest.raises(ValueError, match=r"corrupt\.gz"):
        read_idx(corrupt)


def test_split_is_deterministic_and_disjoint() -> None:
    ids = np.arange(1000)
    first = split_train_holdout(ids, ids % 10, 600, 300, seed=3)
    again = split_train_holdout(ids, ids % 10, 600, 300, seed=3)
    other = split_train_holdout(ids, ids % 10, 600, 300, seed=4)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    train, train_labels, held, held_labels = first
    assert (len(train), len(held)) == (600, 300)
    assert not set(train.tolist()) & set(held.tolist())
    np.testing.assert_array_equal(train_labels, train % 10)
    np.testing.assert_array_equal(held_labels, held % 10)
    assert not np.array_equal(first[0], other[0])


def test_split_rejects_too_many_images() -> None:
    ids = np.arange(10)
    with pytest.raises(ValueError, match="11"):
        split_train_holdout(ids, ids, 8, 3)


def test_missing_data_names_the_mnist_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def offline() -> None:
        raise OSError("no network")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    monkeypatch.setattr(training, "DEFAULT_MNIST_DIR", tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="--mnist DIR"):
        training.train_default(tmp_path / "m.keras")
    assert training.main(["--output", str(tmp_path / "m.keras")]) == 1
    assert "--mnist DIR" in capsys.readouterr().err
    assert not (tmp_path / "m.keras").exists()


@pytest.mark.slow
@needs_mnist
# Keras turns fit's logs into numpy via TF tensors whose __array__ predates numpy 2's `copy`.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_one_epoch_saves_a_plain_model_and_sidecar(tmp_path: Path) -> None:
    output = tmp_path / "mnist_cnn.keras"
    sidecar = training.train_default(output, mnist_dir=MNIST_DIR, epochs=1, seed=0)
    saved = json.loads(output.with_suffix(".json").read_text(encoding="utf-8"))
    assert saved == sidecar
    assert set(saved) == SIDECAR_KEYS
    assert saved["provenance"]["train_images"] == 8000
    _check_architecture(keras.models.load_model(output, compile=False))
