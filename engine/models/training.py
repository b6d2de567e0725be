"""The built-in default model: a small MNIST CNN, how it is built, trained and shipped.

`python main.py train-default` rebuilds `resources/models/mnist_cnn.keras` and its JSON sidecar.
Offline machines cannot download `keras.datasets.mnist`, so training falls back to the shared
copy of the MNIST test set (`../shared/data/mnist`): 8,000 of its images train the model and
2,000 others, never seen in training, measure it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from engine.dataset.mnist import IMAGES_FILE, load_mnist_dir, split_train_holdout

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL_PATH = REPO_ROOT / "resources" / "models" / "mnist_cnn.keras"
DEFAULT_MNIST_DIR = REPO_ROOT.parent / "shared" / "data" / "mnist"
MODEL_NAME = "mnist_cnn"
CLASS_NAMES = [str(digit) for digit in range(10)]
DEFAULT_EPOCHS = 15
BATCH_SIZE = 64
N_TRAIN_LOCAL = 8000
N_HOLDOUT = 2000
# Small enough that a digit stays the same digit; this is what lets 8,000 images reach 98 %.
AUGMENTATION = "random shift up to 2 px and rotation up to 8 degrees, training batches only"


def build_default_model() -> keras.Model:
    """Return the untrained MNIST CNN from the notebook, with readable layer names."""
    conv = {"kernel_size": (3, 3), "padding": "same", "activation": "relu"}
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1), name="image"),
            keras.layers.Conv2D(24, name="conv1", **conv),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(48, name="conv2", **conv),
            keras.layers.MaxPooling2D(name="pool2"),
            keras.layers.Conv2D(64, name="conv3", **conv),
            keras.layers.MaxPooling2D(name="pool3"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(128, activation="relu", name="dense"),
            keras.layers.Dropout(0.25, name="dropout"),
            keras.layers.Dense(10, activation="softmax", name="predictions"),
        ],
        name=MODEL_NAME,
    )


def _augmenter(seed: int) -> keras.Sequential:
    # Kept outside the shipped model: the tool must show the network as a user would load it.
    return keras.Sequential(
        [
            keras.layers.RandomTranslation(2 / 28, 2 / 28, fill_mode="constant", seed=seed),
            keras.layers.RandomRotation(8 / 360, fill_mode="constant", seed=seed + 1),
        ],
        name="augmentation",
    )


def _scale(images: np.ndarray) -> np.ndarray:
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]


def _relative_to_repo(path: Path) -> str:
    # The sidecar ships with the repo, so record the data path the way the project names it.
    try:
        return "../" + path.resolve().relative_to(REPO_ROOT.parent).as_posix()
    except ValueError:
        return str(path.resolve())


def _load_data(
    mnist_dir: str | Path | None, seed: int, train_images: int | None = None
) -> tuple[tuple[np.ndarray, ...], dict]:
    """Return ((x_train, y_train, x_hold, y_hold), provenance) from Keras or a local copy;
    `train_images` (None: all of Keras's, N_TRAIN_LOCAL local ones) picked by `seed`."""
    keras_error: Exception | None = None
    if mnist_dir is None:
        try:
            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        except Exception as exc:  # offline, proxy, corrupt cache: any failure means fall back
            keras_error = exc
        else:
            _, _, x_hold, y_hold = split_train_holdout(x_test, y_test, 0, N_HOLDOUT, seed)
            if train_images is not None:
                x_train, y_train, _, _ = split_train_holdout(
                    x_train, y_train, train_images, 0, seed
                )
            provenance = {
                "dataset": "MNIST training set, held out from the test set (LeCun, Cortes, Burges)",
                "source": "keras.datasets.mnist",
                "images_sha256": None,
                "train_images": len(x_train),
                "held_out_images": len(x_hold),
                "seed": seed,
            }
            return (x_train, y_train, x_hold, y_hold), provenance
    directory = Path(mnist_dir) if mnist_dir is not None else DEFAULT_MNIST_DIR
    try:
        images, labels = load_mnist_dir(directory)
    except FileNotFoundError as exc:
        if mnist_dir is not None:
            raise
        raise FileNotFoundError(
            f"no MNIST data: keras.datasets.mnist failed ({keras_error}) and {exc}; "
            f"pass --mnist DIR, a directory holding {IMAGES_FILE} and its labels file"
        ) from exc
    n_train = N_TRAIN_LOCAL if train_images is None else train_images
    if n_train > len(images) - N_HOLDOUT:
        raise ValueError(
            f"train_images={n_train}: {directory} has {len(images)} digits, {N_HOLDOUT} of them "
            f"held out, so at most {len(images) - N_HOLDOUT} can train"
        )
    # One permutation, training digits first: the held-out ones stay the same 2,000 digits
    # whatever the training count, and 8,000 of 10,000 is exactly the built-in model's split.
    whole = split_train_holdout(images, labels, len(images) - N_HOLDOUT, N_HOLDOUT, seed)
    split = (whole[0][:n_train], whole[1][:n_train], whole[2], whole[3])
    provenance = {
        "dataset": "MNIST test set (LeCun, Cortes, Burges)",
        "source": _relative_to_repo(directory),
        "images_sha256": hashlib.sha256((directory / IMAGES_FILE).read_bytes()).hexdigest(),
        "train_images": len(split[0]),
        "held_out_images": len(split[2]),
        "seed": seed,
    }
    return split, provenance


def train_default(
    output_path: str | Path,
    mnist_dir: str | Path | None = None,
    epochs: int = DEFAULT_EPOCHS,
    seed: int = 0,
    callbacks: list[keras.callbacks.Callback] | None = None,
    validate: bool = False,
    train_images: int | None = None,
    batch_size: int = BATCH_SIZE,
) -> dict[str, Any]:
    """Train the default model, save it to `output_path` (.keras) with a JSON sidecar beside it.

    `mnist_dir=None` tries `keras.datasets.mnist` and then `../shared/data/mnist`; a directory
    is used as given. `callbacks` go to `Model.fit` (e.g. for progress); with `validate` the
    held-out images are also `fit`'s validation data, so every epoch logs `val_loss` and
    `val_accuracy` (they never train the model). `seed`, `train_images` (None: see
    `_load_data`) and `batch_size` at their defaults rebuild the built-in model. Returns the
    sidecar.
    """
    output_path = Path(output_path)
    if output_path.suffix != ".keras":
        raise ValueError(f"output path {str(output_path)!r} must end in .keras")
    check_options(epochs, train_images, batch_size, seed)
    (x_train, y_train, x_hold, y_hold), provenance = _load_data(mnist_dir, seed, train_images)
    keras.utils.set_random_seed(seed)
    model = build_default_model()
    # Training goes through a wrapper so augmentation shares the weights but is not saved.
    trainer = keras.Sequential([keras.Input(shape=(28, 28, 1)), _augmenter(seed), model])
    steps = epochs * int(np.ceil(len(x_train) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=steps, alpha=0.05)
    trainer.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    trainer.fit(
        _scale(x_train),
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=True,
        callbacks=callbacks,
        validation_data=(_scale(x_hold), y_hold) if validate else None,
        verbose=0,
    )
    probabilities = model.predict(_scale(x_hold), batch_size=256, verbose=0)
    accuracy = float(np.mean(np.argmax(probabilities, axis=1) == y_hold))
    sidecar = {
        "name": MODEL_NAME,
        "description": "Small CNN (3 conv + 2 dense layers) classifying 28x28 handwritten digits",
        "class_names": CLASS_NAMES,
        "input": {
            "shape": [28, 28, 1],
            "color": "grayscale",
            "range": [0.0, 1.0],
            "scaling": "pixel / 255",
            "foreground": "white digit on black",
        },
        "provenance": provenance,
        "held_out_accuracy": round(accuracy, 4),
        "training": {
            "epochs": epochs,
            "batch_size": batch_size,
            "optimizer": "adam",
            "augmentation": AUGMENTATION,
        },
        "created_with": {"tensorflow": tf.__version__, "keras": keras.__version__},
    }
    output_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(output_path)
    sidecar_path = output_path.with_suffix(".json")
    sidecar_path.write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    return sidecar


def check_options(epochs: int, train_images: int | None, batch_size: int, seed: int) -> None:
    """Raise ValueError naming the first training option out of range."""
    if epochs < 1:
        raise ValueError(f"epochs={epochs} must be at least 1")
    if train_images is not None and train_images < 1:
        raise ValueError(f"train_images={train_images} must be at least 1")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be at least 1")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed={seed} must be in [0, 2**32)")


def builtin_difference(
    trained_path: str | Path, builtin_path: str | Path = DEFAULT_MODEL_PATH
) -> float:
    """Largest absolute difference between two saved models' weights, weight by weight.

    0.0 means bit-identical. Raises ValueError when the models' weights do not pair up (another
    architecture) and OSError when a file cannot be read.
    """
    trained = keras.models.load_model(trained_path, compile=False).get_weights()
    builtin = keras.models.load_model(builtin_path, compile=False).get_weights()
    shapes = [w.shape for w in trained], [w.shape for w in builtin]
    if shapes[0] != shapes[1]:
        raise ValueError(f"weights of shapes {shapes[0]} cannot be compared with {shapes[1]}")
    return max(
        float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)), initial=0.0))
        for a, b in zip(trained, builtin, strict=True)
    )


