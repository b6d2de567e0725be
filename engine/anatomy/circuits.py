"""Circuits: which channels of which earlier layer feed a conv filter, and how strongly.

A filter reads every input channel through a (kh, kw) slice of its kernel; the slice's L2 norm
says how much the channel matters and its sum whether it mostly excites (> 0) or inhibits (< 0).
Each input channel is then followed back through the layers that keep channels apart (pooling,
batch norm, activations, dropout, padding, element-wise merges, concatenation) to the conv layer
that made it, or to the image. The walk uses Keras's functional graph: a symbolic tensor's
`_keras_history` names the operation and the call (node) that produced it, and that node's input
tensors lead further back. Nested sub-models are entered through their outputs and left through
their inputs, so a conv base inside a larger model traces like a flat one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import keras
import numpy as np

from engine.anatomy.filter_bank import CONV_TYPES, conv_layer, filter_bank
from engine.models.surgery import find_layer, node_in
from engine.protocol import Circuit, CircuitLink, LayerPath

# Layers whose output channel c is a function of input channel c alone.
_PASS_THROUGH = tuple(
    cls
    for cls in (
        getattr(keras.layers, name, None)
        for name in (
            "MaxPooling2D",
            "AveragePooling2D",
            "BatchNormalization",
            "Activation",
            "ReLU",
            "LeakyReLU",
            "ELU",
            "PReLU",
            "ThresholdedReLU",
            "Dropout",
            "SpatialDropout2D",
            "GaussianDropout",
            "GaussianNoise",
            "AlphaDropout",
            "ActivityRegularization",
            "ZeroPadding2D",
            "Cropping2D",
            "UpSampling2D",
            "Resizing",
            "Rescaling",
            "Normalization",
            "Identity",
        )
    )
    if cls is not None
)

# Element-wise merges: channel c of the output comes from channel c of every input.
_ELEMENTWISE = tuple(
    getattr(keras.layers, name)
    for name in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
    if hasattr(keras.layers, name)
)


@dataclass(frozen=True)
class _Frame:
    """One graph on the walk: a model and its path from the top-level model."""

    model: keras.Model
    path: tuple[str, ...]


@dataclass(frozen=True)
class Origin:
    """Where one channel comes from: `source` None is the image; `stopped` says why not further."""

    source: tuple[str, ...] | None
    channel: int
    path: tuple[str, ...] = ()
    stopped: str = ""
    notes: tuple[str, ...] = ()

    @property
    def reached(self) -> bool:
        return not self.stopped


def _label(path: tuple[str, ...]) -> str:
    return str(LayerPath(path))


def _stop(frames, op, channel, path, notes, why) -> Origin:
    where = (*frames[-1].path, getattr(op, "name", type(op).__name__))
    text = f"stopped at {_label(where)!r} ({type(op).__name__}): {why}"
    return Origin(where, channel, path, stopped=text, notes=(*notes, text))


def _frames_for(model: keras.Model, layer_path: tuple[str, ...]) -> list[_Frame]:
    frames = [_Frame(model, ())]
    for depth in range(1, len(layer_path)):
        sub = find_layer(model, layer_path[:depth])
        if not isinstance(sub, keras.Model):
            raise ValueError(f"layer {_label(layer_path[:depth])!r} is not a model")
        frames.append(_Frame(sub, layer_path[:depth]))
    return frames


def _input_index(model: keras.Model, tensor) -> int:
    for index, candidate in enumerate(model.inputs or ()):
        if candidate is tensor:
            return index
    return 0


def follow(frames: list[_Frame], tensor, channel: int, path=(), notes=()) -> Origin:
    """Follow channel `channel` of symbolic `tensor` (in `frames[-1]`'s graph) back to a conv."""
    frames = list(frames)
    path, notes = tuple(path), tuple(notes)
    for _ in range(10_000):  # a graph is acyclic; this only guards against a malformed one
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            return Origin(
                None, channel, path, "a tensor without graph history", (*notes, "lost the graph")
            )
        op, node_index, tensor_index = history
        frame = frames[-1]
        if isinstance(op, keras.layers.InputLayer):
            if len(frames) == 1:
                return Origin(None, channel, path, notes=notes)  # the image
            # The sub-model's input: carry on in the graph around it.
            index = _input_index(frame.model, tensor)
            outer = frames[-2]
            tensor = node_in(outer.model, frame.model).input_tensors[index]
            frames.pop()
            continue
        here = (*frame.path, op.name)
        if isinstance(op, CONV_TYPES):
            return Origin(here, channel, path, notes=notes)
        if isinstance(op, keras.Model):
            # A nested model produced it: continue from its output inside its own graph.
            tensor = op.outputs[tensor_index]
            frames.append(_Frame(op, here))
            continue
        node = op._inbound_nodes[node_index]
        inputs = list(node.input_tensors)
        if isinstance(op, _PASS_THROUGH) and len(inputs) == 1:
            tensor = inputs[0]
            path = (*path, op.name)
            continue
        if isinstance(op, _ELEMENTWISE) and inputs:
            return _follow_merge(frames, op, inputs, channel, (*path, op.name), notes)
        if isinstance(op, keras.layers.Concatenate) and inputs:
            rank = len(inputs[0].shape)
            if op.axis not in (-1, rank - 1):
                return _stop(frames, op, channel, path, notes, f"it concatenates on axis {op.axis}")
            offset = 0
            for source in inputs:
                width = source.shape[-1]
                if width is None:
                    return _stop(frames, op, channel, path, notes, "an input has unknown channels")
                if channel < offset + width:
                    break
                offset += width
            else:
                return _stop(frames, op, channel, path, notes, f"channel {channel} is past its end")
            tensor = source
            channel -= offset
            path = (*path, op.name)
            continue
        return _stop(
            frames, op, channel, path, notes, "convscope cannot follow channels through it"
        )
    return Origin(None, channel, path, "graph too deep", (*notes, "graph too deep to follow"))


def _follow_merge(frames, op, inputs, channel, path, notes) -> Origin:
    """Channel c of an element-wise merge comes from channel c of each input: follow the first
    branch that reaches a conv layer, and name the others in the notes."""
    branches = [follow(frames, tensor, channel, path) for tensor in inputs]
    chosen = next((b for b in branches if b.reached and b.source is not None), None)
    chosen = chosen or next((b for b in branches if b.reached), branches[0])
    others = [b for b in branches if b is not chosen]
    where = _label((*frames[-1].path, op.name))

    def name(origin: Origin) -> str:
        return "the image" if origin.source is None else repr(_label(origin.source))

    if others:
        also = ", ".join(name(b) for b in others)
        text = (
            f"{where!r} ({type(op).__name__}) merges {len(inputs)} inputs: links follow "
            f"{name(chosen)}; also fed by {also}"
        )
        notes = (*notes, text)
    return replace(chosen, notes=(*notes, *chosen.notes))


def _input_tensor(frames: list[_Frame], layer: keras.layers.Layer):
    node = node_in(frames[-1].model, layer)
    tensors = list(node.input_tensors)
    if len(tensors) != 1:
        raise ValueError(f"layer {layer.name!r} has {len(tensors)} inputs; expected one")
    return tensors[0]


def feeds_from_image(model: keras.Model, layer_path: tuple[str, ...]) -> bool:
    """Whether the layer at `layer_path` reads the image with no conv layer in between."""
    layer_path = tuple(layer_path)
    layer = find_layer(model, layer_path)
    frames = _frames_for(model, layer_path)
    origin = follow(frames, _input_tensor(frames, layer), 0)
    return origin.reached and origin.source is None


def _input_channels(layer: keras.layers.Layer, unit: int, reads: int) -> list[int]:
    """The input channels that filter `unit` reads, in the order of its kernel's last axis."""
    if isinstance(layer, keras.layers.DepthwiseConv2D) and not isinstance(
        layer, keras.layers.SeparableConv2D
    ):
        return [unit // int(layer.depth_multiplier)]
    groups = int(getattr(layer, "groups", 1) or 1)
    if groups > 1 and isinstance(layer, keras.layers.Conv2D):
        per_group = int(layer.filters) // groups
        group = unit // per_group
        return [group * reads + k for k in range(reads)]
    return list(range(reads))


def trace(model: keras.Model, layer_path: tuple[str, ...], unit: int, request_id: int) -> Circuit:
    """Filter `unit` of the conv layer at `layer_path`: its input channels, strongest first,
    each traced back to the conv layer (or the image) that produces it."""
    layer_path = tuple(layer_path)
    layer = find_layer(model, layer_path)
    if not isinstance(layer, CONV_TYPES):
        raise ValueError(
            f"layer {_label(layer_path)!r} ({type(layer).__name__}) is not a conv layer; "
            "only convolutions have input channels to trace"
        )
    layer = conv_layer(model, layer_path)
    bank, _ = filter_bank(layer)
    filters = bank.shape[-1]
    if not 0 <= int(unit) < filters:
        raise ValueError(
            f"unit {unit} is out of range for layer {_label(layer_path)!r} with {filters} filters"
        )
    unit = int(unit)
    frames = _frames_for(model, layer_path)
    tensor = _input_tensor(frames, layer)
    kernel = bank[..., unit]
    links: list[CircuitLink] = []
    notes: list[str] = []
    for slot, channel in enumerate(_input_channels(layer, unit, kernel.shape[-1])):
        weights = kernel[:, :, slot]
        origin = follow(frames, tensor, channel)
        notes.extend(text for text in origin.notes if text not in notes)
        links.append(
            CircuitLink(
                source_layer=origin.source,
                channel=int(origin.channel),
                weight_norm=float(np.sqrt(np.sum(weights**2))),
                weight_sum=float(np.sum(weights)),
                kernel=weights.astype(np.float32),
                path=origin.path,
            )
        )
    links.sort(key=lambda link: -link.weight_norm)
    return Circuit(
        request_id=request_id,
        layer=layer_path,
        unit=unit,
        links=tuple(links),
        note="; ".join(notes),
    )
