"""Deconvnet: the projection goes back through the forward pass's pooling switches."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from engine.attribution import Cancelled, Target, explain
from engine.models.surgery import truncate


def _delta_kernel(channels_in: int = 1, channels_out: int = 1) -> np.ndarray:
    """A 3×3 kernel that copies its input: the projection is then the switches themselves."""
    kernel = np.zeros((3, 3, channels_in, channels_out), np.float32)
    for c in range(min(channels_in, channels_out)):
        kernel[1, 1, c, c] = 1.0
    return kernel


def _conv_pool_conv(size: int, channels: tuple[int, int], kernels=None, name="cpc"):
    """conv c1 → 2×2 max-pool p1 → conv c2, all without bias."""
    inputs = keras.Input((size, size, 1))
    x = keras.layers.Conv2D(channels[0], 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.MaxPooling2D(name="p1")(x)
    x = keras.layers.Conv2D(channels[1], 3, padding="same", activation="relu", name="c2")(x)
    model = keras.Model(inputs, x, name=name)
    if kernels is not None:
        model.get_layer("c1").set_weights([kernels[0], np.zeros(channels[0], np.float32)])
        model.get_layer("c2").set_weights([kernels[1], np.zeros(channels[1], np.float32)])
    return model


@pytest.fixture(scope="module")
def copy_model():
    return _conv_pool_conv(8, (1, 1), (_delta_kernel(), _delta_kernel()), name="copy")


def _window_argmax(values: np.ndarray) -> np.ndarray:
    """Boolean (H, W): the maximum of every 2×2 window of a (H, W) array."""
    h, w = values.shape
    windows = values.reshape(h // 2, 2, w // 2, 2).transpose(0, 2, 1, 3).reshape(h // 2, w // 2, 4)
    picks = windows.argmax(axis=-1)
    mask = np.zeros_like(values, dtype=bool)
    for i in range(h // 2):
        for j in range(w // 2):
            mask[2 * i + picks[i, j] // 2, 2 * j + picks[i, j] % 2] = True
    return mask


def test_whole_channel_projects_onto_the_switch_of_every_pool_window(copy_model):
    image = np.random.default_rng(0).uniform(0.1, 1.0, (8, 8, 1)).astype(np.float32)
    result = explain(copy_model, image, "deconvnet", Target(unit_layer=("c2",), unit=0))
    # Copying kernels: the projection is exactly the pooled maxima put back where they came from.
    np.testing.assert_array_equal(result.heatmap > 0, _window_argmax(image[..., 0]))
    assert result.layer == ("c2",)
    assert not result.signed
    assert result.heatmap.shape == (8, 8)


def test_projection_follows_the_switch_though_the_pooled_features_are_identical(copy_model):
    projections, features = [], []
    for bright in ((2, 3), (3, 2)):  # two corners of the same 2×2 window
        image = np.full((8, 8, 1), 0.5, np.float32)
        image[bright] = 0.9
        result = explain(
            copy_model, image, "deconvnet", Target(unit_layer=("c2",), unit=0), options={"top": 1}
        )
        assert result.details["position"] == (1, 1)
        assert np.unravel_index(np.argmax(result.heatmap), (8, 8)) == bright
        assert np.count_nonzero(result.heatmap) == 1
        projections.append(result.heatmap)
        features.append(np.asarray(truncate(copy_model, ("c2",))(image[None])))
    np.testing.assert_array_equal(features[0], features[1])  # only the switches tell them apart
    assert not np.array_equal(projections[0], projections[1])


def test_projection_stays_in_the_receptive_fields_of_the_switches():
    rng = np.random.default_rng(3)
    # Positive first-layer kernels on a positive image: no ties, so the switches are unambiguous.
    kernels = (
        rng.uniform(0.1, 1.0, (3, 3, 1, 2)).astype(np.float32),
        rng.normal(size=(3, 3, 2, 3)).astype(np.float32),
    )
    model = _conv_pool_conv(12, (2, 3), kernels, name="random")
    image = rng.uniform(0.1, 1.0, (12, 12, 1)).astype(np.float32)
    unit = int(np.argmax(np.asarray(truncate(model, ("c2",))(image[None])).mean(axis=(0, 1, 2))))
    result = explain(
        model, image, "deconvnet", Target(unit_layer=("c2",), unit=unit), options={"top": 1}
    )
    top_y, top_x = result.details["position"]

    first = np.asarray(truncate(model, ("c1",))(image[None]))[0]
    allowed = np.zeros((12, 12), bool)
    for channel in range(2):
        switches = _window_argmax(first[..., channel])
        near_top = np.zeros((6, 6), bool)  # the pooled cells c2's 3×3 kernel reads at the top
        near_top[max(0, top_y - 1) : top_y + 2, max(0, top_x - 1) : top_x + 2] = True
        for y, x in zip(*np.nonzero(switches & np.kron(near_top, np.ones((2, 2), bool))), strict=1):
            allowed[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2] = True  # c1's 3×3 footprint
    assert np.count_nonzero(result.heatmap) > 0
    assert np.all(result.heatmap[~allowed] == 0)
    assert allowed.mean() < 0.6  # the check is not vacuous


def test_layer_types_off_the_supported_chain_raise_naming_them():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="c2")(x)
    model = keras.Model(inputs, x)
    image = np.ones((8, 8, 1), np.float32)
    with pytest.raises(ValueError, match="BatchNormalization 'bn'"):
        explain(model, image, "deconvnet", Target(unit_layer=("c2",), unit=0))
    # The layers before it are fine.
    explain(model, image, "deconvnet", Target(unit_layer=("c1",), unit=0))

    inputs = keras.Input((8, 8, 1))
    a = keras.layers.Conv2D(2, 3, padding="same", name="a")(inputs)
    b = keras.layers.Conv2D(2, 3, padding="same", name="b")(inputs)
    x = keras.layers.Add(name="merge")([a, b])
    x = keras.layers.Conv2D(2, 3, padding="same", name="after")(x)
    branching = keras.Model(inputs, x)
    with pytest.raises(ValueError, match="Add 'merge'"):
        explain(branching, image, "deconvnet", Target(unit_layer=("after",), unit=0))


def test_side_branches_of_supported_layers_are_not_mistaken_for_a_chain():
    inputs = keras.Input((8, 8, 1))
    a = keras.layers.Conv2D(1, 3, padding="same", activation="relu", name="a")(inputs)
    b = keras.layers.Conv2D(1, 3, padding="same", activation="relu", name="b")(inputs)
    towers = keras.Model(inputs, keras.layers.Concatenate(name="join")([a, b]))
    image = np.random.default_rng(2).uniform(0, 1, (8, 8, 1)).astype(np.float32)
    # "b" reads the input, not "a": replaying the layer list would feed it the wrong tensor.
    with pytest.raises(ValueError, match="plain chain"):
        explain(towers, image, "deconvnet", Target(unit_layer=("b",), unit=0))
    assert explain(towers, image, "deconvnet", Target(unit_layer=("a",), unit=0)).layer == ("a",)


def test_dense_targets_and_bad_units_raise(tiny_conv_model):
    image = np.ones((16, 16, 3), np.float32)
    with pytest.raises(ValueError, match="4-D"):
        explain(tiny_conv_model, image, "deconvnet", Target(unit_layer=("probs",), unit=0))
    with pytest.raises(ValueError, match="out of range"):
        explain(tiny_conv_model, image, "deconvnet", Target(unit_layer=("conv_b",), unit=8))


def test_nested_sequential_base_is_walked_and_class_targets_work(nested_model):
    image = np.random.default_rng(1).uniform(0, 1, (16, 16, 1)).astype(np.float32)
    unit = explain(
        nested_model, image, "deconvnet", Target(unit_layer=("block", "inner_conv2"), unit=0)
    )
    assert unit.heatmap.shape == (16, 16) and unit.heatmap.max() > 0
    for_class = explain(nested_model, image, "deconvnet", Target(class_index=1))
    assert for_class.layer == ("block", "inner_conv2")
    assert for_class.details["rgb"].shape == (16, 16, 3)
    assert 0.0 <= for_class.details["rgb"].min() <= for_class.details["rgb"].max() <= 1.0


def test_cancelled_before_the_work():
    model = _conv_pool_conv(8, (1, 1), name="cancel")
    with pytest.raises(Cancelled):
        explain(
            model, np.ones((8, 8, 1), np.float32), "deconvnet",
            Target(unit_layer=("c2",), unit=0), should_stop=lambda: True,
        )  # fmt: skip


def test_built_in_model_projects_conv3_onto_the_digit_strokes():
    from engine.images.convert import convert_image
    from engine.images.samples import load_sample
    from engine.models.loading import load_model

    model, meta, _ = load_model(None)
    image = convert_image(load_sample("digit:3"), (28, 28, 1), meta.input_range).pixels
    means = np.asarray(truncate(model, ("conv3",))(image[None]))[0].mean(axis=(0, 1))
    unit = int(np.argmax(means))  # a channel that fires on this digit
    strokes, background = image[..., 0] > 0.5, image[..., 0] < 0.1
    for target in (Target(unit_layer=("conv3",), unit=unit), Target(class_index=3)):
        result = explain(model, image, "deconvnet", target)
        assert result.layer == ("conv3",)
        assert result.heatmap[strokes].mean() > 3 * result.heatmap[background].mean()
