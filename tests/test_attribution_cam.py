"""CAM methods and the shared helpers: formulas by hand, nested base models, real digits."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from engine.attribution import Cancelled, Target, explain
from engine.attribution.common import (
    activations_and_score,
    last_conv_layer,
    resize_map,
    score,
)
from engine.models.surgery import truncate

MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
CAM_METHODS = ("gradcam", "gradcam++", "scorecam", "cam", "guided_gradcam")
OTHER_METHODS = (
    "saliency", "smoothgrad", "gradient_x_input", "integrated_gradients", "guided_backprop",
)  # fmt: skip
FAST = {"n": 4, "steps": 8}


def normalize(values: np.ndarray) -> np.ndarray:
    """Min-max scaled to [0, 1], to compare maps whose scale means nothing."""
    values = np.asarray(values, np.float32)
    low, high = float(values.min()), float(values.max())
    return np.zeros_like(values) if high - low <= 0 else (values - low) / (high - low)


def _conv_layers(prefix: str) -> list[keras.layers.Layer]:
    return [
        keras.layers.Conv2D(4, 3, activation="relu", name=f"{prefix}1"),
        keras.layers.Conv2D(5, 3, padding="same", name=f"{prefix}2"),
        keras.layers.ReLU(name=f"{prefix}_relu"),
    ]


@pytest.fixture(scope="module")
def nested_models() -> dict[str, keras.Model]:
    """Transfer-learning shapes: a conv base inside a Sequential and inside a functional model,
    plus a flat model with the same layers and weights as the first, for reference."""
    keras.utils.set_random_seed(5)
    base = keras.Sequential([keras.Input((12, 12, 3)), *_conv_layers("b")], name="base")
    sequential = keras.Sequential(
        [base, keras.layers.GlobalAveragePooling2D(name="gap"),
         keras.layers.Dense(3, activation="softmax", name="out")], name="seq",
    )  # fmt: skip
    sequential.build((None, 12, 12, 3))
    inputs = keras.Input((12, 12, 3))
    x = inputs
    for layer in _conv_layers("f"):
        x = layer(x)
    functional_base = keras.Model(inputs, x, name="fbase")
    outer = keras.Input((12, 12, 3))
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(functional_base(outer))
    functional = keras.Model(outer, keras.layers.Dense(3, activation="softmax")(pooled))
    flat = keras.Sequential(
        [keras.Input((12, 12, 3)), *_conv_layers("b"), keras.layers.GlobalAveragePooling2D(),
         keras.layers.Dense(3, activation="softmax")], name="flat",
    )  # fmt: skip
    flat.set_weights(sequential.get_weights())
    return {"sequential": sequential, "functional": functional, "flat": flat}


@pytest.fixture(scope="module")
def image12() -> np.ndarray:
    return np.random.default_rng(0).random((12, 12, 3), dtype=np.float32)


def _base_name(model: keras.Model) -> str:
    return "base" if "base" in [layer.name for layer in model.layers] else "fbase"


def test_last_conv_layer_searches_nested_models(nested_models, tiny_conv_model):
    assert last_conv_layer(nested_models["sequential"]) == ("base", "b2")
    assert last_conv_layer(nested_models["functional"]) == ("fbase", "f2")
    assert last_conv_layer(tiny_conv_model) == ("conv_b",)
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="mlp")
    with pytest.raises(ValueError, match="no convolution or other layer with feature maps"):
        last_conv_layer(dense)


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_activations_and_score_reach_inside_a_nested_base(nested_models, image12, kind):
    """The case where `keras.Model(outer.input, [inner.output, outer.output])` is 'disconnected'
    (tf-keras-vis fails there): both tensors come out of one graph, with a gradient between."""
    model = nested_models[kind]
    layer = (_base_name(model), f"{_base_name(model)[0]}1")
    target = Target(class_index=2)
    both = activations_and_score(model, layer, target)

    @tf.function
    def run(images):
        with tf.GradientTape() as tape:
            tape.watch(images)
            activations, scores = both(images)
        return activations, scores, tape.gradient(scores, activations)

    images = tf.constant(image12[None])
    activations, scores, grads = run(images)
    np.testing.assert_allclose(activations, truncate(model, layer)(images), atol=1e-6)
    logits = np.log(model(images).numpy())  # softmax -> logits up to a shared constant
    np.testing.assert_allclose(scores - score(model, Target(class_index=0))(images),
                               logits[:, 2] - logits[:, 0], atol=1e-5)  # fmt: skip
    assert grads is not None and float(tf.reduce_sum(tf.abs(grads))) > 0


def test_gradcam_equals_its_formula(tiny_conv_model):
    """ReLU(Σ_k w_k A_k), w_k = spatial mean of d logit / d A_k, by hand, within 1e-5."""
    image = np.random.default_rng(1).random((16, 16, 3), dtype=np.float32)
    trunk = truncate(tiny_conv_model, ("conv_b",))
    dense = tiny_conv_model.get_layer("probs")

    @tf.function
    def by_hand(images):
        activations = trunk(images)
        with tf.GradientTape() as tape:
            tape.watch(activations)
            logits = tf.reduce_mean(activations, axis=(1, 2)) @ dense.kernel + dense.bias
            chosen = logits[:, 3]
        return activations, tape.gradient(chosen, activations)

    activations, grads = by_hand(tf.constant(image[None]))
    weights = grads.numpy().mean(axis=(1, 2))[0]
    expected = np.maximum((activations.numpy()[0] * weights).sum(axis=-1), 0.0)
    result = explain(tiny_conv_model, image, "gradcam", Target(class_index=3))
    assert result.layer == ("conv_b",) and not result.signed
    np.testing.assert_allclose(result.details["cam"], expected, atol=1e-5)
    assert result.heatmap.shape == (16, 16)
    np.testing.assert_allclose(result.heatmap, resize_map(expected, 16, 16), atol=1e-5)


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "scorecam", "cam"])
def test_nested_model_gives_the_flat_models_map(nested_models, image12, method):
    nested, flat = nested_models["sequential"], nested_models["flat"]
    target = Target(class_index=1)
    inner = explain(nested, image12, method, target, options={"low": 0.0})
    outer = explain(flat, image12, method, target, options={"low": 0.0})
    np.testing.assert_allclose(inner.heatmap, outer.heatmap, atol=1e-5)


def test_cam_equals_gradcam_for_a_gap_model(tiny_conv_model):
    image = np.random.default_rng(2).random((16, 16, 3), dtype=np.float32)
    for class_index in range(4):
        target = Target(class_index=class_index)
        cam = explain(tiny_conv_model, image, "cam", target)
        grad = explain(tiny_conv_model, image, "gradcam", target)
        assert cam.layer == grad.layer == ("conv_b",)
        np.testing.assert_allclose(normalize(cam.heatmap), normalize(grad.heatmap), atol=1e-5)


def test_gradcam_plus_plus_on_a_gap_model_keeps_the_positive_weights(tiny_conv_model):
    """Through GAP the gradient is constant over positions, so the alphas are uniform and
    Grad-CAM++'s weights are ReLU(w_k^c): CAM with the negative channels left out."""
    image = np.random.default_rng(3).random((16, 16, 3), dtype=np.float32)
    activations = truncate(tiny_conv_model, ("conv_b",))(image[None]).numpy()[0]
    column = tiny_conv_model.get_layer("probs").kernel.numpy()[:, 1]
    expected = np.maximum(activations @ np.maximum(column, 0.0), 0.0)
    result = explain(tiny_conv_model, image, "gradcam++", Target(class_index=1))
    np.testing.assert_allclose(normalize(result.details["cam"]), normalize(expected), atol=1e-5)


