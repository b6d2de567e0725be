"""Computing only the channels an objective reads gives the same images as computing them all."""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest

from engine.models.channel_slice import sliced_head
from engine.optvis.fast_objective import FastObjective
from engine.optvis.visualizer import Visualizer
from engine.protocol import ObjectiveTerm, Recipe

F32 = Recipe(steps=6, frame_every=6, jitter=1, precision="float32", keep_in_range=True)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(10, 3, padding="same", activation="relu", name="c2")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(5, activation="softmax", name="probs")(pooled)
    return keras.Model(inputs, outputs)


def _final_images(vis: Visualizer, terms, recipe: Recipe) -> np.ndarray:
    generator = vis.run(terms, recipe, lambda: False)
    while True:
        try:
            next(generator)
        except StopIteration as ended:
            return ended.value.images


def _visualizer(model, slice_channels: bool) -> Visualizer:
    return Visualizer(model, (16, 16, 3), (0.0, 1.0), lambda: None, slice_channels=slice_channels)


@pytest.mark.parametrize(
    "layer, unit, batch", [("c2", 7, 1), ("c1", 2, 1), ("probs", 3, 1), ("c2", 4, 2)]
)
def test_sliced_run_gives_the_same_images_as_the_full_layer(model, layer, unit, batch):
    terms = [ObjectiveTerm((layer,), unit)]
    recipe = replace(F32, batch=batch)
    sliced_vis, full_vis = _visualizer(model, True), _visualizer(model, False)
    sliced = _final_images(sliced_vis, terms, recipe)
    full = _final_images(full_vis, terms, recipe)
    objective = sliced_vis.programs(terms, recipe)[0].objective
    assert isinstance(objective, FastObjective) and objective.sliced
    assert not isinstance(full_vis.programs(terms, recipe)[0].objective, FastObjective)
    assert sliced.shape == (batch, 16, 16, 3)
    assert np.abs(full - 0.5).max() > 0.01  # the images moved off their start
    np.testing.assert_allclose(sliced, full, atol=1e-4)


def test_diversity_computes_the_whole_layer(model):
    recipe = replace(F32, batch=2, diversity=0.5)
    objective = _visualizer(model, True).programs([ObjectiveTerm(("c2",), 1)], recipe)[0]
    assert not getattr(objective.objective, "sliced", False)


def test_sliced_head_renumbers_units_and_matches_the_layer(model):
    extractor = keras.Model(model.input, model.get_layer("c2").output)
    head = sliced_head(extractor, 3)
    assert head is not None
    head.set_channels(np.array([9, 0, 4]))
    x = np.random.default_rng(0).uniform(0, 1, (2, 16, 16, 3)).astype(np.float32)
    np.testing.assert_allclose(
        head(x).numpy(), extractor(x).numpy()[..., [9, 0, 4]], rtol=1e-5, atol=1e-5
    )


def test_layers_that_cannot_slice_compute_everything(model):
    bn = keras.Model(model.input, model.get_layer("bn").output)
    assert sliced_head(bn, 1) is None  # BatchNorm after the conv: the objective reads it
    c2 = keras.Model(model.input, model.get_layer("c2").output)
    assert sliced_head(c2, 10) is None  # every channel wanted: nothing to save
    with pytest.raises(ValueError, match="width 0"):
        sliced_head(c2, 0)


def test_atlas_chunk_slices_to_its_channels_with_the_same_images(model):
    vis = _visualizer(model, True)
    recipe = replace(F32, batch=4)
    units = [1, 5, 5, 8]
    program = vis.programs([ObjectiveTerm(("c2",), 1)], recipe)[0]
    program.objective.configure([ObjectiveTerm(("c2",), 1)], units)
    assert program.objective.sliced
    x = np.random.default_rng(1).uniform(0, 1, (4, 16, 16, 3)).astype(np.float32)
    exact = program.objective.exact(x).numpy()
    np.testing.assert_allclose(program.objective(x).numpy(), exact, rtol=1e-5, atol=1e-6)
    assert len(set(exact.round(6))) >= 3  # different filters per image were scored
