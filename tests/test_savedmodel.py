"""TensorFlow SavedModel folders: a Keras 2 one opens with all its layers, any other one opens as
its serving signature (inner layers hidden, and the window says so), and a folder that is not a
usable SavedModel is refused with a message that says what would work. Dropping a folder on the
window opens it."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
from fake_engine import FakeEngine
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from session_messages import results_of

from engine.cli.common import load_model_arg
from engine.models.introspect import describe_model
from engine.models.loading import load_model
from engine.models.meta import ModelLoadError
from engine.models.savedmodel import HIDDEN_LAYERS_NOTE
from engine.protocol import (
    TRUST_NOTE,
    Ascend,
    Explain,
    Explanation,
    FeatureMaps,
    ImageOpened,
    LayerKind,
    LoadModel,
    ModelLoaded,
    OpenImage,
    Recipe,
    RunFinished,
)
from engine.session import EngineSession
from gui.files.dropped_files import classify_drop
from gui.main_window import MainWindow

QUICK = Recipe(steps=6, frame_every=2)


def _quietly(save) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the savers' deprecation chatter, not our code
        save()


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict:
    """SavedModel folders as TF 2.15's `model.save("dir")` and Keras 3's `export` write them,
    with the original models' outputs on a fixed input to compare against."""
    import keras
    import tf_keras

    root = tmp_path_factory.mktemp("savedmodels")
    tf_keras.utils.set_random_seed(3)
    L = tf_keras.layers
    inputs = tf_keras.Input((16, 16, 3))
    x = L.Conv2D(6, 3, padding="same", activation="relu", name="conv_a")(inputs)
    x = L.MaxPooling2D(name="pool_a")(x)
    x = L.BatchNormalization(name="norm")(x)
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="conv_b")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(4, activation="softmax", name="probs")(x)
    flat = tf_keras.Model(inputs, outputs, name="old_tiny")

    block = tf_keras.Sequential(
        [tf_keras.Input((8, 8, 4)), L.Conv2D(5, 3, padding="same", name="inner_conv")],
        name="block",
    )
    inputs = tf_keras.Input((16, 16, 1))
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="stem")(inputs)
    x = block(L.MaxPooling2D(name="stem_pool")(x))
    outputs = L.Dense(3, activation="softmax", name="head")(L.Flatten(name="flat")(x))
    nested = tf_keras.Model(inputs, outputs, name="old_nested")

    scaled = tf_keras.Sequential(
        [tf_keras.Input((8, 8, 1)), L.Lambda(lambda t: t * 2.0, name="double"), L.Conv2D(2, 3)]
    )

    keras.utils.set_random_seed(4)
    k_inputs = keras.Input((16, 16, 3))
    k_x = keras.layers.Conv2D(6, 3, activation="relu", name="conv")(k_inputs)
    k_x = keras.layers.GlobalAveragePooling2D()(k_x)
    exported = keras.Model(k_inputs, keras.layers.Dense(5, activation="softmax")(k_x))

    paths = {name: root / name for name in ("keras2", "nested2", "lambda2", "exported")}
    _quietly(lambda: flat.save(paths["keras2"]))
    _quietly(lambda: nested.save(paths["nested2"]))
    _quietly(lambda: scaled.save(paths["lambda2"]))
    _quietly(lambda: exported.export(paths["exported"], verbose=False))
    rng = np.random.default_rng(0)
    probes = {
        "keras2": rng.random((2, 16, 16, 3), dtype=np.float32),
        "nested2": rng.random((2, 16, 16, 1), dtype=np.float32),
        "exported": rng.random((2, 16, 16, 3), dtype=np.float32),
    }
    expected = {
        "keras2": np.asarray(flat(probes["keras2"], training=False)),
        "nested2": np.asarray(nested(probes["nested2"], training=False)),
        "exported": np.asarray(exported(probes["exported"], training=False)),
    }
    return {"paths": paths, "probes": probes, "expected": expected, "root": root}


def _path(folders, name: str) -> str:
    return str(folders["paths"][name])


def _error(path, **options) -> str:
    with pytest.raises(ModelLoadError) as caught:
        load_model(path, **options)
    return str(caught.value)


