"""A conv layer's weights as one bank of ordinary convolution kernels, whatever its type.

Shared by the kernel views (engine/anatomy/kernels.py) and the circuit tracer
(engine/anatomy/circuits.py).
"""

from __future__ import annotations

import keras
import numpy as np

from engine.models.surgery import find_layer

CONV_TYPES = (
    keras.layers.SeparableConv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv2D,
)


def describe(layer: keras.layers.Layer) -> str:
    return f"layer {layer.name!r} ({type(layer).__name__})"


def conv_layer(model: keras.Model, layer_path: tuple[str, ...]) -> keras.layers.Layer:
    """The 2-D convolution at `layer_path`; ValueError naming the layer when it is not one."""
    layer = find_layer(model, tuple(layer_path))
    if isinstance(layer, CONV_TYPES):
        if not layer.built:
            raise ValueError(f"{describe(layer)} is not built, so it has no weights yet")
        return layer
    if not layer.weights:
        raise ValueError(f"{describe(layer)} has no weights to show")
    raise ValueError(f"{describe(layer)} is not a 2-D convolution; it has no kernels to show")


def filter_bank(layer: keras.layers.Layer) -> tuple[np.ndarray, np.ndarray | None]:
    """(bank, bias): bank is (kh, kw, in, filters), bias (filters,) or None.

    - Conv2D: the kernel as stored; with `groups` > 1 `in` is the channels of one group.
    - DepthwiseConv2D: stored (kh, kw, channels, multiplier); output channel c * multiplier + m
      reads only input channel c, so the bank is (kh, kw, 1, channels * multiplier).
    - SeparableConv2D: a depthwise kernel D (kh, kw, channels, multiplier) then a pointwise
      kernel P (1, 1, channels * multiplier, filters), with nothing non-linear in between. Both
      steps are linear, so output o at a position is
          sum_c sum_m sum_{i,j} x[i, j, c] * D[i, j, c, m] * P[c * multiplier + m, o],
      i.e. one ordinary convolution with the effective kernel
          K[i, j, c, o] = sum_m D[i, j, c, m] * P[c * multiplier + m, o].
    - Conv2DTranspose: stored (kh, kw, filters, in); transposed to (kh, kw, in, filters). (The
      transposed convolution scatters rather than correlates, so the picture is the stamp each
      input pixel leaves on the output.)
    """
    if isinstance(layer, keras.layers.SeparableConv2D):
        depthwise = np.asarray(layer.depthwise_kernel.numpy(), dtype=np.float64)
        pointwise = np.asarray(layer.pointwise_kernel.numpy(), dtype=np.float64)
        kh, kw, channels, multiplier = depthwise.shape
        pointwise = pointwise.reshape(channels, multiplier, -1)
        bank = np.einsum("ijcm,cmo->ijco", depthwise, pointwise)
    elif isinstance(layer, keras.layers.DepthwiseConv2D):
        depthwise = np.asarray(layer.kernel.numpy(), dtype=np.float64)
        kh, kw, channels, multiplier = depthwise.shape
        bank = depthwise.reshape(kh, kw, 1, channels * multiplier)
    elif isinstance(layer, keras.layers.Conv2DTranspose):
        bank = np.transpose(np.asarray(layer.kernel.numpy(), dtype=np.float64), (0, 1, 3, 2))
    elif isinstance(layer, keras.layers.Conv2D):
        bank = np.asarray(layer.kernel.numpy(), dtype=np.float64)
    else:
        raise ValueError(f"{describe(layer)} is not a 2-D convolution")
    bias_var = getattr(layer, "bias", None)
    bias = None if bias_var is None else np.asarray(bias_var.numpy(), dtype=np.float64)
    return bank, bias
