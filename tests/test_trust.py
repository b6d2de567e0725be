"""Nothing in a model file runs unless the user trusts it (engine/models/trust.py).

Every format gets a file whose code would touch a marker file: a Lambda layer in a .keras, an
.h5 and a Keras 2 SavedModel, and a SavedModel whose graph calls tf.io.write_file. Without
trust the load is refused (UntrustedFileError, FailureKind.UNTRUSTED through the engine) and the
marker never appears, however the JSON inside is formatted; with trust it loads. Plain models,
SavedModels included, open without asking.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from engine.failures import failure_kind
from engine.models import trust
from engine.models.loading import load_model
from engine.models.meta import ModelLoadError, UntrustedFileError
from engine.protocol import TRUST_NOTE, FailureKind, LoadModel
from engine.session import EngineSession

LAYOUTS = {
    "compact": {"separators": (",", ":")},
    "spaced": {"separators": (" , ", " : ")},
    "indented": {"indent": 3},
}


def _quietly(action):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # savers' legacy and deprecation chatter
        return action()


MARKER_VARIABLE = "CONVSCOPE_TEST_TRUST_MARKER"


def _touching():
    """A Lambda function that creates the marker file named by MARKER_VARIABLE each time it runs
    (self-contained: Keras restores its bytecode without this module's globals or defaults)."""
    return lambda t: (
        __import__("pathlib").Path(__import__("os").environ["CONVSCOPE_TEST_TRUST_MARKER"]).touch(),
        t,
    )[1]


class _Writer(tf.Module):
    def __init__(self, marker: Path) -> None:
        super().__init__()
        self._marker = str(marker)

    @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32)])
    def serve(self, pixels):
        tf.io.write_file(self._marker, "ran")
        return {"score": tf.reduce_mean(pixels, axis=[1, 2, 3])}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """Each format with code that touches files["marker"], and the same formats without code."""
    import tf_keras

    root = tmp_path_factory.mktemp("trust")
    marker = root / "marker"
    os.environ[MARKER_VARIABLE] = str(marker)
    inputs = keras.Input((8, 8, 1), name="pixels")
    x = keras.layers.Lambda(_touching(), name="touch")(inputs)
    x = keras.layers.Conv2D(2, 3, name="conv")(x)
    coded = keras.Model(inputs, x, name="coded")
    plain = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="conv")])
    L = tf_keras.layers
    old_coded = tf_keras.Sequential(
        [tf_keras.Input((8, 8, 1)), L.Lambda(_touching(), name="touch"), L.Conv2D(2, 3)]
    )
    old_plain = tf_keras.Sequential([tf_keras.Input((8, 8, 1)), L.Conv2D(2, 3, name="conv")])
    writer = _Writer(marker)
    paths = {name: root / name for name in ("coded.keras", "coded.h5", "coded2", "writes")}
    paths |= {name: root / name for name in ("plain.keras", "plain.h5", "plain2")}
    paths |= {name: root / name for name in ("exported", "tfsaved")}
    _quietly(lambda: coded.save(paths["coded.keras"]))
    _quietly(lambda: coded.save(paths["coded.h5"]))
    _quietly(lambda: old_coded.save(paths["coded2"]))
    _quietly(
        lambda: tf.saved_model.save(writer, str(paths["writes"]), {"serving_default": writer.serve})
    )
    _quietly(lambda: plain.save(paths["plain.keras"]))
    _quietly(lambda: plain.save(paths["plain.h5"]))
    _quietly(lambda: old_plain.save(paths["plain2"]))
    _quietly(lambda: plain.export(paths["exported"], verbose=False))
    _quietly(lambda: tf.saved_model.save(plain, str(paths["tfsaved"])))
    marker.unlink(missing_ok=True)  # building and saving ran the code once
    return {"paths": paths, "marker": marker, "root": root}


@pytest.fixture
def marker(files) -> Path:
    files["marker"].unlink(missing_ok=True)
    return files["marker"]


def _refused(path: Path) -> str:
    with pytest.raises(UntrustedFileError) as caught:
        load_model(path)
    return str(caught.value)


