"""The ImageNet weights download as the user sees it, with a fake engine: the progress dialog,
its Cancel, and the offer of random weights when offline."""

from __future__ import annotations

import pytest
from fake_engine import FakeEngine, fake_window

from engine.protocol import CancelLoad, DownloadProgress, EndReason, FailureKind, LoadModel
from gui.main_window import MainWindow
from gui.models.opening import RANDOM_WEIGHTS_BUTTON

MB = 1024 * 1024
WHAT = "ImageNet weights for ResNet50"
OFFLINE = (
    "could not download ImageNet weights for ResNet50 from storage.googleapis.com (offline?): "
    "[Errno -3] Temporary failure in name resolution. Open it with random weights instead"
)


@pytest.fixture
def window(qtbot, engine) -> MainWindow:
    return fake_window(qtbot, engine, image=False)


def _open_resnet(window: MainWindow, engine: FakeEngine) -> LoadModel:
    window.models.open_model("zoo:ResNet50")
    return engine.last(LoadModel)


def _progress(request: LoadModel, done_mb: float, total_mb: float = 98.0):
    return DownloadProgress(request.request_id, WHAT, int(done_mb * MB), int(total_mb * MB))


def test_the_dialog_shows_how_far_the_download_is(window, engine) -> None:
    request = _open_resnet(window, engine)
    assert window.downloads.dialog is None  # nothing until bytes are on their way
    engine.download.emit(_progress(request, 12.3))
    dialog = window.downloads.dialog
    assert dialog.isVisible() and not dialog.isModal()
    assert dialog.label.text() == "Downloading ImageNet weights for ResNet50: 12.3 of 98.0 MB"
    assert dialog.bar.value() == pytest.approx(1000 * 12.3 / 98.0, abs=1)
    engine.download.emit(_progress(request, 49.0))
    assert "49.0 of 98.0 MB" in dialog.label.text() and dialog.bar.value() == 500
    engine.download.emit(_progress(request, 98.0))
    engine.load()  # the weights are there: the model loads, its job ends
    assert not dialog.isVisible()


def test_an_unknown_size_shows_a_busy_bar(window, engine) -> None:
    request = _open_resnet(window, engine)
    engine.download.emit(_progress(request, 3.0, total_mb=0))
    dialog = window.downloads.dialog
    assert dialog.label.text().endswith("3.0 MB so far") and dialog.bar.maximum() == 0


def test_the_download_of_a_replaced_load_shows_nothing(window, engine) -> None:
    old = _open_resnet(window, engine)
    window.models.open_model("zoo:VGG16")
    engine.download.emit(_progress(old, 5.0))
    assert window.downloads.dialog is None


def test_cancel_submits_cancel_load_and_the_current_model_stays(window, engine) -> None:
    request = _open_resnet(window, engine)
    engine.download.emit(_progress(request, 12.3))
    dialog = window.downloads.dialog
    dialog.cancel_button.click()
    assert engine.requests[-1] == CancelLoad(request.request_id, engine.requests[-1].request_id)
    assert not dialog.cancel_button.isEnabled() and "Cancelling" in dialog.label.text()
    engine.download.emit(_progress(request, 12.4))  # a chunk already on its way
    assert "Cancelling" in dialog.label.text()
    engine.end(request, EndReason.CANCELLED)
    assert not dialog.isVisible() and not window.ui.message_bar.isVisible()
    assert "cancelled; fake stays open" in window.feedback.status_text()
    assert window.state.summary is not None and window.state.summary.name == "fake"


def test_closing_the_dialog_cancels_too(window, engine) -> None:
    request = _open_resnet(window, engine)
    engine.download.emit(_progress(request, 1.0))
    window.downloads.dialog.reject()  # Esc or the title bar's ×
    assert engine.last(CancelLoad).load_id == request.request_id


def test_offline_offers_random_weights(qtbot, window, engine) -> None:
    request = _open_resnet(window, engine)
    engine.download.emit(_progress(request, 0.0))
    with qtbot.waitSignal(window.feedback.error_shown, timeout=5_000):
        engine.fail(request, FailureKind.DOWNLOAD, OFFLINE)
    bar = window.ui.message_bar
    assert not window.downloads.dialog.isVisible()
    assert bar.is_error() and "offline" in bar.text()
    assert bar.action_button.isVisible() and bar.action_button.text() == RANDOM_WEIGHTS_BUTTON
    bar.action_button.click()
    again = engine.last(LoadModel)
    assert again.path == "zoo:ResNet50" and again.random_weights
    assert again.request_id != request.request_id


