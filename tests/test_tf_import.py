"""The engine's TensorFlow import keeps scikit-learn out of the window's start, not out of reach."""

from __future__ import annotations

import subprocess
import sys

from engine.images.samples import load_sample

_CHECK = """
import sys
from engine.tf_import import import_tensorflow
import_tensorflow()
assert "keras" in sys.modules and "tensorflow" in sys.modules
assert "sklearn" not in sys.modules, "Keras pulled in scikit-learn"
import sklearn.datasets  # still importable afterwards, for LIME and friends
print("ok", sklearn.__version__)
"""


def test_tensorflow_imports_without_scikit_learn_which_still_loads_later() -> None:
    # A fresh interpreter: this test process has imported everything already.
    done = subprocess.run(
        [sys.executable, "-c", _CHECK], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok")


def test_the_digit_sample_reads_scikit_learns_data_file_as_load_digits_does() -> None:
    from sklearn.datasets import load_digits

    digits = load_digits()
    picture = load_sample("digit:3")
    assert picture.size == (28, 28)
    assert int(digits.target[3]) == 3  # the first 3 of the set, which the sample shows
