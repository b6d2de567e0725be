"""Training the built-in MNIST CNN through the engine session: progress, the file, Cancel."""

from __future__ import annotations

import math

import keras
import numpy as np

from engine.models.training import DEFAULT_MNIST_DIR
from engine.protocol import EndReason, JobEnded, Status, TrainDefault, TrainingDone, TrainProgress
from engine.session import EngineSession


def _train(
    request: TrainDefault, should_stop=lambda: False
) -> tuple[list[TrainProgress], JobEnded]:
    results: list[object] = []
    ended = EngineSession(results.append).handle(request, should_stop)
    assert any(isinstance(r, Status) and r.busy for r in results)
    return [r for r in results if isinstance(r, TrainProgress)], ended


def test_one_epoch_reports_progress_and_saves_a_loadable_model(tmp_path) -> None:
    output = tmp_path / "trained.keras"
    request = TrainDefault(epochs=1, output=str(output), mnist_dir=str(DEFAULT_MNIST_DIR))
    progress, ended = _train(request)
    assert [p.epoch for p in progress] == [1]
    (epoch,) = progress
    assert ended.reason is EndReason.FINISHED
    final = ended.value
    assert isinstance(final, TrainingDone) and final.epochs == 1
    assert epoch.request_id == request.request_id and epoch.epochs == 1
    for value in (epoch.loss, epoch.accuracy, epoch.val_loss, epoch.val_accuracy):
        assert math.isfinite(value)
    assert epoch.val_accuracy > 0.5  # one epoch on 8,000 digits already reads most of them
    assert final.path == str(output)
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

    ended = session.handle(request, should_stop)
    progress = [r for r in results if isinstance(r, TrainProgress)]
    assert [p.epoch for p in progress] == [1]
    assert ended.reason is EndReason.CANCELLED and ended.value is None
    assert list(tmp_path.iterdir()) == []


def test_default_output_is_in_the_user_data_folder(monkeypatch, tmp_path) -> None:
    from engine.jobs.training import default_output

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    path = default_output()
    assert path.parent == tmp_path / "convscope" / "models"
    assert path.name.startswith("mnist_cnn_") and path.suffix == ".keras"
