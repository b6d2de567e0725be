"""Model › Train the MNIST CNN with a fake engine: what is submitted and what the dialog draws."""

from __future__ import annotations

import pytest
from fake_engine import FakeEngine, fake_window

from engine.protocol import (
    EndReason,
    FailureKind,
    LoadModel,
    StopRun,
    TrainDefault,
    TrainingDone,
    TrainProgress,
)
from gui.main_window import MainWindow

# The offscreen platform cannot raise a window; the dialog asks to, so it comes to the front.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support raise")


@pytest.fixture
def window(qtbot, engine):
    return fake_window(qtbot, engine, image=False)


def _epoch(request: TrainDefault, epoch: int, **changes) -> TrainProgress:
    values = dict(loss=1.0 / epoch, accuracy=0.8 + epoch / 100, val_loss=1.2 / epoch,
                  val_accuracy=0.78 + epoch / 100)  # fmt: skip
    values.update(changes)
    return TrainProgress(request.request_id, epoch, request.epochs, **values)


def _start(window: MainWindow, engine: FakeEngine, epochs: int = 3) -> TrainDefault:
    window.menu_actions["train"].trigger()
    dialog = window.training.dialog
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    dialog.epochs.setValue(epochs)
    dialog.start_button.click()
    return engine.last(TrainDefault)


def test_the_model_menu_offers_training(window) -> None:
    menus = {a.text(): a.menu() for a in window.menuBar().actions()}
    assert window.menu_actions["train"] in menus["&Model"].actions()


def test_start_submits_train_default_with_the_epochs(window, engine) -> None:
    request = _start(window, engine, epochs=4)
    assert request.epochs == 4 and request.output is None
    dialog = window.training.dialog
    assert not dialog.start_button.isEnabled() and dialog.cancel_button.isEnabled()


def test_progress_draws_a_point_per_epoch_on_every_curve(window, engine) -> None:
    request = _start(window, engine)
    engine.training.emit(_epoch(request, 1))
    engine.training.emit(_epoch(request, 2))
    engine.training.emit(TrainProgress(request.request_id - 1, 5, 9, 0.1, 0.1, 0.1, 0.1))  # stale
    points = window.training.dialog.points()
    assert points["loss"] == pytest.approx([1.0, 0.5])
    assert points["val_loss"] == pytest.approx([1.2, 0.6])
    assert points["accuracy"] == pytest.approx([0.81, 0.82])
    assert points["val_accuracy"] == pytest.approx([0.79, 0.80])
    assert "Epoch 2/3" in window.training.dialog.status.text()


def test_cancel_submits_stop_run_and_nothing_opens(window, engine) -> None:
    request = _start(window, engine)
    engine.training.emit(_epoch(request, 1))
    window.training.dialog.cancel_button.click()
    assert engine.requests[-1] == engine.last(StopRun)
    loads = len(engine.of_type(LoadModel))
    engine.end(request, EndReason.CANCELLED)
    dialog = window.training.dialog
    assert "Cancelled" in dialog.status.text() and dialog.start_button.isEnabled()
    assert not dialog.open_button.isEnabled()
    assert len(engine.of_type(LoadModel)) == loads


def test_finished_opens_the_trained_model(window, engine, tmp_path) -> None:
    request = _start(window, engine, epochs=1)
    engine.training.emit(_epoch(request, 1))
    path = str(tmp_path / "mnist_cnn_new.keras")
    engine.end(request, EndReason.FINISHED, TrainingDone(path, 0.97, 1))
    assert engine.last(LoadModel).path == path
    dialog = window.training.dialog
    assert "97.00%" in dialog.status.text() and dialog.open_button.isEnabled()
    dialog.open_button.click()  # and again on demand
    assert [r.path for r in engine.of_type(LoadModel)][-2:] == [path, path]


def test_a_failure_re_enables_start(window, engine) -> None:
    request = _start(window, engine)
    engine.fail(request, FailureKind.INPUT, "no MNIST data")
    dialog = window.training.dialog
    assert "no MNIST data" in dialog.status.text() and dialog.start_button.isEnabled()


def test_the_options_default_to_the_builtin_models_and_reach_the_request(window, engine) -> None:
    window.menu_actions["train"].trigger()
    dialog = window.training.dialog
    defaults = (dialog.seed.value(), dialog.train_images.value(), dialog.epochs.value(),
                dialog.batch_size.value())  # fmt: skip
    assert defaults == (0, 8000, 15, 64)  # what built resources/models/mnist_cnn.keras
    dialog.seed.setValue(7)
    dialog.train_images.setValue(500)
    dialog.batch_size.setValue(32)
    request = _start(window, engine, epochs=2)
    assert (request.seed, request.train_images, request.epochs, request.batch_size) == (
        7, 500, 2, 32)  # fmt: skip
    assert not dialog.seed.isEnabled() and not dialog.batch_size.isEnabled()


@pytest.mark.parametrize(
    ("epochs", "difference", "says"),
    [
        (15, 0.0, "identical to the built-in model (every weight equal, compared exactly)"),
        (15, 0.0123, "differs from the built-in model (max weight difference 0.0123)"),
        (1, 0.5, "its options differ from the built-in model's"),
        (15, None, "not compared with the built-in model"),
    ],
)
def test_the_end_says_whether_the_result_is_the_builtin_model(
    window, engine, tmp_path, epochs, difference, says
) -> None:
    request = _start(window, engine, epochs=epochs)
    path = str(tmp_path / "trained.keras")
    engine.end(request, EndReason.FINISHED, TrainingDone(path, 0.99, epochs, difference))
    status = window.training.dialog.status.text()
    assert says in status
    if epochs == 15:
        assert "options differ" not in status
