"""TensorFlow SavedModel folders as Keras 3 models.

A folder written by Keras 2's `model.save("dir")` (it holds keras_metadata.pb) is loaded with
tf_keras and rebuilt as a Keras 3 model with real layers, so every view works on it. Any other
SavedModel (Keras 3's `model.export`, `tf.saved_model.save`) keeps only its traced functions: it
is wrapped around its serving signature, which gives predictions and input gradients but no
inner layers to look at.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import h5py
import keras
import numpy as np
import tensorflow as tf

from engine.models.meta import ModelLoadError, ModelMeta, read_sidecar
from engine.models.trust import check_saved_model

SAVED_MODEL_FILE = "saved_model.pb"
KERAS2_METADATA = "keras_metadata.pb"
# A sidecar inside the folder travels with it; `<folder>.json` beside it matches model files.
INNER_SIDECAR = "convscope.json"
HIDDEN_LAYERS_NOTE = (
    "This SavedModel opened as its serving signature only (it holds no Keras layers convscope "
    "can rebuild): predictions, class visualization and input-gradient explanations work, but "
    "its inner layers (feature maps, Grad-CAM, filters) are not visible. Save it with "
    "model.save('name.keras') to see them."
)
# The Keras 2 model and its Keras 3 rebuild must agree this closely on a random input.
MATCH_TOLERANCE = 1e-4
_SIGNATURE_PREFERENCE = ("serving_default", "serve")
_MODELS = ("Functional", "Model", "Sequential")


def check_folder(folder: Path, label: str) -> None:
    """Refuse a folder that is not a SavedModel, saying what would work."""
    try:
        empty = not any(folder.iterdir())
    except OSError as error:
        raise ModelLoadError(f"{label} cannot be read: {error.strerror or error}") from None
    if empty:
        raise ModelLoadError(
            f"{label} is an empty folder; open a .keras or .h5 model file, or a SavedModel "
            f"folder (one holding {SAVED_MODEL_FILE})"
        )
    pb = folder / SAVED_MODEL_FILE
    if not pb.is_file():
        raise ModelLoadError(
            f"{label} is a folder; open a .keras or .h5 model file, or a SavedModel folder "
            f"(one holding {SAVED_MODEL_FILE})"
        )
    if pb.stat().st_size == 0:
        raise ModelLoadError(f"{label} is a SavedModel folder whose {SAVED_MODEL_FILE} is empty")


def folder_meta(folder: Path) -> ModelMeta:
    """The sidecar of a SavedModel folder: convscope.json inside it, else <folder>.json beside."""
    inside = folder / INNER_SIDECAR
    if inside.is_file():
        # read_sidecar looks for "<stem>.json"; "convscope" inside the folder names that file.
        return read_sidecar(folder / Path(INNER_SIDECAR).stem)
    return read_sidecar(folder.parent / f"{folder.name}.json")


def load_saved_model(folder: Path, label: str, *, trusted: bool) -> tuple[keras.Model, ModelMeta]:
    """A Keras 3 model for the SavedModel in `folder` (already checked by check_folder)."""
    meta = folder_meta(folder)
    metadata = folder / KERAS2_METADATA
    if not trusted:
        # Before anything of it runs: tf_keras runs a Lambda's bytecode even in its safe mode,
        # and a graph runs its ops on the first call.
        check_saved_model(folder, metadata if metadata.is_file() else None, label)
    if metadata.is_file():
        model = _from_keras2(folder, label, trusted=trusted)
        if model is not None:
            return model, meta
    model = _wrap_signature(folder, label)
    description = f"{meta.description} {HIDDEN_LAYERS_NOTE}".strip()
    return model, replace(meta, description=description, signature_only=True)


# ------------------------------------------------------------------ Keras 2 SavedModels


def _from_keras2(folder: Path, label: str, *, trusted: bool) -> keras.Model | None:
    """The Keras 2 model rebuilt with Keras 3 layers, or None when it cannot be rebuilt
    faithfully (custom layers, a mismatch), in which case the signature wrapper is used."""
    try:
        import tf_keras  # only here: it is a second Keras and takes a while to import
    except ImportError:  # an install without it: the serving signature still opens
        return None
    try:
        old = tf_keras.models.load_model(str(folder), compile=False)
    except Exception:  # damaged Keras metadata: the signature may still serve, or say why not
        return None
    if not isinstance(old, tf_keras.Model):
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="convscope-savedmodel-") as scratch:
            # Keras 3 reads Keras 2's .h5 format itself, nested models included; going through
            # it reuses that converter instead of re-mapping configs and weights by hand.
            h5 = Path(scratch) / "model.h5"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "HDF5 is legacy": a scratch file, not for users
                old.save(h5)
                _patch_h5_config(h5)
                new = keras.models.load_model(h5, compile=False, safe_mode=not trusted)
    except Exception:  # revived custom layers have no config: the signature still works
        return None
    if not isinstance(new, keras.Model) or len(new.inputs) != 1 or len(new.outputs) != 1:
        return None
    # Keras 2 stored the input as a one-item list; a bare tensor spares a warning per call.
    new = keras.Model(new.inputs[0], new.outputs[0], name=new.name)
    return new if _outputs_match(old, new) else None


def _patch_h5_config(h5: Path) -> None:
    with h5py.File(h5, "r+") as file:
        config = _unslashed(json.loads(file.attrs["model_config"]))
        _tf_ops_as_layers(config)
        _shift_nested_nodes(config)
        _keras2_layer_fixes(config)
        file.attrs["model_config"] = json.dumps(config)


@contextmanager
def keras3_readable_h5(path: Path) -> Iterator[Path]:
    """`path`, or for a Keras 2 (tf_keras) .h5 file whose config Keras 3 misreads, a copy with
    the config patched as `_patch_h5_config` patches a SavedModel's rebuild, for the context's
    duration. The user's file is never written."""
    if not _keras2_h5_needs_patch(path):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="convscope-h5-") as scratch:
        patched = Path(scratch) / path.name
        shutil.copyfile(path, patched)
        _patch_h5_config(patched)
        yield patched