class Session:
    """An engine session on one model; `do` returns what a request emitted, status left out."""

    def __init__(self, path: str) -> None:
        self.emitted: list[object] = []
        self.session = EngineSession(self.emitted.append)
        (loaded,) = self.do(LoadModel(path))
        assert isinstance(loaded, ModelLoaded)
        self.summary = loaded.summary

    def do(self, request) -> list[object]:
        self.emitted.clear()
        self.session.handle(request, lambda: False)
        return results_of(self.emitted)


# ------------------------------------------------------------------ Keras 2 SavedModels


def test_a_keras2_savedmodel_opens_with_its_real_layers(folders):
    model, _meta, label = load_model(_path(folders, "keras2"))
    assert label == "keras2"
    summary = describe_model(model, _meta, label)
    names = [layer.name for layer in summary.layers]
    assert names[1:] == ["conv_a", "pool_a", "norm", "conv_b", "gap", "probs"]
    conv_b = summary.find(("conv_b",))
    assert (conv_b.kind, conv_b.size, conv_b.type_name) == (LayerKind.CHANNELS, 8, "Conv2D")
    probs = summary.find(("probs",))
    assert (probs.kind, probs.size, probs.is_output) == (LayerKind.UNITS, 4, True)
    got = np.asarray(model(folders["probes"]["keras2"], training=False))
    np.testing.assert_allclose(got, folders["expected"]["keras2"], atol=1e-5)


def test_a_nested_keras2_savedmodel_keeps_its_sub_model(folders):
    model, meta, label = load_model(_path(folders, "nested2"))
    summary = describe_model(model, meta, label)
    block = summary.find(("block",))
    assert block is not None and [child.name for child in block.children] == ["inner_conv"]
    inner = summary.find(("block", "inner_conv"))
    assert (inner.kind, inner.size) == (LayerKind.CHANNELS, 5)
    got = np.asarray(model(folders["probes"]["nested2"], training=False))
    np.testing.assert_allclose(got, folders["expected"]["nested2"], atol=1e-5)


def test_feature_maps_visualization_and_gradcam_work_on_a_keras2_savedmodel(folders):
    engine = Session(_path(folders, "nested2"))
    opened, maps = engine.do(OpenImage(sample="digit:3", layer=("block", "inner_conv")))
    assert isinstance(opened, ImageOpened) and isinstance(maps, FeatureMaps)
    assert maps.maps.shape == (8, 8, 5)
    *frames, finished = engine.do(Ascend(("block", "inner_conv"), 2, QUICK))
    assert frames and isinstance(finished, RunFinished)
    assert finished.steps_done == QUICK.steps and np.isfinite(finished.objective)
    (explanation,) = [r for r in engine.do(Explain("gradcam")) if isinstance(r, Explanation)]
    assert explanation.heatmap.shape == (16, 16)
    assert np.isfinite(explanation.heatmap).all()


def test_a_lambda_in_a_keras2_savedmodel_needs_trust(folders):
    path = _path(folders, "lambda2")
    message = _error(path)
    assert message == (
        f"lambda2 contains a Lambda layer 'double' (Python code saved in the file). {TRUST_NOTE}"
    )
    model, _meta, _label = load_model(path, trusted=True)
    assert "double" in [layer.name for layer in model.layers]


def test_a_keras2_savedmodel_with_a_custom_layer_falls_back_to_its_signature(tmp_path):
    import tf_keras

    class Doubler(tf_keras.layers.Layer):  # not registered: Keras 3 cannot rebuild it
        def call(self, inputs):
            return inputs * 2.0

    inputs = tf_keras.Input((8, 8, 1))
    x = tf_keras.layers.Conv2D(2, 3, name="conv")(Doubler(name="twice")(inputs))
    outputs = tf_keras.layers.Dense(3)(tf_keras.layers.Flatten()(x))
    original = tf_keras.Model(inputs, outputs)
    _quietly(lambda: original.save(tmp_path / "custom"))
    model, meta, _label = load_model(tmp_path / "custom")
    assert HIDDEN_LAYERS_NOTE in meta.description
    probe = np.random.default_rng(1).random((2, 8, 8, 1), dtype=np.float32)
    np.testing.assert_allclose(
        np.asarray(model(probe)), np.asarray(original(probe)), rtol=1e-5, atol=1e-5
    )


