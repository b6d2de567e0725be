"""A conv filter's weights as pictures and numbers: kernels, statistics, histograms.

Every 2-D convolution is reduced to one *filter bank* of shape (kh, kw, in, filters): the
weights that multiply each input channel to make each output channel. Plain and grouped
`Conv2D` store exactly that; the other kinds are rearranged (or combined) into it below, so the
statistics and pictures treat every conv type alike.
"""

from __future__ import annotations

import keras
import numpy as np

from engine.messages import Kernels
from engine.surgery import find_layer

HISTOGRAM_BINS = 40
NEAR_ZERO = 0.01  # a weight counts as near zero below 1 % of the layer's largest |w|

_CONV_TYPES = (
    keras.layers.SeparableConv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv2D,
)


def _describe(layer: keras.layers.Layer) -> str:
    return f"layer {layer.name!r} ({type(layer).__name__})"


def conv_layer(model: keras.Model, layer_path: tuple[str, ...]) -> keras.layers.Layer:
    """The 2-D convolution at `layer_path`; ValueError naming the layer when it is not one."""
    layer = find_layer(model, tuple(layer_path))
    if isinstance(layer, _CONV_TYPES):
        if not layer.built:
            raise ValueError(f"{_describe(layer)} is not built, so it has no weights yet")
        return layer
    if not layer.weights:
        raise ValueError(f"{_describe(layer)} has no weights to show")
    raise ValueError(f"{_describe(layer)} is not a 2-D convolution; it has no kernels to show")


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
        raise ValueError(f"{_describe(layer)} is not a 2-D convolution")
    bias_var = getattr(layer, "bias", None)
    bias = None if bias_var is None else np.asarray(bias_var.numpy(), dtype=np.float64)
    return bank, bias


def _check_unit(layer: keras.layers.Layer, unit: int, filters: int) -> int:
    if not 0 <= int(unit) < filters:
        raise ValueError(
            f"unit {unit} is out of range for {_describe(layer)} with {filters} filters"
        )
    return int(unit)


def weight_stats(values: np.ndarray, scale: float) -> dict:
    """min, max, mean, std and the fraction with |w| < 1 % of `scale` (the layer's max |w|)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        return {"min": 0.0, "max": 0.0, "mean": 0.0, "std": 0.0, "near_zero": 0.0}
    return {
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "near_zero": float(np.mean(np.abs(values) < NEAR_ZERO * scale)),
    }


_STAT_KEYS = ("min", "max", "mean", "std", "near_zero")


def layer_grid(
    model: keras.Model, layer_path: tuple[str, ...], input_channel: int = 0
) -> np.ndarray:
    """Every filter's kernel for one input channel: (filters, kh, kw).

    Depthwise layers have one input channel per filter, so `input_channel` must be 0 there.
    """
    layer = conv_layer(model, layer_path)
    bank, _ = filter_bank(layer)
    inputs = bank.shape[2]
    if not 0 <= int(input_channel) < inputs:
        raise ValueError(
            f"input channel {input_channel} is out of range for {_describe(layer)}, "
            f"whose filters read {inputs} channel(s)"
        )
    return np.transpose(bank[:, :, int(input_channel), :], (2, 0, 1)).astype(np.float32)


def _reads_image_directly(model: keras.Model, layer_path: tuple[str, ...]) -> bool:
    from engine.circuits import feeds_from_image  # circuits imports this module

    try:
        return feeds_from_image(model, layer_path)
    except ValueError:
        return False


def kernels(
    model: keras.Model,
    layer_path: tuple[str, ...],
    unit: int,
    request_id: int,
    input_channel: int = 0,
) -> Kernels:
    """Filter `unit` of the conv layer at `layer_path`: its kernel, bias and statistics.

    `input_channel` is checked against the filters' inputs; the per-channel grid itself comes
    from `layer_grid`. For a first layer on an RGB image `rgb` shows the kernel as one colour
    picture: 0.5 + 0.5 * w / max|w| with the layer's largest |w|, so grey is zero and filters of
    one layer are comparable.
    """
    layer_path = tuple(layer_path)
    layer = conv_layer(model, layer_path)
    bank, bias = filter_bank(layer)
    filters = bank.shape[-1]
    unit = _check_unit(layer, unit, filters)
    if not 0 <= int(input_channel) < bank.shape[2]:
        raise ValueError(
            f"input channel {input_channel} is out of range for {_describe(layer)}, "
            f"whose filters read {bank.shape[2]} channel(s)"
        )
    kernel = bank[..., unit]
    scale = float(np.max(np.abs(bank))) if bank.size else 0.0
    per_filter = np.array(
        [[weight_stats(bank[..., f], scale)[key] for key in _STAT_KEYS] for f in range(filters)],
        dtype=np.float64,
    ).reshape(filters, len(_STAT_KEYS))
    counts, edges = np.histogram(bank.ravel(), bins=HISTOGRAM_BINS)
    rgb = None
    if bank.shape[2] == 3 and _reads_image_directly(model, layer_path):
        rgb = (
            np.clip(0.5 + 0.5 * kernel / scale, 0.0, 1.0)
            if scale > 0
            else np.full_like(kernel, 0.5)
        )
        rgb = rgb.astype(np.float32)
    return Kernels(
        request_id=request_id,
        layer=layer_path,
        unit=unit,
        kernel=kernel.astype(np.float32),
        bias=None if bias is None else float(bias[unit]),
        stats=weight_stats(kernel, scale),
        layer_stats=weight_stats(bank, scale),
        histogram=(counts, edges),
        per_filter_stats=per_filter,
        rgb=rgb,
    )
