"""The "Open anyway (I trust this file)" button with the real engine thread: a model file
holding a Lambda layer is refused in safe mode, the message bar offers the button, and clicking
it loads the model with its layers in the tree."""

from __future__ import annotations

import pytest

from engine.protocol import TRUST_NOTE
from gui.models.opening import TRUST_BUTTON


@pytest.fixture
def lambda_model_path(tmp_path):
    import keras

    inputs = keras.Input((12, 12, 1), name="pixels")
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    x = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="scores")(x)
    path = tmp_path / "scaled.keras"
    keras.Model(inputs, outputs, name="scaled").save(path)
    return path


def _top_level_names(window) -> list[str]:
    tree = window.ui.layer_tree
    return [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]


def test_trusting_a_file_with_code_loads_it(qtbot, real_window, lambda_model_path):
    window = real_window
    before = _top_level_names(window)
    with qtbot.waitSignal(window.feedback.error_shown, timeout=60_000) as refused:
        window.models.open_model(str(lambda_model_path))
    assert refused.args[0] == (
        f"scaled.keras contains a Lambda layer 'double' (Python code saved in the file). "
        f"{TRUST_NOTE}"
    )
    bar, button = window.ui.message_bar, window.ui.message_bar.action_button
    assert bar.is_error() and button.isVisible() and button.text() == TRUST_BUTTON
    assert _top_level_names(window) == before  # the built-in model stays usable meanwhile

    with qtbot.waitSignal(window.models.shown, timeout=60_000) as shown:
        button.click()
    assert shown.args[0].name == "scaled"
    qtbot.waitUntil(lambda: "double" in _top_level_names(window), timeout=10_000)
    assert _top_level_names(window) == ["pixels", "double", "conv", "gap", "scores"]
    assert not button.isVisible()
