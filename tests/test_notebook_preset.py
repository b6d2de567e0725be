"""The Notebook preset means the seed notebooks' loop on every input range, not 255× more.

The notebooks (Keras blog "how convnets see the world") work in the model's raw input units:
start 128 + U[0, 20), steps of one pixel value along the RMS-normalized gradient, no clipping.
A VGG-like model taking raw 0-255 RGB is where a step "in units of the input range" went wrong.
"""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from engine.optvis.objectives import Objective
from engine.optvis.program import Program, initial_images
from engine.protocol import DEFAULT_DISPLAY, PIXEL_LEVEL, ObjectiveTerm, normalize_for_display
from engine.protocol.recipe import PRESETS

SIZE = 64
LAYER = "block2_conv1"
UNIT = 3
STEPS = 40


@pytest.fixture(scope="module")
def vgg_like() -> keras.Model:
    return build_vgg_like()


def build_vgg_like(input_range: tuple[float, float] = (0.0, 255.0)) -> keras.Model:
    """Two VGG blocks of 3×3 ReLU convolutions on raw 0-255 RGB, as keras.applications.vgg16
    preprocessing expects (it only subtracts the channel means). Another `input_range` is
    mapped onto 0-255 first, so every range gives the same function of the picture."""
    keras.utils.set_random_seed(12)
    low, high = input_range
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(255 / (high - low), offset=-low * 255 / (high - low))(inputs)
    x = keras.layers.Rescaling(1.0, offset=-120.0)(x)  # vgg16's mean subtraction, roughly
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="block1_conv1")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="block1_conv2")(x)
    x = keras.layers.MaxPooling2D(name="block1_pool")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name=LAYER)(x)
    return keras.Model(inputs, x)


def _notebook_loop(
    model: keras.Model, start: np.ndarray, steps: int, eta: float = 1.0
) -> list[np.ndarray]:
    """The notebooks' loop in raw pixel values (step `eta`); every image from the start on."""
    extractor = keras.Model(model.inputs, model.get_layer(LAYER).output)

    # Inside tf.function: TF 2.21's oneDNN can corrupt memory on eager conv weight gradients.
    @tf.function
    def step(img: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(img)
            loss = tf.reduce_mean(extractor(img)[..., UNIT])
        grads = tape.gradient(loss, img)
        grads /= tf.sqrt(tf.reduce_mean(tf.square(grads))) + 1e-5
        return img + eta * grads  # eta = one pixel value, no clipping

    img = tf.constant(start)
    images = [start]
    for _ in range(steps):
        img = step(img)
        images.append(img.numpy())
    return images


def _engine_run(
    model: keras.Model, start: np.ndarray, input_range: tuple[float, float]
) -> list[np.ndarray]:
    """The engine's Program with the Notebook preset from `start` (raw values); raw images."""
    low, high = input_range
    objective = Objective(model, [(LAYER,)], batch=1)
    objective.configure([ObjectiveTerm((LAYER,), UNIT)])
    recipe = PRESETS["Notebook"]
    program = Program(objective, (SIZE, SIZE, 3), input_range, recipe)
    program.start((start - low) / (high - low), recipe.seed)
    images = [start]
    for _ in range(recipe.steps):
        program.step()
        images.append(low + (high - low) * program.images())
    return images


def test_notebook_preset_reproduces_the_notebook_loop_on_a_0_255_model(vgg_like):
    rng = np.random.default_rng(0)
    start = (rng.random((1, SIZE, SIZE, 3)) * 20 + 128).astype(np.float32)
    # The preset's step is 1/255 rounded to the 6 decimals the method form shows: 1.0001 pixel
    # values. The loops take the very same step, since a ReLU or max-pool that flips on a
    # 1e-4 difference would part them for reasons that have nothing to do with units.
    eta = PRESETS["Notebook"].learning_rate * 255
    assert eta == pytest.approx(1.0, abs=1e-3)
    notebook = _notebook_loop(vgg_like, start, STEPS, eta)
    engine = _engine_run(vgg_like, start, (0.0, 255.0))
    assert len(engine) == len(notebook) == STEPS + 1
    # Same images after every one of the 40 steps, to a small fraction of a pixel value.
    for k, (ours, theirs) in enumerate(zip(engine, notebook, strict=True)):
        assert np.max(np.abs(ours - theirs)) < 0.05, f"step {k}"
    moves = [np.sqrt(np.mean((b - a) ** 2)) for a, b in itertools.pairwise(engine)]
    # At most one pixel value per step, not ~50 (the notebooks' epsilon shortens steps where
    # the gradient is tiny, as here: their VGG runs move 0.1-1 pixel values a step).
    assert 0.3 < np.mean(moves) <= 1.0
    final = engine[-1]
    assert np.mean((final <= 0) | (final >= 255)) < 0.01  # nothing pinned at the range's ends
    shown = normalize_for_display(final[0] / 255.0, DEFAULT_DISPLAY)
    assert np.mean((shown <= 0) | (shown >= 1)) < 0.01  # and the picture is not saturated
    assert shown.std() > 0.05


@pytest.mark.parametrize("input_range", [(0.0, 1.0), (-1.0, 1.0)])
def test_notebook_preset_means_the_same_on_every_range(vgg_like, input_range):
    low, high = input_range
    recipe = PRESETS["Notebook"]
    start = initial_images(recipe, (1, SIZE, SIZE, 3))
    # The preset's own start is the notebooks' 128 + U[0, 20) of 255, on any range.
    assert start.min() >= 127.99 * PIXEL_LEVEL and start.max() < 148.01 * PIXEL_LEVEL
    reference = _engine_run(vgg_like, 255 * start, (0.0, 255.0))
    other = _engine_run(build_vgg_like(input_range), low + (high - low) * start, input_range)
    # The same picture after 40 steps, in fractions of each range: 1/255 is one 8-bit level.
    np.testing.assert_allclose(
        (other[-1] - low) / (high - low), reference[-1] / 255, atol=0.02 * PIXEL_LEVEL
    )


def test_old_saved_recipes_stay_clipped_and_the_notebook_preset_is_unclipped():
    from engine.protocol.recipe import Recipe

    old = {k: v for k, v in PRESETS["Classic"].to_dict().items() if k != "keep_in_range"}
    assert Recipe.from_dict(old).keep_in_range is True
    assert Recipe.from_dict(PRESETS["Notebook"].to_dict()) == PRESETS["Notebook"]
    assert PRESETS["Notebook"].keep_in_range is False
    assert PRESETS["Notebook"].jitter == 0 and PRESETS["Notebook"].steps == STEPS
