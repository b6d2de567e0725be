"""Whether a model file carries code, decided from its parsed structure, never from its text.

Keras configs are walked whole (nested models, layers, any dict or list): a Lambda layer, a
serialized Python function and the few other objects whose loading runs or fetches code are
findings. A SavedModel's graph is read with TensorFlow's own protobuf classes: ops that reach
the file system, call Python or act outside the model are findings too. A structure that cannot
be read cannot be cleared, so it asks for trust as well.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py

from engine.models.meta import ModelLoadError, UntrustedFileError
from engine.protocol import TRUST_NOTE

CODE = "Python code saved in the file"
GRAPH_EFFECT = "it reads or writes files, calls Python or acts outside the model when called"
# Ops that touch files, call back into Python or reach outside the process.
# fmt: off
SIDE_EFFECT_OPS = frozenset({
    "WriteFile", "ReadFile", "DeleteFile", "MatchingFiles", "ImmutableConst",
    "PyFunc", "PyFuncStateless", "EagerPyFunc",
    "CreateSummaryFileWriter", "CreateSummaryDbWriter", "ImportEvent", "WriteSummary",
    "WriteScalarSummary", "WriteHistogramSummary", "WriteImageSummary", "WriteAudioSummary",
    "WriteGraphSummary", "WriteRawProtoSummary", "FlushSummaryWriter", "CloseSummaryWriter",
    "InitializeTableFromTextFile", "InitializeTableFromTextFileV2",
    "WholeFileReader", "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2",
    "TFRecordReader", "TFRecordReaderV2", "FixedLengthRecordReader",
    "FixedLengthRecordReaderV2", "LMDBReader", "LMDBDataset", "SqlDataset",
    "TFRecordDataset", "TFRecordDatasetV2", "TextLineDataset", "FixedLengthRecordDataset",
    "FixedLengthRecordDatasetV2", "CSVDataset", "CSVDatasetV2", "ExperimentalCSVDataset",
    "CacheDataset", "CacheDatasetV2", "SaveDataset", "SaveDatasetV2", "LoadDataset",
    "SnapshotDataset", "SnapshotDatasetV2", "DatasetToTFRecord",
    "DebugIdentity", "DebugIdentityV2", "DebugIdentityV3",
    "RpcClient", "RpcCall", "RpcServer", "RpcServerStart", "RpcServerRegister",
})
# Every SavedModel's saver holds these; they are findings only inside a function that
# tf.saved_model.load makes callable (where a signature could run them), not in the saver's own.
SAVER_OPS = frozenset(
    {"SaveV2", "Save", "SaveSlices", "RestoreV2", "Restore", "RestoreSlice", "MergeV2Checkpoints"}
)
# TFOpLambda (Keras 2) calls tf.<function> by name: these namespaces hold only array maths.
_PURE_TF_NAMESPACES = frozenset({
    "__operators__", "math", "nn", "image", "linalg", "signal", "bitwise", "sparse", "ragged",
    "strings", "random", "dtypes",
})
_IMPURE_TF_NAMES = frozenset(
    {"print", "py_function", "numpy_function", "load_op_library", "load_library", "function"}
)
# fmt: on
_MODEL_CONFIG = "model_config"


@dataclass(frozen=True)
class Finding:
    """One thing in a file that runs code: what it is, where (a layer path or an op), why."""

    what: str
    where: str
    why: str


class UnreadableStructure(ValueError):
    """The file's structure could not be parsed, so nothing in it can be cleared."""


def check_model_file(path: Path, label: str) -> None:
    """Raise UntrustedFileError when the .keras or .h5 file at `path` carries code, or when
    its config cannot be read to tell."""
    try:
        findings = config_findings(_read_config(path))
    except (UnreadableStructure, RecursionError) as error:  # RecursionError: nested too deep
        raise UntrustedFileError(_unreadable_message(label, str(error))) from None
    _refuse(label, findings)