# ------------------------------------------------------------------ other SavedModels


def test_an_exported_model_opens_as_its_signature_and_says_layers_are_hidden(folders):
    model, meta, label = load_model(_path(folders, "exported"))
    assert HIDDEN_LAYERS_NOTE in meta.description
    summary = describe_model(model, meta, label)
    assert summary.name == "exported_signature_only"
    (_input, signature) = summary.layers
    assert signature.type_name == "SavedModelSignature"
    assert (signature.kind, signature.size, signature.is_output) == (LayerKind.UNITS, 5, True)
    got = np.asarray(model(folders["probes"]["exported"], training=False))
    np.testing.assert_allclose(got, folders["expected"]["exported"], atol=1e-5)


def test_an_exported_model_predicts_visualizes_classes_and_explains(folders):
    engine = Session(_path(folders, "exported"))
    assert HIDDEN_LAYERS_NOTE in engine.summary.description
    (opened,) = engine.do(OpenImage(sample="photo:chelsea"))
    assert len(opened.predictions) == 5
    assert all(0.0 <= p.probability <= 1.0 for p in opened.predictions)
    output = engine.summary.layers[-1].path
    *frames, finished = engine.do(Ascend(output, 1, QUICK))
    assert frames and isinstance(finished, RunFinished)
    assert finished.objective > frames[0].objectives[0]  # the class score rose
    (saliency,) = [r for r in engine.do(Explain("saliency")) if isinstance(r, Explanation)]
    assert saliency.heatmap.shape == (16, 16) and np.abs(saliency.heatmap).max() > 0


def test_a_signature_with_two_inputs_is_refused(tmp_path):
    import tensorflow as tf

    module = tf.Module()
    module.scale = tf.Variable(2.0)
    module.pair = tf.function(
        lambda a, b: {"x": tf.reduce_mean(a, axis=[1, 2]) * module.scale, "y": b},
        input_signature=[
            tf.TensorSpec((None, 8, 8, 1), tf.float32),
            tf.TensorSpec((None, 2), tf.float32),
        ],
    )
    tf.saved_model.save(module, str(tmp_path / "pair"), signatures={"serving_default": module.pair})
    message = _error(tmp_path / "pair")
    assert message.startswith("pair: its signature 'serving_default' takes 2 inputs (a, b)")
    assert "one image input and one output" in message


def test_a_signature_taking_integer_pixels_is_refused_with_the_reason(tmp_path):
    import tensorflow as tf

    module = tf.Module()
    module.scale = tf.Variable(2.0)
    module.serve = tf.function(
        lambda pixels: {"score": tf.reduce_mean(tf.cast(pixels, tf.float32), axis=[1, 2, 3])},
        input_signature=[tf.TensorSpec((None, 8, 8, 3), tf.uint8)],
    )
    signatures = {"serving_default": module.serve}
    tf.saved_model.save(module, str(tmp_path / "bytes"), signatures=signatures)
    message = _error(tmp_path / "bytes")
    assert message.startswith("bytes: its signature 'serving_default' takes uint8 pixels")
    assert "needs a float input" in message


def test_a_savedmodel_without_a_signature_is_refused(tmp_path):
    import tensorflow as tf

    module = tf.Module()
    module.weight = tf.Variable(1.0)
    tf.saved_model.save(module, str(tmp_path / "bare"))
    message = _error(tmp_path / "bare")
    assert "bare is a SavedModel without a serving signature" in message
    assert "model.save('name.keras')" in message


# ------------------------------------------------------------------ folders that are not models


def test_an_empty_folder_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    assert _error(tmp_path / "empty") == (
        "empty is an empty folder; open a .keras or .h5 model file, or a SavedModel folder "
        "(one holding saved_model.pb)"
    )


