"""How a model takes its input: preprocessing from the zoo, a sidecar or the user, put in front of
the model as layers; and the size a user picks for a model that takes any size."""

from __future__ import annotations

import shutil

import keras
import numpy as np
import pytest
from keras.applications import imagenet_utils
from session_messages import results_of

from engine.models.loading import load_model
from engine.models.meta import ModelLoadError
from engine.models.preprocessing import with_preprocessing
from engine.protocol import (
    Ascend,
    FeatureMaps,
    Frame,
    ImageOpened,
    LoadModel,
    ModelLoaded,
    OpenImage,
    Recipe,
    RunFinished,
    ShowFeatureMaps,
)
from engine.protocol.input_spec import InputPreprocessing, parse_numbers
from engine.session import EngineSession

QUICK = Recipe(steps=4, frame_every=2)
TORCH = InputPreprocessing.mean_std((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def _run(session: EngineSession, request) -> list[object]:
    emitted: list[object] = []
    session._emit = emitted.append
    session.handle(request, lambda: False)
    return results_of(emitted)


def _loaded(session: EngineSession, request: LoadModel) -> ModelLoaded:
    return next(m for m in _run(session, request) if isinstance(m, ModelLoaded))


def _save(model: keras.Model, path) -> str:
    model.save(path)
    return str(path)


@pytest.fixture(scope="module")
def free_model_path(tmp_path_factory):
    keras.utils.set_random_seed(4)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(4, name="pool")(x)
    outputs = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return _save(
        keras.Model(inputs, outputs, name="free"), tmp_path_factory.mktemp("m") / "f.keras"
    )


# ----------------------------------------------------------------------------- the choice itself


@pytest.mark.parametrize(
    ("stated", "expected"),
    [
        ({"range": [-1, 1]}, InputPreprocessing.value_range(-1, 1)),
        ({"preprocessing": "caffe"}, InputPreprocessing.caffe()),
        ({"preprocessing": "Symmetric"}, InputPreprocessing.value_range(-1, 1)),
        (
            {"preprocessing": {"mean": 0.5, "std": [0.25]}},
            InputPreprocessing.mean_std((0.5,), (0.25,)),
        ),
        ({"description": "no word on pixels"}, None),
    ],
)
def test_a_sidecar_states_the_preprocessing(stated, expected):
    assert InputPreprocessing.from_json(stated) == expected
    if expected is not None:  # and what is written reads back the same
        assert InputPreprocessing.from_json(expected.to_json()) == expected


@pytest.mark.parametrize(
    ("stated", "words"),
    [
        ({"preprocessing": "imagenet"}, "'imagenet' is unknown"),
        ({"preprocessing": {"mean": [0.5, 0.5], "std": [0.2]}}, "same number of values"),
        ({"preprocessing": {"mean": [0.5], "std": [0]}}, "must be positive"),
        ({"range": [1, 0]}, "is not a range"),
    ],
)
def test_a_nonsense_preprocessing_is_named(stated, words):
    with pytest.raises(ValueError, match=words):
        InputPreprocessing.from_json(stated)


def test_numbers_typed_by_a_user_are_read_or_the_bad_one_named():
    assert parse_numbers("0.485, 0.456 0.406") == (0.485, 0.456, 0.406)
    with pytest.raises(ValueError, match="'4x' is not a number"):
        parse_numbers("0.5, 4x")
    with pytest.raises(ValueError, match="no numbers"):
        parse_numbers("  ")


# ----------------------------------------------------------------------------- the layers in front


def test_caffe_layers_match_keras_own_caffe_preprocessing(tiny_conv_model):
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype(np.float32)
    wrapped = with_preprocessing(tiny_conv_model, InputPreprocessing.caffe())
    reference = tiny_conv_model(imagenet_utils.preprocess_input(pixels.copy(), mode="caffe"))
    np.testing.assert_allclose(wrapped(pixels), reference, rtol=1e-4, atol=1e-5)


def test_mean_std_layers_match_keras_own_torch_preprocessing(tiny_conv_model):
    pixels = np.random.default_rng(1).uniform(0, 255, (2, 16, 16, 3)).astype(np.float32)
    wrapped = with_preprocessing(tiny_conv_model, TORCH)
    reference = tiny_conv_model(imagenet_utils.preprocess_input(pixels.copy(), mode="torch"))
    np.testing.assert_allclose(wrapped(pixels), reference, rtol=1e-4, atol=1e-5)


def test_a_plain_range_needs_no_layers(tiny_conv_model):
    assert (
        with_preprocessing(tiny_conv_model, InputPreprocessing.value_range(-1, 1))
        is tiny_conv_model
    )


# ----------------------------------------------------------------------------- in the engine


def test_a_sidecar_with_caffe_preprocessing_wraps_the_model(tmp_path, saved_models):
    path = tmp_path / "tiny.keras"
    shutil.copy(saved_models["tiny"], path)
    path.with_suffix(".json").write_text('{"input": {"preprocessing": "caffe"}}', "utf-8")
    assert load_model(path)[1].preprocessing == InputPreprocessing.caffe()
    summary = _loaded(EngineSession(print), LoadModel(str(path))).summary
    assert (summary.input_origin, summary.input_range) == ("sidecar", (0.0, 255.0))
    assert [layer.name for layer in summary.layers] == ["pixels", "preprocess_caffe", "tiny"]
    assert [child.name for child in summary.layers[-1].children][-1] == "probs"


def test_without_a_sidecar_the_range_is_assumed_and_said_so(saved_models):
    summary = _loaded(EngineSession(print), LoadModel(str(saved_models["tiny"]))).summary
    assert (summary.input_origin, summary.preprocessing) == ("assumed", InputPreprocessing())


def test_a_chosen_preprocessing_changes_what_the_model_is_shown(saved_models, tiny_conv_model):
    session = EngineSession(print)
    summary = _loaded(session, LoadModel(str(saved_models["tiny"]), preprocessing=TORCH)).summary
    assert (summary.input_origin, summary.preprocessing) == ("chosen", TORCH)
    opened = next(
        m for m in _run(session, OpenImage(sample="photo:chelsea")) if isinstance(m, ImageOpened)
    )
    pixels = 255.0 * opened.display[None]
    expected = tiny_conv_model(imagenet_utils.preprocess_input(pixels.copy(), mode="torch"))
    top = int(np.argmax(expected[0]))
    assert opened.predictions[0].index == top
    assert opened.predictions[0].probability == pytest.approx(float(expected[0][top]), abs=1e-3)


def test_feature_maps_and_a_visualization_work_through_the_layers_in_front(saved_models):
    session = EngineSession(print)
    _loaded(session, LoadModel(str(saved_models["tiny"]), preprocessing=InputPreprocessing.caffe()))
    layer = ("tiny", "conv_b")
    messages = _run(session, OpenImage(sample="photo:chelsea", layer=layer))
    (maps,) = [m for m in messages if isinstance(m, FeatureMaps)]
    assert maps.maps.shape == (8, 8, 8)
    unit = int(maps.maps.mean(axis=(0, 1)).argmax())  # a filter alive for photos
    messages = _run(session, Ascend(layer, unit, QUICK))
    frames = [m for m in messages if isinstance(m, Frame)]
    objectives = [value for frame in frames for value in frame.objectives]
    assert isinstance(messages[-1], RunFinished) and len(objectives) == QUICK.steps
    assert objectives[-1] > objectives[0]


def test_caffe_on_a_greyscale_model_is_refused_clearly(saved_models):
    with pytest.raises(ModelLoadError, match=r"nested\.keras: Caffe-style preprocessing swaps RGB"):
        _run(
            EngineSession(print),
            LoadModel(str(saved_models["nested"]), preprocessing=InputPreprocessing.caffe()),
        )


# ----------------------------------------------------------------------------- a free input size


def test_a_picked_size_sets_images_and_visualizations(free_model_path):
    session = EngineSession(print)
    summary = _loaded(session, LoadModel(str(free_model_path), input_size=48)).summary
    assert summary.free_size and summary.input_shape == (48, 48, 3)
    messages = _run(session, OpenImage(sample="photo:astronaut", layer=("conv",)))
    opened = next(m for m in messages if isinstance(m, ImageOpened))
    assert opened.display.shape == (48, 48, 3)
    assert next(m for m in messages if isinstance(m, FeatureMaps)).maps.shape == (46, 46, 4)
    finished = _run(session, Ascend(("conv",), 1, QUICK))[-1]
    assert finished.image.shape == (48, 48, 3)
    _run(session, ShowFeatureMaps(("pool",)))


@pytest.mark.parametrize(("side", "words"), [(4, "out of bounds"), (5000, "out of bounds")])
def test_a_size_out_of_bounds_is_refused(free_model_path, side, words):
    with pytest.raises(ModelLoadError, match=f"f.keras: an input side of {side} px is {words}"):
        _run(EngineSession(print), LoadModel(str(free_model_path), input_size=side))


def test_a_size_too_small_for_the_kernels_is_refused_clearly(tmp_path):
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(2, 3, name="c1")(inputs)
    x = keras.layers.Conv2D(2, 16, name="c2")(x)  # a 16×16 kernel on 6×6 maps
    path = _save(keras.Model(inputs, x), tmp_path / "valid.keras")
    words = r"valid\.keras cannot take 8×8 images \(its Conv2D layer runs out of pixels\)"
    with pytest.raises(ModelLoadError, match=words):
        _run(EngineSession(print), LoadModel(str(path), input_size=8))


# ----------------------------------------------------------------------------- the commands


def test_headless_commands_apply_the_sidecars_preprocessing(tmp_path, saved_models):
    from engine.cli.common import CliError, load_model_arg

    path = tmp_path / "tiny.keras"
    shutil.copy(saved_models["tiny"], path)
    path.with_suffix(".json").write_text('{"input": {"preprocessing": "caffe"}}', "utf-8")
    model, meta, _label, _ = load_model_arg(str(path))
    assert [layer.name for layer in model.layers][:2] == ["pixels", "preprocess_caffe"]
    assert meta.input_range == (0.0, 255.0)
    grey = tmp_path / "nested.keras"
    shutil.copy(saved_models["nested"], grey)
    grey.with_suffix(".json").write_text('{"input": {"preprocessing": "caffe"}}', "utf-8")
    with pytest.raises(CliError, match="swaps RGB to BGR, but this model takes 1 channel"):
        load_model_arg(str(grey))


def test_a_deep_free_size_model_opens_at_a_side_it_takes_when_none_is_picked(tmp_path):
    inputs = keras.Input((None, None, 3))
    x = inputs
    x = keras.layers.Conv2D(2, 3, padding="same", name="conv")(x)
    for k in range(8):  # 2⁸ = 256: 128 px is too small
        x = keras.layers.MaxPooling2D(2, name=f"pool{k}")(x)
    path = _save(keras.Model(inputs, x), tmp_path / "deep.keras")
    summary = _loaded(EngineSession(print), LoadModel(str(path))).summary
    assert summary.input_shape == (256, 256, 3) and summary.free_size