def test_other_model_failures_offer_no_random_weights(window, engine) -> None:
    window.models.open_model("zoo:AlexNet")
    request = engine.last(LoadModel)
    message = "'zoo:AlexNet' is not a zoo model; the zoo has VGG16, ResNet50"
    engine.fail(request, FailureKind.INPUT, message)
    assert window.ui.message_bar.isVisible() and window.ui.message_bar.text() == message
    assert not window.ui.message_bar.action_button.isVisible()


def test_offline_end_to_end_with_the_real_engine(qtbot, real_window, tmp_path, monkeypatch):
    import socket

    from keras.src.backend import config

    from engine.models.weights_download import WEIGHTS, WeightsFile

    with socket.socket() as probe:  # a port nobody listens on: as good as offline
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path))
    url = f"http://127.0.0.1:{port}/vgg16.h5"
    monkeypatch.setitem(WEIGHTS, "VGG16", WeightsFile("vgg16.h5", url, None))
    before = real_window.state.summary
    with qtbot.waitSignal(real_window.feedback.error_shown, timeout=30_000) as shown:
        real_window.models.open_model("zoo:VGG16")
    assert "could not download ImageNet weights for VGG16" in shown.args[0]
    assert real_window.ui.message_bar.action_button.text() == RANDOM_WEIGHTS_BUTTON
    assert real_window.state.summary is before  # the built-in model stays open


def test_model_b_from_the_zoo_downloads_with_the_dialog_and_cancels(window, engine) -> None:
    from engine.protocol import ComparisonLoaded, LoadComparison

    window.menu_actions["compare:zoo:VGG19"].trigger()
    request = engine.last(LoadComparison)
    assert (request.path, request.random_weights) == ("zoo:VGG19", False)
    engine.download.emit(_progress(request, 40.0, 548.0))
    dialog = window.downloads.dialog
    assert dialog.isVisible() and "40.0 of 548.0 MB" in dialog.label.text()
    dialog.cancel_button.click()
    assert engine.last(CancelLoad).load_id == request.request_id
    window.menu_actions["compare:zoo:VGG19:random"].trigger()
    untrained = engine.last(LoadComparison)
    assert untrained.random_weights
    engine.download.emit(_progress(untrained, 1.0))  # (the engine sends none for random weights)
    engine.comparison_loaded.emit(ComparisonLoaded(untrained.request_id, window.state.summary))
    engine.end(untrained)
    assert not dialog.isVisible()


def test_model_b_replaced_or_cancelled_mid_download_leaves_nothing_hanging(window, engine) -> None:
    from engine.protocol import LoadComparison

    window.comparison.compare_with("zoo:VGG19")
    first = engine.last(LoadComparison)
    engine.download.emit(_progress(first, 40.0, 548.0))
    assert window.downloads.dialog.isVisible()
    window.comparison.compare_with("zoo:VGG16")  # the engine stops the first download by itself
    assert not window.downloads.dialog.isVisible()
    second = engine.last(LoadComparison)
    engine.download.emit(_progress(second, 1.0, 528.0))
    window.downloads.dialog.cancel_button.click()
    assert engine.last(CancelLoad).load_id == second.request_id
    engine.end(second, EndReason.CANCELLED)
    assert "download was cancelled" in window.ui.compare_view.status_label.text()
    assert not window.ui.compare_view.is_running()


def test_an_offline_model_b_offers_random_weights_for_b(window, engine) -> None:
    from engine.protocol import LoadComparison
    from gui.compare.controller import RANDOM_WEIGHTS_BUTTON_B

    window.comparison.compare_with("zoo:ResNet50")
    request = engine.last(LoadComparison)
    engine.fail(request, FailureKind.DOWNLOAD, OFFLINE)
    assert window.ui.message_bar.action_button.text() == RANDOM_WEIGHTS_BUTTON_B
    window.ui.message_bar.action_button.click()
    again = engine.last(LoadComparison)
    assert (again.path, again.random_weights) == ("zoo:ResNet50", True)