def check_saved_model(folder: Path, metadata: Path | None, label: str) -> None:
    """Raise UntrustedFileError when the SavedModel in `folder` carries code: Keras 2 layers in
    `metadata` (keras_metadata.pb) or side-effecting ops in its graph."""
    findings: list[Finding] = []
    if metadata is not None:
        try:
            findings += metadata_findings(metadata.read_bytes())
        except (UnreadableStructure, RecursionError, OSError) as error:
            raise UntrustedFileError(_unreadable_message(label, str(error))) from None
    try:
        findings += graph_findings((folder / "saved_model.pb").read_bytes())
    except (UnreadableStructure, OSError) as error:
        # TensorFlow cannot parse it either, so nothing of it can run: say it is damaged.
        raise ModelLoadError(
            f"{label} is not a readable SavedModel (saved_model.pb may be damaged): {error}"
        ) from None
    _refuse(label, findings)


def untrusted_message(label: str, findings: list[Finding]) -> str:
    """The sentence naming the first finding and counting the others."""
    first = findings[0]
    more = f", and {len(findings) - 1} more" if len(findings) > 1 else ""
    return f"{label} contains {first.what} {first.where!r} ({first.why}){more}. {TRUST_NOTE}"


def _refuse(label: str, findings: list[Finding]) -> None:
    if findings:
        raise UntrustedFileError(untrusted_message(label, findings))


def _unreadable_message(label: str, reason: str) -> str:
    return (
        f"{label}: convscope cannot read its structure to check it for code ({reason}). "
        f"{TRUST_NOTE}"
    )


# ------------------------------------------------------------------ Keras configs


