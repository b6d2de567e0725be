"""Feature visualization: grow images that maximize an objective, Lucid-style, compiled once.

A `Program` is one compiled optimization step for a fixed structure (objective layers, batch
size, parameterization, image size, optimizer). Everything a user may change while it runs —
learning rate, jitter, rotation, regularizer weights, which units are scored — lives in
`tf.Variable`s, so those changes apply at the next step without retracing.
`visualize` drives programs through octaves and yields snapshots; it knows nothing of Qt.

The step itself is always float32: image parameters, Adam's moments, the regularizers and the
objective's sum. What the model computes in (bfloat16, or only the target's channels) is the
objective's business (engine/optvis/fast_objective.py): it takes and returns float32 tensors.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from engine.fast_assign import put, reset_rng, zero
from engine.optvis import initial, regularizers, transforms
from engine.optvis.objectives import Objective, diversity
from engine.optvis.param import make_param
from engine.protocol.model import FREE_INPUT_SIZE
from engine.protocol.recipe import Recipe

# The window repaints at most 30 times a second: frames sent faster only cost the engine's time
# (copies, signals) and the GUI thread's, which on two cores is the engine's time too.
STREAM_INTERVAL = 1 / 60
# A run whose objective is exactly zero for this many steps has a dead filter on its hands.
DEAD_AFTER_STEPS = 8
_ADAM_BETAS = (0.9, 0.999)
_UNSET = object()  # a knob not assigned yet


@dataclass(frozen=True)
class Snapshot:
    """What `visualize` yields: steps done, fresh images and the new objective values."""

    step: int
    # (B, H, W, C) float32 at the model's input size, fractions of its input range: in [0, 1]
    # unless the recipe leaves pixels unclipped (keep_in_range=False), when they may lie outside
    images: np.ndarray
    objectives: tuple[float, ...]  # mean over the batch, one per step since the last snapshot
    scores: np.ndarray  # (B,) objective of each image at the last step
    milestone: bool  # a step of the filmstrip: 1, 2, 4, 8, ...


@dataclass(frozen=True)
class Outcome:
    """How a run ended: `visualize`'s return value."""

    steps_done: int = 0
    reason: str = "steps"  # one of recipe.STOP_REASONS


@dataclass(frozen=True)
class ProgramState:
    """Everything a program changes while it steps, copied out so a run can resume later."""

    params: tuple[np.ndarray, ...]
    moments: tuple[tuple[np.ndarray, np.ndarray], ...]
    t: float
    rng_state: np.ndarray


def model_size(input_shape: tuple[int | None, int | None, int]) -> tuple[int, int, int]:
    height, width, channels = input_shape
    return height or FREE_INPUT_SIZE, width or FREE_INPUT_SIZE, channels


