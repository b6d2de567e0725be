"""The window with a fake engine: recent files in the File menu, "Open anyway" for a model file
that holds code, and the label of a model of free input size."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fake_engine import FakeEngine, fake_summary
from PySide6.QtCore import QSettings

from engine.protocol import TRUST_NOTE, FailureKind, LoadModel, OpenImage
from gui.main_window import MainWindow
from gui.models.opening import TRUST_BUTTON


def _window(qtbot, engine) -> MainWindow:
    win = MainWindow(engine)
    qtbot.addWidget(win)
    win.show()
    engine.start()
    return win


@pytest.fixture
def window(qtbot, engine) -> MainWindow:
    return _window(qtbot, engine)


def _files(folder, *names: str) -> list[str]:
    paths = []
    for name in names:
        path = folder / name
        path.write_bytes(b"not really a picture")  # the fake engine never reads it
        paths.append(str(path.resolve()))
    return paths


def _listed(menu) -> list[str]:
    """The paths a recent submenu offers, top to bottom (its Clear Recent has none)."""
    return [action.data() for action in menu.actions() if action.data()]


def test_opening_two_images_lists_both_newest_first(window, engine, tmp_path):
    first, second = _files(tmp_path, "cat.png", "dog.png")
    window.images.open_image(first)
    engine.open()  # only a file that opened goes into Open Recent
    window.images.open_image(second)
    engine.open()  # only a file that opened goes into Open Recent
    assert _listed(window.ui.recent_images_menu) == [second, first]
    assert engine.last(OpenImage).path == second


def test_reopening_moves_a_file_to_the_top_once(window, engine, tmp_path):
    first, second = _files(tmp_path, "cat.png", "dog.png")
    for path in (first, second, first):
        window.images.open_image(path)
        engine.open()  # only a file that opened goes into Open Recent
    assert _listed(window.ui.recent_images_menu) == [first, second]


def test_a_recent_entry_opens_its_file(window, engine, tmp_path):
    (model,) = _files(tmp_path, "net.keras")
    window.models.open_model(model)
    engine.load()
    engine.requests.clear()
    entry = next(a for a in window.ui.recent_models_menu.actions() if a.data() == model)
    entry.trigger()
    assert engine.last(LoadModel).path == model


def test_only_the_last_eight_are_kept(window, engine, tmp_path):
    paths = _files(tmp_path, *(f"img{i}.png" for i in range(10)))
    for path in paths:
        window.images.open_image(path)
        engine.open()  # only a file that opened goes into Open Recent
    assert _listed(window.ui.recent_images_menu) == paths[::-1][:8]


def test_a_deleted_file_drops_out_of_the_menu(window, engine, tmp_path):
    first, second = _files(tmp_path, "a.keras", "b.keras")
    window.models.open_model(first)
    engine.load()
    window.models.open_model(second)
    engine.load()
    (tmp_path / "b.keras").unlink()
    window.ui.recent_models_menu.aboutToShow.emit()  # as when the user opens the submenu
    assert _listed(window.ui.recent_models_menu) == [first]


def test_zoo_and_default_models_are_not_recent_files(window, engine):
    window.models.open_model(None)
    engine.load()
    window.models.open_model("zoo:MobileNetV2", random_weights=True)
    engine.load()
    assert _listed(window.ui.recent_models_menu) == []
    assert not window.ui.recent_models_menu.isEnabled()


def test_clear_recent_empties_the_list(window, engine, tmp_path):
    (image,) = _files(tmp_path, "cat.png")
    window.images.open_image(image)
    engine.open()  # only a file that opened goes into Open Recent
    clear = next(a for a in window.ui.recent_images_menu.actions() if "Clear" in a.text())
    clear.trigger()
    assert _listed(window.ui.recent_images_menu) == []
    assert QSettings().value("recent/images", []) in ([], None, "")


def test_the_lists_survive_a_new_window(qtbot, tmp_path):
    model, image = _files(tmp_path, "net.keras", "cat.png")
    first_engine = FakeEngine()
    first = _window(qtbot, first_engine)
    first.models.open_model(model)
    first_engine.load()
    first.images.open_image(image)
    first_engine.open()
    first.close()
    second = _window(qtbot, FakeEngine())
    assert _listed(second.ui.recent_models_menu) == [model]
    assert _listed(second.ui.recent_images_menu) == [image]


# ------------------------------------------------------------------ a file that holds code


def test_a_model_with_code_offers_to_open_it_anyway(window, engine, qtbot, tmp_path):
    (path,) = _files(tmp_path, "scaled.keras")
    window.models.open_model(path)
    request = engine.last(LoadModel)
    assert not request.trusted
    message = f"scaled.keras contains a Lambda layer (Python code saved in the file). {TRUST_NOTE}"
    with qtbot.waitSignal(window.feedback.error_shown, timeout=5_000):
        engine.fail(request, FailureKind.UNTRUSTED, message)
    bar = window.ui.message_bar
    assert bar.isVisible() and bar.is_error() and bar.text() == message
    assert bar.action_button.isVisible() and bar.action_button.text() == TRUST_BUTTON

    bar.action_button.click()
    again = engine.last(LoadModel)
    assert again.path == path and again.trusted
    assert again.request_id != request.request_id
    assert not bar.action_button.isVisible()


def test_other_model_errors_offer_no_button(window, engine, tmp_path):
    (path,) = _files(tmp_path, "broken.keras")
    window.models.open_model(path)
    request = engine.last(LoadModel)
    engine.fail(request, FailureKind.INPUT, "broken.keras is damaged")
    assert window.ui.message_bar.isVisible()
    assert not window.ui.message_bar.action_button.isVisible()


# ------------------------------------------------------------------ free input size


def test_a_model_of_free_size_says_the_size_it_works_at(window, engine):
    window.models.open_model(None)
    engine.load(replace(fake_summary(), input_shape=(128, 128, 3), free_size=True))
    assert "input 128×128×3 (free size)" in window.ui.model_label.text()


def test_out_of_memory_on_a_free_size_model_offers_the_side_that_fits(qtbot, engine, tmp_path):
    from dataclasses import replace

    from fake_engine import fake_summary, fake_window

    from engine.protocol import Ascend, EndReason, EngineFailure

    window = fake_window(qtbot, engine, summary=replace(fake_summary(), free_size=True))
    window.layers.select_layer(("conv2",))
    window.runs.visualize(1)
    run = engine.last(Ascend)
    message = "Not enough memory for the visualization of conv2: … 200 px or less would fit"
    failure = EngineFailure(run.request_id, FailureKind.MEMORY, message, "", fitting_side=200)
    engine.end(run, EndReason.FAILED, failure=failure)
    bar = window.ui.message_bar
    assert bar.action_button.isVisible() and bar.action_button.text() == "Open at 200 px"
    bar.action_button.click()
    assert engine.last(LoadModel).input_size == 200  # the same model, at the side that fits
