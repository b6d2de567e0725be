"""A model run one layer at a time gives every layer's output exactly as a model cut there does."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from engine.models.introspect import describe_model
from engine.models.meta import ModelMeta
from engine.models.stepwise import functional_graph, layer_outputs
from engine.models.surgery import truncate
from engine.protocol import LayerKind


def _residual_base() -> keras.Model:
    """MobileNet-like: separable convs with batch norm and a residual 1×1 conv, PReLU."""
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", name="stem")(inputs)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.PReLU(name="stem_prelu")(x)
    y = keras.layers.SeparableConv2D(8, 3, padding="same", name="sep")(x)
    y = keras.layers.BatchNormalization(name="sep_bn")(y)
    shortcut = keras.layers.Conv2D(8, 1, name="shortcut")(x)
    x = keras.layers.Add(name="add")([y, shortcut])
    x = keras.layers.ReLU(name="out_relu")(x)
    return keras.Model(inputs, x, name="base")


def _transfer_model() -> keras.Model:
    """The base nested inside a Sequential with a new sigmoid head, as transfer learning does."""
    keras.utils.set_random_seed(4)
    return keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            _residual_base(),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dropout(0.3, name="drop"),
            keras.layers.Dense(5, activation="sigmoid", name="labels"),
        ],
        name="transfer",
    )


@pytest.mark.parametrize("build", [_transfer_model, "nested"], ids=["transfer", "nested"])
def test_every_layer_matches_the_model_cut_at_it(build, nested_model):
    model = nested_model if build == "nested" else build()
    summary = describe_model(model, ModelMeta(), "test")
    wanted = [info.path for info in summary.walk() if info.kind is not LayerKind.NONE]
    batch = np.random.default_rng(0).random((1, *model.inputs[0].shape[1:]), np.float32)
    walked = dict(layer_outputs(model, batch, wanted))
    assert sorted(walked) == sorted(wanted)
    for path in wanted:
        expected = truncate(model, path)(batch, training=False).numpy()
        np.testing.assert_allclose(walked[path], expected, rtol=1e-5, atol=1e-5)


def test_the_walk_yields_layer_by_layer_before_the_end(nested_model):
    batch = np.zeros((1, 16, 16, 1), np.float32)
    walk = layer_outputs(nested_model, batch, [("stem",), ("block", "inner_conv2"), ("head",)])
    first_path, _ = next(walk)
    assert first_path == ("stem",) and str(first_path) == "stem"
    assert [str(path) for path, _ in walk] == ["block/inner_conv2", "head"]


def test_a_subclassed_model_has_no_graph_to_walk():
    class Plain(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    assert functional_graph(Plain()) is None
