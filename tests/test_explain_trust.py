"""Explanations that say what they are: empty maps named with their reason, fully convolutional
outputs explained per channel, the score named, and LIME's and occlusion's settings used."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from PIL import Image

from engine.attribution import METHODS, Target, explain
from engine.attribution.verdict import map_verdict
from engine.cli.explain import main
from engine.jobs.explain import run_explain
from engine.models.introspect import describe_model
from engine.models.meta import ModelMeta
from engine.models.predictions import MAP_NOTE, class_scores, top_predictions
from engine.protocol import Explain, Explanation

FAST = {"n": 4, "steps": 8, "samples": 24, "low": 0.0, "high": 1.0}


@pytest.fixture(scope="module")
def pnet() -> keras.Model:
    """A P-Net-like face detector head: convs, then a 1x1 conv with a softmax over 2 channels;
    the output is a (9, 9, 2) map, with no dense or pooling layer at the end."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((24, 24, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="c2")(x)
    outputs = keras.layers.Conv2D(2, 1, activation="softmax", name="cls")(x)
    return keras.Model(inputs, outputs, name="pnet")


@pytest.fixture(scope="module")
def dead_gradcam() -> keras.Model:
    """Grad-CAM at c2 is all zero: every weight of the final Dense is negative, so every pooled
    gradient of a class logit at c2 (whose activations are >= 0) is negative."""
    keras.utils.set_random_seed(2)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="out")(x))
    kernel, bias = model.get_layer("out").get_weights()
    model.get_layer("out").set_weights([-np.abs(kernel) - 0.1, bias])
    return model


