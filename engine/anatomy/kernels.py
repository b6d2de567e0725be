"""A conv filter's weights as pictures and numbers: kernels, statistics, histograms.

Every 2-D convolution is reduced to one *filter bank* of shape (kh, kw, in, filters): the
weights that multiply each input channel to make each output channel. Plain and grouped
`Conv2D` store exactly that; the other kinds are rearranged (or combined) into it below, so the
statistics and pictures treat every conv type alike.
"""

from __future__ import annotations

import keras
import numpy as np

from engine.anatomy.circuits import feeds_from_image
from engine.anatomy.filter_bank import conv_layer, describe, filter_bank
from engine.protocol import Kernels

HISTOGRAM_BINS = 40
NEAR_ZERO = 0.01  # a weight counts as near zero below 1 % of the layer's largest |w|


def _check_unit(layer: keras.layers.Layer, unit: int, filters: int) -> int:
    if not 0 <= int(unit) < filters:
        raise ValueError(
            f"unit {unit} is out of range for {describe(layer)} with {filters} filters"
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
            f"input channel {input_channel} is out of range for {describe(layer)}, "
            f"whose filters read {inputs} channel(s)"
        )
    return np.transpose(bank[:, :, int(input_channel), :], (2, 0, 1)).astype(np.float32)


def _reads_image_directly(model: keras.Model, layer_path: tuple[str, ...]) -> bool:
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
            f"input channel {input_channel} is out of range for {describe(layer)}, "
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
