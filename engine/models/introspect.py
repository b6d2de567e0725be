"""Describe a Keras model as plain value objects for the layer tree."""

from __future__ import annotations

from itertools import pairwise

import keras
from keras.layers import TFSMLayer

from engine.anatomy.filter_bank import CONV_TYPES
from engine.models.layer_properties import layer_properties
from engine.models.meta import ModelMeta
from engine.models.receptive_field import Fields, receptive_fields
from engine.models.surgery import layer_output
from engine.optvis.memory import LOAD_PEAK_FACTOR
from engine.protocol import LayerInfo, LayerKind, LayerPath, ModelSummary


def _output_shape(parent: keras.Model, layer: keras.layers.Layer) -> tuple[int | None, ...] | None:
    try:
        return tuple(layer_output(parent, layer).shape)
    except (AttributeError, ValueError):
        # A layer called several times (or never) has no single output shape.
        return None


def _kind(layer: keras.layers.Layer, shape: tuple[int | None, ...] | None) -> tuple[LayerKind, int]:
    if shape is None or isinstance(layer, keras.layers.InputLayer):
        return LayerKind.NONE, 0
    if len(shape) == 4 and shape[-1]:
        return LayerKind.CHANNELS, int(shape[-1])
    # A SavedModel's serving signature (a TFSMLayer) ends in class scores like a Dense layer.
    if len(shape) == 2 and shape[-1] and isinstance(layer, (keras.layers.Dense, TFSMLayer)):
        return LayerKind.UNITS, int(shape[-1])
    return LayerKind.NONE, 0


def inbound_names(model: keras.Model) -> dict[str, tuple[str, ...]]:
    """For each layer of `model` (this level only, not inside nested sub-models) the names of
    the sibling layers whose outputs feed it, in argument order; a layer called several times
    gets the union. A Sequential model is a chain; a subclassed model records no graph: {}."""
    layers = list(model.layers)
    if isinstance(model, keras.Sequential):
        return {cur.name: (prev.name,) for prev, cur in pairwise(layers)}
    # The nodes of this model's own graph: a layer's _inbound_nodes also holds its calls in
    # other models (a truncated copy, an outer model around a base), which are not edges here.
    by_depth = getattr(model, "_nodes_by_depth", None)
    if not isinstance(by_depth, dict):
        return {}
    siblings = {id(layer) for layer in layers}
    feeds: dict[str, list[str]] = {}
    for depth in sorted(by_depth, reverse=True):  # the deepest are nearest the input
        for node in by_depth[depth]:
            operation = getattr(node, "operation", None)
            if operation is None or id(operation) not in siblings:
                continue
            names = feeds.setdefault(operation.name, [])
            new = [name for name in _parent_layers(node, siblings) if name not in names]
            names.extend(new)
    return {name: tuple(names) for name, names in feeds.items()}


def _parent_layers(node: object, siblings: set[int]) -> list[str]:
    # Through plain operations (`x + y` on Keras tensors is an op, not a layer, and is not in
    # model.layers) up to the nearest layers.
    found: list[str] = []
    queue, seen = list(getattr(node, "parent_nodes", ())), set()
    while queue:
        parent = queue.pop(0)
        if id(parent) in seen:
            continue
        seen.add(id(parent))
        if id(parent.operation) in siblings:
            found.append(parent.operation.name)
        else:
            queue.extend(parent.parent_nodes)
    return [name for k, name in enumerate(found) if name not in found[:k]]


def _describe_level(
    model: keras.Model, parent: tuple[str, ...], output_name: str | None, fields: Fields
) -> tuple[LayerInfo, ...]:
    try:
        edges = inbound_names(model)
    except (AttributeError, TypeError, ValueError):
        # An odd model's graph is only drawn without edges; its layers are still listed.
        edges = {}
    return tuple(
        _describe(model, layer, parent, output_name, fields, edges.get(layer.name, ()))
        for layer in model.layers
    )


def _describe(
    model: keras.Model,
    layer: keras.layers.Layer,
    parent: tuple[str, ...],
    output_name: str | None,
    fields: Fields,
    inbound: tuple[str, ...],
) -> LayerInfo:
    path = LayerPath((*parent, layer.name))
    shape = _output_shape(model, layer)
    kind, size = _kind(layer, shape)
    children: tuple[LayerInfo, ...] = ()
    if isinstance(layer, keras.Model):
        children = _describe_level(layer, path, None, fields)
    return LayerInfo(
        path=path,
        name=layer.name,
        type_name=type(layer).__name__,
        output_shape=shape,
        params=int(layer.count_params()) if layer.built else 0,
        kind=kind,
        size=size,
        is_output=layer.name == output_name,
        children=children,
        has_kernels=isinstance(layer, CONV_TYPES),
        properties=layer_properties(layer, fields.get(path)),
        inbound=inbound,
    )


def describe_model(model: keras.Model, meta: ModelMeta, source: str) -> ModelSummary:
    """The layer tree of `model`, nested sub-models included."""
    output_name = model.layers[-1].name if model.layers else None
    fields = receptive_fields(model)
    layers = _describe_level(model, (), output_name, fields)
    height, width, channels = tuple(model.inputs[0].shape[1:])
    class_names = meta.class_names
    last = layers[-1] if layers else None
    # A map output (a fully convolutional detector) has its classes in its channels.
    has_classes = last is not None and last.kind in (LayerKind.UNITS, LayerKind.CHANNELS)
    if last is not None and has_classes and len(class_names) != last.size:
        class_names = tuple(f"class {k}" for k in range(last.size))
    return ModelSummary(
        name=model.name,
        source=source,
        input_shape=(height, width, int(channels)),
        input_range=meta.input_range,
        class_names=class_names,
        layers=layers,
        description=meta.description,
        untrained=meta.untrained,
        signature_only=meta.signature_only,
        open_bytes=LOAD_PEAK_FACTOR * meta.file_bytes,
        scores=output_scores(model),
    )


def output_scores(model: keras.Model) -> str:
    """What the model's output numbers are, from its last layer's activation: "probabilities"
    (softmax), "independent" (sigmoid, multi-label) or "logits"."""
    layer = model.layers[-1] if model.layers else None
    activation = getattr(layer, "activation", None)
    if isinstance(layer, keras.layers.Softmax):
        return "probabilities"
    name = str(getattr(activation, "__name__", "") or getattr(activation, "name", "")).lower()
    if "softmax" in name:
        return "probabilities"
    if "sigmoid" in name:
        return "independent"
    return "logits"
