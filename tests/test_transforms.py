"""Transformation robustness: shapes, exact identities, gradients, and no retracing."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from engine.optvis.transforms import (
    Transforms,
    crop_to,
    jitter,
    pad,
    random_rotate,
    random_scale,
)


def _images(shape=(2, 15, 16, 3), seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(size=shape).astype(np.float32))


def _rng(seed=0):
    return tf.random.Generator.from_seed(seed)


TRANSFORMS = {
    "jitter": lambda x, rng: jitter(x, rng, tf.constant(3)),
    "scale": lambda x, rng: random_scale(x, rng, tf.constant([0.8, 0.9, 1.1, 1.3])),
    "rotate": lambda x, rng: random_rotate(x, rng, tf.constant(20.0)),
    "pipeline": lambda x, rng: Transforms(pad_pixels=3, max_shift=2, max_degrees=10.0)(x, rng),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@pytest.mark.parametrize("shape", [(2, 15, 16, 3), (1, 16, 16, 1), (3, 9, 7, 1)])
def test_shape_is_preserved(name, shape):
    out = TRANSFORMS[name](_images(shape), _rng())
    assert out.shape == shape and out.dtype == tf.float32


@pytest.mark.parametrize(
    "identity",
    [
        lambda x, rng: jitter(x, rng, tf.constant(0)),
        lambda x, rng: random_scale(x, rng, tf.constant([1.0])),
        lambda x, rng: random_rotate(x, rng, tf.constant(0.0)),
        lambda x, rng: Transforms(pad_pixels=3, max_shift=0, max_degrees=0, scales=[1.0])(x, rng),
        lambda x, rng: crop_to(pad(x, 2, "CONSTANT"), 15, 16),
    ],
    ids=["jitter", "scale", "rotate", "pipeline", "pad-crop"],
)
def test_zero_knobs_are_exact_identities(identity):
    images = _images()
    np.testing.assert_array_equal(identity(images, _rng()).numpy(), images.numpy())


def test_pad_grows_each_side_and_fills_as_asked():
    images = _images((1, 5, 6, 1))
    assert pad(images, 0) is images
    reflected = pad(images, 2).numpy()
    assert reflected.shape == (1, 9, 10, 1)
    np.testing.assert_array_equal(reflected[0, 0, 2:-2, 0], images.numpy()[0, 2, :, 0])
    constant = pad(images, 3, "CONSTANT", value=0.25).numpy()
    assert constant.shape == (1, 11, 12, 1)
    assert np.all(constant[0, :3] == 0.25) and np.all(constant[0, :, -3:] == 0.25)


def test_jitter_rolls_by_at_most_max_shift():
    images = _images((1, 12, 12, 1))
    out = jitter(images, _rng(5), tf.constant(2)).numpy()
    rolls = [
        np.roll(images.numpy(), (dy, dx), axis=(1, 2)) for dy in range(-2, 3) for dx in range(-2, 3)
    ]
    assert any(np.array_equal(out, candidate) for candidate in rolls)


def test_rotation_turns_about_the_centre_and_keeps_flat_images_flat():
    images = _images((1, 9, 9, 1))
    rotated = random_rotate(images, _rng(1), tf.constant(45.0)).numpy()
    assert not np.allclose(rotated, images.numpy())
    assert rotated[0, 4, 4, 0] == pytest.approx(images.numpy()[0, 4, 4, 0], abs=1e-5)
    flat = random_rotate(tf.fill((1, 8, 8, 3), 0.3), _rng(1), tf.constant(45.0))
    np.testing.assert_allclose(flat.numpy(), 0.3, atol=1e-6)


def test_scaling_keeps_flat_images_flat_and_changes_others():
    for factor in (0.5, 2.0):  # the extremes, on odd sizes, inside a compiled function
        flat = tf.function(random_scale)(tf.fill((1, 9, 7, 1), 0.7), _rng(), tf.constant([factor]))
        assert flat.shape == (1, 9, 7, 1)
        np.testing.assert_allclose(flat.numpy(), 0.7, atol=1e-6)
    images = _images((1, 10, 10, 1))
    assert not np.allclose(random_scale(images, _rng(), tf.constant([1.5])), images)


def test_same_seed_same_result():
    transform = Transforms(max_shift=3, max_degrees=15.0)
    images = _images()
    np.testing.assert_array_equal(transform(images, _rng(7)), transform(images, _rng(7)))


def test_gradient_flows_through_the_pipeline_in_a_compiled_step():
    transform = Transforms(pad_pixels=3, max_shift=2, max_degrees=10.0)
    rng = _rng()
    weights = _images(seed=1)

    @tf.function
    def grad(images):
        with tf.GradientTape() as tape:
            tape.watch(images)
            score = tf.reduce_sum(transform(images, rng) * weights)
        return tape.gradient(score, images)

    g = grad(_images()).numpy()
    assert np.isfinite(g).all() and np.abs(g).sum() > 0


def test_changing_knobs_between_calls_does_not_retrace():
    transform = Transforms(pad_pixels=2, max_shift=0, max_degrees=0.0, scales=[1.0])
    rng = _rng()

    @tf.function
    def apply(images):
        return transform(images, rng)

    images = _images()
    np.testing.assert_array_equal(apply(images), images)
    for shift, degrees in [(1, 5.0), (4, 0.0), (0, 30.0)]:
        transform.set(max_shift=shift, max_degrees=degrees)
        apply(images)
    assert apply.experimental_get_tracing_count() == 1
    assert int(transform.max_shift.numpy()) == 0 and float(transform.max_degrees.numpy()) == 30.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: pad(_images(), 2, "WRAP"), "WRAP"),
        (lambda: pad(_images(), -1), "-1"),
        (lambda: pad(_images((1, 4, 4, 1)), 4), "4"),
        (lambda: crop_to(_images((1, 4, 4, 1)), 5, 4), "5"),
        (lambda: random_scale(_images(), _rng(), tf.constant([0.4, 1.0])), "0.4"),
        (lambda: Transforms(scales=[1.0, 3.0]), "3.0"),
        (lambda: Transforms(pad_mode="EDGE"), "EDGE"),
        (lambda: Transforms().set(max_shift=-2), "-2"),
        (lambda: Transforms().set(max_degrees=float("nan")), "nan"),
    ],
)
def test_bad_values_raise_value_errors_naming_them(call, message):
    with pytest.raises(ValueError, match=message):
        call()
