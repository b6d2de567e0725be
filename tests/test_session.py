"""The engine session without a thread or a window: what each request emits, and how it fails.

A failed request raises (the engine thread turns that into a message) and leaves the session as
it was: the model and the image the user had are kept, and the next request works.
"""

from __future__ import annotations

import numpy as np
import pytest
from session_messages import ended_of, results_of

from engine.images.convert import ImageError
from engine.models.meta import ModelLoadError
from engine.protocol import (
    Ascend,
    EndReason,
    FeatureMaps,
    Frame,
    ImageOpened,
    LayerKind,
    LoadModel,
    ModelLoaded,
    OpenImage,
    Recipe,
    RunFinished,
    ShowFeatureMaps,
)
from engine.session import EngineSession, LayerError

QUICK = Recipe(steps=6, frame_every=2)
INNER_CONV2 = ("block", "inner_conv2")


def _never() -> bool:
    return False


class Engine:
    """A session whose emitted messages are collected per request."""

    def __init__(self) -> None:
        self.emitted: list[object] = []
        self.session = EngineSession(self.emitted.append)

    def do(self, request, should_stop=_never) -> list[object]:
        """Handle `request`; the messages it emitted, status lines left out."""
        self.emitted.clear()
        self.session.handle(request, should_stop)
        return results_of(self.emitted)


def _engine_with(path) -> Engine:
    engine = Engine()
    (loaded,) = engine.do(LoadModel(None if path is None else str(path)))
    assert isinstance(loaded, ModelLoaded)
    return engine


@pytest.fixture(scope="module")
def nested(saved_models) -> Engine:
    """One session on the nested model, shared by tests that leave its model and image alone."""
    return _engine_with(saved_models["nested"])


@pytest.fixture
def fresh_nested(saved_models) -> Engine:
    return _engine_with(saved_models["nested"])


# ----------------------------------------------------------------------------- the layer tree


def test_the_summary_shows_the_nested_block_and_its_layers(nested):
    summary = nested.session.summary
    assert summary.input_shape == (16, 16, 1)
    block = summary.find(("block",))
    assert block is not None and block.type_name == "Sequential"
    assert [child.name for child in block.children] == ["inner_conv1", "inner_conv2"]
    conv1, conv2 = block.children
    assert conv1.path == ("block", "inner_conv1") and conv2.path == INNER_CONV2
    assert (conv1.kind, conv1.size, conv1.output_shape) == (LayerKind.CHANNELS, 5, (None, 8, 8, 5))
    assert (conv2.kind, conv2.size, conv2.output_shape) == (LayerKind.CHANNELS, 6, (None, 8, 8, 6))
    flat = summary.find(("flat",))
    assert flat.kind is LayerKind.NONE and not flat.visualizable
    head = summary.find(("head",))
    assert (head.kind, head.size, head.is_output) == (LayerKind.UNITS, 3, True)


# ----------------------------------------------------------------------------- images


def test_opening_a_sample_predicts_and_shows_the_chosen_layer(nested):
    request = OpenImage(sample="photo:chelsea", layer=INNER_CONV2)
    opened, maps = nested.do(request)
    assert isinstance(opened, ImageOpened) and isinstance(maps, FeatureMaps)
    assert opened.request_id == maps.request_id == request.request_id
    assert opened.display.shape == (16, 16, 1)
    assert opened.original_size == (451, 300)
    assert "converted colour to greyscale" in opened.notes
    probabilities = [p.probability for p in opened.predictions]
    assert 1 <= len(probabilities) <= 5
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    assert probabilities == sorted(probabilities, reverse=True)
    assert maps.layer == INNER_CONV2
    assert maps.maps.shape == (8, 8, 6)


def test_feature_maps_are_the_nested_layers_real_activations(nested):
    nested.do(OpenImage(sample="photo:chelsea"))
    (maps,) = nested.do(ShowFeatureMaps(INNER_CONV2))
    model = nested.session.model
    x = nested.session.image.converted.pixels[None]
    for name in ("stem", "stem_pool"):
        x = model.get_layer(name)(x)
    block = model.get_layer("block")
    expected = block.get_layer("inner_conv2")(block.get_layer("inner_conv1")(x)).numpy()[0]
    np.testing.assert_allclose(maps.maps, expected, rtol=1e-4, atol=1e-5)


def test_an_unknown_sample_names_it(nested):
    with pytest.raises(ImageError, match="'photo:dog'"):
        nested.do(OpenImage(sample="photo:dog"))


# ----------------------------------------------------------------------------- layers that fail


def test_a_flatten_layer_has_nothing_to_show(nested):
    with pytest.raises(LayerError) as caught:
        nested.do(Ascend(("flat",), 0, QUICK))
    message = str(caught.value)
    assert "'flat'" in message
    assert "no channels or units to show" in message


def test_a_unit_out_of_range_is_refused(nested):
    with pytest.raises(LayerError) as caught:
        nested.do(Ascend(INNER_CONV2, 6, QUICK))
    message = str(caught.value)
    assert "inner_conv2" in message and "6 channels" in message
    with pytest.raises(LayerError):
        nested.do(Ascend(INNER_CONV2, -1, QUICK))


def test_an_unknown_layer_is_named(nested):
    with pytest.raises(LayerError, match="'block/nope'"):
        nested.do(Ascend(("block", "nope"), 0, QUICK))


# ----------------------------------------------------------------------------- visualization


