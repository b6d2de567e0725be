"""Models convscope loads only with care or not at all: code in the file, several inputs or
outputs, free input size; other channel counts than 1 and 3 open. Each refusal names the file
and says what works."""

from __future__ import annotations

import keras
import pytest

from engine.models.loading import load_model
from engine.models.meta import ModelLoadError
from engine.protocol import TRUST_NOTE


def _save(model: keras.Model, path) -> str:
    model.save(path)
    return str(path)


def _load_error(path, **options) -> str:
    with pytest.raises(ModelLoadError) as caught:
        load_model(path, **options)
    return str(caught.value)


def _lambda_model() -> keras.Model:
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    x = keras.layers.Conv2D(2, 3, name="conv")(x)
    return keras.Model(inputs, x, name="with_lambda")


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_lambda_layer_is_refused_unless_the_file_is_trusted(tmp_path, suffix):
    path = _save(_lambda_model(), tmp_path / f"scaled{suffix}")
    message = _load_error(path)
    assert message == (
        f"scaled{suffix} contains a Lambda layer 'double' (Python code saved in the file). "
        f"{TRUST_NOTE}"
    )
    assert "trust" in message

    model, _meta, label = load_model(path, trusted=True)
    assert label == f"scaled{suffix}"
    assert "double" in [layer.name for layer in model.layers]


def test_a_lambda_layer_inside_a_nested_model_loads_when_trusted(tmp_path):
    inner = _lambda_model()
    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.GlobalAveragePooling2D(name="gap")(inner(inputs))
    path = _save(keras.Model(inputs, outputs, name="outer"), tmp_path / "outer.keras")
    assert "outer.keras contains a Lambda layer" in _load_error(path)
    model, _meta, _label = load_model(path, trusted=True)
    assert model.name == "outer"


def test_a_model_with_two_inputs_says_one_image_input_is_supported(tmp_path):
    a, b = keras.Input((8, 8, 3), name="a"), keras.Input((8, 8, 3), name="b")
    x = keras.layers.Conv2D(2, 3)(keras.layers.Concatenate()([a, b]))
    path = _save(keras.Model([a, b], x), tmp_path / "pair.keras")
    message = _load_error(path)
    assert "pair.keras has 2 inputs" in message
    assert "one image input" in message


def test_a_model_with_two_outputs_is_refused_with_a_way_out(tmp_path):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(2, 3)(inputs))
    outputs = [keras.layers.Dense(3, name="kind")(x), keras.layers.Dense(2, name="box")(x)]
    path = _save(keras.Model(inputs, outputs), tmp_path / "heads.keras")
    message = _load_error(path)
    assert "heads.keras has 2 outputs" in message
    assert "one output" in message
    assert "model.outputs[0]" in message


@pytest.mark.parametrize("channels", [2, 4, 5])
def test_other_channel_counts_open(tmp_path, channels):
    inputs = keras.Input((8, 8, channels))
    path = _save(keras.Model(inputs, keras.layers.Conv2D(2, 3)(inputs)), tmp_path / "odd.keras")
    model, _meta, label = load_model(path)
    assert label == "odd.keras"
    assert tuple(model.inputs[0].shape) == (None, 8, 8, channels)


def test_a_model_of_free_input_size_loads(tmp_path):
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    outputs = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    path = _save(keras.Model(inputs, outputs), tmp_path / "free.keras")
    model, _meta, _label = load_model(path)
    assert tuple(model.inputs[0].shape) == (None, None, None, 3)


def test_the_engine_loads_a_trusted_file_only_when_asked(tmp_path):
    from engine.protocol import LoadModel, ModelLoaded
    from engine.session import EngineSession

    path = _save(_lambda_model(), tmp_path / "scaled.keras")
    emitted: list[object] = []
    session = EngineSession(emitted.append)
    with pytest.raises(ModelLoadError, match="trust"):
        session.handle(LoadModel(path), lambda: False)
    session.handle(LoadModel(path, trusted=True), lambda: False)
    (loaded,) = [message for message in emitted if isinstance(message, ModelLoaded)]
    assert loaded.summary.input_shape == (8, 8, 3)


def test_the_engine_gives_a_free_size_model_the_default_size_until_one_is_picked(tmp_path):
    from engine.protocol import LoadModel, ModelLoaded
    from engine.session import EngineSession

    inputs = keras.Input((None, None, 3))
    outputs = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, name="c")(inputs))
    path = _save(keras.Model(inputs, outputs), tmp_path / "free.keras")
    emitted: list[object] = []
    EngineSession(emitted.append).handle(LoadModel(path), lambda: False)
    (loaded,) = [message for message in emitted if isinstance(message, ModelLoaded)]
    assert loaded.summary.input_shape == (128, 128, 3)
    assert loaded.summary.free_size
