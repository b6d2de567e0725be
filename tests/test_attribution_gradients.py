"""Gradient attributions: completeness, the randomization sanity check, guided backprop,
determinism, progress and cancelling."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from engine.attribution import Cancelled, Target, explain
from engine.attribution.guided import guided_model, guided_relu

GRADIENT_METHODS = (
    "saliency", "smoothgrad", "gradient_x_input", "integrated_gradients", "guided_backprop",
    "gradcam", "gradcam++", "scorecam", "guided_gradcam",
)  # fmt: skip


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (scipy's when installed)."""
    try:
        from scipy.stats import spearmanr
    except ImportError:
        ranks_a = np.argsort(np.argsort(a.ravel())).astype(float)
        ranks_b = np.argsort(np.argsort(b.ravel())).astype(float)
        return float(np.corrcoef(ranks_a, ranks_b)[0, 1])
    return float(spearmanr(a.ravel(), b.ravel()).statistic)


@pytest.fixture(scope="module")
def default_model():
    from engine.models.loading import load_model

    model, meta, _ = load_model(None)
    return model, meta


@pytest.fixture(scope="module")
def digits(default_model):
    """Three scikit-learn digits converted for the built-in model, with their predicted class."""
    from engine.images.convert import convert_image
    from engine.images.samples import load_sample

    model, meta = default_model
    images = [
        convert_image(load_sample(f"digit:{d}"), (28, 28, 1), meta.input_range).pixels
        for d in (0, 3, 7)
    ]
    classes = model(np.stack(images), training=False).numpy().argmax(axis=1)
    return [(image, Target(class_index=int(c))) for image, c in zip(images, classes, strict=True)]


@pytest.fixture(scope="module")
def random_model(default_model):
    """The built-in model's architecture with fresh random weights."""
    keras.utils.set_random_seed(11)
    return keras.models.clone_model(default_model[0])


def test_integrated_gradients_are_complete(default_model, digits, tiny_conv_model):
    """Σ attributions = f(x) - f(black) within 1% (measured 0.1-0.6% at 64 steps)."""
    model, _ = default_model
    for image, target in digits:
        result = explain(model, image, "integrated_gradients", target, options={"low": 0.0})
        check = result.details["completeness"]
        assert abs(check["difference"]) > 1.0  # a real change, not 0 ≈ 0
        assert abs(check["sum"] - check["difference"]) <= 0.01 * abs(check["difference"])
        assert result.signed and np.isclose(result.heatmap.sum(), check["sum"], rtol=1e-4)
    image = np.random.default_rng(0).random((16, 16, 3), dtype=np.float32)
    for target in (Target(class_index=2), Target(unit_layer=("conv_b",), unit=5)):
        result = explain(tiny_conv_model, image, "integrated_gradients", target,
                         options={"steps": 128, "baseline": 0.25})  # fmt: skip
        assert result.details["completeness"]["error"] < 0.01
        assert result.details["baseline"] == 0.25


