"""What every benchmark script does before measuring: read its few options, make the engine
importable from a plain checkout with TensorFlow quiet, and say which versions it measures."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def arguments(
    doc: str, argv: list[str] | None, quick_help: str, *, skip_vgg: bool = True
) -> argparse.ArgumentParser:
    """The parser every benchmark shares (`--quick`, and `--skip-vgg` where VGG16 is measured);
    a script adds its own options before parsing."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    if skip_vgg:
        parser.add_argument("--skip-vgg", action="store_true", help="only the built-in model")
    return parser


def use_checkout() -> None:
    """Set before TensorFlow loads; the engine package must import from a plain checkout."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))


def print_versions() -> None:
    import keras
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs")


def vgg16(include_top: bool = False):
    """VGG16 at 224 px with random weights: nothing can be downloaded here, and speed does not
    depend on the weights."""
    import keras

    return keras.applications.VGG16(
        weights=None, include_top=include_top, input_shape=(224, 224, 3)
    )