def _read_config(path: Path) -> object:
    """The parsed model config of a .keras (config.json) or .h5 (model_config) file."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                text: object = archive.read("config.json")
        else:
            with h5py.File(path, "r") as file:
                if _MODEL_CONFIG not in file.attrs:
                    return None  # weights only: Keras refuses it, and nothing in it is code
                text = file.attrs[_MODEL_CONFIG]
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if not isinstance(text, str):
            raise UnreadableStructure(f"its model config is a {type(text).__name__}")
        return json.loads(text)
    except UnreadableStructure:
        raise
    except KeyError:
        raise UnreadableStructure("the archive has no config.json") from None
    except (OSError, ValueError, RuntimeError, zipfile.BadZipFile) as error:
        raise UnreadableStructure(_first_line(error)) from None


def config_findings(config: object) -> list[Finding]:
    """Every Lambda layer, serialized function or other code-carrying object in `config`."""
    found: list[Finding] = []
    if isinstance(config, dict) and _code_in(config, "") is None:
        # Paths start below the saved model itself, as the window's layer tree does.
        for value in config.values():
            _walk(value, (), found)
    else:
        _walk(config, (), found)
    return found


def _walk(node: object, names: tuple[str, ...], found: list[Finding]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, names, found)
        return
    if not isinstance(node, dict):
        return
    name = _name_of(node)
    here = (*names, name) if name else names
    finding = _code_in(node, "/".join(here) or "(unnamed)")
    if finding is not None:
        if finding not in found:
            found.append(finding)
        return  # a Lambda's function inside it is the same finding
    for value in node.values():
        _walk(value, here, found)


def _name_of(node: dict) -> str:
    if "class_name" not in node:
        return ""
    config = node.get("config")
    name = config.get("name") if isinstance(config, dict) else node.get("name")
    return name if isinstance(name, str) else ""


def _short(value: object) -> str:
    """A class name without its module or package: "keras.layers.Lambda", "pkg>Lambda" →
    "lambda"."""
    return re.split(r"[.>:/]", value)[-1].casefold() if isinstance(value, str) else ""


def _code_in(node: dict, where: str) -> Finding | None:
    kinds = {_short(node.get("class_name")), _short(node.get("registered_name"))}
    config = node.get("config")
    config = config if isinstance(config, dict) else {}
    if "lambda" in kinds:
        return Finding("a Lambda layer", where, CODE)
    if "__lambda__" in kinds or "lambda" in (
        node.get("function_type"),
        node.get("output_shape_type"),
    ):
        return Finding("a serialized Python function in", where, CODE)
    if "tfsmlayer" in kinds:
        return Finding("a TFSMLayer", where, "it loads and calls another SavedModel")
    if "torchmodulewrapper" in kinds:
        return Finding("a TorchModuleWrapper", where, "a pickled torch module runs on loading")
    if kinds & {"stringlookup", "integerlookup", "textvectorization", "indexlookup"} and isinstance(
        config.get("vocabulary"), str
    ):
        return Finding("a lookup layer", where, "it reads a vocabulary file outside the model")
    if kinds & {"tfoplambda", "slicingoplambda"} and not _pure_tf_call(config.get("function")):
        return Finding("a TensorFlow call layer", where, f"it calls tf.{config.get('function')}")
    return None


def _pure_tf_call(function: object) -> bool:
    if not isinstance(function, str):
        return False
    parts = function.split(".")
    if len(parts) == 1:
        return parts[0] not in _IMPURE_TF_NAMES
    return parts[0] in _PURE_TF_NAMESPACES


# ------------------------------------------------------------------ Keras 2 SavedModel metadata


def metadata_findings(data: bytes) -> list[Finding]:
    """The findings in a keras_metadata.pb: a SavedMetadata whose nodes (field 1) are
    SavedObjects whose metadata (field 5) is a JSON config (tf_keras saved_metadata.proto)."""
    found: list[Finding] = []
    for number, node in _fields(data):
        if number != 1 or not isinstance(node, bytes):
            continue
        for field, value in _fields(node):
            if field == 5 and isinstance(value, bytes) and value:
                try:
                    config = json.loads(value.decode("utf-8"))
                except ValueError as error:
                    raise UnreadableStructure(f"a layer's metadata: {error}") from None
                for finding in config_findings(config):
                    if not _seen(finding, found):
                        found.append(finding)
    return found


def _seen(finding: Finding, found: list[Finding]) -> bool:
    """Whether the same layer was already found: the model's node and the layer's own node
    both describe it, under paths that differ in their head."""
    leaf = finding.where.rsplit("/", 1)[-1]
    return any(f.what == finding.what and f.where.rsplit("/", 1)[-1] == leaf for f in found)


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """The (field number, value) pairs of one protobuf message, from the wire format."""
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
            yield number, value
        elif wire == 2:
            size, position = _varint(data, position)
            if position + size > len(data):
                raise UnreadableStructure("keras_metadata.pb is cut short")
            yield number, data[position : position + size]
            position += size
        elif wire in (1, 5):
            position += 8 if wire == 1 else 4
        else:
            raise UnreadableStructure(f"keras_metadata.pb has an unknown wire type {wire}")
    if position != len(data):
        raise UnreadableStructure("keras_metadata.pb is cut short")


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise UnreadableStructure("keras_metadata.pb is cut short")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


# ------------------------------------------------------------------ SavedModel graphs


def graph_findings(data: bytes) -> list[Finding]:
    """Side-effecting ops in a saved_model.pb: in every graph and every function of its library;
    saver ops only in functions reachable from the ones tf.saved_model.load makes callable."""
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString(data)
    except DecodeError as error:
        raise UnreadableStructure(_first_line(error)) from None
    ops: set[str] = set()
    for meta_graph in proto.meta_graphs:
        library = {
            function.signature.name: function for function in meta_graph.graph_def.library.function
        }
        callable_ = _reachable(library, set(meta_graph.object_graph_def.concrete_functions))
        ops |= {n.op for n in meta_graph.graph_def.node if _side_effect(n, saver=False)}
        for name, function in library.items():
            saver = name in callable_
            ops |= {n.op for n in function.node_def if _side_effect(n, saver=saver)}
    return [Finding("a graph op", op, GRAPH_EFFECT) for op in sorted(ops)]


def _side_effect(node, *, saver: bool) -> bool:
    if node.op == "PrintV2":  # tf.print to the terminal is harmless; to a file it is not
        return node.attr["output_stream"].s.decode("utf-8", "replace").startswith("file://")
    return node.op in SIDE_EFFECT_OPS or (saver and node.op in SAVER_OPS)


def _reachable(library: dict, roots: set[str]) -> set[str]:
    """The functions `roots` call, directly or through other functions (call and control-flow
    ops name them in func attributes)."""
    seen, todo = set(), [name for name in roots if name in library]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in library[name].node_def:
            for attr in node.attr.values():
                called = [attr.func.name, *(f.name for f in attr.list.func)]
                todo += [c for c in called if c in library and c not in seen]
    return seen


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:200]
