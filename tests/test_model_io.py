"""Opening model files: each wrong file is a ModelLoadError that names it and says what is wrong."""

from __future__ import annotations

import io
import shutil

import keras
import pytest
from PIL import Image

from engine.models.loading import load_model
from engine.models.meta import DEFAULT_MODEL_PATH, ModelLoadError, ModelMeta, read_sidecar
from engine.protocol.input_spec import InputPreprocessing


def _load_error(path) -> str:
    with pytest.raises(ModelLoadError) as caught:
        load_model(path)
    return str(caught.value)


# ----------------------------------------------------------------------------- files that fail


def test_a_text_file_renamed_keras_is_not_a_model(tmp_path):
    path = tmp_path / "classifier.keras"
    path.write_text("model = 'a very good one'\n", encoding="utf-8")
    message = _load_error(path)
    assert "classifier.keras" in message
    assert "not a Keras model" in message
    assert "not found" not in message.lower()  # the file is there; Keras's own text says otherwise


def test_a_cut_short_keras_file_is_reported_as_damaged(tmp_path):
    whole = DEFAULT_MODEL_PATH.read_bytes()
    path = tmp_path / "download.keras"
    path.write_bytes(whole[: len(whole) // 2])  # an interrupted download
    message = _load_error(path)
    assert "download.keras" in message
    assert "damaged" in message
    assert "not found" not in message.lower()


def test_an_empty_keras_file_says_it_is_empty(tmp_path):
    path = tmp_path / "empty.keras"
    path.write_bytes(b"")
    message = _load_error(path)
    assert "empty.keras" in message
    assert "empty" in message.replace("empty.keras", "")


def test_a_missing_model_file_says_so(tmp_path):
    message = _load_error(tmp_path / "nowhere.keras")
    assert "nowhere.keras" in message
    assert "no such file" in message


def test_a_folder_is_not_a_model(tmp_path):
    folder = tmp_path / "saved_model_dir"
    folder.mkdir()
    message = _load_error(folder)
    assert "saved_model_dir" in message
    assert "folder" in message


def test_a_file_with_the_wrong_extension_is_refused_before_loading(tmp_path):
    path = tmp_path / "weights.txt"
    path.write_text("1 2 3", encoding="utf-8")
    message = _load_error(path)
    assert "weights.txt" in message
    assert ".keras or .h5" in message and ".txt" in message


def test_a_png_renamed_h5_is_not_a_model(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")
    path = tmp_path / "model.h5"
    path.write_bytes(buffer.getvalue())
    message = _load_error(path)
    assert "model.h5" in message
    assert "not a Keras model" in message
    assert "signature" not in message  # HDF5 jargon the user cannot act on


def test_a_weights_only_file_is_not_a_whole_model(tmp_path, tiny_conv_model):
    path = tmp_path / "tiny.weights.h5"
    tiny_conv_model.save_weights(path)
    message = _load_error(path)
    assert "tiny.weights.h5" in message
    assert "could not be loaded" in message


def test_a_model_that_does_not_take_images_is_refused(tmp_path):
    path = tmp_path / "tabular.keras"
    keras.Sequential([keras.Input((10,)), keras.layers.Dense(3)]).save(path)
    message = _load_error(path)
    assert "tabular.keras" in message
    assert "needs images" in message
    assert "(None, 10)" in message  # and says what the model takes instead


def test_a_model_with_two_inputs_is_refused(tmp_path):
    left, right = keras.Input((8, 8, 3)), keras.Input((8, 8, 3))
    merged = keras.layers.Add()([left, right])
    path = tmp_path / "siamese.keras"
    keras.Model([left, right], merged).save(path)
    message = _load_error(path)
    assert "siamese.keras" in message
    assert "2 inputs" in message and "one image input" in message


# ----------------------------------------------------------------------------- files that load


def test_the_tiny_model_saved_as_h5_loads(saved_models):
    model, meta, label = load_model(saved_models["tiny_h5"])
    assert label == "tiny.h5"
    assert tuple(model.inputs[0].shape) == (None, 16, 16, 3)
    assert [layer.name for layer in model.layers][-1] == "probs"
    assert meta == ModelMeta()  # no sidecar: the defaults


def test_the_built_in_default_loads_with_its_sidecar():
    model, meta, label = load_model(None)
    assert "built-in" in label
    assert tuple(model.inputs[0].shape) == (None, 28, 28, 1)
    assert meta.class_names == tuple(str(digit) for digit in range(10))
    assert meta.input_range == (0.0, 1.0)
    assert meta.description


@pytest.mark.parametrize(
    "sidecar",
    [
        "{not json",
        "[1, 2, 3]",
        '{"class_names": 5}',
        '{"class_names": null}',
        '{"class_names": "cat"}',
        '{"input": {"range": [0]}}',
        '{"input": {"range": "0 to 1"}}',
        '{"input": {"range": [1, 0]}}',
        '{"input": {"range": [0, NaN]}}',
        '{"input": {"range": [-Infinity, 1]}}',
    ],
)
def test_a_broken_sidecar_gives_defaults_not_an_error(tmp_path, saved_models, sidecar):
    path = tmp_path / "tiny.keras"
    shutil.copy(saved_models["tiny"], path)
    path.with_suffix(".json").write_text(sidecar, encoding="utf-8")
    model, meta, _ = load_model(path)
    assert model.name == "tiny"
    assert meta == ModelMeta()


def test_a_sidecar_in_another_encoding_gives_defaults(tmp_path, saved_models):
    path = tmp_path / "tiny.keras"
    shutil.copy(saved_models["tiny"], path)
    path.with_suffix(".json").write_bytes(b"\xff\xfe{\x00}\x00")  # UTF-16 from a Windows editor
    assert load_model(path)[1] == ModelMeta()


def test_an_unreadable_sidecar_gives_defaults(tmp_path, saved_models, monkeypatch):
    path = tmp_path / "tiny.keras"
    shutil.copy(saved_models["tiny"], path)
    sidecar = path.with_suffix(".json")
    sidecar.write_text("{}", encoding="utf-8")
    real_read_text = type(sidecar).read_text

    def locked(self, *args, **kwargs):
        if self == sidecar:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(type(sidecar), "read_text", locked)  # e.g. held open by another program
    assert read_sidecar(path) == ModelMeta()


def test_a_good_sidecar_is_read(tmp_path, saved_models):
    path = tmp_path / "tiny.keras"
    shutil.copy(saved_models["tiny"], path)
    path.with_suffix(".json").write_text(
        '{"class_names": ["a", "b", "c", "d"], "input": {"range": [-1, 1]}, "description": "x"}',
        encoding="utf-8",
    )
    stated = InputPreprocessing.value_range(-1, 1)
    assert load_model(path)[1] == ModelMeta(("a", "b", "c", "d"), (-1.0, 1.0), "x", stated)


class _Doubler(keras.layers.Layer):
    """A custom layer that is registered nowhere: a file saved with it names only its class."""

    def call(self, x):
        return x * 2


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_an_unknown_custom_class_is_named(tmp_path, suffix):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3)(_Doubler(name="twice")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    path = tmp_path / f"custom{suffix}"
    model.save(path)
    message = _load_error(path)
    assert f"custom{suffix}" in message
    assert "custom class _Doubler" in message


def test_a_legacy_h5_loads_without_keras_advice(tmp_path, recwarn):
    import warnings

    import tf_keras

    path = tmp_path / "legacy.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf_keras's own note that .h5 is a legacy format
        legacy = tf_keras.Sequential(
            [tf_keras.layers.Conv2D(2, 3, input_shape=(8, 8, 1)), tf_keras.layers.Flatten()]
        )
        legacy.save(path)
    recwarn.clear()
    warnings.simplefilter("always")  # recwarn restores the filters afterwards
    model, _, _ = load_model(path)
    assert model.input_shape == (None, 8, 8, 1)
    assert not [w for w in recwarn if "input_shape" in str(w.message)], [str(w) for w in recwarn]
