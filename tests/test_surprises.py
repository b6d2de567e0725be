"""Behaviour that surprised users, with a fake engine: Esc stops a run only from the
visualization, Shift+click and a right-click menu build the objective, no stale numbers after
a change (counter, canvas, curve, class probabilities under grown classes, "class 'class 0'",
"1 epochs", "0.00 s"), and only files that opened go into Open Recent."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from fake_engine import fake_summary, fake_window
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from engine.protocol import (
    Ascend,
    Explain,
    FailureKind,
    LoadModel,
    ObjectiveTerm,
    OpenImage,
    Recipe,
    StopRun,
)
from gui.common.names import Tab
from gui.common.wording import class_text, duration_text, plural
from gui.dialogs.training_dialog import TrainingDialog
from gui.layers.unit_menu import MENU_ADD, MENU_MAP, MENU_SUBTRACT, MENU_VISUALIZE
from gui.visualize.controls import AscentControls

CONV2, OUT = ("conv2",), ("out",)


@pytest.fixture
def window(qtbot, engine):
    win = fake_window(qtbot, engine)
    win.ui.controls.set_settings(Recipe(steps=20))
    win.layers.select_layer(CONV2)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=2_000)
    return win


def _press_escape(qtbot, widget) -> None:
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus, timeout=2_000)
    qtbot.keyClick(widget, Qt.Key_Escape)


def _stops(engine) -> int:
    return len(engine.of_type(StopRun))


def _click_unit(qtbot, window, unit: int, modifier=Qt.NoModifier) -> None:
    picker = window.ui.filter_picker
    rect = picker.visualItemRect(picker.unit_item(unit))
    qtbot.mouseClick(picker.viewport(), Qt.LeftButton, modifier, rect.center())


def _menu_entry(window, unit: int, text: str):
    menu = window.ui.filter_picker.unit_menu(unit)
    return next(action for action in menu.actions() if action.text() == text)


def _listed(menu) -> list[str]:
    return [action.data() for action in menu.actions() if action.data()]


def _file(folder, name: str) -> str:
    path = folder / name
    path.write_bytes(b"not really a file")  # the fake engine never reads it
    return str(path.resolve())


# ------------------------------------------------------------------ Esc


def test_esc_outside_the_visualization_does_not_stop_a_run(qtbot, window, engine):
    window.runs.visualize(3)
    window.show_tab(Tab.EXPLAIN)
    _press_escape(qtbot, window.ui.explain_panel.controls.method_combo)
    assert _stops(engine) == 0
    window.show_tab(Tab.VISUALIZE)
    _press_escape(qtbot, window.ui.layer_tree)  # the left column is not the visualization
    assert _stops(engine) == 0


def test_esc_on_the_canvas_or_method_panel_stops_the_run(qtbot, window, engine):
    window.runs.visualize(3)
    _press_escape(qtbot, window.ui.canvas.graphics)
    assert _stops(engine) == 1
    _press_escape(qtbot, window.ui.controls.steps_box)
    assert _stops(engine) == 2


def test_run_stop_keeps_its_shortcut_in_the_menu_and_works_from_it(window, engine):
    stop = window.menu_actions["stop"]
    assert stop.shortcut().toString() == "Esc"
    assert stop.shortcutContext() == Qt.ShortcutContext.WidgetWithChildrenShortcut
    window.runs.visualize(3)
    window.show_tab(Tab.EXPLAIN)
    stop.trigger()
    assert _stops(engine) == 1


# ------------------------------------------------------------------ subtracting without Alt


def test_shift_click_subtracts_a_filter_from_the_objective(qtbot, window, engine):
    _click_unit(qtbot, window, 2)
    _click_unit(qtbot, window, 7, Qt.ShiftModifier)
    request = engine.last(Ascend)
    assert request.unit == 2 and request.extra_terms == (ObjectiveTerm(CONV2, 7, -1.0),)
    assert window.ui.filter_picker.weights() == {2: 1.0, 7: -1.0}
    assert "Shift+click" in window.ui.filter_picker.unit_item(7).toolTip()


def test_the_thumbnail_menu_visualizes_adds_subtracts_and_shows_the_map(qtbot, window, engine):
    menu = window.ui.filter_picker.unit_menu(4)
    texts = [action.text() for action in menu.actions()]
    assert texts == [MENU_VISUALIZE, MENU_ADD, MENU_SUBTRACT, MENU_MAP]
    _menu_entry(window, 2, MENU_VISUALIZE).trigger()
    assert engine.last(Ascend).unit == 2 and engine.last(Ascend).extra_terms == ()
    _menu_entry(window, 5, MENU_ADD).trigger()
    _menu_entry(window, 7, MENU_SUBTRACT).trigger()
    terms = (ObjectiveTerm(CONV2, 5, 1.0), ObjectiveTerm(CONV2, 7, -1.0))
    assert engine.last(Ascend).extra_terms == terms
    engine.maps(CONV2, np.random.default_rng(0).random((14, 14, 16)).astype(np.float32))
    _menu_entry(window, 5, MENU_MAP).trigger()
    assert window.ui.canvas.is_showing_map() and "#5" in window.ui.canvas.title()


# A popup menu, offscreen: the plugin can neither raise it nor grab the keyboard for it.
@pytest.mark.qt_log_ignore("This plugin does not support (raise|grabbing)")
def test_a_right_click_on_a_thumbnail_opens_its_menu(qtbot, window, engine):
    from PySide6.QtGui import QContextMenuEvent
    from PySide6.QtWidgets import QMenu

    picker = window.ui.filter_picker
    point = picker.visualItemRect(picker.unit_item(6)).center()
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, point, picker.mapToGlobal(point))
    QApplication.sendEvent(picker.viewport(), event)
    menu = next(m for m in picker.findChildren(QMenu) if m.isVisible())
    next(a for a in menu.actions() if a.text() == MENU_SUBTRACT).trigger()
    menu.close()
    assert engine.last(Ascend).unit == 6  # nothing selected before: it grows on its own


# ------------------------------------------------------------------ stale numbers


def test_the_counter_follows_the_steps_box_before_a_run(qtbot):
    controls = AscentControls()
    qtbot.addWidget(controls)
    controls.steps_box.setValue(512)  # as the user types it: the form says it was edited
    assert controls.progress_label.text() == "step 0 / 512"
    controls.set_settings(Recipe(steps=64))  # Load Settings, a preset
    assert controls.progress_label.text() == "step 0 / 64"
    controls.set_running(True)
    controls.set_progress(10, 64)
    controls.steps_box.setValue(128)  # a running run's counter is its own
    assert controls.progress_label.text() == "step 10 / 64"


def test_restored_steps_show_in_the_counter(qtbot):
    from PySide6.QtCore import QSettings

    first = AscentControls()
    qtbot.addWidget(first)
    first.set_settings(Recipe(steps=512))
    first.save(QSettings())
    second = AscentControls()
    qtbot.addWidget(second)
    second.restore(QSettings())
    assert second.progress_label.text() == "step 0 / 512"


def _ended_run(window, engine) -> None:
    window.runs.visualize(3)
    run = engine.last(Ascend)
    engine.stream(run, (1, 2, 4))
    engine.finish(run, 20)
    assert window.ui.plot.values() and window.ui.filmstrip.count()
    assert "conv2 #3" in window.ui.canvas.title()


def test_switching_layer_clears_the_canvas_curve_and_counter(window, engine):
    _ended_run(window, engine)
    window.layers.select_layer(("conv1",))
    assert "conv2" not in window.ui.canvas.title()
    assert window.ui.plot.values() == [] and window.ui.filmstrip.count() == 0
    assert window.ui.controls.progress_label.text() == "step 0 / 20"


def test_switching_model_clears_the_canvas_curve_and_counter(window, engine):
    _ended_run(window, engine)
    window.models.open_model(None)
    engine.load()
    assert "conv2 #3" not in window.ui.canvas.title()
    assert window.ui.plot.values() == [] and window.ui.filmstrip.count() == 0
    steps = window.ui.controls.settings().steps  # the new model's default preset's
    assert window.ui.controls.progress_label.text() == f"step 0 / {steps}"


def test_a_grown_class_does_not_show_the_images_probability(window, engine):
    window.layers.select_layer(OUT)
    probabilities = np.linspace(0.01, 0.1, 10).astype(np.float32)
    engine.maps(OUT, probabilities)
    picker = window.ui.filter_picker
    assert picker.unit_item(3).text() == f"3  {probabilities[3]:.3g}"
    window.runs.visualize(3)
    engine.finish(engine.last(Ascend), 20)
    assert picker.unit_item(3).text() == "3"  # the grown image's label: no probability
    assert picker.unit_item(4).text() == f"4  {probabilities[4]:.3g}"  # the feature map's


def test_a_class_named_class_0_is_named_once(qtbot, engine):
    names = tuple(f"class {k}" for k in range(10))
    window = fake_window(qtbot, engine, summary=replace(fake_summary(), class_names=names))
    window.layers.select_layer(OUT)
    window.runs.visualize(0)
    engine.finish(engine.last(Ascend), 20)
    title = window.ui.canvas.title()
    assert "out class 0 ·" in title and "'class 0'" not in title
    assert class_text("7") == "class '7'" and class_text("class 3") == "class 3"


def test_a_fast_explanation_says_milliseconds(window, engine):
    window.explainer.explain()
    engine.explain(engine.last(Explain), seconds=0.004)
    title = window.ui.explain_panel.view.canvas.title()
    assert "4.0 ms" in title and "0.00 s" not in title
    assert "in 4.0 ms" in window.feedback.status_text()
    assert (duration_text(0.25), duration_text(1.5), duration_text(0.9999)) == (
        "250 ms",
        "1.50 s",
        "1.00 s",
    )
    with pytest.raises(ValueError, match="-1"):
        duration_text(-1)


def test_one_epoch_is_singular(qtbot):
    dialog = TrainingDialog()
    qtbot.addWidget(dialog)
    dialog.epochs.setValue(1)
    assert dialog.epochs.text() == "1 epoch"
    dialog.set_started(1)
    assert "training for 1 epoch…" in dialog.status.text()
    dialog.set_cancelled()
    assert dialog.status.text() == "Cancelled after 0 epochs; nothing was saved."
    assert plural(1, "epoch") == "1 epoch" and plural(2, "epoch") == "2 epochs"


# ------------------------------------------------------------------ Open Recent


def test_an_image_goes_into_open_recent_once_it_opened(window, engine, tmp_path):
    path = _file(tmp_path, "cat.png")
    window.images.open_image(path)
    assert _listed(window.ui.recent_images_menu) == []  # asked for, not opened yet
    engine.open(source=path)
    assert _listed(window.ui.recent_images_menu) == [path]


def test_a_file_that_failed_to_open_is_not_in_open_recent(window, engine, tmp_path):
    good, bad = _file(tmp_path, "good.keras"), _file(tmp_path, "bad.keras")
    window.models.open_model(good)
    engine.load()
    window.models.open_model(bad)
    engine.fail(engine.last(LoadModel), FailureKind.INPUT, "bad.keras is damaged")
    assert _listed(window.ui.recent_models_menu) == [good]
    image = _file(tmp_path, "broken.png")
    window.images.open_image(image)
    engine.fail(engine.last(OpenImage), FailureKind.INPUT, "broken.png is not an image")
    assert _listed(window.ui.recent_images_menu) == []


def test_a_recent_file_that_now_fails_leaves_the_list(window, engine, tmp_path):
    first, second = _file(tmp_path, "a.keras"), _file(tmp_path, "b.keras")
    for path in (first, second):
        window.models.open_model(path)
        engine.load()
    (tmp_path / "a.keras").write_bytes(b"damaged since")
    window.models.open_model(first)
    engine.fail(engine.last(LoadModel), FailureKind.INPUT, "a.keras is damaged")
    assert _listed(window.ui.recent_models_menu) == [second]  # not moved to the top: gone