class Program:
    """One compiled optimization step for one objective at one image size."""

    def __init__(
        self,
        objective: Objective,
        input_shape: tuple[int | None, int | None, int],
        input_range: tuple[float, float],
        recipe: Recipe,
        param_size: tuple[int, int] | None = None,
    ) -> None:
        self.objective = objective
        self.height, self.width, self.channels = model_size(input_shape)
        self.low, self.high = (float(v) for v in input_range)
        if not self.high > self.low:
            raise ValueError(f"input range {input_range} is empty")
        param_h, param_w = param_size or (self.height, self.width)
        self.param = make_param(
            recipe.param, (objective.batch, param_h, param_w, self.channels), recipe.decorrelate
        )
        self._optimizer = recipe.optimizer
        self._normalize = recipe.normalize_grad
        self._pad = recipe.pad
        # Transforms a recipe does not use are left out of the graph: each costs a resample of
        # the image per step. The rotation's angle stays live once rotation is on.
        self._scales = tf.constant(recipe.scales, tf.float32) if recipe.scales else None
        self._rotates = recipe.rotate > 0
        self._diverse = objective.batch > 1
        self._lp_p = recipe.lp_p
        self.knobs = {
            "learning_rate": tf.Variable(0.0, trainable=False),
            "jitter": tf.Variable(0, dtype=tf.int32, trainable=False),
            "rotate": tf.Variable(0.0, trainable=False),
            "l2": tf.Variable(0.0, trainable=False),
            "lp": tf.Variable(0.0, trainable=False),
            "tv": tf.Variable(0.0, trainable=False),
            "diversity": tf.Variable(0.0, trainable=False),
            "grad_epsilon": tf.Variable(0.0, trainable=False),
        }
        self.sign = tf.Variable(1.0, trainable=False)
        self._rng = tf.random.Generator.from_seed(0)
        self._moments = [
            (
                tf.Variable(tf.zeros_like(v), trainable=False),
                tf.Variable(tf.zeros_like(v), trainable=False),
            )
            for v in self.param.variables
        ]
        self._t = tf.Variable(0.0, trainable=False)
        # The knob values last assigned: each eager assign costs ~0.1 ms, and a gallery or an
        # atlas starts many runs of one recipe, whose knobs mostly stay as they were.
        self._knob_values: dict[str, object] = {}
        # autograph=False: the step's branches test Python values only, and converting its
        # code (and every function it calls) to graph code took ~0.6 s of a process's first
        # visualization, longer than the tracing itself.
        self._step = tf.function(self._graph_step, autograph=False)
        self._blur = tf.function(self._graph_blurred, autograph=False)
        self._clipped = recipe.keep_in_range
        self.set_knobs(recipe)

    # ------------------------------------------------------------------ knobs and state

    def set_knobs(self, recipe: Recipe) -> None:
        """Take the live knobs of `recipe`; applies at the next step, no retrace."""
        wanted = {name: getattr(recipe, name) for name in self.knobs}
        wanted["sign"] = -1.0 if recipe.negate else 1.0
        for name, value in wanted.items():
            if self._knob_values.get(name, _UNSET) != value:
                put(self.sign if name == "sign" else self.knobs[name], value)
                self._knob_values[name] = value
        if recipe.keep_in_range != self._knob_values.get("keep_in_range", _UNSET):
            self.param.set_clipped(recipe.keep_in_range)
            self._knob_values["keep_in_range"] = recipe.keep_in_range
        self._clipped = recipe.keep_in_range

    def start(self, pixels: np.ndarray, seed: int) -> None:
        """Begin a run from `pixels` (B, H, W, C), fractions of the input range, at any size."""
        # Raw assigns (engine/fast_assign.py): a run's fixed cost was two steps of a small
        # model, paid by every run of a gallery or an atlas.
        self.set_images(pixels)
        reset_rng(self._rng, seed)
        zero(self._t)
        for first, second in self._moments:
            zero(first)
            zero(second)

    def save_state(self) -> ProgramState:
        """A copy of the parameters, optimizer moments and random state, as they are now."""
        return ProgramState(
            tuple(np.array(v.numpy(), copy=True) for v in self.param.variables),
            tuple((first.numpy().copy(), second.numpy().copy()) for first, second in self._moments),
            float(self._t.numpy()),
            np.array(self._rng.state.numpy(), copy=True),
        )

    def restore_state(self, state: ProgramState) -> None:
        """Put back what `save_state` copied: the next step continues exactly from there."""
        for variable, value in zip(self.param.variables, state.params, strict=True):
            put(variable, value)
        for (first, second), (m1, m2) in zip(self._moments, state.moments, strict=True):
            put(first, m1)
            put(second, m2)
        put(self._t, state.t)
        put(self._rng.state, state.rng_state)

    def set_images(self, pixels: np.ndarray) -> None:
        _, height, width, _ = self.param.shape
        self.param.assign_image(_resize(pixels, height, width, self._clipped))

    def trace_count(self) -> int:
        return int(self._step.experimental_get_tracing_count())

    # ------------------------------------------------------------------ the step

    def _model_view(self, image: tf.Tensor) -> tf.Tensor:
        if image.shape[1] != self.height or image.shape[2] != self.width:
            image = tf.image.resize(image, (self.height, self.width), method="bilinear")
        return image

    def _graph_step(self) -> tf.Tensor:
        # Gradients only ever in graph mode: TF 2.21's oneDNN kernels can crash when an eager
        # tape also computes weight gradients of some convolutions.
        knobs = self.knobs
        with tf.GradientTape() as tape:
            image = self.param.image()
            view = self._model_view(image)
            if self._pad:
                view = transforms.pad(view, self._pad)
            view = transforms.jitter(view, self._rng, knobs["jitter"])
            if self._scales is not None:
                view = transforms.random_scale(view, self._rng, self._scales)
            if self._rotates:
                view = transforms.random_rotate(view, self._rng, knobs["rotate"])
            view = transforms.crop_to(view, self.height, self.width)
            scores = self.sign * self.objective(self.low + (self.high - self.low) * view)
            penalty = (
                knobs["l2"] * regularizers.l2(image)
                + knobs["lp"] * regularizers.lp(image, self._lp_p)
                + knobs["tv"] * regularizers.total_variation(image)
            )
            loss = -tf.reduce_sum(scores - penalty)
            if self._diverse:
                loss += knobs["diversity"] * diversity(self.objective.last_activations)
        grads = tape.gradient(loss, self.param.variables)
        self._t.assign_add(1.0)
        for variable, grad, (first, second) in zip(
            self.param.variables, grads, self._moments, strict=True
        ):
            if self._normalize:
                grad = _per_image_rms_normalized(grad, knobs["grad_epsilon"])
            step = self._adam(grad, first, second) if self._optimizer == "adam" else grad
            variable.assign_sub(knobs["learning_rate"] * step)
        self.param.constrain()
        return scores

    def _adam(self, grad: tf.Tensor, first: tf.Variable, second: tf.Variable) -> tf.Tensor:
        beta1, beta2 = _ADAM_BETAS
        first.assign(beta1 * first + (1 - beta1) * grad)
        second.assign(beta2 * second + (1 - beta2) * tf.square(grad))
        first_hat = first / (1 - beta1**self._t)
        second_hat = second / (1 - beta2**self._t)
        return first_hat / (tf.sqrt(second_hat) + 1e-8)

    def _graph_blurred(self, sigma: float) -> tf.Tensor:
        # sigma is a Python number: it sets the kernel's size, so each value traces once.
        return regularizers.gaussian_blur(self.param.image(), sigma)

    def step(self) -> np.ndarray:
        """One optimization step; returns each image's objective before the update."""
        return self._step().numpy()

    def blur(self, sigma: float) -> None:
        self.param.assign_image(self._blur(float(sigma)).numpy())

    def images(self) -> np.ndarray:
        """The current images at the model's input size; a fresh array. In [0, 1] when kept in
        range; raw, unclipped values when the recipe leaves pixels free."""
        view = self._model_view(self.param.image()).numpy()
        if self._clipped:
            view = np.clip(view, 0.0, 1.0)
        return np.array(view, dtype=np.float32, copy=True)


