"""Activation maximization: grow an input image that excites one channel or unit.

The method is the notebook one — gradient ascent on the input with the gradient normalized by
its RMS, a random jitter each step, and the image clipped to the model's input range — but the
step is compiled once per layer with `tf.function` and every knob that changes between runs
(unit, learning rate, jitter, seed, the image itself) lives in a `tf.Variable`, so switching
filters or settings never retraces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

# Images for models whose input size is not fixed get this size.
FREE_INPUT_SIZE = 128


@dataclass(frozen=True)
class AscentStep:
    """What the generator yields: steps done, a fresh display image and the new objectives."""

    step: int
    image: np.ndarray  # (H, W, C) float32 in [0, 1]
    objectives: tuple[float, ...]


class AscentProgram:
    """A compiled ascent step for one target (a truncated model whose output is the layer)."""

    def __init__(
        self,
        target: Callable,
        input_shape: tuple[int | None, int | None, int],
        input_range: tuple[float, float],
    ) -> None:
        height, width, channels = input_shape
        self.shape = (1, height or FREE_INPUT_SIZE, width or FREE_INPUT_SIZE, channels)
        self.low, self.high = (float(v) for v in input_range)
        if not self.high > self.low:
            raise ValueError(f"input range {input_range} is empty")
        self._target = target
        self.image = tf.Variable(tf.zeros(self.shape), trainable=False, name="ascent_image")
        self.unit = tf.Variable(0, dtype=tf.int32, trainable=False, name="unit")
        self.learning_rate = tf.Variable(0.05, dtype=tf.float32, trainable=False, name="lr")
        self.jitter = tf.Variable(0, dtype=tf.int32, trainable=False, name="jitter")
        self._rng = tf.random.Generator.from_seed(0)
        self.units = int(self._target(tf.zeros(self.shape)).shape[-1])
        self._step = tf.function(self._step_graph)

    def _objective(self, x: tf.Tensor) -> tf.Tensor:
        activation = self._target(x, training=False)
        picked = tf.gather(activation, self.unit, axis=-1)
        # Mean over positions (and the batch of one): the channel's average excitation.
        return tf.reduce_mean(picked)

    def _step_graph(self) -> tf.Tensor:
        # The gradient is taken in graph mode only: TF 2.21's oneDNN kernels can crash when an
        # eager tape also computes weight gradients of some convolutions.
        limit = self.jitter
        shift = self._rng.uniform([2], minval=-limit, maxval=limit + 1, dtype=tf.int32)
        moved = tf.roll(self.image, shift, axis=[1, 2])
        with tf.GradientTape() as tape:
            tape.watch(moved)
            objective = self._objective(moved)
        grad = tf.roll(tape.gradient(objective, moved), -shift, axis=[1, 2])
        grad = grad / (tf.sqrt(tf.reduce_mean(tf.square(grad))) + 1e-8)
        updated = self.image + self.learning_rate * (self.high - self.low) * grad
        self.image.assign(tf.clip_by_value(updated, self.low, self.high))
        return objective

    def reset(self, unit: int, learning_rate: float, jitter: int, seed: int) -> None:
        """Start a new run: a near-grey noisy image and the given knobs."""
        if not 0 <= unit < self.units:
            raise ValueError(f"unit {unit} is out of range: this layer has {self.units}")
        noise = np.random.default_rng(seed).uniform(0.45, 0.55, self.shape).astype(np.float32)
        self.image.assign(self.low + (self.high - self.low) * noise)
        self.unit.assign(unit)
        self.learning_rate.assign(learning_rate)
        self.jitter.assign(jitter)
        self._rng.reset_from_seed(seed)

    def step(self) -> float:
        """One ascent step; returns the objective before the update."""
        return float(self._step())

    def display_image(self) -> np.ndarray:
        """The current image scaled to [0, 1], as a fresh array the caller owns."""
        pixels = (self.image.numpy()[0] - self.low) / (self.high - self.low)
        return np.array(np.clip(pixels, 0.0, 1.0), dtype=np.float32, copy=True)

    def model_input(self) -> np.ndarray:
        """The current image in the model's own input scale, (1, H, W, C)."""
        return np.array(self.image.numpy(), copy=True)


def ascend(
    program: AscentProgram,
    unit: int,
    *,
    steps: int,
    learning_rate: float,
    jitter: int,
    seed: int,
    frame_every: int,
    should_stop: Callable[[], bool],
) -> Iterator[AscentStep]:
    """Run gradient ascent, yielding a snapshot every `frame_every` steps and at the end.

    `should_stop` is checked before every step, so a cancel takes effect within one step; the
    generator then ends, and the program's image holds the result so far.
    """
    program.reset(unit, learning_rate, jitter, seed)
    pending: list[float] = []
    for step in range(1, steps + 1):
        if should_stop():
            if pending:  # the steps run since the last frame still count
                yield AscentStep(step - 1, program.display_image(), tuple(pending))
            return
        pending.append(program.step())
        if step % frame_every == 0 or step == steps:
            yield AscentStep(step, program.display_image(), tuple(pending))
            pending = []
