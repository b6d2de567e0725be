"""Model surgery: cut a model at any layer, including layers inside nested sub-models.

Visualizing a layer only needs the part of the network in front of it, so every objective runs
on a truncated model. That is what makes a step on an early layer cheap.
"""

from __future__ import annotations

import keras

from engine.protocol import LayerPath


def find_layer(model: keras.Model, path: tuple[str, ...]) -> keras.layers.Layer:
    """The layer at `path` (names through nested sub-models); ValueError names what is missing."""
    if not path:
        raise ValueError("empty layer path")
    current = model
    for depth, name in enumerate(path):
        sublayers = getattr(current, "layers", None)
        if sublayers is None:
            parent = str(LayerPath(path[:depth]))
            raise ValueError(f"layer {parent!r} has no sub-layers, so {name!r} cannot be inside it")
        match = next((layer for layer in sublayers if layer.name == name), None)
        if match is None:
            where = str(LayerPath(path[:depth])) or model.name
            raise ValueError(f"no layer named {name!r} in {where!r}")
        current = match
    return current


def node_in(model: keras.Model, layer: keras.layers.Layer):
    """The call of `layer` that belongs to `model`'s own graph.

    A layer of a nested or reloaded model can carry nodes from several graphs (the sub-model's
    own, and each time it was traced inside a parent); only the one in `model` is wanted.
    """
    graph = getattr(model, "_functional", None) or model  # Sequential keeps its graph inside
    keys = getattr(graph, "_nodes", None)
    nodes = [
        node
        for index, node in enumerate(getattr(layer, "_inbound_nodes", []))
        if keys is None or f"{id(layer)}_ib-{index}" in keys
    ]
    if len(nodes) != 1:
        raise ValueError(
            f"layer {layer.name!r} is used {len(nodes)} times in model {model.name!r}; "
            "convscope can only cut at a layer that is called once"
        )
    return nodes[0]


def _single(tensors: list, layer: keras.layers.Layer, what: str):
    if len(tensors) != 1:
        raise ValueError(f"layer {layer.name!r} has {len(tensors)} {what}; expected one")
    return tensors[0]


def outer_input_tensor(model: keras.Model, layer: keras.layers.Layer):
    """The symbolic tensor that feeds `layer` in `model`'s graph."""
    return _single(node_in(model, layer).input_tensors, layer, "inputs")


def layer_output(model: keras.Model, layer: keras.layers.Layer):
    return _single(node_in(model, layer).output_tensors, layer, "outputs")


def model_input_tensor(model: keras.Model):
    inputs = model.inputs
    if inputs is None or len(inputs) != 1:
        count = 0 if inputs is None else len(inputs)
        raise ValueError(f"model {model.name!r} has {count} inputs; convscope needs exactly one")
    return inputs[0]


def truncate(model: keras.Model, path: tuple[str, ...], *, before: bool = False) -> keras.Model:
    """A model from `model`'s input to the output of the layer at `path`.

    With `before=True` it ends at that layer's *input* instead, so a caller can re-apply the layer
    differently (a linear copy of a softmax layer, for class visualization).
    """
    find_layer(model, path)  # a clear error for a wrong name before any graph work
    model_input = model_input_tensor(model)
    head = model.get_layer(path[0])
    if len(path) == 1:
        end = outer_input_tensor(model, head) if before else layer_output(model, head)
        return keras.Model(model_input, end, name=f"{model.name}_to_{head.name}")

    # The target sits inside sub-model `head`: run the outer model up to `head`'s input, then the
    # sub-model cut at the rest of the path.
    feed = outer_input_tensor(model, head)
    inner = truncate(head, path[1:], before=before)
    x = keras.Input(shape=model_input.shape[1:], dtype=model_input.dtype)
    y = x if feed is model_input else keras.Model(model_input, feed)(x)
    return keras.Model(x, inner(y), name=f"{model.name}_to_{'_'.join(path)}")


def _is_softmax(fn: object) -> bool:
    name = getattr(fn, "__name__", "") or getattr(fn, "name", "")
    return "softmax" in str(name).lower()


def linearized(model: keras.Model, path: tuple[str, ...]) -> keras.Model:
    """A model from input to the layer's output, with a softmax replaced by its logits.

    Maximizing a softmax probability can be won by pushing other classes down; maximizing the
    logit asks only for more of the class itself, which gives cleaner class images.
    """
    layer = find_layer(model, path)
    activation = getattr(layer, "activation", None)
    if activation is not None and _is_softmax(activation):
        trunk = truncate(model, path, before=True)
        config = layer.get_config()
        config["activation"] = "linear"
        linear = layer.__class__.from_config(config)
        linear.build(trunk.output.shape)
        linear.set_weights(layer.get_weights())
        x = keras.Input(shape=trunk.input.shape[1:], dtype=trunk.input.dtype)
        return keras.Model(x, linear(trunk(x)), name=f"{trunk.name}_logits")
    if isinstance(layer, keras.layers.Softmax) or (
        isinstance(layer, keras.layers.Activation) and _is_softmax(layer.activation)
    ):
        return truncate(model, path, before=True)
    return truncate(model, path)
