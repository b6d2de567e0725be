"""Computing a model in the recipe's precision: a bfloat16 (or GPU float16) copy of it.

Only the model runs in the chosen precision. The image parameters, the optimizer's moments and
the objective's reduction stay float32: a bfloat16 image would round away the small steps the
optimizer takes. What "auto" picks is decided in engine/protocol/precision.py; this module adds
what only TensorFlow knows (the visible GPUs) and builds the copy.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from engine.protocol.precision import Precision, cpu_flags, resolve_precision

# The Keras dtype policy a model copy is built under, per concrete precision.
_POLICIES = {"bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def visible_gpus() -> list[str]:
    """Names of the GPUs TensorFlow can place ops on."""
    return [device.name for device in tf.config.list_physical_devices("GPU")]


def resolve(requested: str, pixels: int | None = None) -> Precision:
    """What `requested` means on this machine (its CPU flags and visible GPUs) for a model
    whose input has `pixels` pixels (None: unknown)."""
    return resolve_precision(requested, cpu_flags(), visible_gpus(), pixels=pixels)


def policy(precision: Precision) -> str | None:
    """The Keras mixed-precision policy of the model copy; None for plain float32."""
    return _POLICIES.get(precision.compute)


def in_precision(model: keras.Model, precision: Precision) -> keras.Model:
    """`model`, or a copy of it that computes in `precision` with float32 inputs and outputs.

    The copy shares no variables with `model`: its layers are rebuilt under a mixed policy
    (float32 weights, cast to the compute type as each layer runs: oneDNN then runs the convs
    in bfloat16), with `model`'s weights as they are now.
    """
    name = policy(precision)
    if name is None:
        return model

    def rebuilt(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.layers.InputLayer):
            return layer
        config = layer.get_config()
        config["dtype"] = name
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=rebuilt, recursive=True)
    copy.set_weights(model.get_weights())
    inputs = keras.Input(shape=model.input.shape[1:], dtype="float32")
    outputs = keras.layers.Activation("linear", dtype="float32")(copy(inputs))
    return keras.Model(inputs, outputs, name=f"{model.name}_{precision.compute}")
