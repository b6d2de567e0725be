"""Activation maximization without Qt: the objective rises, stopping is prompt, frames are fresh."""

from __future__ import annotations

import numpy as np
import pytest

from engine.ascent import AscentProgram, ascend
from engine.surgery import linearized, truncate


def _run(program, unit=0, steps=20, frame_every=5, should_stop=lambda: False, **knobs):
    settings = {"learning_rate": 0.05, "jitter": 1, "seed": 0} | knobs
    return list(
        ascend(
            program, unit, steps=steps, frame_every=frame_every, should_stop=should_stop, **settings
        )
    )


@pytest.mark.parametrize("layer", ["conv_a", "pool_a", "conv_b"])
def test_objective_rises_for_a_channel(tiny_conv_model, layer):
    program = AscentProgram(truncate(tiny_conv_model, (layer,)), (16, 16, 3), (0.0, 1.0))
    snapshots = _run(program, unit=0, steps=30)
    objectives = [value for snap in snapshots for value in snap.objectives]
    assert len(objectives) == 30
    assert objectives[-1] > objectives[0] + 1e-3


def test_objective_rises_for_a_class_logit(tiny_conv_model):
    target = linearized(tiny_conv_model, ("probs",))
    program = AscentProgram(target, (16, 16, 3), (0.0, 1.0))
    objectives = [v for s in _run(program, unit=1, steps=30) for v in s.objectives]
    assert objectives[-1] > objectives[0]


def test_frames_are_fresh_arrays_in_display_range(tiny_conv_model):
    program = AscentProgram(truncate(tiny_conv_model, ("conv_b",)), (16, 16, 3), (-1.0, 1.0))
    snapshots = _run(program, steps=12, frame_every=4)
    assert [s.step for s in snapshots] == [4, 8, 12]
    first, last = snapshots[0].image, snapshots[-1].image
    assert first.shape == (16, 16, 3) and first.dtype == np.float32
    assert first.min() >= 0.0 and first.max() <= 1.0
    assert not np.shares_memory(first, last)
    before = last.copy()
    program.step()  # the engine carries on changing its own buffer...
    np.testing.assert_array_equal(last, before)  # ...but a frame already sent never changes
    assert not np.array_equal(first, last)


def test_should_stop_stops_within_one_step(tiny_conv_model):
    program = AscentProgram(truncate(tiny_conv_model, ("conv_a",)), (16, 16, 3), (0.0, 1.0))
    checks = []

    def stop_after_seven_checks() -> bool:
        checks.append(1)
        return len(checks) > 7

    snapshots = _run(program, steps=100, frame_every=1, should_stop=stop_after_seven_checks)
    assert snapshots[-1].step == 7
    assert len(checks) == 8  # checked before every step, and nothing ran after the stop


def test_input_stays_in_model_range(tiny_conv_model):
    program = AscentProgram(truncate(tiny_conv_model, ("conv_a",)), (16, 16, 3), (-2.0, 3.0))
    _run(program, steps=40, learning_rate=1.0)
    pixels = program.model_input()
    assert pixels.min() >= -2.0 and pixels.max() <= 3.0


def test_same_seed_same_image_other_seed_other_image(tiny_conv_model):
    program = AscentProgram(truncate(tiny_conv_model, ("conv_b",)), (16, 16, 3), (0.0, 1.0))
    a = _run(program, steps=10, seed=3)[-1].image
    b = _run(program, steps=10, seed=3)[-1].image
    c = _run(program, steps=10, seed=4)[-1].image
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert not np.allclose(a, c)


def test_unit_out_of_range_names_the_unit(tiny_conv_model):
    program = AscentProgram(truncate(tiny_conv_model, ("conv_a",)), (16, 16, 3), (0.0, 1.0))
    with pytest.raises(ValueError, match="unit 6"):
        _run(program, unit=6)


def test_free_input_size_gets_a_default_size():
    import keras

    inputs = keras.Input((None, None, 3))
    outputs = keras.layers.Conv2D(2, 3, name="c")(inputs)
    program = AscentProgram(keras.Model(inputs, outputs), (None, None, 3), (0.0, 1.0))
    assert _run(program, steps=2, frame_every=1)[0].image.shape[:2] == (128, 128)