def _keras2_h5_needs_patch(path: Path) -> bool:
    try:
        with h5py.File(path, "r") as file:
            version = file.attrs.get("keras_version", b"")
            text = file.attrs.get("model_config")
            if isinstance(version, bytes):
                version = version.decode("utf-8", "replace")
            if text is None or not str(version).startswith("2."):
                return False  # not Keras 2's: Keras 3 reads it as it is, or says why not
            config = json.loads(text)
    except (OSError, ValueError, TypeError):
        return False  # Keras reports a damaged file in its own words
    patched = _unslashed(copy.deepcopy(config))
    _tf_ops_as_layers(patched)
    _shift_nested_nodes(patched)
    _keras2_layer_fixes(patched)
    return patched != config


def _unslashed(config: dict) -> dict:
    """The config with every layer name holding "/" (DenseNet's "conv1/conv"), which Keras 3
    refuses, written with "_" instead, wherever the name appears (the layer, the nodes that
    call it, a model's inputs and outputs). Weights of a Keras 2 .h5 file are matched to layers
    by their order, so they follow the renamed layers unchanged."""
    renamed: dict[str, str] = {}

    def collect(node: object) -> None:
        if isinstance(node, list):
            for item in node:
                collect(item)
        elif isinstance(node, dict):
            inner = node.get("config")
            name = inner.get("name") if isinstance(inner, dict) else None
            if "class_name" in node and isinstance(name, str) and "/" in name:
                renamed[name] = name.replace("/", "_")
            for value in node.values():
                collect(value)

    def rename(node: object) -> object:
        if isinstance(node, str):
            return renamed.get(node, node)
        if isinstance(node, list):
            return [rename(item) for item in node]
        if isinstance(node, dict):
            return {key: rename(value) for key, value in node.items()}
        return node

    collect(config)
    result = rename(config) if renamed else config
    return result if isinstance(result, dict) else config


