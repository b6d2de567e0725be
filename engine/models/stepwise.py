"""Running a model one layer at a time, so that a walk through all its layers can pause between
any two of them (the engine serves it between the steps of a running visualization).

A functional model (or a Sequential one, which keeps a functional graph inside) is run node by
node in the order Keras itself runs it, nested sub-models included; each wanted layer's output
is yielded the moment it is computed. This is one forward pass in all: no model is rebuilt per
layer. It reads the graph Keras keeps for its own `call` (`_nodes_by_depth`, a node's
`arguments`); a model without such a graph (subclassed) gets `None` from `functional_graph`, and
the caller falls back to one truncated model per layer.
"""

from __future__ import annotations

from collections.abc import Collection, Generator
from typing import Any

import keras
import numpy as np

from engine.protocol import LayerPath


def functional_graph(model: keras.layers.Layer) -> Any | None:
    """The graph Keras runs `model` through, or None if it has none to walk."""
    graph = getattr(model, "_functional", None) or model  # Sequential keeps its graph inside
    return graph if hasattr(graph, "_nodes_by_depth") and hasattr(graph, "inputs") else None


def layer_outputs(
    model: keras.Model, batch: np.ndarray, wanted: Collection[tuple[str, ...]]
) -> Generator[tuple[LayerPath, np.ndarray], None, None]:
    """(path, output) of each layer in `wanted`, in the order the model computes them."""
    graph = functional_graph(model)
    if graph is None:
        raise ValueError(f"model {model.name!r} has no functional graph to walk layer by layer")
    wanted = frozenset(tuple(path) for path in wanted)
    yield from _run(graph, (), [batch], wanted)


def _run(
    graph: Any, prefix: tuple[str, ...], inputs: list, wanted: frozenset[tuple[str, ...]]
) -> Generator[tuple[LayerPath, np.ndarray], None, list]:
    tensors = {id(symbol): value for symbol, value in zip(graph.inputs, inputs, strict=True)}
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            operation = node.operation
            if not operation or node.is_input:
                continue
            if any(id(symbol) not in tensors for symbol in node.input_tensors):
                continue  # not computable from these inputs, as Keras's own loop skips it
            args, kwargs = node.arguments.fill_in(tensors)
            path = (*prefix, operation.name)
            inner = functional_graph(operation) if isinstance(operation, keras.Model) else None
            if inner is not None and any(w[: len(path)] == path != w for w in wanted):
                # A nested model with wanted layers inside: walk into it.
                outputs = yield from _run(inner, path, keras.tree.flatten(args), wanted)
            else:
                if "training" in getattr(operation, "_call_context_args", ()):
                    kwargs["training"] = False  # batch norm and dropout as in inference
                outputs = operation(*args, **kwargs)
            flat = keras.tree.flatten(outputs)
            for symbol, value in zip(node.outputs, flat, strict=True):
                tensors[id(symbol)] = value
            if path in wanted:
                yield LayerPath(path), np.array(flat[0], copy=True)
    return [tensors[id(symbol)] for symbol in graph.outputs]
