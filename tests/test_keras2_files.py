"""Keras 2 (tf_keras) files of the keras.applications families open with all their layers.

Keras 3 refuses the `groups` key Keras 2 writes for DepthwiseConv2D, misreads batch norm's
one-item axis list in a nested model, and hands the layer after a nested model a list; the
config patch of Keras 2 SavedModels (engine.models.savedmodel) fixes all three for .h5 files too.
"""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest

from engine.models.loading import load_model
from engine.models.savedmodel import MATCH_TOLERANCE

tf_keras = pytest.importorskip("tf_keras")

SHAPE = (32, 32, 3)


def _mobilenet(include_top: bool = True):
    tf_keras.utils.set_random_seed(0)
    return tf_keras.applications.MobileNetV2(
        weights=None, input_shape=SHAPE, include_top=include_top
    )


@pytest.fixture(scope="module")
def keras2_models(tmp_path_factory):
    """MobileNetV2 flat, and nested in a Sequential with a new head, as .h5 and SavedModel."""
    folder = tmp_path_factory.mktemp("keras2")
    flat = _mobilenet()
    nested = tf_keras.Sequential(
        [
            tf_keras.Input(SHAPE),
            _mobilenet(include_top=False),
            tf_keras.layers.GlobalAveragePooling2D(),
            tf_keras.layers.Dense(5, activation="softmax", name="head"),
        ]
    )
    saved = {}
    for name, model in (("flat", flat), ("nested", nested)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tf_keras calls HDF5 legacy: that is the point
            model.save(folder / f"{name}.h5")
        # Without tf_keras's per-layer traces: the rebuild reads only keras_metadata.pb and the
        # variables, and tracing every layer's call took 20 of this fixture's 30 s (and 40 % of
        # each load). test_savedmodel.py opens Keras 2 SavedModels saved with their traces.
        model.save(str(folder / f"{name}_savedmodel"), save_traces=False)
        saved[name] = model
    return folder, saved


def _layer_names(model) -> list[str]:
    names = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue  # Keras 2 lists a Sequential's input layer; Keras 3 does not
        names.append(layer.name)
        if hasattr(layer, "layers"):
            names += [f"{layer.name}/{name}" for name in _layer_names(layer)]
    return names


def _same_outputs(old, new) -> None:
    sample = np.random.default_rng(1).random((2, *SHAPE), dtype=np.float32)
    expected = np.asarray(old(sample, training=False))
    got = np.asarray(new(sample, training=False))
    np.testing.assert_allclose(got, expected, rtol=MATCH_TOLERANCE, atol=MATCH_TOLERANCE)


@pytest.mark.parametrize("name", ["flat", "nested"])
def test_a_keras2_h5_file_opens_with_all_its_layers_and_the_same_outputs(keras2_models, name):
    folder, saved = keras2_models
    path = folder / f"{name}.h5"
    before = path.read_bytes()
    model, meta, label = load_model(path)
    assert label == f"{name}.h5" and not meta.signature_only
    assert _layer_names(model) == _layer_names(saved[name])
    assert any(type(layer).__name__ == "DepthwiseConv2D" for layer in _walk(model))
    _same_outputs(saved[name], model)
    assert path.read_bytes() == before  # patched in a copy, never in the user's file


@pytest.mark.parametrize("name", ["flat", "nested"])
def test_the_same_network_as_a_keras2_savedmodel_is_rebuilt(keras2_models, name):
    folder, saved = keras2_models
    model, meta, _ = load_model(folder / f"{name}_savedmodel")
    assert not meta.signature_only
    assert _layer_names(model) == _layer_names(saved[name])
    _same_outputs(saved[name], model)


def test_a_keras3_h5_file_is_read_as_it_is(tmp_path):
    import keras

    from engine.models.savedmodel import keras3_readable_h5

    inputs = keras.Input(SHAPE)
    model = keras.Model(inputs, keras.layers.DepthwiseConv2D(3, name="dw")(inputs))
    path = tmp_path / "keras3.h5"
    model.save(path)
    with h5py.File(path) as file:
        assert not str(file.attrs["keras_version"]).startswith("2.")
    with keras3_readable_h5(path) as readable:
        assert readable == path


def _walk(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _walk(layer)


@pytest.mark.parametrize(
    ("family", "side"),
    [("ResNet50", 32), ("Xception", 71), ("DenseNet121", 32), ("ConvNeXtTiny", 32)],
)
def test_other_keras2_application_families_open_from_h5(tmp_path, family, side):
    """Residual blocks; separable convolutions with Keras 2's unused kernel settings; layer
    names with "/" (DenseNet's), which Keras 3 refuses: written with "_"; ConvNeXt's LayerScale
    and its `x + y` op layers."""
    old = getattr(tf_keras.applications, family)(
        weights=None, input_shape=(side, side, 3), classes=5
    )
    path = tmp_path / f"{family}.h5"
    old.save(path)
    new, _meta, _label = load_model(str(path))
    names = [layer.name.replace("/", "_") for layer in old.layers]
    assert [layer.name for layer in new.layers] == names
    x = np.random.default_rng(0).random((1, side, side, 3), np.float32) * 255
    np.testing.assert_allclose(np.asarray(new(x)), old(x).numpy(), atol=1e-4)
