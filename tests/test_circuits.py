"""Circuits: a filter's input channels ranked by weight and traced back to the conv making them."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from engine.anatomy.circuits import trace

L = keras.layers


def _set_filter(model, name, unit, slices):
    """Give filter `unit` of conv `name` one (kh, kw) slice per input channel, from `slices`."""
    layer = model.get_layer(name)
    kernel, *rest = layer.get_weights()
    for channel, values in enumerate(slices):
        kernel[:, :, channel, unit] = values
    layer.set_weights([kernel, *rest])


def _sources(circuit):
    return [(link.source_layer, link.channel) for link in circuit.links]


def test_ranked_by_norm_through_pool_batchnorm_relu():
    keras.utils.set_random_seed(4)
    inputs = keras.Input((8, 8, 1))
    x = L.Conv2D(3, 3, padding="same", name="conv_a")(inputs)
    x = L.MaxPooling2D(name="pool")(x)
    x = L.BatchNormalization(name="bn")(x)
    x = L.ReLU(name="relu")(x)
    x = L.Conv2D(2, 2, name="conv_b")(x)
    model = keras.Model(inputs, x)
    ones = np.ones((2, 2))
    _set_filter(model, "conv_b", 1, [-0.5 * ones, 1.5 * ones, [[0, 1], [-1, 0]]])
    circuit = trace(model, ("conv_b",), 1, request_id=9)
    assert circuit.request_id == 9 and circuit.layer == ("conv_b",) and circuit.unit == 1
    assert circuit.note == ""
    assert _sources(circuit) == [(("conv_a",), 1), (("conv_a",), 2), (("conv_a",), 0)]
    norms = [link.weight_norm for link in circuit.links]
    sums = [link.weight_sum for link in circuit.links]
    assert norms == pytest.approx([3.0, np.sqrt(2), 1.0])
    assert sums == pytest.approx([6.0, 0.0, -2.0])  # the last one is inhibitory
    assert all(link.path == ("relu", "bn", "pool") for link in circuit.links)
    np.testing.assert_allclose(circuit.links[2].kernel, -0.5 * ones)


def test_first_conv_traces_to_the_image():
    keras.utils.set_random_seed(5)
    inputs = keras.Input((8, 8, 3))
    x = L.Rescaling(1 / 255, name="scale")(inputs)
    x = L.Conv2D(2, 3, name="conv")(x)
    circuit = trace(keras.Model(inputs, x), ("conv",), 0, 1)
    assert sorted(_sources(circuit)) == [(None, 0), (None, 1), (None, 2)]
    assert all(link.path == ("scale",) for link in circuit.links)


def test_concatenate_maps_channels_with_offsets():
    keras.utils.set_random_seed(6)
    inputs = keras.Input((8, 8, 1))
    a = L.Conv2D(2, 3, padding="same", name="conv_a")(inputs)
    b = L.Conv2D(3, 3, padding="same", name="conv_b")(inputs)
    b = L.Activation("relu", name="act_b")(b)
    x = L.Concatenate(name="cat")([a, b])
    x = L.Conv2D(1, 1, name="conv_c")(x)
    model = keras.Model(inputs, x)
    _set_filter(model, "conv_c", 0, [[[k + 1.0]] for k in range(5)])  # channel k has norm k + 1
    circuit = trace(model, ("conv_c",), 0, 1)
    assert _sources(circuit) == [
        (("conv_b",), 2),
        (("conv_b",), 1),
        (("conv_b",), 0),
        (("conv_a",), 1),
        (("conv_a",), 0),
    ]
    assert circuit.links[0].path == ("cat", "act_b")
    assert circuit.links[-1].path == ("cat",)


def test_add_follows_the_first_conv_branch_and_notes_the_others():
    keras.utils.set_random_seed(7)
    inputs = keras.Input((8, 8, 3))
    a = L.Conv2D(3, 3, padding="same", name="conv_a")(inputs)
    b = L.Conv2D(3, 3, padding="same", name="conv_b")(a)
    x = L.Add(name="sum")([inputs, L.Activation("relu", name="act")(b), a])
    x = L.Conv2D(2, 3, name="conv_c")(x)
    circuit = trace(keras.Model(inputs, x), ("conv_c",), 1, 1)
    assert sorted(_sources(circuit)) == [(("conv_b",), k) for k in range(3)]
    assert all(link.path == ("sum", "act") for link in circuit.links)
    assert "'sum' (Add)" in circuit.note
    assert "the image" in circuit.note and "'conv_a'" in circuit.note


def test_depthwise_reads_one_channel_and_separable_all():
    keras.utils.set_random_seed(8)
    inputs = keras.Input((8, 8, 1))
    x = L.Conv2D(4, 3, padding="same", name="conv_a")(inputs)
    x = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw")(x)
    x = L.SeparableConv2D(3, 3, name="sep")(x)
    model = keras.Model(inputs, x)
    circuit = trace(model, ("dw",), 5, 1)
    assert _sources(circuit) == [(("conv_a",), 2)]
    depthwise = model.get_layer("dw").get_weights()[0]
    np.testing.assert_allclose(circuit.links[0].kernel, depthwise[:, :, 2, 1])
    assert circuit.links[0].weight_norm == pytest.approx(
        float(np.linalg.norm(depthwise[:, :, 2, 1]))
    )

    separable = trace(model, ("sep",), 0, 1)
    assert sorted(_sources(separable)) == [(("dw",), k) for k in range(8)]
    norms = [link.weight_norm for link in separable.links]
    assert norms == sorted(norms, reverse=True)


def test_a_lambda_in_the_way_stops_with_a_note():
    keras.utils.set_random_seed(9)
    inputs = keras.Input((8, 8, 1))
    x = L.Conv2D(2, 3, padding="same", name="conv_a")(inputs)
    x = L.Lambda(lambda t: t * 2.0, name="double")(x)
    x = L.Dropout(0.1, name="drop")(x)
    x = L.Conv2D(2, 3, name="conv_b")(x)
    circuit = trace(keras.Model(inputs, x), ("conv_b",), 0, 1)
    assert sorted(_sources(circuit)) == [(("double",), 0), (("double",), 1)]
    assert all(link.path == ("drop",) for link in circuit.links)
    assert "stopped at 'double' (Lambda)" in circuit.note


def test_non_conv_layers_raise():
    keras.utils.set_random_seed(10)
    inputs = keras.Input((8, 8, 1))
    x = L.Conv2D(2, 3, name="conv")(inputs)
    x = L.Flatten(name="flat")(x)
    x = L.Dense(2, name="dense")(x)
    model = keras.Model(inputs, x)
    for name, kind in (("flat", "Flatten"), ("dense", "Dense")):
        with pytest.raises(ValueError, match=rf"'{name}' \({kind}\) is not a conv layer"):
            trace(model, (name,), 0, 1)
    with pytest.raises(ValueError, match="unit 2 is out of range"):
        trace(model, ("conv",), 2, 1)


def _check_nested(model):
    first = trace(model, ("block", "inner_conv1"), 0, 1)
    assert sorted(_sources(first)) == [(("stem",), k) for k in range(4)]
    assert all(link.path == ("stem_pool",) for link in first.links)
    second = trace(model, ("block", "inner_conv2"), 3, 1)
    assert sorted(_sources(second)) == [(("block", "inner_conv1"), k) for k in range(5)]
    stem = trace(model, ("stem",), 0, 1)
    assert _sources(stem) == [(None, 0)]


def test_nested_base_model(nested_model, saved_models):
    _check_nested(nested_model)
    reloaded = keras.models.load_model(saved_models["nested"], compile=False)
    _check_nested(reloaded)


def test_conv_after_a_nested_model_enters_it():
    keras.utils.set_random_seed(11)
    base = keras.Sequential(
        [keras.Input((8, 8, 1)), L.Conv2D(3, 3, padding="same", name="base_conv")], name="base"
    )
    inputs = keras.Input((8, 8, 1))
    x = L.MaxPooling2D(name="pool")(base(inputs))
    x = L.Conv2D(2, 3, name="head_conv")(x)
    circuit = trace(keras.Model(inputs, x), ("head_conv",), 1, 1)
    assert sorted(_sources(circuit)) == [(("base", "base_conv"), k) for k in range(3)]
    assert all(link.path == ("pool",) for link in circuit.links)


def test_built_in_model_conv3():
    from engine.models.loading import load_model

    model, _, _ = load_model(None)
    circuit = trace(model, ("conv3",), 5, 1)
    assert len(circuit.links) == 48 and circuit.note == ""
    assert {link.channel for link in circuit.links} == set(range(48))
    assert all(link.source_layer == ("conv2",) for link in circuit.links)
    assert all(link.path == ("pool2",) for link in circuit.links)
    norms = [link.weight_norm for link in circuit.links]
    assert norms == sorted(norms, reverse=True)
    kernel = model.get_layer("conv3").get_weights()[0][..., 5]
    best = circuit.links[0]
    assert best.weight_norm == pytest.approx(float(np.linalg.norm(kernel[:, :, best.channel])))
    assert best.weight_sum == pytest.approx(float(kernel[:, :, best.channel].sum()), abs=1e-5)
