"""Import TensorFlow and Keras as quickly as the window's start needs them.

Keras 3 imports its scikit-learn wrappers (`keras.wrappers`) at start-up, and they import all of
scikit-learn when it is installed: ~0.8 s of the ~3.5 s that `import keras` takes on two cores
(measured by benchmarks/startup.py --phases). convscope never uses those wrappers, so scikit-learn
is kept out while Keras imports, and loads later, when something of ours asks for it (the digit
sample, LIME). Keras's wrappers then say scikit-learn is missing if anyone calls them.
"""

from __future__ import annotations

import sys


def import_tensorflow() -> None:
    """Import tensorflow and keras, without letting Keras pull in scikit-learn."""
    # Once either is loaded there is nothing left to save.
    keep_out = "keras" not in sys.modules and "sklearn" not in sys.modules
    if keep_out:
        # A None entry makes `import sklearn` raise ImportError, which Keras's wrappers
        # expect when scikit-learn is not installed.
        sys.modules["sklearn"] = None  # type: ignore[assignment]
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        if keep_out and sys.modules.get("sklearn", 0) is None:
            del sys.modules["sklearn"]
