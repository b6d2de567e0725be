"""Training the built-in MNIST CNN through the engine session: progress, the file, Cancel."""

from __future__ import annotations

import math

import keras
import numpy as np

from engine.models.training import DEFAULT_MNIST_DIR
from engine.protocol import Status, TrainDefault, TrainProgress
from engine.session import EngineSession


def _train(request: TrainDefault, should_stop=lambda: False) -> list[TrainProgress]:
    results: list[object] = []
    EngineSession(results.append).handle(request, should_stop)
    assert any(isinstance(r, Status) and r.busy for r in results)
    return [r for r in results if isinstance(r, TrainProgress)]


def test_one_epoch_reports_progress_and_saves_a_loadable_model(tmp_path) -> None:
    output = tmp_path / "trained.keras"
    request = TrainDefault(epochs=1, output=str(output), mnist_dir=str(DEFAULT_MNIST_DIR))
    progress = _train(request)
    assert [(p.epoch, p.finished) for p in progress] == [(1, False), (1, True)]
    epoch, final = progress
    assert epoch.request_id == request.request_id and epoch.epochs == 1
    for value in (epoch.loss, epoch.accuracy, epoch.val_loss, epoch.val_accuracy):
        assert math.isfinite(value)
    assert epoch.val_accuracy > 0.5  # one epoch on 8,000 digits already reads most of them
    assert not final.cancelled and final.path == str(output)
    assert 0.5 < final.held_out_accuracy <= 1.0
    assert output.with_suffix(".json").is_file()
    assert not list(tmp_path.glob("*.partial.*"))
    model = keras.models.load_model(output)
    assert model.predict(np.zeros((1, 28, 28, 1), np.float32), verbose=0).shape == (1, 10)


def test_should_stop_after_the_first_epoch_cancels_without_a_file(tmp_path) -> None:
    output = tmp_path / "never.keras"
    results: list[object] = []
    session = EngineSession(results.append)
    request = TrainDefault(epochs=3, output=str(output), mnist_dir=str(DEFAULT_MNIST_DIR))

    def should_stop() -> bool:
        return any(isinstance(r, TrainProgress) for r in results)

    session.handle(request, should_stop)
    progress = [r for r in results if isinstance(r, TrainProgress)]
    assert [(p.epoch, p.finished, p.cancelled) for p in progress] == [
        (1, False, False),
        (1, True, True),
    ]
    assert progress[-1].path == ""
    assert list(tmp_path.iterdir()) == []


def test_default_output_is_in_the_user_data_folder(monkeypatch, tmp_path) -> None:
    from engine.jobs.training import default_output

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    path = default_output()
    assert path.parent == tmp_path / "convscope" / "models"
    assert path.name.startswith("mnist_cnn_") and path.suffix == ".keras"
