"""Import TensorFlow and Keras as quickly as the window's start needs them.

Keras 3 imports two optional libraries at start-up that convscope never uses through it:
scikit-learn for its wrappers (`keras.wrappers`, ~0.8 s on two cores) and pandas for its data
adapters (`array_slicing`, ~0.4-0.7 s with pyarrow, which pandas imports; both come with Ray's
`cluster` extra). Both are kept out while Keras imports (measured by benchmarks/startup.py
--phases) and load later, when something of ours asks for them (the digit sample and LIME use
scikit-learn). Keras then treats them as missing: its wrappers say scikit-learn is not installed,
and its fit/predict do not accept DataFrames, which convscope never passes.
"""

from __future__ import annotations

import sys

# Optional libraries that Keras imports eagerly and convscope never uses through Keras.
KEPT_OUT_OF_KERAS = ("sklearn", "pandas")


def import_tensorflow() -> None:
    """Import tensorflow and keras, without letting Keras pull in scikit-learn or pandas."""
    # Once Keras is loaded there is nothing left to save; a library already loaded stays.
    keep_out = (
        []
        if "keras" in sys.modules
        else [name for name in KEPT_OUT_OF_KERAS if name not in sys.modules]
    )
    for name in keep_out:
        # A None entry makes `import NAME` raise ImportError, which Keras expects when the
        # library is not installed.
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        for name in keep_out:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
