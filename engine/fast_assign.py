"""Put numpy values into `tf.Variable`s eagerly, at the cost of one kernel each.

`Variable.assign` converts the value, runs Python checks and reads the variable back: ~150 µs
each on this machine. Starting a run assigns a dozen small variables (the objective's units,
the image, the optimizer's moments, the random state), which made the fixed cost of every run
as long as two steps of a small model: a gallery or an atlas of many short runs paid it each
time. The raw op skips the read-back and the checks (~30 µs); the shape and dtype are checked
here instead, since the raw op would silently give the variable a new shape.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf


def put(variable: tf.Variable, value: object) -> None:
    """`variable.assign(value)` for a value of exactly the variable's shape (ValueError else)."""
    array = np.asarray(value, dtype=variable.dtype.as_numpy_dtype)
    if array.shape != tuple(variable.shape):
        raise ValueError(
            f"a value of shape {array.shape} does not fit variable {variable.name!r} of shape "
            f"{tuple(variable.shape)}"
        )
    tf.raw_ops.AssignVariableOp(resource=variable.handle, value=array)


def zero(variable: tf.Variable) -> None:
    """Fill `variable` with zeros."""
    put(variable, np.zeros(tuple(variable.shape), variable.dtype.as_numpy_dtype))


@functools.lru_cache(maxsize=256)
def rng_state(seed: int, algorithm: int) -> np.ndarray:
    """The state `tf.random.Generator.from_seed(seed, algorithm)` starts in (computing it takes
    ~0.8 ms of eager operations; a run's seed is usually the recipe's, the same every run)."""
    state = tf.random.create_rng_state(int(seed), algorithm)
    array = np.array(state, dtype=np.int64)
    array.flags.writeable = False
    return array


def reset_rng(generator: tf.random.Generator, seed: int) -> None:
    """`generator.reset_from_seed(seed)`, from a cached state."""
    put(generator.state, rng_state(seed, generator.algorithm))
