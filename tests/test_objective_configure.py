"""Switching an objective's filters back and forth always scores the filter asked for.

Objectives and programs skip assigning values their variables already hold (a gallery or an
atlas starts many runs of one recipe); these tests pin that a skipped assign never leaves a
stale filter, knob or half-done configuration behind.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf

from engine.optvis.fast_objective import build_objective
from engine.optvis.objectives import Objective
from engine.optvis.program import Program
from engine.protocol import ObjectiveTerm, Recipe
from engine.protocol.precision import Precision

FLOAT32 = Precision("float32", "float32", "float32 as the test asks")
LAYER = ("conv_b",)


def _inputs() -> tf.Tensor:
    rng = np.random.default_rng(0)
    return tf.constant(rng.uniform(size=(2, 16, 16, 3)).astype(np.float32))


def _fresh_scores(model, unit: int) -> np.ndarray:
    objective = Objective(model, [LAYER], 2)
    objective.configure([ObjectiveTerm(LAYER, unit)])
    return objective(_inputs()).numpy()


@pytest.mark.parametrize("sliced", [False, True], ids=["every channel", "channel slice"])
def test_back_and_forth_between_filters_scores_the_filter_asked_for(tiny_conv_model, sliced):
    objective = build_objective(tiny_conv_model, [LAYER], 2, FLOAT32, 1 if sliced else None)
    assert getattr(objective, "sliced", False) is sliced
    for unit in (3, 5, 3, 3, 5):
        objective.configure([ObjectiveTerm(LAYER, unit)])
        np.testing.assert_allclose(
            objective(_inputs()).numpy(), _fresh_scores(tiny_conv_model, unit), rtol=1e-5
        )


def test_a_rejected_configuration_leaves_the_objective_usable(tiny_conv_model):
    objective = Objective(tiny_conv_model, [LAYER], 2)
    objective.configure([ObjectiveTerm(LAYER, 2)])
    with pytest.raises(ValueError, match="out of range"):
        objective.configure([ObjectiveTerm(LAYER, 2), ObjectiveTerm(LAYER, 99)])
    objective.configure([ObjectiveTerm(LAYER, 2)])  # the same as before the failure
    np.testing.assert_allclose(
        objective(_inputs()).numpy(), _fresh_scores(tiny_conv_model, 2), rtol=1e-5
    )


def test_changed_knobs_reach_the_step_and_unchanged_ones_stay(tiny_conv_model):
    objective = Objective(tiny_conv_model, [LAYER], 1)
    objective.configure([ObjectiveTerm(LAYER, 4)])
    recipe = Recipe(jitter=0, learning_rate=0.05)
    program = Program(objective, (16, 16, 3), (0.0, 1.0), recipe)
    start = np.full((1, 16, 16, 3), 0.5, np.float32)

    def moved(learning_rate: float) -> float:
        """How far one step from the same start moves the image, at `learning_rate`."""
        program.set_knobs(replace(recipe, learning_rate=learning_rate))
        program.start(start, seed=0)
        program.step()
        return float(np.abs(program.images()[0] - 0.5).max())

    small, large, small_again = moved(0.01), moved(0.1), moved(0.01)
    assert large == pytest.approx(10 * small, rel=1e-3)
    assert small_again == pytest.approx(small, rel=1e-6)
    program.set_knobs(replace(recipe, negate=True, learning_rate=0.01))
    program.start(start, seed=0)
    program.step()
    negated = program.images()[0]
    program.set_knobs(replace(recipe, learning_rate=0.01))
    program.start(start, seed=0)
    program.step()
    np.testing.assert_allclose(negated - 0.5, -(program.images()[0] - 0.5), atol=1e-6)
