"""With a fake engine: the Compare tab — choosing model B, both sides' pictures and predictions,
notes for what B lacks, re-running on a new filter, Stop, and failures in the message bar."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from fake_engine import colour_image, fake_summary, grey_image
from PySide6.QtWidgets import QFileDialog

from engine.protocol import (
    TRUST_NOTE,
    Ascend,
    Compare,
    CompareFrame,
    CompareSide,
    Comparison,
    ComparisonLoaded,
    EndReason,
    FailureKind,
    LoadComparison,
    Prediction,
    StopRun,
)
from gui.common.imaging import apply_colormap, normalize_per_channel, to_rgb8
from gui.common.names import MODEL_B_KEY, Tab
from gui.compare.column import model_title
from gui.compare.controller import TRUST_BUTTON_B
from gui.models.input_memory import ModelInputs

CONV2 = ("conv2",)


def _load_b(window, engine, description: str = "") -> Compare:
    """Choose model B and answer for the engine; returns the Compare the window then asks."""
    window.comparison.compare_with("other.keras")
    request = engine.last(LoadComparison)
    summary = replace(fake_summary(), name="other", source="other.keras", description=description)
    engine.comparison_loaded.emit(ComparisonLoaded(request.request_id, summary))
    engine.end(request)
    return engine.last(Compare)


def _side(name: str, top: str, seed: int, note: str = "", image: bool = False) -> CompareSide:
    if note:
        return CompareSide(name, name, note=note, predictions=_top(top))
    feature_map = np.random.default_rng(seed).random((14, 14)).astype(np.float32)
    grown = colour_image(seed) if image else None
    return CompareSide(name, name, "", feature_map, float(feature_map.mean()), _top(top), grown,
                       2.5 if image else None, 8 if image else 0)  # fmt: skip


def _top(name: str) -> tuple[Prediction, ...]:
    other = "8" if name != "8" else "3"
    return (Prediction(int(name), name, 0.8), Prediction(int(other), other, 0.1))


def _result(request: Compare, a: CompareSide, b: CompareSide, **changes) -> Comparison:
    values = dict(verdict="B's top class differs: '3' vs '8'", correlation=0.3)
    values.update(changes)
    return Comparison(request.request_id, request.layer, request.unit, a, b, **values)


def test_choosing_model_b_in_the_menu_loads_it_and_compares_the_selected_filter(
    window, engine, monkeypatch, tmp_path
) -> None:
    path = tmp_path / "checkpoint_2.keras"
    path.write_bytes(b"x")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    window.menu_actions["compare_with"].trigger()
    request = engine.last(LoadComparison)
    assert request.path == str(path) and not request.trusted
    assert window.ui.centre_tabs.currentIndex() == Tab.COMPARE
    assert window.settings.value(MODEL_B_KEY) == str(path)
    assert not engine.of_type(Compare)  # nothing to compare with until B has loaded
    summary = replace(fake_summary(), name="checkpoint_2", untrained=True)
    engine.comparison_loaded.emit(ComparisonLoaded(request.request_id, summary))
    view = window.ui.compare_view
    assert view.column_b.title_label.text() == "B · fake.keras (untrained)"
    assert view.column_a.title_label.text() == "A · fake.keras"
    compare = engine.last(Compare)
    assert compare.layer == CONV2 and compare.unit == 0  # the window's layer, filter #0
    assert compare.settings == window.ui.controls.settings()
    assert view.is_running() and view.stop_button.isEnabled()


def test_both_sides_show_maps_frames_images_and_predictions(qtbot, window, engine) -> None:
    request = _load_b(window, engine)
    view = window.ui.compare_view
    a, b = _side("A", "3", 1), _side("B", "8", 2)
    engine.comparison.emit(_result(request, a, b))
    expected = apply_colormap(normalize_per_channel(a.feature_map[:, :, None])[:, :, 0], "viridis")
    np.testing.assert_array_equal(view.column_a.map_canvas.current_rgb8(), expected)
    assert view.column_b.map_canvas.current_rgb8() is not None
    assert view.column_a.predictions.rows() == [("3", 0.8), ("8", 0.1)]
    assert view.column_b.predictions.rows()[0] == ("8", 0.8)
    assert view.verdict_label.text() == "B's top class differs: '3' vs '8'"
    assert view.is_running()
    # Live frames: each side's newest frame is painted; the bar moves through A, then B.
    for side, step in (("A", 4), ("B", 2)):
        image = grey_image(step / 8, 28)
        engine.compare_frame.emit(CompareFrame(request.request_id, side, step, 8, image, (1.0,)))
    qtbot.waitUntil(lambda: view.column_b.vis_canvas.current_rgb8() is not None)
    np.testing.assert_array_equal(view.column_b.vis_canvas.current_rgb8(),
                                  to_rgb8(grey_image(2 / 8, 28)))  # fmt: skip
    assert view.column_b.vis_canvas.title() == "conv2 #0 in B · step 2"
    assert view.progress.value() == round((1 + 2 / 8) / 2 * view.progress.maximum())
    done = _result(request, _side("A", "3", 1, image=True), _side("B", "8", 2, image=True))
    engine.end(request, EndReason.FINISHED, done)
    np.testing.assert_array_equal(view.column_a.vis_canvas.current_rgb8(),
                                  to_rgb8(colour_image(1)))  # fmt: skip
    assert "activation 2.5" in view.column_a.vis_canvas.title()
    assert not view.is_running() and not view.stop_button.isEnabled()
    assert view.progress.value() == view.progress.maximum()
    assert "done" in view.status_label.text()


def test_a_layer_model_b_lacks_is_noted_in_its_column(window, engine) -> None:
    request = _load_b(window, engine)
    note = "model B has no layer 'conv2'"
    done = _result(request, _side("A", "3", 1, image=True), _side("B", "8", 2, note=note))
    engine.end(request, EndReason.FINISHED, done)
    column = window.ui.compare_view.column_b
    assert (
        column.note_label.isVisible() and column.note_label.text() == "Model B has no layer 'conv2'"
    )
    assert column.map_canvas.current_rgb8() is None
    assert "see the note" in column.vis_canvas.message_label.text()
    assert column.predictions.rows()[0] == ("8", 0.8)  # predictions are still compared
    assert not window.ui.compare_view.column_a.note_label.isVisible()


def test_picking_another_filter_on_the_tab_compares_it_instead_of_visualizing(
    qtbot, window, engine
) -> None:
    _load_b(window, engine)
    ascents = len(engine.of_type(Ascend))
    window.ui.filter_picker.filter_selected.emit(5)
    assert engine.last(Compare).unit == 5 and engine.last(Compare).layer == CONV2
    assert len(engine.of_type(Ascend)) == ascents  # no visualization took the engine's lane
    window.show_tab(0)
    window.ui.filter_picker.filter_selected.emit(6)
    assert engine.last(Compare).unit == 5 and engine.last(Ascend).unit == 6


def test_stop_on_the_tab_stops_the_comparison_and_stale_results_are_dropped(window, engine) -> None:
    old = _load_b(window, engine)
    window.ui.filter_picker.filter_selected.emit(3)
    new = engine.last(Compare)
    view = window.ui.compare_view
    view.stop_button.click()
    assert isinstance(engine.requests[-1], StopRun)
    engine.comparison.emit(_result(old, _side("A", "1", 1), _side("B", "1", 2)))
    assert view.verdict_label.text() == ""  # the replaced comparison never shows
    stopped = _result(new, _side("A", "3", 1, image=True), _side("B", "3", 2),
                      verdict="Same top class '3'")  # fmt: skip
    engine.end(new, EndReason.CANCELLED, stopped)
    assert "stopped" in view.status_label.text() and not view.is_running()


def test_compare_without_model_b_says_how_to_choose_one(window, engine) -> None:
    window.menu_actions["compare"].trigger()
    assert not engine.of_type(Compare)
    assert window.ui.message_bar.text() == "Choose model B first: Model › Compare with…"
    assert not window.ui.compare_view.compare_button.isEnabled()


def test_a_new_model_a_keeps_model_b_and_clears_the_results(window, engine) -> None:
    request = _load_b(window, engine)
    engine.comparison.emit(_result(request, _side("A", "3", 1), _side("B", "8", 2)))
    window.models.open_model("retrained.keras")
    engine.load(replace(fake_summary(), name="retrained"))
    view = window.ui.compare_view
    assert view.column_a.title_label.text() == "A · fake.keras"
    assert view.column_b.title_label.text() == "B · other.keras"
    assert view.column_a.map_canvas.current_rgb8() is None and not view.is_running()
    window.comparison.compare()
    assert engine.last(Compare).request_id != request.request_id


def test_a_bad_model_b_file_is_shown_in_the_message_bar(window, engine) -> None:
    window.comparison.compare_with("broken.keras")
    request = engine.last(LoadComparison)
    engine.fail(request, FailureKind.INPUT, "broken.keras is damaged")
    assert window.ui.message_bar.is_error()
    assert window.ui.message_bar.text() == "Could not open model B: broken.keras is damaged"
    assert window.comparison.model_b is None and not engine.of_type(Compare)
    assert "could not be opened" in window.ui.compare_view.status_label.text()


def test_model_b_with_python_code_offers_to_open_it_anyway(window, engine) -> None:
    window.comparison.compare_with("lambda.keras")
    request = engine.last(LoadComparison)
    message = f"lambda.keras contains a Lambda layer. {TRUST_NOTE}"
    engine.fail(request, FailureKind.UNTRUSTED, message)
    bar = window.ui.message_bar
    assert bar.action_button.isVisible() and bar.action_button.text() == TRUST_BUTTON_B
    bar.action_button.click()
    again = engine.last(LoadComparison)
    assert again.path == "lambda.keras" and again.trusted


def test_a_failed_comparison_is_shown_and_ends_the_run(window, engine) -> None:
    request = _load_b(window, engine)
    engine.fail(request, FailureKind.MEMORY, "out of memory")
    assert window.ui.message_bar.text() == "Could not compare: out of memory"
    assert not window.ui.compare_view.is_running()


def test_model_titles_name_files_and_mark_untrained_models(tmp_path) -> None:
    summary = replace(fake_summary(), untrained=True)
    assert model_title("B", summary) == "B · fake.keras (untrained)"
    copy = replace(fake_summary(), source="/models/epoch_05.keras")
    assert model_title("B", copy) == "B · epoch_05.keras"  # two checkpoints, told apart
    folder = tmp_path / "export_epoch_9"
    folder.mkdir()  # a SavedModel folder is named like a file
    assert model_title("B", replace(fake_summary(), source=str(folder))) == "B · export_epoch_9"
    zoo = replace(fake_summary(), name="zoo_vgg16", source="zoo:VGG16")
    assert model_title("A", zoo) == "A · zoo_vgg16"
    assert model_title("A", None) == "A · no model yet"


def test_model_b_gets_the_input_chosen_for_its_file(window, engine, tmp_path) -> None:
    from engine.protocol.input_spec import InputPreprocessing

    path = str(tmp_path / "mine.keras")
    ModelInputs(window.settings).remember(path, InputPreprocessing.caffe(), 96)
    window.comparison.compare_with(path)
    request = engine.last(LoadComparison)
    assert (request.preprocessing, request.input_size) == (InputPreprocessing.caffe(), 96)


def test_the_compare_action_shows_the_tab_and_a_late_model_b_waits_on_other_tabs(
    window, engine
) -> None:
    window.comparison.compare_with("other.keras")
    request = engine.last(LoadComparison)
    window.ui.centre_tabs.setCurrentIndex(0)  # the user moved on while B loaded
    engine.comparison_loaded.emit(ComparisonLoaded(request.request_id, fake_summary()))
    engine.end(request)
    assert not engine.of_type(Compare) and window.ui.centre_tabs.currentIndex() == 0
    window.menu_actions["compare"].trigger()
    assert engine.of_type(Compare) and window.ui.centre_tabs.currentIndex() == Tab.COMPARE


def test_a_new_image_during_a_comparison_is_said_when_it_ends(window, engine) -> None:
    request = _load_b(window, engine)
    engine.comparison.emit(_result(request, _side("A", "3", 1), _side("B", "8", 2)))
    window.images.open_image(sample="digit:8")
    engine.open(source="another picture")  # the maps shown are of the first image
    done = _result(request, _side("A", "3", 1, image=True), _side("B", "8", 2, image=True))
    engine.end(request, EndReason.FINISHED, done)
    assert "The image changed meanwhile" in window.ui.compare_view.status_label.text()
    window.comparison.compare()
    assert "changed" not in window.ui.compare_view.status_label.text()


def test_a_new_image_before_any_model_b_still_says_to_choose_one(qtbot):
    from gui.compare.view import CHOOSE_B, CompareView

    view = CompareView()
    qtbot.addWidget(view)
    view.set_image_changed()
    assert view.status_label.text() == CHOOSE_B
