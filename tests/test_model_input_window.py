"""The window asks how a model wants its input when nothing says, remembers the answer per file,
and lets the user pick the size a free-size model works at (fake engine)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fake_engine import fake_summary, fake_window
from PySide6.QtWidgets import QDialogButtonBox

from engine.protocol import LoadModel
from engine.protocol.input_spec import InputPreprocessing
from gui.dialogs.model_input_dialog import CUSTOM
from gui.main_window import MainWindow
from gui.models.input_memory import settings_key

TORCH = InputPreprocessing.mean_std((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@pytest.fixture
def window(qtbot, engine) -> MainWindow:
    return fake_window(qtbot, engine, model=False)


def _rgb_summary(**changes):
    return replace(fake_summary(), **{"input_shape": (28, 28, 3), **changes})


def _open(window, engine, path: str, **summary_changes):
    """Open `path` as the user would; the fake engine answers with the summary given."""
    window.models.open_model(path)
    engine.load(_rgb_summary(source=path, **summary_changes))
    return engine.last(LoadModel)


def _ok(dialog) -> None:
    dialog.box.button(QDialogButtonBox.Ok).click()


def test_a_model_nothing_describes_brings_up_the_dialog(window, engine, tmp_path):
    _open(window, engine, str(tmp_path / "mine.keras"), input_origin="assumed")
    dialog = window.model_input.dialog
    assert dialog is not None and dialog.isVisible()
    assert "no JSON sidecar" in dialog.intro.text()
    assert dialog.radios["unit"].isChecked()  # what the engine assumed
    assert not dialog.side.isEnabled()  # the model's size is fixed
    assert "pixels [0, 1] (assumed)" in window.ui.model_label.text()


def test_a_choice_reloads_the_model_with_it_and_is_remembered(window, engine, tmp_path):
    path = str(tmp_path / "mine.keras")
    _open(window, engine, path, input_origin="assumed")
    window.model_input.dialog.radios["caffe"].setChecked(True)
    _ok(window.model_input.dialog)
    request = engine.last(LoadModel)
    assert (request.path, request.preprocessing) == (path, InputPreprocessing.caffe())
    engine.load(_rgb_summary(source=path, input_origin="chosen"))
    window.models.open_model(str(tmp_path / "other.keras"))
    assert engine.last(LoadModel).preprocessing is None  # another file: nothing remembered
    window.models.open_model(path)  # e.g. from File › Open Recent Model, in a later session
    assert engine.last(LoadModel).preprocessing == InputPreprocessing.caffe()


def test_a_custom_mean_and_std_are_checked_as_typed(window, engine, tmp_path):
    _open(window, engine, str(tmp_path / "mine.keras"), input_origin="assumed")
    dialog = window.model_input.dialog
    ok = dialog.box.button(QDialogButtonBox.Ok)
    dialog.radios[CUSTOM].setChecked(True)
    assert ok.isEnabled()  # torchvision's values are offered first
    dialog.std.setText("0.2, zero, 0.2")
    assert not ok.isEnabled() and "Std: 'zero' is not a number" in dialog.problem.text()
    dialog.std.setText("0.2, 0.2")
    assert not ok.isEnabled() and "same number of values" in dialog.problem.text()
    dialog.std.setText("0.229, 0.224, 0.225")
    assert ok.isEnabled() and dialog.problem.text() == ""
    _ok(dialog)
    assert engine.last(LoadModel).preprocessing == TORCH


def test_caffe_is_not_offered_for_a_greyscale_model(window, engine, tmp_path):
    window.models.open_model(str(tmp_path / "grey.keras"))
    engine.load(replace(fake_summary(), input_origin="assumed"))  # 28×28×1
    assert not window.model_input.dialog.radios["caffe"].isEnabled()


def test_cancelling_keeps_the_assumption_and_does_not_ask_again(window, engine, tmp_path):
    path = str(tmp_path / "mine.keras")
    _open(window, engine, path, input_origin="assumed")
    window.model_input.dialog.reject()
    loads = len(engine.of_type(LoadModel))
    _open(window, engine, path, input_origin="assumed")
    assert not window.model_input.dialog.isVisible()
    assert len(engine.of_type(LoadModel)) == loads + 1  # only the user's own reload


def test_a_free_size_model_asks_for_its_size(window, engine, tmp_path):
    path = str(tmp_path / "fcn.keras")
    _open(window, engine, path, input_shape=(128, 128, 3), free_size=True)
    dialog = window.model_input.dialog
    assert dialog.isVisible() and dialog.side.isEnabled() and dialog.side.value() == 128
    dialog.side.setValue(224)
    _ok(dialog)
    request = engine.last(LoadModel)
    assert request.input_size == 224
    assert request.preprocessing is None  # the sidecar's word stands
    window.models.open_model(path)
    assert engine.last(LoadModel).input_size == 224


def test_a_known_model_of_fixed_size_is_not_asked_about(window, engine, tmp_path):
    _open(window, engine, str(tmp_path / "known.keras"))  # sidecar, fixed size
    assert window.model_input.dialog is None


def test_the_menu_opens_the_dialog_for_any_file_model(window, engine, tmp_path):
    _open(window, engine, str(tmp_path / "known.keras"))
    window.menu_actions["model_input"].trigger()
    assert window.model_input.dialog.isVisible()
    assert "sidecar" in window.model_input.dialog.intro.text()


def test_zoo_models_have_nothing_to_choose(window, engine):
    window.models.open_model("zoo:VGG16", random_weights=True)
    engine.load(_rgb_summary(source="zoo:VGG16", input_origin="zoo"))
    assert window.model_input.dialog is None
    window.menu_actions["model_input"].trigger()
    assert "built in" in window.ui.message_bar.text()
    assert engine.last(LoadModel).preprocessing is None


def test_a_damaged_remembered_choice_is_ignored(window, engine, tmp_path):
    path = str(tmp_path / "mine.keras")
    window.settings.setValue(settings_key(path), "{not json")
    window.models.open_model(path)
    request = engine.last(LoadModel)
    assert (request.preprocessing, request.input_size) == (None, None)


def test_the_choice_is_for_the_model_on_show_not_a_newer_one_that_failed(
    window, engine, tmp_path
) -> None:
    from engine.protocol import FailureKind

    shown = str(tmp_path / "good.keras")
    _open(window, engine, shown)
    window.models.open_model(str(tmp_path / "bad.keras"))
    bad = engine.last(LoadModel)
    engine.fail(bad, FailureKind.INPUT, "bad.keras could not be loaded")
    window.menu_actions["model_input"].trigger()
    dialog = window.model_input.dialog
    assert dialog.windowTitle() == "Model input — good.keras"
    dialog.radios["pixels"].setChecked(True)
    _ok(dialog)
    request = engine.last(LoadModel)
    assert request.path == shown and request.preprocessing == InputPreprocessing.value_range(0, 255)
    window.models.open_model(str(tmp_path / "bad.keras"))
    assert engine.last(LoadModel).preprocessing is None  # nothing was remembered for it
