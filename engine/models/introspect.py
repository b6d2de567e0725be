"""Describe a Keras model as plain value objects for the layer tree."""

from __future__ import annotations

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


def _describe(
    model: keras.Model,
    layer: keras.layers.Layer,
    parent: tuple[str, ...],
    output_name: str | None,
    fields: Fields,
) -> LayerInfo:
    path = LayerPath((*parent, layer.name))
    shape = _output_shape(model, layer)
    kind, size = _kind(layer, shape)
    children: tuple[LayerInfo, ...] = ()
    if isinstance(layer, keras.Model):
        children = tuple(_describe(layer, sub, path, None, fields) for sub in layer.layers)
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
    )


def describe_model(model: keras.Model, meta: ModelMeta, source: str) -> ModelSummary:
    """The layer tree of `model`, nested sub-models included."""
    output_name = model.layers[-1].name if model.layers else None
    fields = receptive_fields(model)
    layers = tuple(_describe(model, layer, (), output_name, fields) for layer in model.layers)
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