def test_a_run_on_a_nested_layer_streams_frames_then_finishes(nested):
    request = Ascend(INNER_CONV2, 3, QUICK)
    messages = nested.do(request)
    *frames, finished = messages
    assert all(isinstance(frame, Frame) for frame in frames)
    assert [frame.step for frame in frames] == [1, 2, 4, 6]  # 1, 2, 4: filmstrip steps
    assert all(frame.steps == 6 and frame.layer == INNER_CONV2 for frame in frames)
    assert sum(len(frame.objectives) for frame in frames) == 6
    assert isinstance(finished, RunFinished)
    assert finished.request_id == request.request_id
    assert ended_of(nested.emitted).reason is EndReason.FINISHED
    assert finished.steps_done == QUICK.steps and not finished.resumable
    assert finished.image.shape == (16, 16, 1)
    assert np.isfinite(finished.image).all()  # unclipped by default: may leave [0, 1]
    assert np.isfinite(finished.objective)
    assert finished.predictions == ()  # only class (output) units are judged by the model


def test_stopping_a_run_finishes_it_as_cancelled_with_the_steps_done(nested):
    checks: list[int] = []

    def stop_after_three_checks() -> bool:
        checks.append(1)
        return len(checks) > 3

    settings = Recipe(steps=50, frame_every=1)
    messages = nested.do(Ascend(INNER_CONV2, 0, settings), stop_after_three_checks)
    *frames, finished = messages
    # ascend() asks before every step: three "go on"s are three steps, the fourth ask stops it.
    assert [frame.step for frame in frames] == [1, 2, 3]
    assert isinstance(finished, RunFinished)
    assert ended_of(nested.emitted).reason is EndReason.CANCELLED
    assert finished.steps_done == 3 and finished.resumable
    assert len(checks) == 4


# ----------------------------------------------------------------------------- recovering


def _text_renamed_keras(folder):
    path = folder / "broken.keras"
    path.write_text("not a model", encoding="utf-8")
    return path


def _model_without_image_input(folder):
    import keras

    path = folder / "tabular.keras"
    keras.Sequential([keras.Input((10,)), keras.layers.Dense(3)]).save(path)
    return path


@pytest.mark.parametrize("make_bad_file", [_text_renamed_keras, _model_without_image_input])
def test_a_bad_model_file_keeps_the_good_model(fresh_nested, tmp_path, make_bad_file):
    session = fresh_nested.session
    summary, model = session.summary, session.model
    bad = make_bad_file(tmp_path)
    with pytest.raises(ModelLoadError) as caught:
        fresh_nested.do(LoadModel(str(bad)))
    assert bad.name in str(caught.value)
    assert session.summary is summary and session.model is model
    *_, finished = fresh_nested.do(Ascend(("stem",), 1, QUICK))
    assert isinstance(finished, RunFinished)
    assert ended_of(fresh_nested.emitted).reason is EndReason.FINISHED


def test_a_corrupt_image_keeps_the_previous_image(fresh_nested, tmp_path):
    fresh_nested.do(OpenImage(sample="photo:chelsea"))
    (before,) = fresh_nested.do(ShowFeatureMaps(INNER_CONV2))
    corrupt = tmp_path / "cat.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # a PNG signature, then nothing
    with pytest.raises(ImageError, match=r"cat\.png"):
        fresh_nested.do(OpenImage(path=str(corrupt), layer=INNER_CONV2))
    assert fresh_nested.session.image.source == "Chelsea the cat"
    (after,) = fresh_nested.do(ShowFeatureMaps(INNER_CONV2))
    assert isinstance(after, FeatureMaps)
    np.testing.assert_array_equal(after.maps, before.maps)


# ----------------------------------------------------------------------------- class visualization


@pytest.fixture(scope="module")
def default_model() -> Engine:
    return _engine_with(None)


@pytest.mark.parametrize("digit", range(10))
def test_class_visualization_makes_an_image_the_model_calls_that_digit(default_model, digit):
    settings = Recipe(steps=128, frame_every=32)
    *frames, finished = default_model.do(Ascend(("predictions",), digit, settings))
    steps = [frame.step for frame in frames]
    # Every filmstrip step and the last; frames in between only as often as the window can show.
    assert {1, 2, 4, 8, 16, 32, 64, 128} <= set(steps) and steps == sorted(steps)
    assert isinstance(finished, RunFinished)
    assert ended_of(default_model.emitted).reason is EndReason.FINISHED
    best = finished.predictions[0]
    assert (best.index, best.name) == (digit, str(digit))
    assert best.probability > 0.99


def test_a_float_tiff_with_nan_and_inf_opens_with_predictions(default_model, tmp_path):
    from PIL import Image

    values = np.linspace(0.0, 1.0, 28 * 28, dtype=np.float32).reshape(28, 28)
    values[0, :5], values[9, 9] = np.nan, np.inf
    path = tmp_path / "float.tif"
    Image.fromarray(values).save(path)
    (opened,) = results_of(default_model.do(OpenImage(path=str(path))))
    assert isinstance(opened, ImageOpened) and np.isfinite(opened.display).all()
    assert len(opened.predictions) == 5
    assert all(np.isfinite(p.probability) for p in opened.predictions)
    assert any("6 NaN or infinite pixels replaced" in note for note in opened.notes)


def test_nan_outputs_list_no_predictions():
    from engine.models.predictions import top_predictions

    assert top_predictions(np.array([0.1, np.nan, 0.3]), ()) == ()
    assert len(top_predictions(np.array([0.1, 0.6, 0.3]), ())) == 3