def _rewritten(files, name: str, layout: str) -> Path:
    """A copy of files[name] whose JSON is re-serialized with `layout`."""
    source = files["paths"][name]
    copy = files["root"] / layout / source.name
    copy.parent.mkdir(exist_ok=True)
    options = LAYOUTS[layout]
    if source.suffix == ".keras":
        with zipfile.ZipFile(source) as old, zipfile.ZipFile(copy, "w") as new:
            for item in old.infolist():
                data = old.read(item)
                if item.filename == "config.json":
                    data = json.dumps(json.loads(data), **options).encode()
                new.writestr(item, data)
    elif source.suffix == ".h5":
        shutil.copy(source, copy)
        with h5py.File(copy, "r+") as file:
            file.attrs["model_config"] = json.dumps(
                json.loads(file.attrs["model_config"]), **options
            )
    else:
        from tf_keras.protobuf import saved_metadata_pb2

        shutil.copytree(source, copy, dirs_exist_ok=True)
        proto = saved_metadata_pb2.SavedMetadata()
        proto.ParseFromString((copy / "keras_metadata.pb").read_bytes())
        for node in proto.nodes:
            node.metadata = json.dumps(json.loads(node.metadata), **options)
        (copy / "keras_metadata.pb").write_bytes(proto.SerializeToString())
    return copy


# ------------------------------------------------------------------ code is refused, then trusted


@pytest.mark.parametrize("name", ["coded.keras", "coded.h5", "coded2"])
def test_a_lambda_that_would_run_is_refused_naming_it(files, marker, name):
    path = files["paths"][name]
    assert _refused(path) == (
        f"{path.name} contains a Lambda layer 'touch' (Python code saved in the file). {TRUST_NOTE}"
    )
    assert not marker.exists()
    model, _meta, _label = _quietly(lambda: load_model(path, trusted=True))
    assert "touch" in [layer.name for layer in model.layers]
    assert marker.exists()  # what trusting a file means: its code ran


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("name", ["coded.keras", "coded.h5", "coded2"])
def test_the_json_layout_does_not_hide_a_lambda(files, marker, name, layout):
    path = _rewritten(files, name, layout)
    assert "Lambda layer 'touch'" in _refused(path)
    assert not marker.exists()


def test_a_graph_that_writes_a_file_is_refused_naming_the_op(files, marker):
    path = files["paths"]["writes"]
    assert _refused(path) == (
        "writes contains a graph op 'WriteFile' (it reads or writes files, calls Python or acts "
        f"outside the model when called). {TRUST_NOTE}"
    )
    assert not marker.exists()
    model, meta, _label = load_model(path, trusted=True)
    assert meta.signature_only
    model(np.zeros((1, 8, 8, 1), np.float32))
    assert marker.exists()


@pytest.mark.parametrize("name", ["coded.keras", "coded2", "writes"])
def test_the_engine_ends_an_untrusted_load_as_untrusted(files, marker, name):
    session = EngineSession(lambda message: None)
    with pytest.raises(UntrustedFileError) as caught:
        session.handle(LoadModel(str(files["paths"][name])), lambda: False)
    assert failure_kind(caught.value) is FailureKind.UNTRUSTED
    assert not marker.exists()


def test_a_damaged_config_asks_for_trust_and_never_runs_code(files, marker):
    source, broken = files["paths"]["coded.keras"], files["root"] / "damaged.keras"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(broken, "w") as new:
        for item in old.infolist():
            new.writestr(
                item,
                b'{"class_name": "Lambda", ' if item.filename == "config.json" else old.read(item),
            )
    message = _refused(broken)
    assert message.startswith("damaged.keras: convscope cannot read its structure")
    assert message.endswith(TRUST_NOTE)
    with pytest.raises(ModelLoadError, match=r"damaged\.keras could not be loaded"):
        load_model(broken, trusted=True)
    assert not marker.exists()


