"""The method panel, filmstrip, canvas clicks, picker marks and export helpers on their own."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, QSettings, Qt

from engine.protocol import (
    Ascend,
    EndReason,
    LayerInfo,
    LayerKind,
    RunFinished,
    Verdict,
    VerdictKind,
)
from engine.protocol.recipe import LIVE_KNOBS, PRESETS, Recipe
from gui.common.canvas import Canvas
from gui.common.imaging import to_rgb8
from gui.layers.filter_picker import FilterPicker
from gui.visualize.controls import AscentControls
from gui.visualize.exports import thin_evenly, write_gif
from gui.visualize.filmstrip import Filmstrip
from gui.visualize.recipe_fields import FIELDS, SECTIONS
from gui.visualize.run_record import RunRecord, finished_caption

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

# A recipe that differs from the default in every field, tuples and switches included.
EVERYTHING = Recipe(
    steps=300, seed=7, frame_every=3, param="fourier", decorrelate=False, init="scales",
    init_noise=0.2, init_scales=((2, 1.0), (5, 0.25)), init_smooth=False, optimizer="adam",
    learning_rate=0.125, normalize_grad=False, pad=4, jitter=3, scales=(0.9, 1.1), rotate=7.5,
    l2=0.01, lp=0.02, lp_p=4.0, tv=0.03, blur_every=5, blur_sigma=1.5, octaves=3,
    octave_scale=1.6, negate=True, batch=4, diversity=0.5, converge_window=40, converge_tol=0.002,
)  # fmt: skip


def _conv(name: str, channels: int) -> LayerInfo:
    shape = (None, 28, 28, channels)
    return LayerInfo((name,), name, "Conv2D", shape, 10, LayerKind.CHANNELS, channels)


@pytest.fixture
def controls(qtbot, tmp_path):
    store = QSettings(str(tmp_path / "panel.ini"), QSettings.Format.IniFormat)
    panel = AscentControls(store=store)
    qtbot.addWidget(panel)
    panel.show()
    return panel


def test_every_recipe_field_is_in_the_form_with_a_tooltip(controls) -> None:
    assert set(FIELDS) == set(Recipe.__dataclass_fields__)
    assert [title for title, _ in SECTIONS] == [
        "Run", "Start image", "Image parameterization", "Optimizer", "Robustness",
        "Regularizers", "Objective", "Stop early",
    ]  # fmt: skip
    for name, widget in controls.form.widgets.items():
        tip = widget.toolTip()
        assert tip and "\n" not in tip, name
        assert ("running visualization" in tip) == (name in LIVE_KNOBS), name
    assert controls.form.widgets["negate"].text() == "Negate (what inhibits it)"


def test_the_form_shows_any_recipe_exactly(controls) -> None:
    for recipe in (EVERYTHING, *PRESETS.values()):
        controls.set_settings(recipe)
        assert controls.settings() == recipe


def test_the_panel_stays_compact(controls) -> None:
    assert controls.minimumSizeHint().height() < 300
    assert controls.sizeHint().height() < 320


def test_choosing_a_preset_fills_the_form_and_an_edit_makes_it_custom(qtbot, controls) -> None:
    combo = controls.preset_bar.combo
    assert controls.current_preset() == "Classic"  # the default recipe is the Classic preset
    combo.setCurrentIndex(combo.findText("Lucid"))
    assert controls.settings() == PRESETS["Lucid"]
    assert controls.form.widgets["param"].currentText() == "fourier"
    assert controls.form.widgets["scales"].text() == "0.95, 0.975, 1, 1.025, 1.05"
    controls.form.widgets["steps"].setValue(100)  # the user turns the spin box
    assert controls.current_preset() is None and combo.currentText() == "Custom"
    controls.choose_preset("Notebook")
    assert controls.settings() == PRESETS["Notebook"] and combo.currentText() == "Notebook"


def test_user_presets_are_saved_listed_and_deleted(controls, tmp_path) -> None:
    controls.set_settings(EVERYTHING)
    assert controls.save_preset("  Wild  ") == "Wild"
    assert "Wild" in controls.preset_names() and controls.current_preset() == "Wild"
    store = QSettings(str(tmp_path / "panel.ini"), QSettings.Format.IniFormat)
    assert Recipe.from_dict(json.loads(store.value("presets/Wild"))) == EVERYTHING
    with pytest.raises(ValueError, match="built-in"):
        controls.save_preset("Lucid")
    with pytest.raises(ValueError, match="name"):
        controls.save_preset("   ")
    controls.choose_preset("Classic")
    assert controls.preset_bar.delete_button.isEnabled() is False
    controls.choose_preset("Wild")
    assert controls.settings() == EVERYTHING and controls.preset_bar.delete_button.isEnabled()
    controls.delete_preset("Wild")
    assert "Wild" not in controls.preset_names()
    with pytest.raises(ValueError):
        controls.delete_preset("Classic")


def test_the_save_and_delete_buttons_ask_first(qtbot, controls, monkeypatch) -> None:
    import gui.visualize.controls as module

    monkeypatch.setattr(module.QInputDialog, "getText", lambda *_a, **_k: ("Mine", True))
    asked: list[str] = []

    def question(_parent, _title, text):
        asked.append(text)
        return module.QMessageBox.StandardButton.Yes

    monkeypatch.setattr(module.QMessageBox, "question", question)
    controls.set_settings(EVERYTHING)
    qtbot.mouseClick(controls.preset_bar.save_button, Qt.LeftButton)
    assert controls.preset_names()[-1] == "Mine" and controls.current_preset() == "Mine"
    assert not asked  # a new name needs no confirmation
    qtbot.mouseClick(controls.preset_bar.delete_button, Qt.LeftButton)
    assert asked == ["Delete your preset 'Mine'?"] and "Mine" not in controls.preset_names()
    assert controls.settings() == EVERYTHING  # deleting a preset keeps the form


def test_only_live_knobs_announce_themselves(qtbot, controls) -> None:
    with qtbot.waitSignal(controls.live_knobs_changed) as blocker:
        controls.form.widgets["learning_rate"].setValue(0.3)
    assert blocker.args[0].learning_rate == 0.3
    with qtbot.assertNotEmitted(controls.live_knobs_changed):
        controls.form.widgets["steps"].setValue(99)
        controls.form.widgets["param"].setCurrentText("fourier")
        controls.set_settings(replace(Recipe(), steps=99, tv=0.5))  # the program, not the user
    with qtbot.waitSignal(controls.live_knobs_changed) as blocker:
        controls.form.widgets["tv"].setValue(0.25)
    assert blocker.args[0].tv == 0.25 and blocker.args[0].steps == 99


def test_bad_text_is_marked_and_the_last_good_value_is_used(qtbot, controls) -> None:
    edit = controls.form.widgets["scales"]
    edit.setText("0.9, 1.1")
    edit.editingFinished.emit()
    assert controls.settings().scales == (0.9, 1.1)
    edit.setText("0.9, big")
    edit.editingFinished.emit()
    assert controls.settings().scales == (0.9, 1.1)
    assert edit.styleSheet() and "'big' is not a number" in edit.toolTip()
    pairs = controls.form.widgets["init_scales"]
    pairs.setText("4:1; 8:0.5")
    pairs.editingFinished.emit()
    assert controls.settings().init_scales == ((4, 1.0), (8, 0.5))
    edit.setText("1.2")
    edit.editingFinished.emit()
    assert controls.settings().scales == (1.2,) and not edit.styleSheet()


def test_every_field_survives_save_and_restore(qtbot, controls, tmp_path) -> None:
    controls.set_settings(EVERYTHING)
    store = QSettings(str(tmp_path / "other.ini"), QSettings.Format.IniFormat)
    controls.save(store)
    store.sync()
    fresh = AscentControls()
    qtbot.addWidget(fresh)
    fresh.restore(QSettings(str(tmp_path / "other.ini"), QSettings.Format.IniFormat))
    assert fresh.settings() == EVERYTHING
    store.setValue("ascent/param", "wavelets")
    store.setValue("ascent/scales", "-1")
    store.setValue("ascent/negate", "perhaps")
    store.setValue("ascent/init_scales", ["3:1", "9:0.5"])  # how an unquoted ini line reads
    fresh.set_settings(Recipe())
    fresh.restore(store)
    assert (fresh.settings().param, fresh.settings().scales) == ("pixel", ())
    assert fresh.settings().negate is False
    assert fresh.settings().init_scales == ((3, 1.0), (9, 0.5))


# ----------------------------------------------------------------------------- filmstrip


def test_filmstrip_adds_replaces_resets_and_reports_clicks(qtbot) -> None:
    strip = Filmstrip()
    qtbot.addWidget(strip)
    strip.resize(500, 100)
    strip.show()
    images = {step: np.full((28, 28, 1), step / 16, np.float32) for step in (1, 2, 4, 8, 16)}
    for step, image in images.items():
        strip.add(step, image)
    final = np.ones((28, 84, 1), np.float32)  # a batch of three, side by side
    strip.add(16, final)
    assert strip.count() == 5 and strip.steps() == [1, 2, 4, 8, 16]
    assert strip.image(4) is final
    with qtbot.waitSignal(strip.snapshot_chosen) as blocker:
        qtbot.mouseClick(strip.strip.viewport(), Qt.LeftButton, pos=strip.item_rect(2).center())
    assert blocker.args[0] == 4 and blocker.args[1] is images[4]
    strip.reset()
    assert strip.count() == 0


# ----------------------------------------------------------------------------- canvas


def _canvas_point(canvas: Canvas, row: float, column: float):
    scene = canvas.view.mapViewToScene(QPointF(column, row))
    return canvas.graphics.mapFromScene(scene)


def test_canvas_reports_clicked_pixels_only_on_a_feature_map(qtbot) -> None:
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(400, 400)
    canvas.show()
    canvas.show_map(np.arange(70.0).reshape(7, 10), "map")
    qtbot.waitUntil(lambda: canvas.graphics.isVisible())
    assert canvas.is_showing_map()
    with qtbot.waitSignal(canvas.pixel_clicked) as blocker:
        qtbot.mouseClick(
            canvas.graphics.viewport(), Qt.LeftButton, pos=_canvas_point(canvas, 2.5, 6.5)
        )
    assert blocker.args == [2, 6]
    canvas.show_image(np.zeros((7, 10, 1)))
    assert not canvas.is_showing_map()
    with qtbot.assertNotEmitted(canvas.pixel_clicked, wait=50):
        qtbot.mouseClick(
            canvas.graphics.viewport(), Qt.LeftButton, pos=_canvas_point(canvas, 2.5, 6.5)
        )


# ----------------------------------------------------------------------------- filter picker


def test_ctrl_and_alt_click_add_terms_without_selecting(qtbot) -> None:
    picker = FilterPicker()
    qtbot.addWidget(picker)
    picker.resize(400, 300)
    picker.show()
    picker.set_layer(_conv("conv1", 6))
    picker.select_unit(1)

    def click(unit: int, modifier) -> None:
        rect = picker.visualItemRect(picker.item(unit))
        qtbot.mouseClick(picker.viewport(), Qt.LeftButton, modifier, rect.center())

    with qtbot.waitSignal(picker.filter_added) as blocker:
        click(3, Qt.ControlModifier)
    assert blocker.args == [3, 1.0]
    with qtbot.waitSignal(picker.filter_added) as blocker:
        click(4, Qt.AltModifier)
    assert blocker.args == [4, -1.0]
    assert picker.current_unit() == 1
    before = picker.item(3).icon().pixmap(72, 72).toImage()
    picker.set_weights({1: 1.0, 3: 1.0, 4: -1.0})
    assert picker.item(3).text() == "+1·#3" and picker.item(4).text() == "−1·#4"
    assert picker.item(3).icon().pixmap(72, 72).toImage() != before  # a badge is drawn
    picker.set_weights({})
    assert picker.item(3).text() == "#3"


def test_dead_filters_are_crossed_out_until_they_fire(qtbot) -> None:
    picker = FilterPicker()
    qtbot.addWidget(picker)
    picker.set_layer(_conv("conv1", 3))
    picker.set_visualization(2, np.zeros((5, 5, 1), np.float32))
    picker.mark_dead(2)
    assert picker.is_marked_dead(2) and not picker.is_marked_dead(1)
    assert "never" in picker.item(2).toolTip() or "Dead" in picker.item(2).toolTip()
    np.testing.assert_array_equal(picker.thumbnail(2), to_rgb8(np.zeros((5, 5, 1))))
    picker.mark_dead(2, False)
    assert not picker.is_marked_dead(2)
    picker.mark_dead(0)
    picker.set_layer(_conv("conv1", 3))
    assert not picker.is_marked_dead(0)


# ----------------------------------------------------------------------------- exports


def test_thin_evenly_keeps_the_ends_and_the_limit() -> None:
    assert thin_evenly(list(range(10)), 20) == list(range(10))
    picked = thin_evenly(list(range(1000)), 150)
    assert len(picked) == 150 and picked[0] == 0 and picked[-1] == 999
    gaps = np.diff(picked)
    assert gaps.max() - gaps.min() <= 1


def test_write_gif_upscales_and_evens_out_frame_sizes(tmp_path) -> None:
    frames = [np.full((14, 14, 3), 40 * k, np.uint8) for k in range(3)]
    frames.append(np.full((28, 28, 3), 250, np.uint8))  # the last octave is larger
    target = tmp_path / "run.gif"
    assert write_gif(frames, target) == 4
    with Image.open(target) as gif:
        assert gif.is_animated and gif.n_frames == 4 and gif.size == (280, 280)
    with pytest.raises(ValueError, match="no frames"):
        write_gif([], target)


def test_a_run_record_thins_long_runs_evenly_and_ends_on_the_final_image() -> None:
    request = Ascend(("conv1",), 3, Recipe(steps=2000))
    record = RunRecord(request, "conv1 #3", max_frames=150)
    for step in range(2000):
        record.add_frame(np.full((4, 4, 1), step / 2000, np.float32))
    final = np.ones((4, 4, 1), np.float32)
    done = RunFinished(request.request_id, ("conv1",), 3, 2000, final, 1.0)
    record.finish(done, EndReason.FINISHED)
    frames = record.animation_frames()
    assert 100 <= len(frames) <= 150
    np.testing.assert_array_equal(frames[-1], to_rgb8(final))
    levels = np.array([frame[0, 0, 0] for frame in frames[:-1]], float)
    assert np.all(np.diff(levels) >= 0) and np.ptp(np.diff(levels)) <= 3


@pytest.mark.parametrize(
    ("reason", "changes", "expected"),
    [
        (EndReason.CONVERGED, {"steps_done": 180, "activation": 2.31, "quality": 1.4},
         "conv3 #5 · converged at step 180 · activation 2.31 · 1.4× its best real image"),
        (EndReason.FINISHED, {"steps_done": 256, "activation": 0.5, "quality": None},
         "conv3 #5 · done at step 256 · activation 0.5"),
        (EndReason.CANCELLED, {"steps_done": 12, "activation": float("nan")},
         "conv3 #5 · stopped at step 12"),
        (EndReason.FINISHED, {"steps_done": 9, "activation": 3.0, "restarted": True},
         "conv3 #5 · done at step 9 · activation 3 (restarted from a start that fires)"),
    ],
)  # fmt: skip
def test_finished_captions_say_why_and_how_well(reason, changes, expected) -> None:
    done = RunFinished(1, ("conv3",), 5, 0, np.zeros((2, 2, 1)), 0.0)
    assert finished_caption("conv3 #5", replace(done, **changes), reason) == expected


def test_finished_caption_names_the_ratio_to_the_best_real_image_once() -> None:
    verdict = Verdict(VerdictKind.FINE, "", 0.366, best_real=0.366, best_index=3, ratio=1.0)
    done = RunFinished(1, ("conv3",), 5, 20, np.zeros((2, 2, 1)), 0.366)
    done = replace(done, quality=1.0, verdict=verdict)
    caption = finished_caption("conv3 #5", done, EndReason.FINISHED)
    assert caption.count("its best real image") == 1, caption


def test_lime_hidden_fill_is_chosen_by_name(qtbot) -> None:
    from gui.explain.controls import ExplainControls

    controls = ExplainControls()
    qtbot.addWidget(controls)
    box = controls.option_boxes["hidden fill"]
    assert box.text() == "mean colour"
    box.stepUp()
    assert box.value() == 1 and box.text() == "grey"
    box.setValue(3)
    assert box.text() == "blurred"
