"""The window with a fake engine: what it asks the engine for and what the user then sees."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fake_engine import FakeEngine, colour_image, fake_window
from PIL import Image
from PySide6.QtCore import QPointF, Qt

from engine.protocol import (
    Ascend,
    Atlas,
    EndReason,
    ObjectiveTerm,
    StopRun,
    TweakRun,
)
from engine.protocol.recipe import PRESETS, Recipe
from gui.common.imaging import visualization_rgb8
from gui.main_window import MainWindow

CONV2 = ("conv2",)


@pytest.fixture
def window(qtbot, engine):
    # conv2 (14×14×16) is selected, as the last convolution; no image yet.
    return fake_window(qtbot, engine, image=False)


def _click_unit(qtbot, win: MainWindow, unit: int, modifier=Qt.NoModifier) -> None:
    picker = win.ui.filter_picker
    rect = picker.visualItemRect(picker.item(unit))
    qtbot.mouseClick(picker.viewport(), Qt.LeftButton, modifier, rect.center())


def _run(
    win: MainWindow, engine: FakeEngine, unit: int = 3, reason=EndReason.FINISHED, **finish
) -> Ascend:
    """Start a run of `unit`, stream steps 1..20 and finish it."""
    win.runs.visualize(unit)
    request = engine.last(Ascend)
    engine.stream(request, tuple(range(1, 21)))
    engine.finish(request, 20, reason, **finish)
    return request


def test_choosing_a_preset_fills_the_form(window, engine) -> None:
    combo = window.ui.controls.preset_bar.combo
    combo.setCurrentIndex(combo.findText("Fast preview"))
    assert window.ui.controls.settings() == PRESETS["Fast preview"]
    window.runs.visualize(1)
    assert engine.last(Ascend).settings == PRESETS["Fast preview"]


def test_a_saved_preset_survives_a_new_window(qtbot, window) -> None:
    mine = Recipe(steps=123, optimizer="adam", tv=0.01, scales=(0.9, 1.0))
    window.ui.controls.set_settings(mine)
    window.ui.controls.save_preset("Smooth")
    window.close()
    second = MainWindow(FakeEngine())
    qtbot.addWidget(second)
    assert "Smooth" in second.ui.controls.preset_names()
    assert second.ui.controls.current_preset() == "Smooth"  # the remembered recipe is that preset
    second.ui.controls.choose_preset("Classic")
    second.ui.controls.choose_preset("Smooth")
    assert second.ui.controls.settings() == mine


def test_editing_the_learning_rate_mid_run_tweaks_the_run(window, engine) -> None:
    window.ui.controls.learning_rate_box.setValue(0.2)
    assert not engine.of_type(TweakRun)  # nothing is running: it waits for the next start
    window.runs.visualize(2)
    window.ui.controls.learning_rate_box.setValue(0.3)
    assert engine.last(TweakRun).settings.learning_rate == 0.3
    window.ui.controls.steps_box.setValue(500)  # not a live knob
    assert len(engine.of_type(TweakRun)) == 1
    engine.finish(engine.last(Ascend), 5)
    assert window.runs.record.document()["learning_rate"] == 0.3
    window.ui.controls.learning_rate_box.setValue(0.4)
    assert len(engine.of_type(TweakRun)) == 1


def test_the_filmstrip_fills_from_milestones_and_a_click_shows_that_image(qtbot, window, engine):
    window.runs.visualize(3)
    request = engine.last(Ascend)
    frames = engine.stream(request, tuple(range(1, 21)))
    engine.finish(request, 20, image=colour_image(5))
    strip = window.ui.filmstrip
    assert strip.steps() == [1, 2, 4, 8, 16, 20]
    qtbot.mouseClick(strip.strip.viewport(), Qt.LeftButton, pos=strip.item_rect(3).center())
    shown = window.ui.canvas.current_rgb8()
    np.testing.assert_array_equal(shown, visualization_rgb8(frames[7].image))
    assert "step 8" in window.ui.canvas.title()
    window.runs.visualize(4)
    assert strip.count() == 0  # a new run starts a new strip


def test_export_animation_writes_an_animated_gif(window, engine, tmp_path) -> None:
    target = tmp_path / "run.gif"
    window.run_files.export_animation(str(target))
    assert not target.exists() and window.ui.message_bar.is_error()
    _run(window, engine)
    window.run_files.export_animation(str(target))
    with Image.open(target) as gif:
        assert gif.is_animated and gif.n_frames > 1 and min(gif.size) >= 256
    window.run_files.export_animation(str(tmp_path / "missing" / "run.gif"))
    assert "Could not export" in window.ui.message_bar.text()


def test_export_settings_round_trips_through_recipe_from_dict(window, engine, tmp_path) -> None:
    window.ui.controls.set_settings(PRESETS["Lucid"])
    _run(window, engine, 6, EndReason.CONVERGED, activation=2.5, quality=1.25, restarted=True)
    target = tmp_path / "run.json"
    window.run_files.export_settings(str(target))
    document = json.loads(target.read_text())
    assert Recipe.from_dict(document) == PRESETS["Lucid"]
    run = document["run"]
    assert (run["layer"], run["unit"], run["neuron"], run["seed"]) == ("conv2", 6, None, 0)
    assert (run["stop_reason"], run["activation"], run["quality"]) == ("converged", 2.5, 1.25)
    window.ui.controls.set_settings(Recipe())
    window.run_files.load_settings(str(target))
    assert window.ui.controls.settings() == PRESETS["Lucid"]
    (tmp_path / "bad.json").write_text("[1, 2]")
    window.run_files.load_settings(str(tmp_path / "bad.json"))
    assert window.ui.message_bar.is_error() and "bad.json" in window.ui.message_bar.text()


def _show_maps(window: MainWindow, engine: FakeEngine) -> None:
    window.images.open_image(sample="digit:3")  # asks for conv2's maps with the image
    maps = np.random.default_rng(0).random((14, 14, 16)).astype(np.float32)
    engine.maps(CONV2, maps)
    engine.open(np.zeros((28, 28, 1), np.float32), "digit")


def test_clicking_a_feature_map_pixel_grows_that_neuron(qtbot, window, engine) -> None:
    _show_maps(window, engine)
    picker = window.ui.filter_picker
    rect = picker.visualItemRect(picker.item(5))
    qtbot.mouseClick(picker.viewport(), Qt.LeftButton, pos=rect.center())
    qtbot.mouseDClick(picker.viewport(), Qt.LeftButton, pos=rect.center())
    assert window.ui.canvas.is_showing_map() and "Feature map" in window.ui.canvas.title()
    engine.stream(engine.last(Ascend), (1, 2))  # the click's run goes on behind the map
    window.runs.painter.flush()
    assert window.ui.canvas.is_showing_map()
    canvas = window.ui.canvas
    scene = canvas.view.mapViewToScene(QPointF(9.5, 4.5))  # column 9, row 4
    pixel = canvas.graphics.mapFromScene(scene)
    qtbot.mouseClick(canvas.graphics.viewport(), Qt.LeftButton, pos=pixel)
    request = engine.last(Ascend)
    assert (request.layer, request.unit, request.neuron) == (CONV2, 5, (4, 9))
    assert request.extra_terms == ()
    engine.stream(request, (1, 2))
    window.runs.painter.flush()
    assert "conv2 #5 at (4, 9)" in window.ui.canvas.title()


def test_ctrl_click_adds_filters_to_the_objective(qtbot, window, engine) -> None:
    _click_unit(qtbot, window, 2)
    assert engine.last(Ascend).extra_terms == ()
    _click_unit(qtbot, window, 5, Qt.ControlModifier)
    _click_unit(qtbot, window, 7, Qt.AltModifier)
    request = engine.last(Ascend)
    assert request.unit == 2
    assert request.extra_terms == (ObjectiveTerm(CONV2, 5, 1.0), ObjectiveTerm(CONV2, 7, -1.0))
    assert window.ui.filter_picker.weights() == {2: 1.0, 5: 1.0, 7: -1.0}
    engine.stream(request, (1,))
    window.runs.painter.flush()
    assert "conv2 #2 + #5 − #7" in window.ui.canvas.title()
    _click_unit(qtbot, window, 5, Qt.ControlModifier)  # again: take it out
    assert engine.last(Ascend).extra_terms == (ObjectiveTerm(CONV2, 7, -1.0),)
    _click_unit(qtbot, window, 4)  # a plain click: one filter again
    assert engine.last(Ascend).extra_terms == () and engine.last(Ascend).unit == 4
    assert window.ui.filter_picker.weights() == {}


def test_atlas_tiles_fill_the_picker_and_cancel_stops_it(qtbot, window, engine) -> None:
    window.menu_actions["atlas"].trigger()
    request = engine.last(Atlas)
    assert (request.layer, request.units, request.cache_only) == (CONV2, None, False)
    bar = window.ui.atlas_bar
    assert bar.is_running() and window.ui.controls.stop_button.isEnabled()
    for unit in range(4):
        engine.tile(request.request_id, CONV2, unit, dead=unit == 2)
    engine.atlas_step(request.request_id, CONV2, 4, 16)
    # Drawn as every visualization is, in the display mode (View's default: the notebooks').
    expected = visualization_rgb8(colour_image(1))
    np.testing.assert_array_equal(window.ui.filter_picker.thumbnail(1), expected)
    assert window.ui.filter_picker.is_marked_dead(2) and not window.ui.filter_picker.is_marked_dead(
        1
    )
    assert bar.progress_text() == "conv2 · 4 / 16"
    qtbot.mouseClick(bar.cancel_button, Qt.LeftButton)
    assert isinstance(engine.requests[-1], StopRun)
    engine.end_atlas(request, 4, 16, EndReason.CANCELLED)
    assert not bar.is_running() and not window.ui.controls.stop_button.isEnabled()
    assert "cancelled" in bar.status_label.text() and "1 dead" in bar.status_label.text()


def test_reselecting_a_layer_asks_the_cache(window, engine) -> None:
    first = engine.last(Atlas)  # the model's default layer was looked up on loading
    assert first.cache_only and first.layer == CONV2
    window.layers.select_layer(("conv1",))
    window.layers.select_layer(CONV2)
    request = engine.last(Atlas)
    assert request.cache_only and request.layer == CONV2 and request is not first
    engine.tile(request.request_id, CONV2, 7)
    engine.end_atlas(request, 16, 16, from_cache=True)
    expected = visualization_rgb8(colour_image(7))
    np.testing.assert_array_equal(window.ui.filter_picker.thumbnail(7), expected)
    assert "from the cache" in window.ui.atlas_bar.status_label.text()
    # A running visualization does not hold the look-up back: the engine serves it between steps.
    window.runs.visualize(1)
    window.layers.select_layer(("conv1",))
    assert engine.last(Atlas).layer == ("conv1",) and engine.last(Atlas).cache_only
    # A running atlas does: the look-up would take over its progress bar.
    window.atlas.visualize_layer()
    count = len(engine.of_type(Atlas))
    window.layers.select_layer(CONV2)
    assert len(engine.of_type(Atlas)) == count
    running = engine.last(Atlas)
    engine.end_atlas(running, 6, 6)
    assert engine.last(Atlas).layer == CONV2 and engine.last(Atlas).cache_only


def test_a_dead_filter_is_marked_and_explained(window, engine) -> None:
    _run(window, engine, 12, EndReason.DEAD, activation=0.0, quality=0.0)
    assert window.ui.filter_picker.is_marked_dead(12)
    assert window.ui.message_bar.isVisible()
    assert window.ui.message_bar.text() == (
        "conv2 #12 never fires: no starting image made it respond."
    )
    _run(window, engine, 12, activation=1.0)
    assert not window.ui.filter_picker.is_marked_dead(12)


def test_quality_and_stop_reason_are_in_the_title(window, engine) -> None:
    _run(window, engine, 5, EndReason.CONVERGED, activation=2.31, quality=1.4)
    expected = "conv2 #5 · converged at step 20 · activation 2.31 · 1.4× its best real image"
    assert window.ui.canvas.title() == expected
    _run(window, engine, 5, activation=0.7, quality=None, restarted=True)
    assert window.ui.canvas.title() == (
        "conv2 #5 · done at step 20 · activation 0.7 (restarted from a start that fires)"
    )


def test_negate_is_sent_and_named(window, engine) -> None:
    window.ui.controls.form.widgets["negate"].setChecked(True)
    window.ui.controls.form.widgets["batch"].setValue(3)
    _run(window, engine, 4, image=colour_image(1, 28)[:, :28].repeat(3, axis=1))
    request = engine.of_type(Ascend)[-1]
    assert request.settings.negate and request.settings.batch == 3
    assert window.ui.canvas.title().startswith("conv2 #4 (negated)")


def _nested_summary():
    from dataclasses import replace

    from engine.protocol import LayerInfo, LayerKind

    def conv(path: tuple[str, ...]) -> LayerInfo:
        return LayerInfo(path, path[-1], "Conv2D", (None, 7, 7, 4), 10, LayerKind.CHANNELS, 4)

    from fake_engine import fake_summary

    inner = (conv(("base", "block1_conv")), conv(("base", "shared")))
    base = replace(conv(("base",)), type_name="Functional", children=inner)
    return replace(fake_summary(), layers=(base, conv(("shared",))))


def test_a_bare_layer_name_finds_a_layer_inside_a_nested_model(qtbot):
    summary = _nested_summary()
    assert summary.resolve(("block1_conv",)).path == ("base", "block1_conv")
    assert summary.resolve(("base", "shared")).path == ("base", "shared")
    assert summary.resolve(("shared",)).path == ("shared",)  # the exact path comes first
    assert summary.resolve(("nowhere",)) is None
    engine = FakeEngine()
    window = fake_window(qtbot, engine, image=False, summary=summary)
    window.layers.select_layer(("block1_conv",))  # as `main.py --layer block1_conv` asks
    assert window.state.layer.path == ("base", "block1_conv")
    assert window.ui.layer_tree.current_layer().path == ("base", "block1_conv")
