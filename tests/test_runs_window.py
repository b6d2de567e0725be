"""The Visualize tab's jobs with a fake engine: frames painted only while they come, a stopped
run continued where it stopped, and a replaced run that can never reach the canvas."""

from __future__ import annotations

import pytest
from fake_engine import fake_window

from engine.protocol import Ascend, ContinueRun, EndReason, Recipe


@pytest.fixture
def window(qtbot, engine):
    win = fake_window(qtbot, engine)
    win.ui.controls.set_settings(Recipe(steps=20))
    return win


def test_the_repaint_timer_runs_only_while_frames_come(qtbot, window, engine) -> None:
    painter = window.runs.painter
    assert not painter.timer.isActive()  # nothing to paint before any run
    window.runs.visualize(3)
    assert not painter.timer.isActive()  # a run that has sent nothing yet
    run = engine.last(Ascend)
    engine.stream(run, (1, 2))
    assert painter.timer.isActive()
    with qtbot.waitSignal(painter.painted, timeout=2_000) as painted:
        pass
    assert painted.args[0].step == 2  # the newest frame only
    qtbot.waitUntil(lambda: not painter.timer.isActive(), timeout=2_000)  # none came since
    assert painter.frames_shown == 1
    engine.stream(run, (3,))  # frames again: the timer again
    assert painter.timer.isActive()
    engine.finish(run, 3)
    assert not painter.timer.isActive() and painter.frames_shown == 2


def test_continue_goes_on_from_the_step_a_stopped_run_reached(qtbot, window, engine) -> None:
    cont = window.menu_actions["continue"]
    assert not cont.isEnabled() and cont.shortcut().toString() == "Shift+F5"
    window.runs.visualize(3)
    run = engine.last(Ascend)
    engine.stream(run, tuple(range(1, 6)))
    window.ui.controls.stop_button.click()
    engine.stop_run(run, 5)
    assert "stopped at step 5" in window.ui.canvas.title()
    assert "Run › Continue" in window.feedback.status_text()
    assert cont.isEnabled()
    cont.trigger()
    request = engine.last(ContinueRun)
    assert request.run_id == run.request_id and not cont.isEnabled()
    assert window.ui.controls.stop_button.isEnabled()
    engine.stream(request, tuple(range(6, 13)))
    window.runs.painter.flush()
    assert window.ui.controls.progress_label.text() == "step 12 / 20"
    assert window.ui.canvas.title() == "conv2 #3 · step 12"
    assert window.ui.plot.values() == [float(step) for step in range(1, 13)]  # one curve
    assert window.ui.filmstrip.steps() == [1, 2, 4, 5, 8]  # the strip goes on too
    engine.finish(request, 20)
    assert window.ui.canvas.title().startswith("conv2 #3 · done at step 20")
    assert window.runs.record.document()["run"]["steps_done"] == 20
    assert not cont.isEnabled()


def test_a_finished_run_or_a_new_model_leaves_nothing_to_continue(window, engine) -> None:
    window.runs.visualize(2)
    engine.finish(engine.last(Ascend), 20)
    assert not window.menu_actions["continue"].isEnabled()
    window.runs.visualize(2)
    engine.stop_run(engine.last(Ascend), 7)
    assert window.menu_actions["continue"].isEnabled()
    window.models.open_model(None)
    engine.load()  # the stopped run was of the old model
    assert not window.menu_actions["continue"].isEnabled()


def test_a_replaced_runs_frames_and_end_never_reach_the_canvas(qtbot, window, engine) -> None:
    shown: list[str] = []
    window.runs.painter.painted.connect(lambda frame: shown.append(f"#{frame.unit}"))
    finished: list[int] = []
    window.runs.finished.connect(lambda done: finished.append(done.unit))
    window.runs.visualize(0)
    old = engine.last(Ascend)
    engine.stream(old, (1, 2))
    window.runs.painter.flush()
    window.runs.visualize(7)  # another filter: the old run is dropped
    new = engine.last(Ascend)
    engine.stream(old, (3, 4))  # frames the engine sent before it took the new run
    engine.stream(new, (1,))
    engine.stream(old, (5,))
    engine.finish(old, 5, EndReason.CANCELLED)
    window.runs.painter.flush()
    assert shown == ["#0", "#7"] and "#7" in window.ui.canvas.title()
    assert window.ui.controls.progress_label.text() == "step 1 / 20"
    assert finished == [] and window.ui.controls.stop_button.isEnabled()
    engine.finish(new, 20)
    assert finished == [7]