def _keras2_layer_fixes(config: object) -> None:
    """Keras 2 config keys that Keras 3 refuses or misreads, fixed in place, recursively:
    `groups` of DepthwiseConv2D and SeparableConv2D (always 1 there) and the unused kernel
    settings of SeparableConv2D, BatchNormalization's one-item `axis` list,
    and a functional model's one-item input and output lists (a nested one called with them
    hands the next layer a list)."""
    if isinstance(config, list):
        for item in config:
            _keras2_layer_fixes(item)
        return
    if not isinstance(config, dict):
        return
    inner = config.get("config")
    kind = config.get("class_name")
    if isinstance(inner, dict):
        if kind in ("DepthwiseConv2D", "SeparableConv2D") and inner.get("groups", 1) == 1:
            inner.pop("groups", None)
        if kind == "SeparableConv2D":
            # Keras 2 carried a plain convolution's kernel settings it never used; Keras 3 has
            # only the depthwise and pointwise ones.
            for key in ("kernel_initializer", "kernel_regularizer", "kernel_constraint"):
                inner.pop(key, None)
        axis = inner.get("axis")
        if kind == "BatchNormalization" and isinstance(axis, list) and len(axis) == 1:
            inner["axis"] = axis[0]
        if kind in ("Functional", "Model"):
            for key in ("input_layers", "output_layers"):
                refs = inner.get(key)
                if isinstance(refs, list) and len(refs) == 1 and isinstance(refs[0], list):
                    inner[key] = refs[0]
    for value in config.values():
        _keras2_layer_fixes(value)


def _tf_ops_as_layers(config: object) -> None:
    """Keras 2 op layers (TFOpLambda) that Keras 3 has a layer for, as that layer, in place,
    recursively; before the nodes of nested models are renumbered, since it adds references."""
    if isinstance(config, list):
        for item in config:
            _tf_ops_as_layers(item)
        return
    if not isinstance(config, dict):
        return
    inner = config.get("config")
    if config.get("class_name") == "TFOpLambda" and isinstance(inner, dict):
        _as_add_layer(config, inner)
    for value in config.values():
        _tf_ops_as_layers(value)


def _as_add_layer(layer: dict, inner: dict) -> None:
    """Keras 2's `x + y` between two tensors (a TFOpLambda of `__operators__.add`, as in
    ConvNeXt's residual blocks) as the Add layer Keras 3 has: `y` moves from the call's
    keyword arguments to a second input."""
    nodes = layer.get("inbound_nodes")
    if inner.get("function") != "__operators__.add" or not isinstance(nodes, list):
        return
    calls = []
    for node in nodes:
        # An op layer's call is one [layer, node, tensor, kwargs] (not a list of them).
        if not (isinstance(node, list) and len(node) == 4 and isinstance(node[0], str)):
            return  # another shape of call: left for Keras to refuse in its own words
        name, index, tensor, kwargs = node
        other = kwargs.get("y") if isinstance(kwargs, dict) else None
        if not (isinstance(other, list) and len(other) == 3):
            return
        calls.append([[name, index, tensor, {}], [*other, {}]])
    layer["class_name"] = "Add"
    layer["config"] = {key: inner[key] for key in ("name", "trainable", "dtype") if key in inner}
    layer["inbound_nodes"] = calls


def _shift_nested_nodes(config: dict) -> None:
    """Renumber calls of nested models in a Keras 2 functional config, recursively.

    A Keras 2 functional model (and a Sequential built on an Input) owns a node of its own,
    so its first call is node 1; Keras 3 counts that call as node 0 and fails to connect
    the graph ("has loops or disconnected nodes") unless the references are shifted.
    """
    inner = config.get("config", {})
    layers = inner.get("layers") if isinstance(inner, dict) else None
    if not isinstance(layers, list):
        return
    for layer in layers:
        _shift_nested_nodes(layer)
    references = [
        ref
        for layer in layers
        for node in layer.get("inbound_nodes", [])
        if isinstance(node, list)
        for ref in node
        if isinstance(ref, list)
    ]
    references += [ref for key in ("output_layers",) for ref in inner.get(key, [])]
    nested = {layer["config"]["name"] for layer in layers if layer.get("class_name") in _MODELS}
    for name in nested:
        calls = [ref for ref in references if ref and ref[0] == name]
        if calls and min(ref[1] for ref in calls) >= 1:
            for ref in calls:
                ref[1] -= 1


