"""Every building block drives a real ascent: the channel's mean rises through it.

A tiny two-conv model is cut at its last conv (no ReLU there, so no channel is dead), and a
compiled Adam step maximizes one channel's mean through each parameterization, transform,
starting image and regularizer in turn.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import keras
import numpy as np
import pytest
import tensorflow as tf

from engine.models.surgery import truncate
from engine.optvis.initial import make_initial
from engine.optvis.param import ImageParam, make_param
from engine.optvis.regularizers import gaussian_blur, l2, lp, total_variation
from engine.optvis.transforms import Transforms, crop_to, jitter, pad, random_rotate, random_scale

UNIT = 3
STEPS = 30
# The channel's mean starts near 0 and ends around 0.1 with pixels; decorrelated Fourier
# colours move slowly in 30 steps (by design: colour contrasts are damped), gaining ~0.02.
RISE = 0.005


@functools.cache
def _target(channels: int) -> keras.Model:
    keras.utils.set_random_seed(5)
    inputs = keras.Input((16, 16, channels))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv_a")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(2, name="head")(x)
    return truncate(keras.Model(inputs, outputs), ("conv_b",))


def _score(model: keras.Model, images: tf.Tensor) -> float:
    """The channel's mean on the untransformed image: what every test expects to rise."""
    return float(tf.reduce_mean(model(images, training=False)[..., UNIT]))


def _ascend(
    param: ImageParam,
    model: keras.Model,
    transform: Callable | None = None,
    penalty: Callable | None = None,
    weight: float = 0.0,
    blur_every: int = 0,
) -> None:
    rng = tf.random.Generator.from_seed(0)
    optimizer = keras.optimizers.Adam(0.05)
    optimizer.build(param.variables)  # its slots exist before the step is compiled
    move = transform or (lambda images, _rng: images)

    @tf.function
    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            images = param.image()
            score = tf.reduce_mean(model(move(images, rng), training=False)[..., UNIT])
            loss = -score
            if penalty is not None:
                loss += weight * tf.reduce_mean(penalty(images))
        grads = tape.gradient(loss, param.variables)
        optimizer.apply_gradients(zip(grads, param.variables, strict=True))
        param.constrain()
        return score

    for index in range(1, STEPS + 1):
        step()
        if blur_every and index % blur_every == 0:
            param.assign_image(gaussian_blur(param.image(), 0.5).numpy())
    assert step.experimental_get_tracing_count() == 1


def _start(kind: str, shape: tuple[int, int, int, int], seed: int = 0) -> ImageParam:
    param = make_param(kind, shape)
    param.assign_image(make_initial("grey", shape, np.random.default_rng(seed)))
    return param


@pytest.mark.parametrize("kind", ["pixel", "fourier"])
@pytest.mark.parametrize("channels", [1, 3])
def test_each_parameterization_raises_the_objective(kind, channels):
    model = _target(channels)
    param = _start(kind, (1, 16, 16, channels))
    before = _score(model, param.image())
    _ascend(param, model)
    assert _score(model, param.image()) > before + RISE


TRANSFORMS = {
    "pad-jitter-crop": lambda x, rng: crop_to(jitter(pad(x, 3, "CONSTANT"), rng, 3), 16, 16),
    "jitter": lambda x, rng: jitter(x, rng, tf.constant(2)),
    "scale": lambda x, rng: random_scale(x, rng, tf.constant([0.9, 0.95, 1.0, 1.05, 1.1])),
    "rotate": lambda x, rng: random_rotate(x, rng, tf.constant(10.0)),
}


@pytest.mark.parametrize("name", [*sorted(TRANSFORMS), "pipeline"])
def test_each_transform_still_lets_the_objective_rise(name):
    model = _target(3)
    param = _start("pixel", (2, 16, 16, 3))
    transform = TRANSFORMS.get(name) or Transforms(pad_pixels=3, max_shift=2, max_degrees=10.0)
    before = _score(model, param.image())
    _ascend(param, model, transform=transform)
    assert _score(model, param.image()) > before + RISE


@pytest.mark.parametrize("initial", ["grey", "scales", "image"])
@pytest.mark.parametrize("kind", ["pixel", "fourier"])
def test_each_starting_image_can_be_improved(initial, kind):
    model = _target(1)
    shape = (1, 16, 16, 1)
    rng = np.random.default_rng(4)
    digit = np.zeros((28, 28), np.float32)
    digit[6:22, 12:16] = 1.0  # a crude "1", as a user's image would be
    options = {"pixels": digit, "noise": 0.02} if initial == "image" else {}
    start = make_initial(initial, shape, rng, **options)
    param = make_param(kind, shape)
    param.assign_image(start)
    before = _score(model, param.image())
    _ascend(param, model)
    assert _score(model, param.image()) > before + RISE


PENALTIES = {
    "l2": (l2, 2.0),
    "lp": (lambda x: lp(x, 6.0), 20.0),
    "total_variation": (total_variation, 1.0),
}


@pytest.mark.parametrize("name", sorted(PENALTIES))
def test_each_regularizer_trades_objective_for_a_smaller_penalty(name):
    penalty, weight = PENALTIES[name]
    model = _target(3)
    shape = (1, 16, 16, 3)
    free, held = _start("pixel", shape), _start("pixel", shape)

    def regularized(param):
        return _score(model, param.image()) - weight * float(penalty(param.image())[0])

    before = regularized(held)
    _ascend(free, model)
    _ascend(held, model, penalty=penalty, weight=weight)
    assert regularized(held) > before + RISE
    assert float(penalty(held.image())[0]) < float(penalty(free.image())[0])


def test_blurring_every_few_steps_keeps_the_image_smoother():
    model = _target(3)
    shape = (1, 16, 16, 3)
    free, blurred = _start("pixel", shape), _start("pixel", shape)
    before = _score(model, blurred.image())
    _ascend(free, model)
    _ascend(blurred, model, blur_every=4)
    assert _score(model, blurred.image()) > before + RISE
    assert float(total_variation(blurred.image())[0]) < float(total_variation(free.image())[0])
