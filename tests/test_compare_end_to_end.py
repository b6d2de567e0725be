"""The Compare tab with the real engine thread: the built-in model against itself and against a
model of another architecture, and Stop."""

from __future__ import annotations

import numpy as np
import pytest

from engine.protocol import Comparison, JobEnded
from engine.protocol.recipe import Recipe
from gui.common.names import Tab


@pytest.fixture
def window(real_window):
    real_window.ui.controls.set_settings(Recipe(steps=6, frame_every=1))
    return real_window


def _finished(qtbot, engine, start) -> tuple[Comparison, JobEnded]:
    """Run `start`, then wait for the comparison it causes to end; returns its final result
    and how it ended."""
    ends: list[JobEnded] = []
    engine.ended.connect(lambda e: isinstance(e.value, Comparison) and ends.append(e))
    start()
    qtbot.waitUntil(lambda: bool(ends), timeout=60_000)
    return ends[-1].value, ends[-1]


def test_the_built_in_model_against_itself_agrees_everywhere(qtbot, window, real_engine) -> None:
    with qtbot.waitSignal(window.state.image_changed, timeout=30_000):
        window.images.open_image(sample="digit:3")
    window.layers.select_layer(("conv2",))
    window.ui.filter_picker.filter_selected.emit(4)  # on the Visualize tab: a visualization
    result, ended = _finished(qtbot, real_engine, lambda: window.comparison.compare_with(None))
    assert window.ui.centre_tabs.currentIndex() == Tab.COMPARE
    assert result.layer == ("conv2",) and result.unit == 4 and not ended.cancelled
    assert result.correlation == pytest.approx(1.0)
    np.testing.assert_allclose(result.a.image, result.b.image, atol=1e-5)
    assert result.verdict.startswith("Same top class '3'")
    view = window.ui.compare_view
    qtbot.waitUntil(lambda: not view.is_running(), timeout=5_000)
    assert view.column_a.vis_canvas.current_rgb8() is not None
    assert view.column_b.predictions.rows()[0][0] == "3"


def test_another_architecture_is_noted_and_stop_cancels(
    qtbot, window, real_engine, saved_models
) -> None:
    with qtbot.waitSignal(window.state.image_changed, timeout=30_000):
        window.images.open_image(sample="digit:3")
    window.layers.select_layer(("conv3",))
    tiny = str(saved_models["tiny"])
    result, _ended = _finished(qtbot, real_engine, lambda: window.comparison.compare_with(tiny))
    assert result.b.note == "model B has no layer 'conv3'"
    assert len(result.a.predictions) == 5 and len(result.b.predictions) == 4
    assert window.ui.compare_view.column_b.note_label.text() == "Model B has no layer 'conv3'"
    # A long comparison, stopped after its first frame.
    window.ui.controls.set_settings(Recipe(steps=5000, frame_every=1))
    real_engine.compare_frame.connect(lambda _frame: window.runs.stop())
    stopped, ended = _finished(qtbot, real_engine, window.comparison.compare)
    assert ended.cancelled and stopped.a.steps_done < 5000