def test_damaged_keras2_metadata_asks_for_trust(files, marker):
    broken = files["root"] / "cut2"
    shutil.copytree(files["paths"]["coded2"], broken)
    data = (broken / "keras_metadata.pb").read_bytes()
    (broken / "keras_metadata.pb").write_bytes(data[: len(data) // 2])
    assert "cut2: convscope cannot read its structure" in _refused(broken)
    assert not marker.exists()


# ------------------------------------------------------------------ no false positives


@pytest.mark.parametrize("name", ["plain.keras", "plain.h5", "plain2", "exported", "tfsaved"])
def test_a_plain_model_opens_without_asking(files, name):
    model, _meta, _label = _quietly(lambda: load_model(files["paths"][name]))
    assert tuple(model.inputs[0].shape) == (None, 8, 8, 1)


# ------------------------------------------------------------------ the structural check itself


@pytest.mark.parametrize(
    "spelling",
    [
        {"class_name": "Lambda"},
        {"module": "keras.layers", "class_name": "keras.layers.Lambda"},
        {"class_name": "Custom", "registered_name": "package>Lambda"},
        {"class_name": "Dense", "config": {"activation": {"class_name": "__lambda__"}}},
        {"class_name": "Custom", "config": {"function_type": "lambda"}},
        {"class_name": "TFSMLayer"},
        {"class_name": "TFOpLambda", "config": {"function": "io.write_file"}},
    ],
)
def test_code_is_found_in_any_spelling_at_any_depth(spelling):
    spelling = {**spelling, "config": {"name": "deep", **spelling.get("config", {})}}
    config = {
        "class_name": "Functional",
        "config": {"name": "outer", "layers": [{"class_name": "Functional", "config": {
            "name": "inner", "layers": [{"class_name": "Conv2D", "config": {"name": "c"}}, spelling]
        }}]},
    }  # fmt: skip
    (finding,) = trust.config_findings(config)
    assert finding.where == "inner/deep"


def test_pure_tensorflow_calls_are_not_code():
    functions = ("math.multiply", "reshape", "__operators__.add")
    calls = [{"class_name": "TFOpLambda", "config": {"name": f, "function": f}} for f in functions]
    assert trust.config_findings({"class_name": "Functional", "config": {"layers": calls}}) == []


def test_the_metadata_parser_reads_what_tf_keras_wrote(files):
    from tf_keras.protobuf import saved_metadata_pb2

    data = (files["paths"]["coded2"] / "keras_metadata.pb").read_bytes()
    proto = saved_metadata_pb2.SavedMetadata()
    proto.ParseFromString(data)
    expected = [f for node in proto.nodes for f in trust.config_findings(json.loads(node.metadata))]
    found = trust.metadata_findings(data)
    assert found and {f.where.rsplit("/")[-1] for f in expected} == {"touch"}
    assert [f.where for f in found] == ["touch"]


def _graph_with(effect, root: Path) -> bytes:
    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def serve(self, x):
            effect(x)
            return {"y": x * 2.0}

    module, folder = Module(), root / "graph"
    _quietly(lambda: tf.saved_model.save(module, str(folder), {"serving_default": module.serve}))
    return (folder / "saved_model.pb").read_bytes()


@pytest.mark.parametrize(
    ("op", "effect"),
    [
        ("EagerPyFunc", lambda x: tf.py_function(lambda v: v, [x], tf.float32)),
        ("PrintV2", lambda x: tf.print(x, output_stream="file:///tmp/convscope-print")),
        ("SaveV2", lambda x: tf.raw_ops.SaveV2(
            prefix="/tmp/convscope-ckpt", tensor_names=["x"], shape_and_slices=[""], tensors=[x]
        )),
    ],
)  # fmt: skip
def test_side_effecting_ops_in_a_callable_function_are_found(tmp_path, op, effect):
    assert [f.where for f in trust.graph_findings(_graph_with(effect, tmp_path))] == [op]


def test_printing_to_the_terminal_is_not_a_side_effect(tmp_path):
    assert trust.graph_findings(_graph_with(lambda x: tf.print(x), tmp_path)) == []
