"""The engine's TensorFlow import keeps scikit-learn and pandas out of the window's start, not
out of reach."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from engine.images.samples import load_sample

_CHECK = """
import sys
from engine.tf_import import import_tensorflow
import_tensorflow()
assert "keras" in sys.modules and "tensorflow" in sys.modules
assert "sklearn" not in sys.modules, "Keras pulled in scikit-learn"
assert "pandas" not in sys.modules, "Keras pulled in pandas"
import sklearn.datasets  # still importable afterwards, for LIME and friends
import pandas  # installed with Ray's data extra
import keras
assert keras.ops.sum(keras.ops.ones((2, 3))) == 6  # and Keras works
print("ok", sklearn.__version__, pandas.__version__)
"""


def test_tensorflow_imports_without_scikit_learn_or_pandas_which_still_load_later() -> None:
    # A fresh interpreter: this test process has imported everything already.
    done = subprocess.run(
        [sys.executable, "-c", _CHECK], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok")


def test_the_digit_sample_reads_scikit_learns_data_file_as_load_digits_does() -> None:
    from sklearn.datasets import load_digits

    from engine.images.samples import _digits

    images, labels = _digits()  # read from the package's file, without importing scikit-learn
    digits = load_digits()
    np.testing.assert_array_equal(images, digits.images)
    np.testing.assert_array_equal(labels, digits.target)
    picture = np.asarray(load_sample("digit:3"))
    assert picture.shape == (28, 28) and picture[4:24, 4:24].max() > 200  # a white digit, centred
    assert picture[:4].max() == 0 and picture[24:].max() == 0  # on MNIST's 4-pixel black margin
