"""The Explain tab with a fake engine: what it asks, how answers look, side by side, exported."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fake_engine import FakeEngine, bump_heatmap, fake_window
from PIL import Image
from PySide6.QtCore import Qt

from engine.protocol import (
    Ascend,
    CancelExplain,
    EndReason,
    Explain,
    FailureKind,
    LayerInfo,
    LayerKind,
    ModelSummary,
    StopRun,
)
from gui.common.heatmaps import (
    COLORBAR_WIDTH,
    OUTLINE_AGAINST,
    OUTLINE_FOR,
    HeatmapStyle,
    render,
    value_range,
)
from gui.common.imaging import to_rgb8, upscale_nearest
from gui.explain.controls import INNER_UNIT
from gui.main_window import MainWindow


@pytest.fixture
def window(qtbot, engine):
    win = fake_window(qtbot, engine)
    win.show_tab(1)
    return win


def _press_explain(qtbot, win: MainWindow, engine: FakeEngine) -> Explain:
    qtbot.mouseClick(win.ui.explain_panel.controls.explain_button, Qt.LeftButton)
    return engine.last(Explain)


def test_explain_sends_the_chosen_method_class_layer_and_options(qtbot, window, engine) -> None:
    controls = window.ui.explain_panel.controls
    controls.set_method("gradcam")
    request = _press_explain(qtbot, window, engine)
    assert (request.method, request.target_class, request.layer) == ("gradcam", None, None)
    assert request.options == () and request.unit is None
    controls.set_target(7)
    controls.set_cam_layer(("conv1",))
    request = _press_explain(qtbot, window, engine)
    assert (request.method, request.target_class, request.layer) == ("gradcam", 7, ("conv1",))
    controls.set_method("occlusion")
    controls.option_boxes["patch"].setValue(6)
    controls.option_boxes["stride"].setValue(2)
    request = _press_explain(qtbot, window, engine)
    assert request.options == (("patch", 6), ("stride", 2)) and request.layer is None
    controls.set_method("lime")
    lime_defaults = (("samples", 300), ("n_segments", 0), ("fill_mode", 0), ("labels", 1))
    assert _press_explain(qtbot, window, engine).options == lime_defaults
    assert not controls.option_boxes["stride"].isVisibleTo(controls)  # only LIME's own show
    controls.set_method("smoothgrad")
    controls.option_boxes["samples"].setValue(40)
    assert _press_explain(qtbot, window, engine).options == (("n", 40),)
    controls.set_method("lime")  # each method remembers its own sample count
    assert controls.option_boxes["samples"].value() == 300
    assert controls.option_boxes["samples"].isVisibleTo(controls)
    controls.set_method("integrated_gradients")
    assert _press_explain(qtbot, window, engine).options == (("steps", 64),)
    assert _press_explain(qtbot, window, engine).score == "logit"  # Grad-CAM's choice
    controls.score_combo.setCurrentIndex(controls.score_combo.findData("probability"))
    assert _press_explain(qtbot, window, engine).score == "probability"


def test_the_class_list_names_the_models_classes(window) -> None:
    combo = window.ui.explain_panel.controls.target_combo
    texts = [combo.itemText(k) for k in range(combo.count())]
    assert texts[0] == "predicted class" and texts[1:11] == [f"class {d}" for d in "0123456789"]
    assert texts[-1].startswith("inner unit")


def test_an_inner_unit_needs_a_selected_filter(qtbot, window, engine) -> None:
    window.ui.explain_panel.controls.set_target(INNER_UNIT)
    count = len(engine.requests)
    window.explainer.explain()
    assert len(engine.requests) == count and "inner unit" in window.ui.message_bar.text()
    picker = window.ui.filter_picker
    picker.setCurrentItem(picker.unit_item(5))  # as a click: it also starts a visualization
    request = _press_explain(qtbot, window, engine)
    assert (request.unit_layer, request.unit, request.target_class) == (("conv2",), 5, None)


def test_without_an_image_nothing_is_asked(qtbot) -> None:
    engine = FakeEngine()
    win = fake_window(qtbot, engine, image=False)
    win.explainer.explain()
    assert not engine.of_type(Explain) and "Open an image" in win.ui.message_bar.text()


def test_an_explanation_overlays_the_image_and_opacity_changes_it(qtbot, window, engine) -> None:
    request = _press_explain(qtbot, window, engine)
    with qtbot.waitSignal(window.explainer.shown):
        done = engine.explain(request)
    canvas = window.ui.explain_panel.view.canvas
    shown = canvas.current_rgb8()[:, :280]  # the colorbar is on the right
    plain = upscale_nearest(to_rgb8(done.image), 256)
    assert shown.shape == plain.shape == (280, 280, 3)
    assert np.abs(shown.astype(int) - plain).mean() > 20
    assert canvas.title() == "Grad-CAM · class '3' · 250 ms"
    window.ui.explain_panel.view.opacity_slider.setValue(90)
    stronger = canvas.current_rgb8()[:, :280]
    assert np.abs(stronger.astype(int) - plain).mean() > np.abs(shown.astype(int) - plain).mean()
    window.ui.explain_panel.view.alone_check.setChecked(True)
    expected = render(done.image, done.heatmap, False, HeatmapStyle(0.9, "jet", True), None, 256)
    np.testing.assert_array_equal(canvas.current_rgb8()[:, :280], expected)
    window.ui.explain_panel.view.colormap_combo.setCurrentText("viridis")
    assert not np.array_equal(canvas.current_rgb8(), expected)
    engine.explain(Explain("saliency"))  # not the newest request: dropped
    assert window.ui.explain_panel.view.explanation() is done


def test_signed_maps_use_the_diverging_colormap(qtbot, window, engine) -> None:
    window.ui.explain_panel.controls.set_method("gradient_x_input")
    window.ui.explain_panel.view.alone_check.setChecked(True)
    window.ui.explain_panel.view.colormap_combo.setCurrentText("inferno")
    engine.explain(_press_explain(qtbot, window, engine), bump_heatmap(signed=True), signed=True)
    shown = window.ui.explain_panel.view.canvas.current_rgb8()[::10, ::10]  # back to 28×28
    middle, left, corner = shown[14, 14], shown[14, 4], shown[0, 27]
    assert middle[0] > 150 and middle[2] < 80  # positive peak: red
    assert left[2] > left[0] + 40  # negative bump: blue
    assert corner.min() > 225  # about zero: white
    assert "red for, blue against" in window.ui.explain_panel.view.canvas.title()


def test_add_to_comparison_twice_shows_two_panels(qtbot, window, engine) -> None:
    controls, panel = window.ui.explain_panel.controls, window.ui.explain_panel
    controls.set_method("gradcam")
    first = engine.explain(_press_explain(qtbot, window, engine))
    qtbot.mouseClick(panel.view.add_button, Qt.LeftButton)
    controls.set_method("occlusion")
    engine.explain(_press_explain(qtbot, window, engine), bump_heatmap() * -1, seconds=1.5)
    qtbot.mouseClick(panel.view.add_button, Qt.LeftButton)
    strip = panel.comparison
    assert strip.count() == 2
    assert strip.caption(0) == "Grad-CAM\nclass '3' · 250 ms"
    assert strip.caption(1) == "Occlusion sensitivity\nclass '3' · 1.50 s"
    assert not np.array_equal(strip.picture(0), strip.picture(1))
    before = strip.picture(0)
    panel.view.opacity_slider.setValue(10)  # panels follow the style of the large view
    assert not np.array_equal(strip.picture(0), before)
    qtbot.mouseClick(strip.grid.viewport(), Qt.LeftButton, pos=strip.item_rect_center(0))
    assert panel.view.explanation() is first


def test_export_writes_a_png_and_the_raw_map(qtbot, window, engine, tmp_path, monkeypatch):
    window.explainer.export_explanation(str(tmp_path / "none.png"))
    assert window.ui.message_bar.is_error() and not (tmp_path / "none.png").exists()
    done = engine.explain(_press_explain(qtbot, window, engine), bump_heatmap() + 0.125)
    window.explainer.export_explanation(str(tmp_path / "why.png"))
    with Image.open(tmp_path / "why.png") as saved:
        picture = np.asarray(saved.convert("RGB"))
    assert min(picture.shape[:2]) >= 256
    np.testing.assert_array_equal(picture, window.ui.explain_panel.view.canvas.current_rgb8())
    raw = np.load(tmp_path / "why.npy")
    assert raw.dtype == np.float32
    np.testing.assert_array_equal(raw, done.heatmap)
    report = json.loads((tmp_path / "why.json").read_text())
    assert (report["method"], report["verdict"], report["warning"]) == ("gradcam", "ok", "")
    assert report["range"] == [pytest.approx(float(done.heatmap.min())), pytest.approx(3.125)]
    window.ui.explain_panel.comparison.add(done)
    asked = []
    monkeypatch.setattr(
        window.dialogs, "save_path", lambda *args: asked.append(args) or str(tmp_path / "panel.png")
    )
    window.ui.explain_panel.comparison.export_requested.emit(0)  # the panel's context menu
    assert asked[0][-1] == "gradcam-class-3"  # the suggested file name
    assert (tmp_path / "panel.png").exists() and (tmp_path / "panel.npy").exists()


def test_long_methods_show_progress_and_cancel_sends_stoprun(qtbot, window, engine) -> None:
    controls = window.ui.explain_panel.controls
    controls.set_method("gradcam")
    _press_explain(qtbot, window, engine)
    assert not controls.progress.isVisible()  # a quick method: no bar
    controls.set_method("lime")
    request = _press_explain(qtbot, window, engine)
    assert controls.progress.isVisible() and controls.cancel_button.isVisible()
    engine.report(request.request_id, 0.5, "LIME superpixels")
    assert controls.progress.value() == 500
    qtbot.mouseClick(controls.cancel_button, Qt.LeftButton)
    assert isinstance(engine.requests[-1], CancelExplain)  # a visualization goes on
    assert controls.progress.text() == "Cancelling…"
    engine.end(request, EndReason.CANCELLED)
    assert not controls.progress.isVisible() and not controls.cancel_button.isVisible()
    assert "cancelled" in window.feedback.status_text()


def test_a_cancelled_request_that_never_ran_ends_with_its_job(qtbot, window, engine):
    controls = window.ui.explain_panel.controls
    controls.set_method("occlusion")
    request = _press_explain(qtbot, window, engine)
    qtbot.mouseClick(controls.cancel_button, Qt.LeftButton)
    assert controls.progress.isVisible()  # until the engine says the job is over
    engine.end(request, EndReason.CANCELLED)  # dropped unrun: the engine says so too
    assert not controls.progress.isVisible()


def test_a_visualization_replaces_a_running_explanation(qtbot, window, engine) -> None:
    controls = window.ui.explain_panel.controls
    controls.set_method("scorecam")
    request = _press_explain(qtbot, window, engine)
    window.runs.visualize(2)
    assert isinstance(engine.requests[-1], Ascend)
    engine.end(request, EndReason.CANCELLED)  # the new run stopped it
    assert not controls.progress.isVisible()
    engine.explain(request)  # too late: the job has ended
    assert window.ui.explain_panel.view.explanation() is None


def test_an_explanation_failure_shows_in_the_message_bar(qtbot, window, engine) -> None:
    window.ui.explain_panel.controls.set_method("lime")
    request = _press_explain(qtbot, window, engine)
    with qtbot.waitSignal(window.feedback.error_shown):
        engine.fail(request, FailureKind.INPUT, "LIME needs scikit-image")
    assert (
        window.ui.message_bar.is_error()
        and window.ui.message_bar.text() == "LIME needs scikit-image"
    )
    assert not window.ui.explain_panel.controls.progress.isVisible()


def test_live_explains_again_when_the_image_or_class_changes(qtbot, window, engine) -> None:
    controls = window.ui.explain_panel.controls
    controls.live_check.setChecked(True)
    count = len(engine.of_type(Explain))
    window.images.open_image(sample="digit:5")
    engine.open()
    assert len(engine.of_type(Explain)) == count + 1
    controls.set_target(8)
    assert engine.last(Explain).target_class == 8 and len(engine.of_type(Explain)) == count + 2
    controls.live_check.setChecked(False)
    window.images.open_image(sample="digit:6")
    engine.open()
    assert len(engine.of_type(Explain)) == count + 2
    assert window.ui.explain_panel.view.canvas.title().startswith("Input:")


def test_lime_outlines_its_top_superpixels(qtbot, window, engine) -> None:
    window.ui.explain_panel.controls.set_method("lime")
    segments = (np.arange(28)[:, None] // 14) * 2 + np.arange(28)[None, :] // 14
    details = {"segments": segments, "top_positive": [3], "top_negative": [0]}
    engine.explain(_press_explain(qtbot, window, engine), signed=True, details=details)
    shown = window.ui.explain_panel.view.canvas.current_rgb8()
    green = np.all(shown == OUTLINE_FOR, axis=-1)
    red = np.all(shown == OUTLINE_AGAINST, axis=-1)
    assert green[140:, 140:].any() and not green[:140, :140].any()
    assert red[:140, :140].any() and not red[140:, 140:].any()


def test_an_empty_map_is_said_so_and_every_map_has_a_colorbar(qtbot, window, engine) -> None:
    view = window.ui.explain_panel.view
    warning = "The Grad-CAM map is empty: no positive gradient at layer 'conv3'. Try layer 'conv2'."
    engine.explain(
        _press_explain(qtbot, window, engine), np.zeros((28, 28), np.float32),
        verdict="empty", warning=warning, score="logit of class 3",
    )  # fmt: skip
    assert view.warning_label.isVisibleTo(view) and view.warning_label.text() == warning
    assert "EMPTY MAP" in view.canvas.title() and " · logit · " in view.canvas.title()
    window.explainer.add_to_comparison()  # kept beside others, it still says so
    assert window.ui.explain_panel.comparison.caption(0).endswith("empty map")
    engine.explain(_press_explain(qtbot, window, engine), bump_heatmap(signed=True), signed=True)
    assert not view.warning_label.isVisibleTo(view)
    shown = view.canvas.current_rgb8()
    assert shown.shape[0] == 280 and shown.shape[1] > 280 + COLORBAR_WIDTH
    bar = shown[:, 280 + 4 + COLORBAR_WIDTH // 2]  # the middle column of the bar
    assert bar[0][0] > 150 and bar[0][2] < 80  # top: the largest positive value, red
    assert bar[-1][2] > bar[-1][0] + 40  # bottom: its negative, blue
    assert bar[140].min() > 230  # zero in the middle: white
    labels = shown[:, 280 + 4 + COLORBAR_WIDTH :]
    assert (labels.sum(axis=-1) < 200).any()  # the values are written beside it
    low, high = value_range(bump_heatmap(signed=True), True)
    assert low == -high and high > 0


def test_the_map_can_be_drawn_over_the_original_photo(qtbot, window, engine) -> None:
    view = window.ui.explain_panel.view
    engine.explain(_press_explain(qtbot, window, engine))
    assert not view.photo_check.isEnabled()  # no photo came with it
    photo = np.zeros((40, 60, 3), np.float32)  # wider than the model's square input
    engine.explain(_press_explain(qtbot, window, engine), original=photo)
    assert view.photo_check.isEnabled()
    view.alone_check.setChecked(False)
    view.photo_check.setChecked(True)
    shown = view.canvas.current_rgb8()
    assert shown.shape[0] == 280 and shown.shape[1] > 420  # 40x60 enlarged 7 times, + colorbar
    middle, corner = shown[140, 210], shown[5, 5]  # the bump stretched over the photo's middle
    assert middle[0] > middle[2] and corner[2] > corner[0]  # jet: the peak red, the rest blue


def _map_output_summary() -> ModelSummary:
    """A P-Net-like model: conv layers, then a 1x1 conv whose (9, 9, 2) output is the scores."""
    conv = LayerInfo(("c2",), "c2", "Conv2D", (None, 9, 9, 8), 1, LayerKind.CHANNELS, 8)
    scores = LayerInfo(("cls",), "cls", "Conv2D", (None, 9, 9, 2), 1, LayerKind.CHANNELS, 2, True)
    names = ("class 0", "class 1")
    return ModelSummary("pnet", "pnet.keras", (24, 24, 3), (0.0, 1.0), names, (conv, scores))


def test_a_map_output_offers_its_channels_and_a_position(qtbot, engine) -> None:
    win = fake_window(qtbot, engine, summary=_map_output_summary())
    win.show_tab(1)
    controls = win.ui.explain_panel.controls
    combo = controls.target_combo
    assert [combo.itemText(k) for k in range(1, combo.count() - 1)] == ["class 0", "class 1"]
    layers = [controls.layer_combo.itemData(k) for k in range(controls.layer_combo.count())]
    assert layers == [None, ("c2",)]  # the score map itself is no CAM layer
    assert controls.position_edit.isVisibleTo(controls)
    assert _press_explain(qtbot, win, engine).position is None  # empty: the spatial mean
    controls.position_edit.setText("3, 4")
    assert _press_explain(qtbot, win, engine).position == (3, 4)
    count = len(engine.of_type(Explain))
    controls.position_edit.setText("middle")
    win.explainer.explain()
    assert len(engine.of_type(Explain)) == count and "'middle'" in win.ui.message_bar.text()


def test_file_menu_and_tabs(window) -> None:
    assert window.menu_actions["export_explanation"].text().startswith("Export E")
    window.menu_actions["tab:visualize"].trigger()
    assert window.ui.active_canvas() is window.ui.canvas
    window.menu_actions["tab:explain"].trigger()
    assert window.ui.active_canvas() is window.ui.explain_panel.view.canvas


# ----------------------------------------------------------------------------- runs and Explain


def test_live_explanations_never_interrupt_a_run(qtbot, window, engine) -> None:
    controls = window.ui.explain_panel.controls
    controls.set_method("lime")  # slow: the engine has it wait for the run, never stops it
    controls.live_check.setChecked(True)
    window.runs.visualize(3)
    run = engine.last(Ascend)
    window.images.open_image(sample="digit:7")
    engine.open()  # a new image: Live explains it
    assert not engine.last(Explain).interrupts
    controls.set_target(4)  # another class: Live again
    assert not engine.last(Explain).interrupts
    window.ui.sketch_pad.sketch_changed.emit(window.ui.sketch_pad.pixels())
    engine.open(source="drawing")  # a drawing: Live again
    live = [request for request in engine.of_type(Explain)]
    assert len(live) == 3 and not any(request.interrupts for request in live)
    assert not any(isinstance(r, StopRun) for r in engine.requests)
    engine.stream(run, (1, 2, 3))  # and the run's frames still reach the canvas
    window.runs.painter.flush()
    assert window.ui.canvas.title() == "conv2 #3 · step 3"


def test_pressing_explain_stops_the_run_visibly_and_continue_resumes_it(
    qtbot, window, engine
) -> None:
    window.runs.visualize(3)
    run = engine.last(Ascend)
    engine.stream(run, (1, 2, 3))
    request = _press_explain(qtbot, window, engine)
    assert request.interrupts  # on purpose: the engine stops the run for it
    window.menu_actions["explain"].trigger()  # Run › Explain (F6) is on purpose too
    assert engine.last(Explain).interrupts
    engine.stop_run(run, 3)  # the engine's word on the interrupted run
    assert "stopped at step 3" in window.ui.canvas.title()
    assert "Run › Continue" in window.feedback.status_text()
    assert window.menu_actions["continue"].isEnabled()
    engine.explain(engine.last(Explain))
    assert window.ui.explain_panel.view.explanation() is not None