def test_gradient_x_input_equals_integrated_gradients_on_a_linear_model():
    """For f(x) = w·x + b the gradient is constant along the path, so the two coincide."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((8, 8, 2))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(3, 3)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(pooled), name="linear")
    image = np.random.default_rng(1).random((8, 8, 2), dtype=np.float32) + 0.5
    target = Target(class_index=1)
    options = {"low": 0.5, "steps": 4}
    product = explain(model, image, "gradient_x_input", target, options=options).heatmap
    integrated = explain(model, image, "integrated_gradients", target, options=options).heatmap
    np.testing.assert_allclose(product, integrated, atol=1e-5)


def test_saliency_is_the_gradient_size(tiny_conv_model):
    image = np.random.default_rng(2).random((16, 16, 3), dtype=np.float32)
    logits_model = keras.Model(
        tiny_conv_model.inputs, tiny_conv_model.get_layer("gap").output, name="tiny_gap"
    )
    dense = tiny_conv_model.get_layer("probs")

    @tf.function
    def gradient(images):
        with tf.GradientTape() as tape:
            tape.watch(images)
            logit = (logits_model(images) @ dense.kernel + dense.bias)[:, 1]
        return tape.gradient(logit, images)

    expected = np.abs(gradient(tf.constant(image[None])).numpy()[0]).max(axis=-1)
    result = explain(tiny_conv_model, image, "saliency", Target(class_index=1))
    np.testing.assert_allclose(result.heatmap, expected, atol=1e-6)


def test_randomized_weights_change_the_maps(default_model, digits, random_model):
    """Adebayo et al. 2018: a model with re-initialized weights must give other maps.

    Spearman rank correlation of the trained and a random model's maps, measured over 8 random
    re-initializations x 3 digits (mean, range): Grad-CAM 0.12 (-0.28..0.58, so its mean over
    the digits is asserted), SmoothGrad 0.27 (0.20..0.37), gradient x input 0.01 (-0.12..0.16),
    integrated gradients 0.01 (-0.12..0.19), the signed gradient 0.01 (-0.09..0.10). Not
    asserted: |gradient| (saliency's map) 0.57 (0.50..0.63), guided backprop 0.45 (0.39..0.53),
    Grad-CAM++ 0.36 (0.18..0.63): absolute and guided maps keep much of the image's structure
    whatever the weights, as that paper found.
    """
    model, _ = default_model
    options = {"low": 0.0}
    cams = []
    for image, target in digits:
        for method in ("gradcam", "smoothgrad", "gradient_x_input", "integrated_gradients"):
            trained = explain(model, image, method, target, options=options).heatmap
            random = explain(random_model, image, method, target, options=options).heatmap
            correlation = rank_correlation(trained, random)
            if method == "gradcam":
                cams.append(correlation)
            else:
                assert correlation < 0.5, method
        trained = explain(model, image, "saliency", target).details["rgb"]
        random = explain(random_model, image, "saliency", target).details["rgb"]
        assert abs(rank_correlation(trained, random)) < 0.5
    assert np.mean(cams) < 0.5


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_same_model_and_image_give_the_same_map(default_model, digits, method):
    model, _ = default_model
    image, target = digits[1]
    options = {"n": 5, "steps": 8, "max_channels": 16}
    first = explain(model, image, method, target, options=options)
    second = explain(model, image, method, target, options=options)
    np.testing.assert_array_equal(first.heatmap, second.heatmap)
    assert first.heatmap.shape == (28, 28) and np.abs(first.heatmap).max() > 0


def test_guided_relu_passes_only_positive_gradients_of_positive_inputs():
    x = tf.constant([-1.0, 2.0, 3.0, 0.5])
    upstream = tf.constant([1.0, 1.0, -1.0, 2.0])

    @tf.function
    def backward(values):
        with tf.GradientTape() as tape:
            tape.watch(values)
            out = guided_relu(values)
        return out, tape.gradient(out, values, output_gradients=upstream)

    out, grads = backward(x)
    np.testing.assert_array_equal(out, [0.0, 2.0, 3.0, 0.5])
    np.testing.assert_array_equal(grads, [0.0, 1.0, 0.0, 2.0])


def test_guided_copy_predicts_the_same_and_leaves_the_model_alone(default_model, digits):
    model, _ = default_model
    before = [w.copy() for w in model.get_weights()]
    copy = guided_model(model)
    assert copy is not model and copy is guided_model(model)  # made once
    images = np.stack([image for image, _ in digits])
    np.testing.assert_allclose(copy(images).numpy(), model(images).numpy(), atol=1e-6)
    assert model.get_layer("conv1").activation.__name__ == "relu"
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    image, target = digits[0]
    guided = explain(model, image, "guided_backprop", target)
    plain = explain(model, image, "saliency", target)
    assert guided.heatmap.min() >= 0 and not np.allclose(guided.heatmap, plain.heatmap)
    combined = explain(model, image, "guided_gradcam", target, layer=("conv2",))
    assert combined.layer == ("conv2",) and combined.details["rgb"].shape == (28, 28, 1)


@pytest.mark.parametrize(
    ("method", "options", "calls"),
    [
        ("smoothgrad", {"n": 10, "batch": 4}, 3),
        ("integrated_gradients", {"steps": 9, "batch": 4}, 3),
    ],
)
def test_long_methods_report_progress_and_stop(tiny_conv_model, method, options, calls):
    image = np.random.default_rng(5).random((16, 16, 3), dtype=np.float32)
    target = Target(class_index=0)
    fractions: list[float] = []
    explain(tiny_conv_model, image, method, target, options=options, progress=fractions.append)
    assert len(fractions) == calls and fractions == sorted(fractions) and fractions[-1] == 1.0
    with pytest.raises(Cancelled):
        explain(tiny_conv_model, image, method, target, options=options, should_stop=lambda: True)
    seen: list[float] = []
    with pytest.raises(Cancelled):
        explain(
            tiny_conv_model, image, method, target, options=options,
            should_stop=lambda: bool(seen), progress=seen.append,
        )  # fmt: skip
    assert len(seen) == 1
