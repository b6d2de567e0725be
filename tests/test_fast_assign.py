"""The raw assigns a run starts with do what `Variable.assign` and `reset_from_seed` did."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from engine.fast_assign import put, reset_rng, zero


def test_put_sets_the_value_in_the_variables_dtype() -> None:
    variable = tf.Variable(np.zeros((2, 3), np.int32))
    put(variable, [[1, 2, 3], [4, 5, 6]])
    assert variable.dtype == tf.int32
    np.testing.assert_array_equal(variable.numpy(), [[1, 2, 3], [4, 5, 6]])
    scalar = tf.Variable(0.0)
    put(scalar, 2.5)
    assert float(scalar.numpy()) == 2.5


def test_a_value_of_another_shape_is_refused_and_the_variable_keeps_its_own() -> None:
    # The raw op alone would give the variable the new shape: the next compiled step would
    # then fail far from the cause, or retrace.
    variable = tf.Variable(np.ones((1, 4), np.float32), name="units")
    with pytest.raises(ValueError, match="does not fit variable 'units"):
        put(variable, np.zeros((1, 5), np.float32))
    assert variable.shape == (1, 4)
    np.testing.assert_array_equal(variable.numpy(), np.ones((1, 4)))


def test_zero_fills_with_zeros() -> None:
    variable = tf.Variable(np.full((3, 2), 7.0, np.float32))
    zero(variable)
    np.testing.assert_array_equal(variable.numpy(), np.zeros((3, 2)))


@pytest.mark.parametrize("seed", [0, 1, 12345, 2**40 + 3])
def test_reset_rng_draws_what_reset_from_seed_draws(seed: int) -> None:
    ours, theirs = tf.random.Generator.from_seed(99), tf.random.Generator.from_seed(99)
    for _ in range(2):  # the second time from the cached state
        ours.uniform((5,))
        theirs.uniform((5,))
        reset_rng(ours, seed)
        theirs.reset_from_seed(seed)
        np.testing.assert_array_equal(ours.uniform((8,)).numpy(), theirs.uniform((8,)).numpy())