class _EpochPrinter(keras.callbacks.Callback):
    """One line per epoch on stdout, for the command line only."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self._epochs = epochs
        self._start = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        print(
            f"epoch {epoch + 1}/{self._epochs}: loss {logs.get('loss', float('nan')):.4f}, "
            f"accuracy {logs.get('accuracy', float('nan')):.4f}, "
            f"{time.monotonic() - self._start:.0f} s",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    """Command line for `main.py train-default`; returns the process exit status."""
    parser = argparse.ArgumentParser(
        prog="main.py train-default", description="Train and save the built-in MNIST model."
    )
    parser.add_argument("--mnist", metavar="DIR", help="directory with the MNIST IDX .gz files")
    parser.add_argument("--output", metavar="PATH", default=str(DEFAULT_MODEL_PATH))
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-images", type=int, metavar="N", help=f"default {N_TRAIN_LOCAL}")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    args = parser.parse_args(argv)
    start = time.monotonic()
    try:
        sidecar = train_default(
            args.output,
            args.mnist,
            args.epochs,
            args.seed,
            [_EpochPrinter(args.epochs)],
            train_images=args.train_images,
            batch_size=args.batch_size,
        )
    except (OSError, ValueError) as exc:
        print(f"train-default: error: {exc}", file=sys.stderr)
        return 1
    print(
        f"held-out accuracy {sidecar['held_out_accuracy']:.4f} on "
        f"{sidecar['provenance']['held_out_images']} images, "
        f"trained on {sidecar['provenance']['train_images']} from "
        f"{sidecar['provenance']['source']} in {time.monotonic() - start:.0f} s; "
        f"saved {args.output}"
    )
    return 0