def _per_image_rms_normalized(grad: tf.Tensor, epsilon: tf.Tensor) -> tf.Tensor:
    axes = list(range(1, len(grad.shape)))
    rms = tf.sqrt(tf.reduce_mean(tf.square(grad), axis=axes, keepdims=True))
    return grad / (rms + epsilon)


def _resize(pixels: np.ndarray, height: int, width: int, clipped: bool) -> np.ndarray:
    if pixels.shape[1:3] == (height, width):
        return pixels.astype(np.float32)
    resized = tf.image.resize(pixels.astype(np.float32), (height, width), method="bilinear")
    return np.clip(resized.numpy(), 0.0, 1.0) if clipped else resized.numpy()


def octave_sizes(height: int, width: int, recipe: Recipe) -> list[tuple[int, int]]:
    """Image sizes of each octave, smallest first, ending at the model's size."""
    sizes = []
    for k in reversed(range(recipe.octaves)):
        factor = recipe.octave_scale**k
        sizes.append((max(4, math.ceil(height / factor)), max(4, math.ceil(width / factor))))
    return sizes


def octave_steps(recipe: Recipe) -> list[int]:
    """Steps per octave: equal shares, the remainder to the last (full-size) octave."""
    share = recipe.steps // recipe.octaves
    counts = [share] * recipe.octaves
    counts[-1] += recipe.steps - share * recipe.octaves
    return counts


