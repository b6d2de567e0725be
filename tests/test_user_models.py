"""Models no one here trained, as users bring them: a transfer-learning model (a keras.applications
base nested inside the user's own model) and a model with a Lambda layer opened as trusted. On
each, through the engine session: the tree, feature maps, Grad-CAM and a few ascent steps."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from session_messages import results_of

from engine.protocol import (
    Ascend,
    Explain,
    Explanation,
    FeatureMaps,
    Frame,
    LoadModel,
    ModelLoaded,
    OpenImage,
    Recipe,
    RunFinished,
)
from engine.session import EngineSession

QUICK = Recipe(steps=6, frame_every=2)


def _save(model: keras.Model, path) -> str:
    model.save(path)
    return str(path)


def _transfer_model() -> keras.Model:
    """MobileNetV2 (untrained here; ImageNet weights in real life) under a new 5-class head."""
    keras.utils.set_random_seed(5)
    base = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(64, 64, 3), alpha=0.35
    )
    base.trainable = False  # as in the Keras transfer-learning guide
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1, name="to_minus_one_one")(inputs)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dropout(0.2, name="dropout")(x)
    outputs = keras.layers.Dense(5, activation="softmax", name="flowers")(x)
    return keras.Model(inputs, outputs, name="flowers_transfer")


def _lambda_model() -> keras.Model:
    keras.utils.set_random_seed(6)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Lambda(lambda t: t * 2.0 - 1.0, name="scale")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_1")(x)
    x = keras.layers.MaxPooling2D(name="pool_1")(x)
    x = keras.layers.Conv2D(12, 3, padding="same", activation="relu", name="conv_2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name="with_lambda")


class Session:
    def __init__(self, path: str, **load) -> None:
        self.out: list[object] = []
        self.session = EngineSession(self.out.append)
        (self.loaded,) = [
            m for m in self.run(LoadModel(path, **load)) if isinstance(m, ModelLoaded)
        ]
        self.run(OpenImage(sample="photo:chelsea"))

    def run(self, request) -> list[object]:
        self.out.clear()
        self.session.handle(request, lambda: False)
        return results_of(self.out)


@pytest.fixture(scope="module")
def transfer(tmp_path_factory) -> Session:
    folder = tmp_path_factory.mktemp("user")
    return Session(_save(_transfer_model(), folder / "flowers.keras"))


@pytest.fixture(scope="module")
def with_lambda(tmp_path_factory) -> Session:
    folder = tmp_path_factory.mktemp("user")
    return Session(_save(_lambda_model(), folder / "lambda.keras"), trusted=True)


INNER = ("mobilenetv2_0.35_64", "block_6_project")


def _check_tools(session: Session, layer: tuple[str, ...]) -> None:
    summary = session.loaded.summary
    info = summary.find(layer)
    assert info is not None and info.visualizable, f"{layer} not in the tree"
    (maps,) = [m for m in session.run(OpenImage(sample="photo:chelsea", layer=layer))
               if isinstance(m, FeatureMaps)]  # fmt: skip
    assert maps.maps.shape[-1] == info.size and np.isfinite(maps.maps).all()
    (cam,) = [m for m in session.run(Explain("gradcam", layer=layer)) if isinstance(m, Explanation)]
    height, width, _ = summary.input_shape
    assert cam.heatmap.shape == (height, width) and np.isfinite(cam.heatmap).all()
    unit = int(maps.maps.mean(axis=(0, 1)).argmax())  # a channel that fires for photos
    messages = session.run(Ascend(layer, unit, QUICK))
    objectives = [v for m in messages if isinstance(m, Frame) for v in m.objectives]
    assert isinstance(messages[-1], RunFinished) and len(objectives) == QUICK.steps
    assert objectives[-1] > objectives[0]


def test_a_transfer_learning_model_shows_its_nested_base(transfer):
    names = [layer.name for layer in transfer.loaded.summary.layers]
    assert names[names.index("to_minus_one_one") + 1] == INNER[0]  # the base, under its name
    base = transfer.loaded.summary.find(INNER[:1])
    assert len([child for child in base.children if child.type_name == "Conv2D"]) > 10


def test_every_tool_works_on_a_conv_layer_inside_the_base(transfer):
    _check_tools(transfer, INNER)


def test_a_trusted_lambda_model_works_with_every_tool(with_lambda):
    names = [layer.name for layer in with_lambda.loaded.summary.layers]
    assert "scale" in names
    _check_tools(with_lambda, ("conv_2",))
