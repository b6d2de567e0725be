"""Kernels: a filter's weights, statistics and pictures, for every 2-D conv type."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from engine.anatomy.filter_bank import filter_bank
from engine.anatomy.kernels import kernels, layer_grid


def _model(*layers, shape=(8, 8, 3), name="m") -> keras.Model:
    keras.utils.set_random_seed(3)
    inputs = keras.Input(shape)
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, x, name=name)


def test_conv2d_kernel_and_bias_are_the_layers_weights():
    model = _model(
        keras.layers.Conv2D(4, 3, name="c1"),
        keras.layers.Conv2D(5, (3, 2), bias_initializer="random_normal", name="c2"),
    )
    weights, bias = model.get_layer("c2").get_weights()
    result = kernels(model, ("c2",), 3, request_id=7)
    assert result.request_id == 7 and result.layer == ("c2",) and result.unit == 3
    assert result.kernel.shape == (3, 2, 4)
    np.testing.assert_allclose(result.kernel, weights[..., 3], rtol=1e-6)
    assert result.bias == pytest.approx(float(bias[3]))
    assert result.per_filter_stats.shape == (5, 5)
    counts, edges = result.histogram
    assert counts.shape == (40,) and edges.shape == (41,) and counts.sum() == weights.size
    assert result.rgb is None  # c2 reads c1, not the image
    grid = layer_grid(model, ("c2",), 2)
    assert grid.shape == (5, 3, 2)
    np.testing.assert_allclose(grid, np.transpose(weights[:, :, 2, :], (2, 0, 1)), rtol=1e-6)


def test_depthwise_kernel_is_one_input_channel():
    model = _model(keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw"))
    weights = model.get_layer("dw").get_weights()[0]  # (3, 3, 3 channels, 2)
    for unit in range(6):
        result = kernels(model, ("dw",), unit, 1)
        assert result.kernel.shape == (3, 3, 1)
        np.testing.assert_allclose(result.kernel[..., 0], weights[:, :, unit // 2, unit % 2])
    assert layer_grid(model, ("dw",), 0).shape == (6, 3, 3)
    with pytest.raises(ValueError, match="input channel 1"):
        layer_grid(model, ("dw",), 1)


def test_separable_kernel_combines_depthwise_and_pointwise():
    model = _model(keras.layers.SeparableConv2D(4, 3, depth_multiplier=2, name="sep"))
    depthwise, pointwise, _ = model.get_layer("sep").get_weights()
    result = kernels(model, ("sep",), 1, 1)
    assert result.kernel.shape == (3, 3, 3)
    for channel in range(3):
        expected = sum(
            depthwise[:, :, channel, m] * pointwise[0, 0, channel * 2 + m, 1] for m in range(2)
        )
        np.testing.assert_allclose(result.kernel[..., channel], expected, rtol=1e-5, atol=1e-7)
    # The effective kernel really is the layer: one plain conv with it gives the same output.
    x = np.random.default_rng(0).normal(size=(1, 8, 8, 3)).astype("float32")
    bank, bias = filter_bank(model.get_layer("sep"))
    plain = keras.layers.Conv2D(4, 3)
    plain.build((None, 8, 8, 3))
    plain.set_weights([bank.astype("float32"), bias.astype("float32")])
    np.testing.assert_allclose(plain(x).numpy(), model(x).numpy(), rtol=1e-4, atol=1e-5)


def test_conv2d_transpose_kernel():
    model = _model(keras.layers.Conv2DTranspose(4, 3, name="up"))
    weights = model.get_layer("up").get_weights()[0]  # (3, 3, 4 out, 3 in)
    result = kernels(model, ("up",), 2, 1)
    np.testing.assert_allclose(result.kernel, weights[:, :, 2, :])


def test_stats_of_a_known_kernel():
    model = _model(keras.layers.Conv2D(2, 2, use_bias=False, name="c"), shape=(4, 4, 1))
    weights = np.zeros((2, 2, 1, 2), "float32")
    weights[..., 0, 0] = [[1.0, -1.0], [0.5, 0.0]]
    weights[..., 0, 1] = [[4.0, 0.01], [-2.0, 0.03]]
    model.get_layer("c").set_weights([weights])
    result = kernels(model, ("c",), 0, 1)
    assert result.bias is None
    assert result.stats == pytest.approx(
        {"min": -1.0, "max": 1.0, "mean": 0.125, "std": np.std([1, -1, 0.5, 0]), "near_zero": 0.25}
    )
    # near zero is below 1 % of the layer's max |w| (4): 0.0, 0.01, 0.03 of the 8 weights.
    assert result.layer_stats["near_zero"] == pytest.approx(3 / 8)
    assert result.layer_stats["max"] == pytest.approx(4.0)
    assert result.layer_stats["min"] == pytest.approx(-2.0)
    np.testing.assert_allclose(
        result.per_filter_stats[1], [-2.0, 4.0, 0.51, np.std([4, 0.01, -2, 0.03]), 0.5], rtol=1e-6
    )
    assert result.rgb is None  # one input channel


def test_rgb_for_a_first_layer_on_colour_images():
    model = _model(
        keras.layers.Rescaling(1 / 255, name="scale"),
        keras.layers.Conv2D(4, 3, name="first"),
        keras.layers.Conv2D(3, 3, name="second"),
        keras.layers.Conv2D(2, 3, name="third"),
    )
    result = kernels(model, ("first",), 1, 1)
    assert result.rgb is not None and result.rgb.shape == (3, 3, 3)
    assert result.rgb.min() >= 0.0 and result.rgb.max() <= 1.0
    weights = model.get_layer("first").get_weights()[0]
    scale = np.abs(weights).max()
    np.testing.assert_allclose(result.rgb, 0.5 + 0.5 * weights[..., 1] / scale, rtol=1e-5)
    # 'third' reads 3 channels too, but they are 'second's features, not colours.
    assert kernels(model, ("third",), 0, 1).rgb is None


def test_layers_without_kernels_raise_with_their_name():
    model = _model(
        keras.layers.Conv2D(4, 3, name="conv"),
        keras.layers.MaxPooling2D(name="pool1"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dense(3, name="dense"),
    )
    with pytest.raises(ValueError, match=r"layer 'pool1' \(MaxPooling2D\) has no weights to show"):
        kernels(model, ("pool1",), 0, 1)
    with pytest.raises(ValueError, match=r"'dense' \(Dense\) is not a 2-D convolution"):
        kernels(model, ("dense",), 0, 1)
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        kernels(model, ("nope",), 0, 1)
    with pytest.raises(ValueError, match="unit 4 is out of range"):
        kernels(model, ("conv",), 4, 1)


def test_kernels_inside_a_nested_model(nested_model):
    result = kernels(nested_model, ("block", "inner_conv2"), 5, 1)
    weights = nested_model.get_layer("block").get_layer("inner_conv2").get_weights()[0]
    np.testing.assert_allclose(result.kernel, weights[..., 5])
    assert result.layer == ("block", "inner_conv2")


def test_built_in_model():
    from engine.models.loading import load_model

    model, _, _ = load_model(None)
    result = kernels(model, ("conv1",), 0, 1)
    assert result.kernel.shape == (3, 3, 1) and result.rgb is None  # grey input
    assert layer_grid(model, ("conv2",), 23).shape == (48, 3, 3)
