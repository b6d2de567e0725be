"""What a model's output means decides what the window says of it: a sigmoid head's scores are
independent, not shares of 100 %; a model without feature maps has no Grad-CAM."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from session_messages import results_of

from engine.models.introspect import output_scores
from engine.protocol import Explain, Explanation, ImageOpened, LoadModel, OpenImage
from engine.session import INDEPENDENT_NOTE, EngineSession


def _saved(model: keras.Model, folder, name: str) -> str:
    path = folder / f"{name}.keras"
    model.save(path)
    return str(path)


def _conv_head(activation: str, classes: int = 7) -> keras.Model:
    keras.utils.set_random_seed(3)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(classes, activation=activation, name="out")(x))


def _session(path: str) -> EngineSession:
    session = EngineSession(lambda _result: None)
    session.handle(LoadModel(path), lambda: False)
    return session


def _opened(session: EngineSession) -> ImageOpened:
    emitted: list[object] = []
    session._emit = emitted.append
    session.handle(OpenImage(sample="photo:chelsea"), lambda: False)
    (opened,) = [m for m in results_of(emitted) if isinstance(m, ImageOpened)]
    return opened


@pytest.mark.parametrize(
    ("activation", "scores"),
    [("sigmoid", "independent"), ("softmax", "probabilities"), (None, "logits")],
)
def test_the_output_activation_says_what_the_scores_are(activation, scores):
    assert output_scores(_conv_head(activation)) == scores


def test_a_sigmoid_heads_scores_are_shown_as_they_are_not_shared(tmp_path):
    model = _conv_head("sigmoid")
    session = _session(_saved(model, tmp_path, "emotions"))
    assert session.summary.scores == "independent"
    opened = _opened(session)
    raw = model(session.image.converted.pixels[None]).numpy()[0]
    top = sorted(raw, reverse=True)[:5]
    np.testing.assert_allclose([p.probability for p in opened.predictions], top, rtol=1e-5)
    assert INDEPENDENT_NOTE in opened.notes
    # Softmaxed, seven similar sigmoids would all read about 14 %: they do not.
    assert not np.allclose([p.probability for p in opened.predictions], 1 / 7, atol=0.02)


def test_a_softmax_heads_predictions_share_100_percent(tmp_path):
    session = _session(_saved(_conv_head("softmax"), tmp_path, "digits"))
    opened = _opened(session)
    assert INDEPENDENT_NOTE not in opened.notes
    assert sum(p.probability for p in opened.predictions) <= 1.0 + 1e-6


def test_a_model_without_feature_maps_has_no_grad_cam_but_saliency_works(tmp_path):
    keras.utils.set_random_seed(4)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(8, activation="relu")(x)
    mlp = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x), name="mlp")
    session = _session(_saved(mlp, tmp_path, "mlp"))
    _opened(session)
    with pytest.raises(ValueError, match="no convolution or other layer with feature maps"):
        session.handle(Explain("gradcam"), lambda: False)
    emitted: list[object] = []
    session._emit = emitted.append
    session.handle(Explain("saliency"), lambda: False)
    (saliency,) = [m for m in results_of(emitted) if isinstance(m, Explanation)]
    assert saliency.heatmap.shape == (16, 16)