def initial_images(
    recipe: Recipe,
    shape: tuple[int, int, int, int],
    user_image: np.ndarray | None = None,
) -> np.ndarray:
    """The starting images of a run, (B, H, W, C) in [0, 1] (fractions of the input range)."""
    rng = np.random.default_rng(recipe.seed)
    if recipe.init == "scales":
        return initial.scale_mixture(shape, rng, recipe.init_scales, recipe.init_smooth)
    if recipe.init == "image":
        if user_image is None:
            raise ValueError("the recipe starts from an image, but no image is open")
        return initial.from_image(user_image, shape, recipe.init_noise, rng)
    return initial.grey_noise(shape, rng, recipe.init_noise, recipe.init_centre)


def is_milestone(step: int) -> bool:
    """Steps 1, 2, 4, 8, ...: logarithmically spaced snapshots for the filmstrip."""
    return step > 0 and step & (step - 1) == 0


def visualize(
    programs: list[Program],
    recipe: Recipe,
    start: np.ndarray,
    should_stop: Callable[[], bool],
    min_interval: float = 0.0,
    first_step: int = 0,
) -> Generator[Snapshot, None, Outcome]:
    """Run `recipe` through one program per octave, yielding snapshots; returns the Outcome.

    A snapshot comes every `recipe.frame_every` steps, but no sooner than `min_interval`
    seconds after the previous one (its objectives then cover every step since), and always at
    the filmstrip's milestones and at the end. `should_stop` is checked before every step.
    The Outcome says how many steps ran and why the run ended: all steps done, converged,
    cancelled, or a dead filter (objective zero).

    With `first_step` > 0 the run resumes a stopped one: the program of the octave it stopped in
    already holds its state (Program.restore_state), and the step count goes on from there.
    """
    last_sent = -math.inf
    history: list[float] = []
    pending: list[float] = []
    scores = np.zeros(0, np.float32)
    step, done_before, reason = first_step, 0, "steps"
    images = start
    for octave, (program, count) in enumerate(zip(programs, octave_steps(recipe), strict=True)):
        if done_before + count <= first_step:  # an octave a resumed run has finished already
            done_before += count
            continue
        if step > first_step or first_step == done_before:
            # A fresh octave starts from the images so far, with its own optimizer state and
            # random stream: the program may have run before, and a run must not depend on that.
            program.start(images, recipe.seed + octave)
        # else: the octave a resumed run stopped in; its program holds the state it stopped in
        for _ in range(done_before + count - step):
            if should_stop():
                reason = "cancelled"
                break
            scores = program.step()
            step += 1
            value = float(np.mean(scores))
            history.append(value)
            pending.append(value)
            if recipe.blur_every and step % recipe.blur_every == 0:
                program.blur(recipe.blur_sigma)
            early = _early_stop(history, recipe)
            milestone = is_milestone(step)
            last = step == recipe.steps or early is not None
            due = step % recipe.frame_every == 0 and time.monotonic() - last_sent >= min_interval
            if milestone or last or due:
                yield Snapshot(step, program.images(), tuple(pending), scores, milestone)
                pending = []
                last_sent = time.monotonic()
            if early is not None:
                reason = early
                break
        done_before += count
        images = program.images()
        if reason != "steps":
            break
    if pending:
        yield Snapshot(step, images, tuple(pending), scores, False)
    return Outcome(step, reason)


def _early_stop(history: list[float], recipe: Recipe) -> str | None:
    if len(history) == DEAD_AFTER_STEPS and not any(history):
        return "dead"
    window = recipe.converge_window
    if window and len(history) > window:
        before, now = history[-window - 1], history[-1]
        if abs(now - before) <= recipe.converge_tol * max(abs(before), 1e-12):
            return "converged"
    return None
