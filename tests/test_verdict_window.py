"""The window says the engine's verdict: a unit real images excite is not "dead", a failed run
offers its best real image as a start, and Continue from This Image starts from the result."""

from __future__ import annotations

import numpy as np
import pytest
from fake_engine import fake_window
from PySide6.QtCore import Qt

from engine.optvis.verdict import judge
from engine.protocol import Ascend, EndReason, Recipe
from gui.common.imaging import visualization_picture

REFERENCES = np.array([0.0, 0.9, 0.0, 2.0, 0.1])  # the unit's activation on 5 real images


@pytest.fixture
def window(qtbot, engine):
    win = fake_window(qtbot, engine)
    win.ui.controls.set_settings(Recipe(steps=20))
    return win


def _finish(window, engine, unit: int, activation: float, **changes) -> Ascend:
    window.runs.visualize(unit)
    request = engine.last(Ascend)
    engine.stream(request, (1, 2))
    verdict = judge(activation, REFERENCES, scale=2.0, from_real=changes.pop("from_real", False))
    engine.finish(request, 20, activation=activation, verdict=verdict, **changes)
    return request


def test_a_failed_run_says_how_far_below_and_starts_from_the_best_real_image(
    qtbot, window, engine
) -> None:
    best = np.full((28, 28, 1), 0.75, np.float32)
    _finish(window, engine, 4, 0.0104, quality=0.0052, best_real_image=best)
    assert "failed: 0.0052× its best real image" in window.ui.canvas.title()
    bar = window.ui.message_bar
    assert bar.isVisible() and "0.0052×" in bar.text() and "Try:" in bar.text()
    assert not window.ui.filter_picker.is_marked_dead(4)
    exported = window.runs.record.document()["run"]["verdict"]  # Export Settings carries it
    assert exported["kind"] == "failed" and exported["best_index"] == 3 and exported["hint"]
    assert bar.action_button.isVisible()
    assert bar.action_button.text() == "Start from its best real image"
    qtbot.mouseClick(bar.action_button, Qt.LeftButton)
    again = engine.last(Ascend)
    assert again.unit == 4 and again.settings.init == "image" and again.settings.steps == 20
    np.testing.assert_array_equal(again.start_image, best)
    assert not bar.isVisible()  # the warning was about the run it replaced


def test_a_unit_only_real_images_excite_is_weak_not_dead(window, engine) -> None:
    best = np.full((28, 28, 1), 0.5, np.float32)
    _finish(window, engine, 6, 0.0, best_real_image=best, restarted=True)
    title = window.ui.canvas.title()
    assert "never fires" not in title and "weak: fires on 3 of 5 real images" in title
    assert "#3" in window.ui.message_bar.text()  # the best real image is named
    assert not window.ui.filter_picker.is_marked_dead(6)


def test_dead_only_when_nothing_fires_and_the_message_gives_the_evidence(window, engine) -> None:
    window.runs.visualize(7)
    request = engine.last(Ascend)
    verdict = judge(1e-17, np.full(5, 1e-17), scale=2.0)
    engine.finish(request, 20, EndReason.FINISHED, activation=1e-17, verdict=verdict)
    assert window.ui.filter_picker.is_marked_dead(7)
    assert "never fires" in window.ui.canvas.title()
    assert "none of 5 real images" in window.ui.message_bar.text()
    assert not window.menu_actions["continue_from"].isEnabled()


def test_continue_from_this_image_starts_a_new_run_from_the_result(window, engine) -> None:
    action = window.menu_actions["continue_from"]
    assert not action.isEnabled() and action.shortcut().toString() == "Ctrl+Shift+F5"
    result = np.linspace(0, 1, 28 * 28, dtype=np.float32).reshape(28, 28, 1)
    first = _finish(window, engine, 2, 4.0, image=result)
    assert action.isEnabled()
    action.trigger()
    again = engine.last(Ascend)
    assert again is not first and (again.layer, again.unit) == (first.layer, first.unit)
    assert again.settings.init == "image" and again.settings.init_noise == 0.0
    # the picture on screen (the display mode's), as the notebooks re-seed from theirs
    np.testing.assert_array_equal(again.start_image, visualization_picture(result))
    assert not action.isEnabled()  # until the new run ends
    assert window.runs.record.document()["run"]["objective"] == "conv2 #2"
