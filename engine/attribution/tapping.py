"""One model that outputs two tensors of another: a tapped layer's activations and the score's
layer, in one graph, so the score's gradient with respect to the activations exists even when
the tapped layer sits inside a nested base model (transfer learning) and a plain
`keras.Model(outer.input, inner_layer.output)` would be "disconnected".
"""

from __future__ import annotations

import keras

from engine.models.surgery import layer_output, outer_input_tensor, truncate


def _end_tensor(model: keras.Model, end: tuple[str, ...] | None, before: bool):
    """The symbolic output (or input, `before`) of layer `end` in `model`'s own graph; None when
    `end` is inside a sub-model."""
    if end is None:
        return model.outputs[0]
    if len(end) > 1:
        return None
    layer = model.get_layer(end[0])
    return outer_input_tensor(model, layer) if before else layer_output(model, layer)


def _nested_end(end: tuple[str, ...] | None) -> tuple[str, ...]:
    """`end` where `_end_tensor` found no tensor for it: a path into a sub-model."""
    if end is None or len(end) < 2:
        raise ValueError(f"layer path {end!r} does not lead into a sub-model")
    return end


def tapped(
    model: keras.Model, tap: tuple[str, ...], end: tuple[str, ...] | None, before: bool = False
) -> keras.Model:
    """A model from `model`'s input to [output of layer `tap`, output (or input, `before`) of
    layer `end` (None: the model's output)], built so both tensors live in ONE graph even when
    `tap` sits inside a nested sub-model, where `keras.Model(outer.input, inner_layer.output)`
    is "disconnected": the sub-model is re-entered layer by layer on the outer tensor."""
    model_input = model.inputs[0]
    end_symbolic = _end_tensor(model, end, before)
    if len(tap) == 1 and end_symbolic is not None:
        # Both in this model's own graph: any functional topology, skips included.
        tap_symbolic = layer_output(model, model.get_layer(tap[0]))
        return keras.Model(model_input, [tap_symbolic, end_symbolic])

    x = keras.Input(shape=model_input.shape[1:], dtype=model_input.dtype)
    head = model.get_layer(tap[0])
    feed = outer_input_tensor(model, head)
    into_head = x if feed is model_input else keras.Model(model_input, feed)(x)
    if end is not None and len(end) > 1 and end[0] == tap[0] and len(tap) > 1:
        tap_new, end_new = tapped(head, tap[1:], end[1:], before)(into_head)
        return keras.Model(x, [tap_new, end_new])
    if len(tap) == 1:
        # The tap is here, the end inside a later sub-model: cut at that sub-model's input.
        nested = _nested_end(end)
        end_head = model.get_layer(nested[0])
        tap_symbolic = layer_output(model, head)
        end_feed = outer_input_tensor(model, end_head)
        tap_new, feed_new = keras.Model(model_input, [tap_symbolic, end_feed])(x)
        inner_end = truncate(end_head, nested[1:], before=before)
        return keras.Model(x, [tap_new, inner_end(feed_new)])

    # The tap is inside `head`: re-enter it up to the tap, then run the rest of this model from
    # `head`'s output (a model that starts at an intermediate tensor).
    tap_new, head_new = tapped(head, tap[1:], None)(into_head)
    head_symbolic = layer_output(model, head)
    if end_symbolic is None:
        nested = _nested_end(end)
        end_head = model.get_layer(nested[0])
        stop = outer_input_tensor(model, end_head)
        middle = head_new if stop is head_symbolic else _rest(model, head, stop)(head_new)
        end_new = truncate(end_head, nested[1:], before=before)(middle)
    elif end_symbolic is head_symbolic:
        end_new = head_new
    else:
        end_new = _rest(model, head, end_symbolic)(head_new)
    return keras.Model(x, [tap_new, end_new])


def _rest(model: keras.Model, head: keras.layers.Layer, stop) -> keras.Model:
    """`model` from `head`'s output to the symbolic tensor `stop`."""
    try:
        return keras.Model(layer_output(model, head), stop)
    except ValueError as error:
        raise ValueError(
            f"cannot follow model {model.name!r} on from its sub-model {head.name!r}: the rest "
            f"also depends on tensors that bypass it ({error})"
        ) from error