def test_cam_names_the_structure_it_needs(nested_model):
    with pytest.raises(ValueError, match=r"GlobalAveragePooling2D.*Flatten 'flat'"):
        explain(nested_model, np.zeros((16, 16, 1), np.float32), "cam", Target(class_index=0))


@pytest.mark.parametrize("kind", ["sequential", "functional"])
@pytest.mark.parametrize("method", CAM_METHODS + OTHER_METHODS)
def test_every_method_on_nested_base_models(nested_models, image12, kind, method):
    """For a class and for an inner unit (CAM explains final-Dense units only)."""
    model = nested_models[kind]
    base = _base_name(model)
    for target in (Target(class_index=1), Target(unit_layer=(base, f"{base[0]}2"), unit=3)):
        if method == "cam" and target.unit_layer is not None:
            with pytest.raises(ValueError, match="inner units"):
                explain(model, image12, method, target)
            continue
        result = explain(model, image12, method, target, options=FAST)
        assert result.heatmap.shape == (12, 12) and result.heatmap.dtype == np.float32
        assert np.isfinite(result.heatmap).all()
        if method in CAM_METHODS:  # may be all zero after the ReLU on untrained weights
            assert np.isfinite(result.details["cam"]).all()
            assert result.layer is not None and result.layer[0] == base
            assert result.heatmap.min() >= 0
        else:
            assert np.abs(result.heatmap).max() > 0


