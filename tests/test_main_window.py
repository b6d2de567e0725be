"""The real window with the real engine thread, driven offscreen as a user would."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from engine.protocol import Recipe
from engine.worker import EngineThread
from gui.main_window import MainWindow

DEFAULT_LAYERS = [
    "conv1", "pool1", "conv2", "pool2", "conv3", "pool3",
    "flatten", "dense", "dropout", "predictions",
]  # fmt: skip


@pytest.fixture
def window(real_window):
    return real_window


def _settings(win: MainWindow, **changes) -> None:
    base = Recipe()
    win.ui.controls.set_settings(Recipe(**({**base.__dict__, **changes})))


def _drop(win: MainWindow, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    win.dropEvent(event)


def _click_unit(qtbot, win: MainWindow, unit: int) -> None:
    picker = win.ui.filter_picker
    rect = picker.visualItemRect(picker.item(unit))
    qtbot.mouseClick(picker.viewport(), Qt.LeftButton, pos=rect.center())


def _top_level_names(win: MainWindow) -> list[str]:
    tree = win.ui.layer_tree
    return [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]


def test_the_tree_lists_the_default_models_layers(window):
    assert _top_level_names(window) == DEFAULT_LAYERS
    assert window.state.layer.name == "conv3"  # the last convolution is picked to start with
    assert window.ui.filter_picker.unit_count() == 64


def test_clicking_a_filter_streams_frames_and_the_objective_rises(qtbot, window):
    window.layers.select_layer(("conv2",))
    _settings(window, steps=300, frame_every=1)
    with qtbot.waitSignal(window.runs.finished, timeout=60_000) as blocker:
        _click_unit(qtbot, window, 3)
    done = blocker.args[0]
    assert done.unit == 3 and done.layer == ("conv2",) and done.steps_done == 300
    assert window.runs.painter.frames_shown >= 3
    values = window.ui.plot.values()
    assert len(values) == 300 and values[-1] > values[0]
    shown = window.ui.canvas.current_rgb8()
    assert shown is not None and shown.shape[:2] == (28, 28)
    assert shown.std() > 0  # an actual picture, not a flat grey
    thumbnail = window.ui.filter_picker.thumbnail(3)
    assert thumbnail.std() > 0


def test_at_least_ten_frames_a_second_reach_the_canvas(qtbot, window):
    # An endless run, watched for 20 frames and stopped: the rate over them is the claim, and a
    # fixed step count lasts as long as the machine makes it (1000 steps: 4 s of the suite).
    _settings(window, steps=1_000_000, frame_every=1)
    shown_at: list[float] = []
    original = window.ui.canvas.show_visualization  # grown images, in the display mode

    def spy(*args, **kwargs):
        shown_at.append(time.monotonic())
        original(*args, **kwargs)

    window.ui.canvas.show_visualization = spy
    window.runs.visualize(5)
    qtbot.waitUntil(lambda: len(shown_at) >= 20, timeout=120_000)
    with qtbot.waitSignal(window.runs.finished, timeout=10_000):
        window.runs.stop()
    assert len(shown_at) >= 10
    rate = (len(shown_at) - 1) / (shown_at[-1] - shown_at[0])
    assert rate >= 10, f"only {rate:.1f} frames per second reached the canvas"


def test_stop_stops_the_run_and_keeps_the_image(qtbot, window):
    _settings(window, steps=1_000_000, frame_every=1)
    window.runs.visualize(1)
    qtbot.waitUntil(lambda: window.runs.painter.frames_shown >= 2, timeout=30_000)
    assert window.ui.controls.stop_button.isEnabled()
    with qtbot.waitSignal(window.runs.finished, timeout=10_000) as blocker:
        qtbot.mouseClick(window.ui.controls.stop_button, Qt.LeftButton)
    assert blocker.args[0].resumable and "stopped at step" in window.ui.canvas.title()
    assert not window.ui.controls.stop_button.isEnabled()
    assert window.ui.canvas.current_rgb8() is not None


def test_choosing_another_filter_cancels_and_stale_frames_never_show(qtbot, window):
    _settings(window, steps=1_000_000, frame_every=1)
    titles: list[str] = []
    original = window.ui.canvas.show_visualization  # grown images, in the display mode

    def spy(image, title=""):
        titles.append(title)
        original(image, title)

    window.ui.canvas.show_visualization = spy
    window.runs.visualize(0)
    qtbot.waitUntil(lambda: window.runs.painter.frames_shown >= 2, timeout=30_000)
    _settings(window, steps=40, frame_every=1)
    titles.clear()
    with qtbot.waitSignal(window.runs.finished, timeout=30_000) as blocker:
        window.runs.visualize(7)
    assert blocker.args[0].unit == 7
    assert titles and all("#7" in title for title in titles)


def test_a_dropped_image_fills_predictions_and_feature_maps(qtbot, window, tmp_path):
    from engine.images.samples import load_sample

    path = tmp_path / "seven.png"
    load_sample("digit:7").save(path)
    with qtbot.waitSignal(window.state.image_changed, timeout=30_000):
        _drop(window, path)
    rows = window.ui.predictions.rows()
    assert len(rows) == 5 and rows[0][0] == "7"
    qtbot.waitUntil(lambda: window.ui.filter_picker.thumbnail(0).std() > 0, timeout=10_000)
    shown = window.ui.canvas.current_rgb8()
    assert shown is not None and shown.shape[:2] == (28, 28)


def test_a_feature_map_can_be_shown_large(qtbot, window):
    with qtbot.waitSignal(window.state.image_changed, timeout=30_000):
        window.images.open_image(sample="digit:2")
    qtbot.waitUntil(lambda: window.state.maps is not None, timeout=10_000)
    window.ui.filter_picker.filter_activated.emit(4)
    assert "Feature map" in window.ui.canvas.title()
    assert window.ui.canvas.current_rgb8().shape[:2] == (7, 7)


def test_a_dropped_model_replaces_the_tree(qtbot, window, saved_models):
    with qtbot.waitSignal(window.models.shown, timeout=60_000) as blocker:
        _drop(window, saved_models["nested"])
    assert blocker.args[0].name == "nested"
    assert "block" in _top_level_names(window)
    _settings(window, steps=16)
    with qtbot.waitSignal(window.runs.finished, timeout=60_000):
        window.layers.select_layer(("block", "inner_conv2"))
        window.runs.visualize(2)
    with qtbot.waitSignal(window.models.shown, timeout=60_000):
        window.menu_actions["default_model"].trigger()
    assert _top_level_names(window) == DEFAULT_LAYERS


def test_export_writes_the_canvas_as_png(qtbot, window, tmp_path):
    _settings(window, steps=10)
    with qtbot.waitSignal(window.runs.finished, timeout=30_000):
        window.runs.visualize(0)
    target = tmp_path / "out.png"
    window.files.export_canvas(str(target))
    with Image.open(target) as saved:
        assert min(saved.size) >= 256


def test_closing_mid_run_stops_the_engine_promptly(qtbot):
    engine = EngineThread()
    win = MainWindow(engine)
    win.show()
    engine.start()
    with qtbot.waitSignal(win.models.shown, timeout=60_000):
        win.models.open_model(None)
    _settings(win, steps=1_000_000, frame_every=1)
    win.runs.visualize(3)
    qtbot.waitUntil(lambda: win.runs.painter.frames_shown >= 2, timeout=30_000)
    started = time.monotonic()
    win.close()
    assert engine.isFinished()
    assert time.monotonic() - started < 10.0  # well under a second when the machine is idle


def test_settings_are_remembered_between_sessions(qtbot):
    first = MainWindow(EngineThread())
    _settings(first, steps=77, learning_rate=0.02, jitter=3)
    first.close()
    second = MainWindow(EngineThread())
    qtbot.addWidget(second)
    remembered = second.ui.controls.settings()
    assert (remembered.steps, remembered.learning_rate, remembered.jitter) == (77, 0.02, 3)


def _bad_files(folder: Path) -> dict[str, Path]:
    files = {}
    good = folder / "good.png"
    Image.fromarray(np.full((40, 40), 200, np.uint8)).save(good)
    files["corrupt"] = folder / "corrupt.png"
    files["corrupt"].write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    files["not an image"] = folder / "notes.png"
    files["not an image"].write_text("these are my notes, not a picture")
    files["empty"] = folder / "empty.jpg"
    files["empty"].write_bytes(b"")
    return files


def test_each_bad_image_shows_a_message_and_the_app_goes_on(qtbot, window, tmp_path):
    # The kinds of bad file in turn on one window: a window and a first compiled run cost
    # seconds per kind, and each kind still gets its own message, kept results and finished run.
    with qtbot.waitSignal(window.state.image_changed, timeout=30_000):
        window.images.open_image(sample="digit:4")
    _settings(window, steps=16)  # a finished run, however short, shows the app goes on
    for case, path in _bad_files(tmp_path).items():
        window.ui.message_bar.clear()
        with qtbot.waitSignal(window.feedback.error_shown, timeout=30_000) as blocker:
            _drop(window, path)
        assert path.name in blocker.args[0], case
        assert window.ui.message_bar.isVisible() and window.ui.message_bar.is_error(), case
        # The previous image's results are kept.
        assert window.ui.predictions.rows()[0][0] == "4", case
        with qtbot.waitSignal(window.runs.finished, timeout=30_000):
            window.runs.visualize(0)  # and the app still works


def test_a_huge_image_is_resized(qtbot, window, tmp_path):
    path = tmp_path / "huge.jpg"
    Image.new("RGB", (6000, 4500), (30, 60, 90)).save(path, quality=40)
    with qtbot.waitSignal(window.state.image_changed, timeout=60_000) as blocker:
        _drop(window, path)
    assert any("resized 6000×4500" in note for note in blocker.args[0].notes)


@pytest.mark.parametrize(
    ("model", "mode", "note"),
    [("tiny", "L", "greyscale copied"), (None, "RGB", "converted colour to greyscale")],
)
def test_channel_mismatch_is_converted(qtbot, window, saved_models, tmp_path, model, mode, note):
    if model:
        with qtbot.waitSignal(window.models.shown, timeout=60_000):
            window.models.open_model(str(saved_models[model]))
    path = tmp_path / f"{mode}.png"
    colour = 128 if mode == "L" else (200, 30, 30)
    Image.new(mode, (50, 40), colour).save(path)
    with qtbot.waitSignal(window.state.image_changed, timeout=30_000) as blocker:
        _drop(window, path)
    assert any(note in n for n in blocker.args[0].notes)
    assert not window.ui.message_bar.is_error() or not window.ui.message_bar.isVisible()


def test_each_bad_model_file_shows_a_message_and_keeps_the_model(qtbot, window, tmp_path):
    # The kinds in turn on one window, as for bad images.
    text, garbage = tmp_path / "model.keras", tmp_path / "weights.h5"
    text.write_text("definitely not a zip archive")
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    _settings(window, steps=16)
    for path in (text, garbage, tmp_path / "gone.keras"):  # the last one is missing
        window.ui.message_bar.clear()
        with qtbot.waitSignal(window.feedback.error_shown, timeout=30_000) as blocker:
            _drop(window, path)
        assert path.name in blocker.args[0]
        assert _top_level_names(window) == DEFAULT_LAYERS, path.name
        with qtbot.waitSignal(window.runs.finished, timeout=30_000):
            window.runs.visualize(1)  # the old model still works after the failed load


def test_a_layer_without_channels_shows_a_message(qtbot, window):
    window.layers.select_layer(("flatten",))
    bar = window.ui.message_bar
    qtbot.waitUntil(bar.isVisible, timeout=5_000)
    # Information, not an error: nothing went wrong.
    assert "flatten" in bar.text() and "no channels" in bar.text() and not bar.is_error()
    assert window.ui.filter_picker.unit_count() == 0
    window.layers.select_layer(("dense",))
    assert window.ui.filter_picker.unit_count() == 128


def test_class_units_are_labelled_with_class_names(window):
    window.layers.select_layer(("predictions",))
    labels = [window.ui.filter_picker.item(i).text() for i in range(10)]
    assert labels[:3] == ["0", "1", "2"]
