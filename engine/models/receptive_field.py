"""Receptive fields at the input, walked along a Keras model's graph from its inputs.

For a window of k pixels, dilation d and stride s, after a chain whose field is r with jump j:
r' = r + (d·(k − 1))·j and j' = j·s. Where branches meet (Add, Concatenate) the larger field
wins, axis by axis. Layers that work pixel by pixel pass the field through; layer types whose
geometry Keras does not say (Lambda, Reshape, upsampling, a SavedModel) make it unknown, and so
everything after them."""

from __future__ import annotations

from collections.abc import Iterable

import keras

from engine.protocol import LayerPath, ReceptiveField
from engine.protocol.layer_properties import Pair

Fields = dict[LayerPath, ReceptiveField | None]

_WINDOWED = (
    keras.layers.Conv2D,  # also DepthwiseConv2D, SeparableConv2D (not transposed, below)
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
)
_GLOBAL = (
    keras.layers.Flatten,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
)
# Pixel by pixel (or channel-wise) layers: one output pixel sees what its input pixel saw.
# Dense on a 4-D input is a 1×1 convolution; after Flatten the field is already whole.
_PASS_THROUGH = (
    keras.layers.InputLayer,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.PReLU,
    keras.layers.ELU,
    keras.layers.Softmax,
    keras.layers.BatchNormalization,
    keras.layers.LayerNormalization,
    keras.layers.Normalization,
    keras.layers.Rescaling,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.Dense,
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Average,
    keras.layers.Maximum,
    keras.layers.Minimum,
    keras.layers.Concatenate,
    keras.layers.ZeroPadding2D,  # padding moves the window, it does not widen it
    keras.layers.Cropping2D,
)


def receptive_fields(model: keras.Model) -> Fields:
    """Every layer's receptive field at `model`'s input, nested sub-models included (keyed by
    LayerPath); None where it is unknown."""
    image_size = _image_size(model)
    fields: Fields = {}
    start = ReceptiveField((1, 1), (1, 1))
    _walk(model, [start], (), image_size, fields)
    return fields


def _walk(
    model: keras.Model,
    inputs: list[ReceptiveField | None],
    parent: tuple[str, ...],
    image_size: Pair,
    fields: Fields,
) -> ReceptiveField | None:
    """Fill `fields` for the layers of `model`, whose inputs see `inputs`; the field of its
    output."""
    graph = _graph(model)
    if graph is None:
        # A model Keras built without a graph (a subclassed model): nothing is known inside.
        for layer in model.layers:
            fields[LayerPath((*parent, layer.name))] = None
        return None
    entry = _largest(inputs)
    at_node: dict[int, ReceptiveField | None] = {}
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            layer = node.operation
            seen = [at_node.get(id(p)) for p in node.parent_nodes] if node.parent_nodes else [entry]
            path = LayerPath((*parent, layer.name))
            if isinstance(layer, keras.Model):
                out = _walk(layer, seen, path, image_size, fields)
            else:
                out = layer_field(layer, _largest(seen), image_size)
            at_node[id(node)] = out
            # A layer called twice in this model: the larger field of its calls.
            fields[path] = _largest([fields[path], out]) if path in fields else out
    outputs = graph._nodes_by_depth.get(0, [])
    return _largest([at_node.get(id(node)) for node in outputs])


def layer_field(
    layer: keras.layers.Layer, seen: ReceptiveField | None, image_size: Pair
) -> ReceptiveField | None:
    """The field after `layer`, whose input pixels see `seen`; None when it is unknown."""
    if seen is None:
        return None
    if isinstance(layer, _GLOBAL) or seen.whole:
        return ReceptiveField(image_size, (0, 0), whole=True)
    if isinstance(layer, _PASS_THROUGH):
        return seen
    if isinstance(layer, keras.layers.Conv2DTranspose) or not isinstance(layer, _WINDOWED):
        return None
    kernel = read_pair(getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None))
    strides = read_pair(getattr(layer, "strides", None) or kernel)
    dilation = read_pair(getattr(layer, "dilation_rate", 1))
    if kernel is None or strides is None or dilation is None:
        return None  # a setting Keras keeps in a form we do not read: say unknown, not wrong
    size = tuple(seen.size[a] + dilation[a] * (kernel[a] - 1) * seen.jump[a] for a in range(2))
    jump = tuple(seen.jump[a] * strides[a] for a in range(2))
    return ReceptiveField((size[0], size[1]), (jump[0], jump[1]))


def _graph(model: keras.Model) -> keras.Model | None:
    """The functional graph of `model`: itself, or the one a Sequential builds inside."""
    if isinstance(model, keras.Sequential):
        model = getattr(model, "_functional", None)
    return model if model is not None and hasattr(model, "_nodes_by_depth") else None


def _largest(fields: Iterable[ReceptiveField | None]) -> ReceptiveField | None:
    """The larger field axis by axis (branches meeting); unknown if any branch is unknown."""
    known = list(fields)
    if not known or any(f is None for f in known):
        return None
    sure = [f for f in known if f is not None]
    if any(f.whole for f in sure):
        return next(f for f in sure if f.whole)
    size = (max(f.size[0] for f in sure), max(f.size[1] for f in sure))
    jump = (max(f.jump[0] for f in sure), max(f.jump[1] for f in sure))
    return ReceptiveField(size, jump)


def read_pair(value: object) -> Pair | None:
    """A 2-D layer setting (3 or (3, 1)) as (rows, columns); None for anything else (1-D or
    3-D layers, settings kept in a form we do not read)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return None
    rows, columns = value
    if isinstance(rows, int) and isinstance(columns, int):
        return (int(rows), int(columns))
    return None


def _image_size(model: keras.Model) -> Pair:
    """The model's input height and width; 0 for a side that takes any size."""
    shape = tuple(model.inputs[0].shape) if model.inputs else ()
    if len(shape) != 4:
        return (0, 0)
    return (int(shape[1] or 0), int(shape[2] or 0))
