"""Penalties and the blur: zero where expected, larger for noise, one value per image."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from engine.optvis.regularizers import gaussian_blur, gaussian_kernel, l2, lp, total_variation

PENALTIES = {
    "l2": l2,
    "l1": lambda x: lp(x, 1.0),
    "l6": lambda x: lp(x, 6.0),
    "tv": total_variation,
}


def _noise(shape=(2, 12, 13, 3), seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(size=shape).astype(np.float32))


@pytest.mark.parametrize("name", sorted(PENALTIES))
def test_penalties_are_zero_for_grey_and_rise_for_noise(name):
    penalty = PENALTIES[name]
    grey = penalty(tf.fill((2, 8, 8, 3), 0.5))
    noisy = penalty(_noise())
    assert grey.shape == (2,) and noisy.shape == (2,)
    np.testing.assert_array_equal(grey.numpy(), 0.0)
    assert np.all(noisy.numpy() > 0)


def test_values_are_per_image():
    batch = tf.concat([tf.fill((1, 6, 6, 1), 0.5), _noise((1, 6, 6, 1))], axis=0)
    for penalty in PENALTIES.values():
        values = penalty(batch).numpy()
        assert values[0] == 0.0 and values[1] > 0.0


def test_known_values():
    white = tf.ones((1, 4, 4, 1))
    assert float(l2(white)[0]) == pytest.approx(0.25)
    assert float(lp(white, 3)[0]) == pytest.approx(0.125)
    stripes = tf.constant(np.tile([0.0, 1.0], (1, 4, 2)).reshape(1, 4, 4, 1), tf.float32)
    # Horizontal neighbours always differ by 1, vertical ones never: the mean is 0.5.
    assert float(total_variation(stripes)[0]) == pytest.approx(0.5)
    assert float(total_variation(tf.fill((1, 5, 5, 3), 0.9))[0]) == 0.0


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.5, 10.0])
@pytest.mark.parametrize("shape", [(2, 12, 13, 3), (1, 5, 4, 1)])
def test_blur_keeps_shape_and_mean_and_lowers_total_variation(sigma, shape):
    images = _noise(shape)
    blurred = gaussian_blur(images, sigma)
    assert blurred.shape == shape
    np.testing.assert_allclose(
        blurred.numpy().mean(axis=(1, 2, 3)), images.numpy().mean(axis=(1, 2, 3)), atol=1e-5
    )
    assert np.all(total_variation(blurred).numpy() < 0.8 * total_variation(images).numpy())


def test_blur_of_zero_sigma_is_identity_and_flat_stays_flat():
    images = _noise()
    assert gaussian_blur(images, 0.0) is images
    np.testing.assert_allclose(
        gaussian_blur(tf.fill((1, 6, 6, 1), 0.3), 1.5).numpy(), 0.3, atol=1e-6
    )
    kernel = gaussian_kernel(1.0)
    assert len(kernel) == 7 and kernel.sum() == pytest.approx(1.0)


def test_gradients_are_finite_in_a_compiled_step():
    images = tf.concat([tf.fill((1, 8, 8, 3), 0.5), _noise((1, 8, 8, 3))], axis=0)

    @tf.function
    def grads(x):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            values = [penalty(x) for penalty in PENALTIES.values()]
            values.append(tf.reduce_sum(gaussian_blur(x, 1.0) * x, axis=[1, 2, 3]))
        return [tape.gradient(v, x) for v in values]

    for g in grads(images):
        assert np.isfinite(g.numpy()).all()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: lp(_noise(), 0.5), "0.5"),
        (lambda: total_variation(_noise((1, 1, 5, 1))), "1×5"),
        (lambda: gaussian_blur(_noise(), -1.0), "-1.0"),
        (lambda: gaussian_blur(_noise(), float("inf")), "inf"),
    ],
)
def test_bad_values_raise_value_errors_naming_them(call, message):
    with pytest.raises(ValueError, match=message):
        call()