def _outputs_match(old, new: keras.Model) -> bool:
    """Whether both models give the same outputs (within MATCH_TOLERANCE) on a random input."""
    try:
        # A free size is probed at 64 px: enough for five poolings.
        shape = tuple(64 if side is None else int(side) for side in new.inputs[0].shape[1:])
        sample = np.random.default_rng(0).random((2, *shape), dtype=np.float32)
        expected = np.asarray(old(sample, training=False))
        got = np.asarray(new(sample, training=False))
    except Exception:  # several inputs, odd shapes: not a model we can check, so not trusted
        return False
    return expected.shape == got.shape and bool(
        np.allclose(expected, got, rtol=MATCH_TOLERANCE, atol=MATCH_TOLERANCE)
    )


# ------------------------------------------------------------------ any other SavedModel


class SavedModelSignature(keras.layers.TFSMLayer):
    """A SavedModel's serving signature as one layer: tensor in, tensor out.

    Signatures take keyword arguments and return a dict; this names the one input and picks
    the one output, so the layer fits a functional model like any other.
    """

    def __init__(self, filepath: str, endpoint: str, input_name: str, output_name: str) -> None:
        super().__init__(filepath, call_endpoint=endpoint, trainable=False, name=endpoint)
        self._input_name = input_name
        self._output_name = output_name

    def call(self, inputs, training=False, **kwargs):
        outputs = self.call_endpoint_fn(**{self._input_name: tf.cast(inputs, self._dtype_in)})
        return tf.cast(outputs[self._output_name], tf.float32)

    def compute_output_spec(self, inputs, training=False, **kwargs):
        spec = self.call_endpoint_fn.structured_outputs[self._output_name]
        return keras.KerasTensor((inputs.shape[0], *spec.shape[1:]), dtype="float32")

    @property
    def _dtype_in(self) -> tf.DType:
        return self.call_endpoint_fn.structured_input_signature[1][self._input_name].dtype


def _wrap_signature(folder: Path, label: str) -> keras.Model:
    try:
        loaded = tf.saved_model.load(str(folder))
    except Exception as error:  # corrupt protobufs and missing variables arrive as many types
        raise ModelLoadError(
            f"{label} is not a readable SavedModel ({SAVED_MODEL_FILE} or its variables may be "
            f"damaged): {_first_line(error)}"
        ) from error
    endpoint = _pick_signature(loaded, label)
    function = loaded.signatures[endpoint]
    inputs = function.structured_input_signature[1]
    outputs = function.structured_outputs
    if len(inputs) != 1 or not isinstance(outputs, dict) or len(outputs) != 1:
        raise ModelLoadError(
            f"{label}: its signature {endpoint!r} takes {len(inputs)} inputs "
            f"({', '.join(sorted(inputs))}) and gives {len(outputs)} outputs; convscope works "
            "with one image input and one output"
        )
    (input_name, spec), (output_name,) = next(iter(inputs.items())), tuple(outputs)
    shape = tuple(spec.shape)
    if len(shape) != 4 or not (spec.dtype.is_floating or spec.dtype.is_integer):
        raise ModelLoadError(
            f"{label}: its signature {endpoint!r} takes {spec.dtype.name} tensors of shape "
            f"{shape}; convscope needs images (batch, height, width, channels)"
        )
    if not spec.dtype.is_floating:
        # No gradient flows through a cast to integers: visualizations and explanations would
        # all fail, so say it now rather than on the first run.
        raise ModelLoadError(
            f"{label}: its signature {endpoint!r} takes {spec.dtype.name} pixels; convscope "
            "follows gradients back to the pixels, which needs a float input. Export the "
            "model with a float32 input signature (e.g. model.export) to open it"
        )
    layer = SavedModelSignature(str(folder), endpoint, input_name, output_name)
    image = keras.Input(shape[1:], name=input_name)
    # The name heads the window's model label; TensorFlow scope names allow only these characters.
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", folder.name).lstrip("_.-") or "savedmodel"
    return keras.Model(image, layer(image), name=f"{name}_signature_only")


def _pick_signature(loaded, label: str) -> str:
    names = list(loaded.signatures.keys())
    if not names:
        raise ModelLoadError(
            f"{label} is a SavedModel without a serving signature, so convscope cannot call it; "
            "save it with model.save('name.keras') or model.export('folder') instead"
        )
    preferred = [name for name in _SIGNATURE_PREFERENCE if name in names]
    return (preferred or sorted(names))[0]


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]