def test_a_folder_without_saved_model_pb_says_what_works(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.png").write_bytes(b"x")
    assert _error(folder) == (
        "photos is a folder; open a .keras or .h5 model file, or a SavedModel folder "
        "(one holding saved_model.pb)"
    )


@pytest.mark.parametrize("content", [b"", b"this is not a protocol buffer \xff\xfe"])
def test_a_damaged_saved_model_pb_is_refused(folders, tmp_path, content):
    for name in ("exported", "keras2"):
        broken = tmp_path / f"{name}-broken"
        shutil.copytree(folders["paths"][name], broken)
        (broken / "saved_model.pb").write_bytes(content)
        message = _error(broken)
        assert message.startswith(f"{name}-broken ")
        assert "saved_model.pb" in message or "could not be loaded" in message
        assert "Traceback" not in message


def test_missing_variables_are_reported(folders, tmp_path):
    broken = tmp_path / "novars"
    shutil.copytree(folders["paths"]["exported"], broken)
    shutil.rmtree(broken / "variables")
    assert "novars is not a readable SavedModel" in _error(broken)


# ------------------------------------------------------------------ sidecars and commands


def test_the_sidecar_is_read_inside_the_folder_or_beside_it(folders, tmp_path):
    copy = tmp_path / "digits"
    shutil.copytree(folders["paths"]["keras2"], copy)
    beside = {"class_names": ["a", "b", "c", "d"], "description": "beside"}
    (tmp_path / "digits.json").write_text(json.dumps(beside), encoding="utf-8")
    _model, meta, _label = load_model(copy)
    assert (meta.class_names, meta.description) == (("a", "b", "c", "d"), "beside")
    inside = {"class_names": ["w", "x", "y", "z"], "description": "inside"}
    (copy / "convscope.json").write_text(json.dumps(inside), encoding="utf-8")
    _model, meta, _label = load_model(copy)
    assert (meta.class_names, meta.description) == (("w", "x", "y", "z"), "inside")


def test_headless_commands_accept_a_folder(folders):
    model, _meta, label, is_default = load_model_arg(_path(folders, "keras2"))
    assert label == "keras2" and not is_default
    assert "conv_b" in [layer.name for layer in model.layers]


# ------------------------------------------------------------------ the window


def _drop(window: MainWindow, path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)


@pytest.fixture
def window(qtbot):
    engine = FakeEngine()
    win = MainWindow(engine)
    qtbot.addWidget(win)
    win.show()
    engine.start()
    return win, engine


def _fake_savedmodel(folder):
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(b"fake")  # the fake engine never reads it
    return folder


def test_dropping_a_savedmodel_folder_opens_it_and_remembers_it(window, tmp_path):
    win, engine = window
    folder = _fake_savedmodel(tmp_path / "exported")
    _drop(win, folder)
    request = engine.last(LoadModel)
    assert request.path == str(folder)
    engine.load()
    listed = [action.data() for action in win.ui.recent_models_menu.actions() if action.data()]
    assert listed == [str(folder.resolve())]


def test_dropping_another_folder_says_what_can_be_dropped(window, qtbot, tmp_path):
    win, engine = window
    (tmp_path / "holiday").mkdir()
    with qtbot.waitSignal(win.feedback.error_shown, timeout=5_000) as shown:
        _drop(win, tmp_path / "holiday")
    assert shown.args[0] == (
        "holiday is a folder: drop an image, a .keras/.h5 model file or a SavedModel folder "
        "(one holding saved_model.pb)."
    )
    assert not engine.of_type(LoadModel)


def test_the_drop_classifier_tells_savedmodels_from_folders(tmp_path):
    folder = _fake_savedmodel(tmp_path / "model")
    assert classify_drop([str(folder)]) == ("model", str(folder), "")
    kind, _path, problem = classify_drop([str(tmp_path)])
    assert kind == "" and "SavedModel folder" in problem


def test_the_file_menu_offers_a_savedmodel_folder(window, monkeypatch, tmp_path):
    from PySide6.QtWidgets import QFileDialog

    win, engine = window
    folder = _fake_savedmodel(tmp_path / "chosen")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *args: str(folder))
    action = win.menu_actions["open_saved_model"]
    action.trigger()
    assert engine.last(LoadModel).path == str(folder)


def test_the_window_says_when_inner_layers_are_hidden(window):
    from dataclasses import replace

    from fake_engine import fake_summary

    win, engine = window
    win.models.open_model(None)
    summary = replace(fake_summary(), description=HIDDEN_LAYERS_NOTE, signature_only=True)
    engine.load(summary)
    assert win.ui.message_bar.isVisible() and not win.ui.message_bar.is_error()
    assert win.ui.message_bar.text() == HIDDEN_LAYERS_NOTE