def test_scorecam_reports_progress_and_stops(tiny_conv_model):
    image = np.random.default_rng(4).random((16, 16, 3), dtype=np.float32)
    fractions: list[float] = []
    result = explain(
        tiny_conv_model, image, "scorecam", Target(class_index=0),
        options={"batch": 3, "max_channels": 7}, progress=fractions.append,
    )  # fmt: skip
    assert len(result.details["channels"]) == 7
    assert fractions == sorted(fractions) and len(fractions) == 3 and fractions[-1] == 1.0
    calls: list[float] = []
    with pytest.raises(Cancelled):
        explain(
            tiny_conv_model, image, "scorecam", Target(class_index=0), options={"batch": 2},
            should_stop=lambda: len(calls) >= 1, progress=calls.append,
        )  # fmt: skip
    assert len(calls) == 1


def _stroke_mass(heatmap: np.ndarray, digit: np.ndarray, dilation: int) -> float:
    from scipy.ndimage import binary_dilation

    strokes = binary_dilation(digit > 0.2, iterations=dilation)
    return float(heatmap[strokes].sum() / heatmap.sum())


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="no MNIST copy in ../shared/data/mnist")
def test_gradcam_mass_falls_on_the_strokes_of_real_digits():
    """Grad-CAM of the true class on the built-in model, 50 held-out MNIST digits, stroke mask
    = pixels > 0.2 dilated by 2 px (34.5% of the image on average).

    Measured: on conv3 (7x7, the default last conv layer) 41.4% of the mass is on the strokes
    (per digit 11-79%): only 1.2x the area's share, since a 7x7 map upsampled 4x is coarse and
    much of the evidence for a digit is where ink is *absent*. On conv2 (14x14) it is 80.8% over
    the 34 digits whose map is not empty (16 of 50 maps are all zero after the ReLU).
    """
    pytest.importorskip("scipy")
    from engine.dataset.mnist import load_mnist_dir, split_train_holdout
    from engine.models.loading import load_model

    model, _, _ = load_model(None)
    _, _, images, labels = split_train_holdout(*load_mnist_dir(MNIST_DIR))
    digits = images[:50].astype(np.float32)[..., None] / 255.0
    conv3, conv2 = [], []
    for digit, label in zip(digits, labels[:50], strict=True):
        target = Target(class_index=int(label))
        heatmap = explain(model, digit, "gradcam", target, layer=("conv3",)).heatmap
        conv3.append(_stroke_mass(heatmap, digit[..., 0], 2))
        heatmap = explain(model, digit, "gradcam", target, layer=("conv2",)).heatmap
        if heatmap.sum() > 0:
            conv2.append(_stroke_mass(heatmap, digit[..., 0], 2))
    assert np.mean(conv3) > 0.37
    assert np.mean(conv2) > 0.7 and len(conv2) >= 25


def test_a_reloaded_nested_model_explains_inner_layers(saved_models):
    """Reloading gives layers with nodes from several graphs; the right one is still used."""
    model = keras.models.load_model(saved_models["nested"])
    image = np.random.default_rng(6).random((16, 16, 1), dtype=np.float32)
    for target in (Target(class_index=2), Target(unit_layer=("block", "inner_conv2"), unit=1)):
        for method in ("gradcam", "gradcam++", "guided_gradcam"):
            result = explain(model, image, method, target, layer=("block", "inner_conv1"))
            assert result.layer == ("block", "inner_conv1")
            assert result.details["cam"].shape == (8, 8) and result.heatmap.shape == (16, 16)


def test_layer_choice_and_bad_requests_are_named(tiny_conv_model):
    image = np.zeros((16, 16, 3), np.float32)
    dense_unit = Target(unit_layer=("probs",), unit=1)
    assert explain(tiny_conv_model, image, "gradcam", dense_unit).layer == ("conv_b",)
    conv_unit = Target(unit_layer=("conv_a",), unit=2)
    assert explain(tiny_conv_model, image, "gradcam", conv_unit).layer == ("conv_a",)
    with pytest.raises(ValueError, match="does not depend on layer 'conv_b'"):
        explain(tiny_conv_model, image, "gradcam", conv_unit, layer=("conv_b",))
    with pytest.raises(ValueError, match="expected 4-D"):
        explain(tiny_conv_model, image, "gradcam", Target(class_index=0), layer=("gap",))
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        explain(tiny_conv_model, image, "gradcam++", Target(class_index=0), layer=("nope",))
    with pytest.raises(ValueError, match="index 4 is out of range"):
        explain(tiny_conv_model, image, "scorecam", Target(class_index=4))
