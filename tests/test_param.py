"""Image parameterizations: round trips, ranges, gradients, and no variables made when called."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from engine.optvis.param import COLOR_CORRELATION, FourierParam, ImageParam, PixelParam, make_param

SHAPES = [(1, 16, 16, 3), (2, 15, 17, 1), (1, 9, 8, 3), (2, 7, 7, 1)]


def _pixels(shape, seed=0):
    return np.random.default_rng(seed).uniform(0.01, 0.99, shape).astype(np.float32)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("decorrelate", [True, False])
def test_fourier_assign_image_round_trips(shape, decorrelate):
    param = FourierParam(shape, decorrelate=decorrelate)
    pixels = _pixels(shape)
    param.assign_image(pixels)
    np.testing.assert_allclose(param.image().numpy(), pixels, atol=1e-3)


@pytest.mark.parametrize("shape", SHAPES)
def test_pixel_assign_image_round_trips(shape):
    param = PixelParam(shape)
    pixels = _pixels(shape)
    param.assign_image(pixels)
    np.testing.assert_array_equal(param.image().numpy(), pixels)


def test_fourier_clips_extreme_pixels_before_the_logit():
    param = FourierParam((1, 8, 8, 3))
    param.assign_image(np.tile(np.array([0.0, 1.0, 0.5], np.float32), (1, 8, 8, 1)))
    np.testing.assert_allclose(param.image().numpy()[0, 0, 0], [0.01, 0.99, 0.5], atol=1e-4)


@pytest.mark.parametrize("kind", ["pixel", "fourier"])
def test_fresh_params_are_flat_grey_and_follow_the_protocol(kind):
    param = make_param(kind, (2, 6, 5, 3))
    assert isinstance(param, ImageParam)
    assert param.shape == (2, 6, 5, 3)
    assert all(isinstance(v, tf.Variable) for v in param.variables)
    image = param.image()
    assert image.shape == (2, 6, 5, 3) and image.dtype == tf.float32
    np.testing.assert_allclose(image.numpy(), 0.5, atol=1e-6)


def test_fourier_image_stays_in_range_and_starts_with_unit_ish_logits():
    param = FourierParam((1, 28, 28, 3))
    spectrum = np.random.default_rng(1).standard_normal(param.variables[0].shape)
    param.variables[0].assign(spectrum.astype(np.float32))
    # Lucid's normalisation: a unit-variance spectrum gives logits of order one.
    assert 0.3 < float(tf.math.reduce_std(param.logits())) < 3.0
    param.variables[0].assign(100.0 * spectrum.astype(np.float32))
    image = param.image().numpy()
    assert image.min() >= 0.0 and image.max() <= 1.0


def test_fourier_spectrum_decays_with_frequency():
    param = FourierParam((1, 32, 32, 1), decay=1.0)
    flat = FourierParam((1, 32, 32, 1), decay=0.0)
    noise = np.random.default_rng(2).standard_normal(param.variables[0].shape).astype(np.float32)
    for p in (param, flat):
        p.variables[0].assign(noise)

    def roughness(p):
        logits = p.logits().numpy()
        return np.abs(np.diff(logits, axis=2)).mean() / logits.std()

    assert roughness(param) < 0.8 * roughness(flat)


def test_colour_decorrelation_only_applies_to_rgb():
    assert FourierParam((1, 4, 4, 3)).decorrelate
    assert not FourierParam((1, 4, 4, 3), decorrelate=False).decorrelate
    assert not FourierParam((1, 4, 4, 1), decorrelate=True).decorrelate
    assert np.linalg.norm(COLOR_CORRELATION, axis=0).max() == pytest.approx(1.0)


def test_pixel_constrain_clips_to_the_unit_range():
    param = PixelParam((1, 4, 4, 1))
    param.variables[0].assign(np.linspace(-1, 2, 16, dtype=np.float32).reshape(1, 4, 4, 1))
    param.constrain()
    values = param.image().numpy()
    assert values.min() == 0.0 and values.max() == 1.0


@pytest.mark.parametrize("kind", ["pixel", "fourier"])
@pytest.mark.parametrize("channels", [1, 3])
def test_gradients_reach_the_variables_in_a_compiled_step(kind, channels):
    param = make_param(kind, (2, 9, 10, channels))
    param.assign_image(_pixels(param.shape, seed=3))
    weights = tf.constant(np.random.default_rng(4).standard_normal(param.shape), tf.float32)
    created = []

    def count(next_creator, **kwargs):
        created.append(kwargs.get("name"))
        return next_creator(**kwargs)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            score = tf.reduce_sum(param.image() * weights)
        grads = tape.gradient(score, param.variables)
        param.constrain()
        return grads

    with tf.variable_creator_scope(count):
        grads = step()
        step()
    assert created == []
    assert step.experimental_get_tracing_count() == 1
    assert all(np.isfinite(g.numpy()).all() and np.abs(g.numpy()).sum() > 0 for g in grads)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_param("lowres", (1, 4, 4, 3)), "lowres"),
        (lambda: make_param("pixel", (4, 4, 3)), r"\(4, 4, 3\)"),
        (lambda: PixelParam((1, 0, 4, 3)), r"\(1, 0, 4, 3\)"),
        (lambda: FourierParam((1, 4, 4, 3), decay=-1.0), "-1.0"),
        (lambda: PixelParam((1, 4, 4, 3)).assign_image(np.zeros((1, 4, 4, 1))), r"\(1, 4, 4, 1\)"),
        (lambda: FourierParam((1, 4, 4, 1)).assign_image(np.full((1, 4, 4, 1), np.nan)), "NaN"),
    ],
)
def test_bad_values_raise_value_errors_naming_them(call, message):
    with pytest.raises(ValueError, match=message):
        call()
