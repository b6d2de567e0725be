"""The Compare tab with the real engine thread: the built-in model against itself and against a
model of another architecture, and Stop."""

from __future__ import annotations

import numpy as np
import pytest

from engine.protocol.recipe import Recipe
from gui.window_compare import TAB_COMPARE


@pytest.fixture
def window(real_window):
    real_window.controls.set_settings(Recipe(steps=6, frame_every=1))
    return real_window


def _finished(qtbot, window, start) -> object:
    """Run `start`, then wait for the comparison it causes to finish; returns the result."""
    results = []
    window.engine.comparison.connect(lambda r: r.finished and results.append(r))
    start()
    qtbot.waitUntil(lambda: bool(results), timeout=60_000)
    return results[-1]


def test_the_built_in_model_against_itself_agrees_everywhere(qtbot, window) -> None:
    with qtbot.waitSignal(window.image_shown, timeout=30_000):
        window.open_image(sample="digit:3")
    window.select_layer(("conv2",))
    window.filter_picker.filter_selected.emit(4)  # on the Visualize tab: a visualization
    result = _finished(qtbot, window, lambda: window.compare_with(None))
    assert window.centre_tabs.currentIndex() == TAB_COMPARE
    assert result.layer == ("conv2",) and result.unit == 4 and not result.cancelled
    assert result.correlation == pytest.approx(1.0)
    np.testing.assert_allclose(result.a.image, result.b.image, atol=1e-5)
    assert result.verdict.startswith("Same top class '3'")
    view = window.compare_view
    qtbot.waitUntil(lambda: not view.is_running(), timeout=5_000)
    assert view.column_a.vis_canvas.current_rgb8() is not None
    assert view.column_b.predictions.rows()[0][0] == "3"


def test_another_architecture_is_noted_and_stop_cancels(qtbot, window, saved_models) -> None:
    with qtbot.waitSignal(window.image_shown, timeout=30_000):
        window.open_image(sample="digit:3")
    window.select_layer(("conv3",))
    result = _finished(qtbot, window, lambda: window.compare_with(str(saved_models["tiny"])))
    assert result.b.note == "model B has no layer 'conv3'"
    assert len(result.a.predictions) == 5 and len(result.b.predictions) == 4
    assert window.compare_view.column_b.note_label.text() == "Model B has no layer 'conv3'"
    # A long comparison, stopped after its first frame.
    window.controls.set_settings(Recipe(steps=5000, frame_every=1))
    window.engine.compare_frame.connect(lambda _frame: window.stop())
    stopped = _finished(qtbot, window, window.compare)
    assert stopped.cancelled and stopped.a.steps_done < 5000