def _image(side: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((side, side, 3), dtype=np.float32)


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_explains_a_fully_convolutional_output(pnet, method):
    result = explain(pnet, _image(24), method, Target(class_index=1), options=FAST)
    assert result.heatmap.shape == (24, 24) and np.isfinite(result.heatmap).all()
    assert result.layer in (None, ("c2",))  # never the score map itself
    assert result.score.endswith("spatial mean of the 9x9 output map")


def test_cam_of_a_fully_convolutional_output_is_its_logit_map(pnet):
    image = _image(24)
    result = explain(pnet, image, "cam", Target(class_index=1))
    features = keras.Model(pnet.inputs[0], pnet.get_layer("c2").output)(image[None]).numpy()[0]
    kernel = pnet.get_layer("cls").get_weights()[0][0, 0, :, 1]
    np.testing.assert_allclose(result.details["signed"], features @ kernel, rtol=1e-4, atol=1e-6)


def test_a_map_outputs_classes_are_its_channels(pnet):
    image = _image(24)
    outputs = pnet(image[None]).numpy()[0]
    np.testing.assert_allclose(class_scores(outputs), outputs.mean(axis=(0, 1)), rtol=1e-5)
    top = top_predictions(outputs, ("background", "face"), scores_are="probabilities")
    assert [p.index for p in top] == list(np.argsort(-outputs.mean(axis=(0, 1))))
    summary = describe_model(pnet, ModelMeta(), "pnet")
    assert len(summary.class_names) == 2 and "channels" in MAP_NOTE


def test_a_chosen_output_position_is_scored_there(pnet):
    image = _image(24)
    mean = explain(pnet, image, "saliency", Target(class_index=1))
    corner = explain(pnet, image, "saliency", Target(class_index=1, position=(0, 0)))
    assert corner.score.endswith("at output position (0, 0)")
    # Position (0, 0) sees only the top-left receptive field: nothing far from it matters.
    assert corner.heatmap[12:, 12:].max() == 0 and mean.heatmap[12:, 12:].max() > 0
    with pytest.raises(ValueError, match=r"\(9, 0\).*9x9"):
        explain(pnet, image, "saliency", Target(class_index=1, position=(9, 0)))


def test_an_all_zero_gradcam_says_why_and_where_to_look(dead_gradcam):
    image = _image(16)
    result = explain(dead_gradcam, image, "gradcam", Target(class_index=0))
    assert result.verdict == "empty" and not result.heatmap.any()
    assert "no positive gradient at layer 'c2'" in result.warning
    assert (result.details["pooled_gradients"] <= 0).all()  # the evidence the reason rests on
    check = result.details["check"]
    assert check["suggested_layer"] == "c1"
    suggested = explain(dead_gradcam, image, "gradcam", Target(class_index=0), layer=("c1",))
    assert suggested.verdict == "ok" and suggested.warning == ""
    assert map_verdict(np.full((4, 4), 2.0)) == "constant"
    assert map_verdict(np.array([[np.nan, 1.0]])) == "non-finite"


def _explained(model: keras.Model, request: Explain) -> Explanation:
    summary = describe_model(model, ModelMeta(), "model")
    image = _image(16)
    job = run_explain(request, model, summary, image, image, lambda _: None, lambda: False)
    with pytest.raises(StopIteration) as stop:
        next(job)
    explanation = stop.value.value.value
    assert isinstance(explanation, Explanation)
    return explanation


def test_the_explanation_carries_the_verdict_and_the_score(dead_gradcam):
    logit = _explained(dead_gradcam, Explain("gradcam", 0))
    assert logit.verdict == "empty" and "no positive gradient" in logit.warning
    assert logit.score == "logit of class 0"
    # The probability also falls when the other class rises: its gradient has positive parts.
    probability = _explained(dead_gradcam, Explain("gradcam", 0, score="probability"))
    assert probability.score == "probability of class 0"
    assert probability.verdict == "ok" and probability.warning == ""


def test_logit_and_probability_are_different_scores(dead_gradcam):
    image = _image(16)
    logit = explain(dead_gradcam, image, "saliency", Target(class_index=1))
    probability = explain(
        dead_gradcam, image, "saliency", Target(class_index=1, score="probability")
    )
    assert logit.score == "logit of class 1" and probability.score == "probability of class 1"
    assert not np.allclose(logit.heatmap, probability.heatmap)
    with pytest.raises(ValueError, match="'odds'"):
        Target(class_index=1, score="odds")


def test_lime_and_occlusion_settings_reach_the_computation():
    keras.utils.set_random_seed(4)
    model = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Conv2D(3, 3, activation="relu"),
         keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax")]
    )  # fmt: skip
    image = _image(32, seed=3)
    few = explain(
        model, image, "lime", Target(class_index=0), options={"samples": 20, "n_segments": 6}
    )
    many = explain(
        model, image, "lime", Target(class_index=0), options={"samples": 20, "n_segments": 40}
    )
    assert few.details["segments_made"] < many.details["segments_made"]
    black = explain(
        model, image, "lime", Target(class_index=0), options={"samples": 20, "fill_mode": 2}
    )
    blur = explain(
        model, image, "lime", Target(class_index=0), options={"samples": 20, "fill_mode": 3}
    )
    assert (black.details["fill"], blur.details["fill"]) == ("black", "blur")
    assert not np.allclose(black.heatmap, blur.heatmap)
    labelled = explain(
        model, image, "lime", Target(class_index=0), options={"samples": 20, "labels": 3}
    )
    assert labelled.details["labels"][0]["class"] == 0
    assert len({entry["class"] for entry in labelled.details["labels"]}) == 3
    occluded = explain(
        model, image, "occlusion", Target(class_index=0), options={"patch": 8, "stride": 8}
    )
    assert (
        occluded.details["patch"],
        occluded.details["stride"],
        occluded.details["occlusions"],
    ) == (8, 8, 16)


def _saved(model: keras.Model, folder, name: str) -> str:
    path = folder / f"{name}.keras"
    model.save(path)
    return str(path)


def _photo(folder, side: int, size: tuple[int, int] = (60, 40)) -> str:
    path = folder / "photo.png"
    pixels = np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return str(path)


