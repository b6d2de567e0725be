"""The Properties pane: a layer's kernel, strides, dilation, parameters and receptive field at
the input, computed along the model's graph, and shown for the layer selected in the tree."""

from __future__ import annotations

import keras
import pytest
from fake_engine import FakeEngine, fake_window

from engine.models.introspect import describe_model
from engine.models.meta import ModelMeta
from engine.models.receptive_field import receptive_fields
from engine.protocol import LayerPath, ReceptiveField

L = keras.layers


def _chain() -> keras.Model:
    """conv3×3 → conv3×3 → pool2 → conv3×3 on a 32×32 image, with a Dense head."""
    inputs = keras.Input((32, 32, 1))
    x = L.Conv2D(4, 3, name="c1", activation="relu")(inputs)
    x = L.Conv2D(4, 3, name="c2", padding="same")(x)
    x = L.MaxPooling2D(2, name="pool")(x)
    x = L.Conv2D(4, 3, name="c3")(x)
    x = L.Flatten(name="flat")(x)
    outputs = L.Dense(3, name="out")(x)
    return keras.Model(inputs, outputs)


def _field(fields, *names: str) -> ReceptiveField | None:
    return fields[LayerPath(names)]


def test_receptive_field_grows_along_a_chain_and_jumps_with_the_pool():
    fields = receptive_fields(_chain())
    sizes = [_field(fields, n).size for n in ("c1", "c2", "pool", "c3")]
    jumps = [_field(fields, n).jump for n in ("c1", "c2", "pool", "c3")]
    assert sizes == [(3, 3), (5, 5), (6, 6), (10, 10)]
    assert jumps == [(1, 1), (1, 1), (2, 2), (2, 2)]
    # After Flatten every unit sees the whole 32×32 input.
    assert _field(fields, "out") == ReceptiveField((32, 32), (0, 0), whole=True)


def test_dilation_strides_and_the_larger_branch():
    inputs = keras.Input((64, 48, 3))
    a = L.Conv2D(2, 3, dilation_rate=2, name="dilated")(inputs)  # 5×5
    a = L.Conv2D(2, (3, 1), strides=(2, 1), padding="same", name="tall")(a)
    b = L.Conv2D(2, 1, name="point")(inputs)
    b = L.ZeroPadding2D(2, name="pad")(b)
    merged = L.Add(name="add")([a, L.Cropping2D(((19, 19), (4, 4)), name="crop")(b)])
    model = keras.Model(inputs, merged)
    fields = receptive_fields(model)
    assert _field(fields, "dilated") == ReceptiveField((5, 5), (1, 1))
    assert _field(fields, "tall") == ReceptiveField((7, 5), (2, 1))
    assert _field(fields, "pad") == ReceptiveField((1, 1), (1, 1))
    assert _field(fields, "add") == ReceptiveField((7, 5), (2, 1))


def test_a_nested_base_continues_from_the_outer_input_and_a_lambda_is_unknown():
    base_in = keras.Input((16, 16, 1))
    y = L.Conv2D(2, 3, name="inner1")(base_in)
    y = L.Conv2D(2, 3, strides=2, name="inner2")(y)
    base = keras.Model(base_in, y, name="base")
    inputs = keras.Input((20, 20, 1))
    x = L.Conv2D(1, 5, name="stem")(inputs)  # 5, then the base: 7, 9 with jump 2
    x = base(x)
    x = L.Lambda(lambda t: t * 2.0, name="double")(x)
    x = L.Conv2D(2, 3, name="after")(x)
    fields = receptive_fields(keras.Model(inputs, x))
    assert _field(fields, "base", "inner1") == ReceptiveField((7, 7), (1, 1))
    assert _field(fields, "base", "inner2") == ReceptiveField((9, 9), (2, 2))
    assert _field(fields, "base") == ReceptiveField((9, 9), (2, 2))
    assert _field(fields, "double") is None
    assert _field(fields, "after") is None  # what follows an unknown stays unknown


def test_properties_of_convs_pools_and_a_layer_without_kernel():
    inputs = keras.Input((12, 12, 4))
    x = L.SeparableConv2D(8, 3, depth_multiplier=2, name="sep")(inputs)
    x = L.Conv2D(8, 3, groups=2, name="grouped")(x)
    x = L.BatchNormalization(name="bn")(x)
    x = L.AveragePooling2D(3, strides=1, name="avg")(x)
    model = keras.Model(inputs, x)
    summary = describe_model(model, ModelMeta(), "test")
    sep, grouped, bn, avg = (summary.find((n,)).properties for n in ("sep", "grouped", "bn", "avg"))
    assert (sep.kernel_size, sep.depth_multiplier, sep.padding) == ((3, 3), 2, "valid")
    assert (grouped.groups, grouped.strides, grouped.dilation) == (2, (1, 1), (1, 1))
    assert bn.kernel_size is None and bn.strides is None
    assert (bn.trainable_params, bn.non_trainable_params) == (16, 16)  # gamma, beta; mean, var
    assert grouped.trainable_params == 3 * 3 * 4 * 8 + 8
    assert (avg.pool_size, avg.strides, avg.kernel_size) == ((3, 3), (1, 1), None)
    assert avg.receptive_field == ReceptiveField((7, 7), (1, 1))


@pytest.fixture
def engine(qtbot):
    return FakeEngine()


def test_pane_shows_the_layer_picked_in_the_tree(qtbot, engine):
    summary = describe_model(_chain(), ModelMeta(), "chain.keras")
    window = fake_window(qtbot, engine, summary=summary, image=False)
    pane = window.ui.layer_properties
    tree = window.ui.layer_tree
    tree.setCurrentItem(tree._find_item(("c3",)))  # as a click on the row does
    qtbot.waitUntil(lambda: pane.value("Layer") == "c3")
    assert pane.value("Kernel size") == "3×3"
    assert pane.value("Strides") == "1×1"
    assert pane.value("Receptive field") == "10×10 px"
    assert pane.value("Jump") == "2×2 px"
    tree.setCurrentItem(tree._find_item(("pool",)))
    qtbot.waitUntil(lambda: pane.value("Layer") == "pool")
    assert (pane.value("Kernel size"), pane.value("Pool size")) == ("—", "2×2")
    assert pane.value("Strides") == "2×2"
    tree.setCurrentItem(tree._find_item(("out",)))
    qtbot.waitUntil(lambda: pane.value("Layer") == "out")
    assert pane.value("Receptive field") == "the whole input"
    assert pane.value("Parameters") == f"{13 * 13 * 4 * 3 + 3:,} trainable, 0 non-trainable"
