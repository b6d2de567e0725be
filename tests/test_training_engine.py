"""Training the built-in MNIST CNN through the engine session: progress, the file, Cancel."""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest

from engine.models.training import DEFAULT_MNIST_DIR, DEFAULT_MODEL_PATH, builtin_difference
from engine.protocol import EndReason, JobEnded, Status, TrainDefault, TrainingDone, TrainProgress
from engine.session import EngineSession


def _train(
    request: TrainDefault, should_stop=lambda: False
) -> tuple[list[TrainProgress], JobEnded]:
    results: list[object] = []
    ended = EngineSession(results.append).handle(request, should_stop)
    assert any(isinstance(r, Status) and r.busy for r in results)
    return [r for r in results if isinstance(r, TrainProgress)], ended


def test_one_epoch_with_options_reports_progress_saves_a_loadable_model_and_compares_it(
    tmp_path,
) -> None:
    """One training for two claims: an epoch reports progress and saves a model that loads, and
    the options reach training and the result is compared with the built-in model."""
    output = tmp_path / "trained.keras"
    request = TrainDefault(
        epochs=1,
        output=str(output),
        mnist_dir=str(DEFAULT_MNIST_DIR),
        seed=3,
        train_images=2000,
        batch_size=32,
    )
    progress, ended = _train(request)
    assert [p.epoch for p in progress] == [1]
    (epoch,) = progress
    assert ended.reason is EndReason.FINISHED
    final = ended.value
    assert isinstance(final, TrainingDone) and final.epochs == 1
    assert epoch.request_id == request.request_id and epoch.epochs == 1
    for value in (epoch.loss, epoch.accuracy, epoch.val_loss, epoch.val_accuracy):
        assert math.isfinite(value)
    assert epoch.val_accuracy > 0.5  # one epoch on 2,000 digits already reads most of them
    assert final.path == str(output)
    assert 0.5 < final.held_out_accuracy <= 1.0
    assert not list(tmp_path.glob("*.partial.*"))
    model = keras.models.load_model(output)
    assert model.predict(np.zeros((1, 28, 28, 1), np.float32), verbose=0).shape == (1, 10)
    sidecar = json.loads(output.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["provenance"]["train_images"] == 2000 and sidecar["provenance"]["seed"] == 3
    assert sidecar["provenance"]["held_out_images"] == 2000
    assert sidecar["training"]["batch_size"] == 32
    difference = final.builtin_difference
    assert difference == builtin_difference(output)  # weight by weight, max |a - b|
    assert 0.0 < difference < math.inf  # 2,000 digits for 1 epoch is not the built-in model


def test_should_stop_after_the_first_epoch_cancels_without_a_file(tmp_path) -> None:
    output = tmp_path / "never.keras"
    results: list[object] = []
    session = EngineSession(results.append)
    # A few digits: what is checked is when training stops, not what it learns.
    request = TrainDefault(
        epochs=3, output=str(output), mnist_dir=str(DEFAULT_MNIST_DIR), train_images=256
    )

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


def test_builtin_difference_is_exact(tmp_path) -> None:
    assert builtin_difference(DEFAULT_MODEL_PATH, DEFAULT_MODEL_PATH) == 0.0
    model = keras.models.load_model(DEFAULT_MODEL_PATH, compile=False)
    weights = model.get_weights()
    weights[-1] = weights[-1] + np.float32(0.25)  # the output bias, one tiny change
    model.set_weights(weights)
    model.save(tmp_path / "nudged.keras")
    assert builtin_difference(tmp_path / "nudged.keras") == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("changes", "named"),
    [({"train_images": 9000}, "train_images=9000"), ({"batch_size": 0}, "batch_size=0")],
)
def test_bad_options_fail_naming_the_value(tmp_path, changes, named) -> None:
    request = TrainDefault(
        epochs=1, output=str(tmp_path / "x.keras"), mnist_dir=str(DEFAULT_MNIST_DIR), **changes
    )
    with pytest.raises(ValueError, match=named):  # the worker shows it as a failure
        EngineSession(lambda result: None).handle(request, lambda: False)
    assert list(tmp_path.iterdir()) == []