def test_cli_validates_a_map_outputs_class_against_its_channels(tmp_path, pnet, capsys):
    model, image = _saved(pnet, tmp_path, "pnet"), _photo(tmp_path, 24)
    out = tmp_path / "out"
    assert main(["--model", model, "--image", image, "--method", "gradcam", "--class", "8990",
                 "--out", str(out)]) == 1  # fmt: skip
    assert "--class 8990: the model has 2 output channels" in capsys.readouterr().err
    assert main(["--model", model, "--image", image, "--method", "occlusion", "--class", "1",
                 "--option", "patch=6", "--option", "stride=3", "--on-original",
                 "--out", str(out)]) == 0  # fmt: skip
    report = json.loads((out / "occlusion.json").read_text())
    assert report["class"] == 1 and report["predicted"] in (0, 1)
    assert report["options"] == {"patch": 6.0, "stride": 3.0}
    assert (report["settings"]["patch"], report["settings"]["stride"]) == (6, 3)
    assert report["score"].startswith("logit of class 1") and report["verdict"] == "ok"
    with Image.open(out / "occlusion_overlay_original.png") as on_photo:
        assert on_photo.size == (60, 40)  # the photo's own geometry, not the model's 24x24
    assert (out / "occlusion_colorbar.png").exists()


def test_cli_json_carries_the_verdict_and_the_warning(tmp_path, dead_gradcam, capsys):
    model, image = _saved(dead_gradcam, tmp_path, "dead"), _photo(tmp_path, 16)
    out = tmp_path / "out"
    assert main(["--model", model, "--image", image, "--method", "gradcam", "--class", "0",
                 "--out", str(out)]) == 0  # fmt: skip
    report = json.loads((out / "gradcam.json").read_text())
    assert report["verdict"] == "empty" and "no positive gradient" in report["warning"]
    assert report["check"]["suggested_layer"] == "c1" and report["score"] == "logit of class 0"
    assert "warning: The Grad-CAM map is empty" in capsys.readouterr().err
    assert main(["--model", model, "--image", image, "--method", "gradcam", "--class", "0",
                 "--score", "probability", "--out", str(out)]) == 0  # fmt: skip
    report = json.loads((out / "gradcam.json").read_text())
    assert report["score"] == "probability of class 0" and report["verdict"] == "ok"


def test_a_map_outputs_predictions_are_per_channel_and_say_so(tmp_path, pnet):
    from session_messages import results_of

    from engine.protocol import ImageOpened, LoadModel, OpenImage
    from engine.session import EngineSession

    emitted: list[object] = []
    session = EngineSession(emitted.append)
    session.handle(LoadModel(_saved(pnet, tmp_path, "pnet")), lambda: False)
    session.handle(OpenImage(sample="photo:chelsea"), lambda: False)
    (opened,) = [m for m in results_of(emitted) if isinstance(m, ImageOpened)]
    means = pnet(session.image.converted.pixels[None]).numpy()[0].mean(axis=(0, 1))
    assert [p.index for p in opened.predictions] == list(np.argsort(-means))
    np.testing.assert_allclose(
        [p.probability for p in opened.predictions], np.sort(means)[::-1], rtol=1e-5
    )
    assert MAP_NOTE in opened.notes


def test_the_session_sends_the_photo_at_its_own_geometry(tmp_path, dead_gradcam):
    from session_messages import results_of

    from engine.protocol import LoadModel, OpenImage
    from engine.session import EngineSession

    emitted: list[object] = []
    session = EngineSession(emitted.append)
    session.handle(LoadModel(_saved(dead_gradcam, tmp_path, "dead")), lambda: False)
    session.handle(OpenImage(sample="photo:chelsea"), lambda: False)
    session.handle(Explain("gradcam", 0), lambda: False)
    (done,) = [m for m in results_of(emitted) if isinstance(m, Explanation)]
    width, height = session.image.picture.size
    assert done.original is not None and done.original.shape == (height, width, 3)
    assert done.image.shape[:2] == (16, 16) and done.verdict == "empty"
