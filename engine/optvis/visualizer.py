"""Visualizations of one model: compiled programs, dead-filter rescue, quality, layer atlases.

A `Visualizer` caches what is expensive to build (truncated models, compiled steps) and the
reference activations that say how good an image is. It yields plain values; the engine
session turns them into messages.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, replace

import keras
import numpy as np
import tensorflow as tf

from engine.models.surgery import linearized
from engine.optvis import memory
from engine.optvis.initial import scale_mixture
from engine.optvis.objectives import Objective
from engine.optvis.program import (
    STREAM_INTERVAL,
    Outcome,
    Program,
    ProgramState,
    Snapshot,
    initial_images,
    model_size,
    octave_sizes,
    octave_steps,
    visualize,
)
from engine.protocol import ModelSummary, ObjectiveTerm
from engine.protocol.recipe import Recipe

# Filters optimized together in one batch by the layer atlas.
ATLAS_BATCH = 64
# Starting images tried, in one batch, when a filter does not fire from the recipe's start.
RESCUE_CANDIDATES = 16
RESCUE_STEPS = 12


@dataclass(frozen=True)
class Resumable:
    """Where a stopped visualization stood, so that it can go on exactly from there."""

    terms: tuple[ObjectiveTerm, ...]
    recipe: Recipe
    steps_done: int
    restarted: bool
    images: np.ndarray  # (B, H, W, C) in [0, 1], as it stopped
    state: ProgramState  # of the octave it stopped in


@dataclass(frozen=True)
class RunResult:
    """The end of one visualization: the return value of `Visualizer.run`."""

    images: np.ndarray  # (B, H, W, C) in [0, 1]
    activation: float  # objective of the first image, evaluated without transforms
    activations: np.ndarray  # (B,)
    outcome: Outcome
    restarted: bool
    resumable: Resumable | None = None  # set when it stopped before its steps were done


@dataclass(frozen=True)
class AtlasChunk:
    """Images of some filters of an atlas; activations and deadness only once `final`."""

    units: list[int]
    images: np.ndarray  # (len(units), H, W, C) in [0, 1]
    activations: np.ndarray | None
    dead: np.ndarray | None
    final: bool


def _static_key(recipe: Recipe) -> tuple:
    """The parts of a recipe baked into a compiled step (others are variables)."""
    return (
        recipe.param,
        recipe.decorrelate,
        recipe.pad,
        recipe.scales,
        recipe.rotate > 0,
        recipe.optimizer,
        recipe.normalize_grad,
        recipe.lp_p,
    )


class Visualizer:
    """Everything needed to visualize the filters of one loaded model."""

    def __init__(
        self,
        model: keras.Model,
        input_shape: tuple[int | None, int | None, int],
        input_range: tuple[float, float],
        reference_images: Callable[[], np.ndarray | None],
        summary: ModelSummary | None = None,
    ) -> None:
        self.model = model
        self.summary = summary  # its layers' shapes size the atlas's batches to free memory
        self.input_shape = input_shape
        self.input_range = input_range
        self._reference_images = reference_images
        self._objectives: dict[tuple, Objective] = {}
        self._programs: dict[tuple, Program] = {}
        self._references: dict[tuple[str, ...], np.ndarray | None] = {}
        self.current: list[Program] = []  # the programs of the running visualization

    # ------------------------------------------------------------------ building

    def programs(self, terms: Sequence[ObjectiveTerm], recipe: Recipe) -> list[Program]:
        """One compiled program per octave, configured for `terms`."""
        layers = tuple(term.layer for term in terms)
        objective_key = (layers, recipe.batch)
        objective = self._objectives.get(objective_key)
        if objective is None:
            objective = Objective(self.model, layers, recipe.batch)
            self._objectives[objective_key] = objective
        objective.configure(terms)
        height, width, _ = model_size(self.input_shape)
        programs = []
        for size in octave_sizes(height, width, recipe):
            key = (objective_key, size, _static_key(recipe))
            program = self._programs.get(key)
            if program is None:
                program = Program(objective, self.input_shape, self.input_range, recipe, size)
                self._programs[key] = program
            program.set_knobs(recipe)
            programs.append(program)
        return programs

    def tweak(self, recipe: Recipe) -> None:
        """Apply the live knobs of `recipe` to the running visualization."""
        for program in self.current:
            program.set_knobs(recipe)

    # ------------------------------------------------------------------ one visualization

    def run(
        self,
        terms: Sequence[ObjectiveTerm],
        recipe: Recipe,
        should_stop: Callable[[], bool],
        user_image: np.ndarray | None = None,
    ) -> Generator[Snapshot, None, RunResult]:
        """Yield snapshots; return the RunResult. A dead filter gets one rescue attempt."""
        programs = self.programs(terms, recipe)
        height, width, channels = model_size(self.input_shape)
        start = initial_images(recipe, (recipe.batch, height, width, channels), user_image)
        restarted = False
        while True:
            outcome = yield from self._drive(programs, recipe, start, should_stop)
            if outcome.reason != "dead" or restarted:
                break
            rescue = self.find_live_start(terms, recipe)
            if rescue is None:
                break
            start, restarted = rescue, True
            programs = self.programs(terms, recipe)  # the rescue reconfigured the objective
        return self._result(tuple(terms), recipe, programs, outcome, restarted)

    def resume(
        self, stopped: Resumable, should_stop: Callable[[], bool]
    ) -> Generator[Snapshot, None, RunResult]:
        """Go on with a stopped run from the very state it stopped in, for its steps left."""
        programs = self.programs(stopped.terms, stopped.recipe)
        programs[_octave_at(stopped.recipe, stopped.steps_done)].restore_state(stopped.state)
        outcome = yield from self._drive(
            programs, stopped.recipe, stopped.images, should_stop, stopped.steps_done
        )
        return self._result(stopped.terms, stopped.recipe, programs, outcome, stopped.restarted)

    def _drive(
        self,
        programs: list[Program],
        recipe: Recipe,
        start: np.ndarray,
        should_stop: Callable[[], bool],
        first_step: int = 0,
    ) -> Generator[Snapshot, None, Outcome]:
        self.current = programs
        try:
            return (
                yield from visualize(
                    programs, recipe, start, should_stop, STREAM_INTERVAL, first_step
                )
            )
        finally:
            self.current = []

    def _result(
        self,
        terms: tuple[ObjectiveTerm, ...],
        recipe: Recipe,
        programs: list[Program],
        outcome: Outcome,
        restarted: bool,
    ) -> RunResult:
        active = programs[_octave_at(recipe, outcome.steps_done)]
        images = active.images()
        activations = self.evaluate(active, images)
        resumable = None
        if outcome.reason == "cancelled" and 0 < outcome.steps_done < recipe.steps:
            resumable = Resumable(
                terms, recipe, outcome.steps_done, restarted, images, active.save_state()
            )
        return RunResult(images, float(activations[0]), activations, outcome, restarted, resumable)

    def evaluate(self, program: Program, images: np.ndarray) -> np.ndarray:
        """The objective of each image as the model sees it, without random transforms."""
        low, high = self.input_range
        return program.sign.numpy() * program.objective(low + (high - low) * images).numpy()

    def find_live_start(self, terms: Sequence[ObjectiveTerm], recipe: Recipe) -> np.ndarray | None:
        """Starting images that make a dead-at-grey filter fire, or None if none does.

        Tries many multi-scale starts at once (one batch, a few Adam steps) and keeps the best.
        """
        height, width, channels = model_size(self.input_shape)
        search = replace(
            recipe,
            batch=RESCUE_CANDIDATES,
            param="pixel",
            optimizer="adam",
            learning_rate=0.05,
            normalize_grad=False,
            octaves=1,
            diversity=0.0,
            steps=RESCUE_STEPS,
            converge_window=0,
            blur_every=0,
        )
        rng = np.random.default_rng(recipe.seed + 1)
        starts = []
        for k in range(RESCUE_CANDIDATES):
            amplitude = 0.2 + 0.3 * (k % 4) / 3
            starts.append(_mixture((1, height, width, channels), rng, amplitude, smooth=k % 2 == 0))
        program = self.programs(terms, search)[0]
        program.start(np.concatenate(starts), recipe.seed)
        for _ in range(RESCUE_STEPS):
            program.step()
        images = program.images()
        scores = self.evaluate(program, images)
        best = int(np.argmax(scores))
        if not scores[best] > 0:
            return None
        return np.repeat(images[best : best + 1], recipe.batch, axis=0)

    # ------------------------------------------------------------------ layer atlas

    def atlas(
        self,
        layer: tuple[str, ...],
        units: Sequence[int],
        recipe: Recipe,
        should_stop: Callable[[], bool],
        live_every: int = 16,
        budget_bytes: int | None = None,
    ) -> Iterator[AtlasChunk]:
        """Visualize `units` of `layer`, many per batch: one compiled step serves them all.

        Yields in-progress chunks every `live_every` steps and a final chunk per batch. The
        batch is at most ATLAS_BATCH and what fits `budget_bytes` (default: the free memory);
        NotEnoughMemory, before anything runs, when not even one image fits, or when TensorFlow
        runs out all the same.
        """
        units = list(units)
        plan = self.atlas_plan(layer, len(units), budget_bytes)
        try:
            yield from self._atlas(layer, units, recipe, should_stop, live_every, plan.batch)
        except (MemoryError, tf.errors.ResourceExhaustedError) as error:
            if isinstance(error, memory.NotEnoughMemory) or self.summary is None:
                raise
            raise memory.NotEnoughMemory(
                memory.ran_out(self.summary, layer, "layer atlas", plan),
                memory.smaller_side(self.summary, layer, plan.total // 2),
            ) from error

    def atlas_plan(
        self, layer: tuple[str, ...], count: int, budget_bytes: int | None = None
    ) -> memory.MemoryPlan:
        """The atlas's batch for `count` filters of `layer` within `budget_bytes` (default:
        the free memory); without a summary, ATLAS_BATCH unchecked."""
        wanted = max(1, min(ATLAS_BATCH, count))
        if self.summary is None:
            return memory.MemoryPlan(wanted, 0, None)
        return memory.plan_batch(self.summary, layer, wanted, "layer atlas", budget_bytes)

    def _atlas(self, layer, units, recipe, should_stop, live_every, batch):
        recipe = replace(recipe, batch=batch, diversity=0.0)
        height, width, channels = model_size(self.input_shape)
        for first in range(0, len(units), batch):
            chunk = units[first : first + batch]
            padded = chunk + [chunk[-1]] * (batch - len(chunk))  # the last batch is topped up
            programs = self.programs([ObjectiveTerm(layer, chunk[0])], recipe)
            programs[0].objective.configure([ObjectiveTerm(layer, chunk[0])], padded)
            start = initial_images(recipe, (batch, height, width, channels))
            peak = np.zeros(batch, np.float32)
            run = visualize(programs, recipe, start, should_stop)
            while True:
                try:
                    snapshot = next(run)
                except StopIteration as ended:
                    outcome: Outcome = ended.value
                    break
                peak = np.maximum(peak, np.abs(snapshot.scores))
                if snapshot.step % live_every == 0:
                    yield AtlasChunk(chunk, snapshot.images[: len(chunk)], None, None, False)
            if outcome.reason == "cancelled":
                # Show how far it got, but as unfinished: it must not be taken for a result.
                yield AtlasChunk(chunk, programs[-1].images()[: len(chunk)], None, None, False)
                return
            images = programs[-1].images()[: len(chunk)]
            activations = self.evaluate(programs[-1], programs[-1].images())[: len(chunk)]
            # A filter that never moved off zero during the whole run never fired.
            dead = (peak[: len(chunk)] == 0) & (activations <= 0)
            if dead.any():
                images, activations, dead = self._rescue_chunk(
                    layer, chunk, recipe, should_stop, images, activations, dead
                )
                if should_stop():  # cancelled during the rescue: unfinished, as above
                    yield AtlasChunk(chunk, images, None, None, False)
                    return
            yield AtlasChunk(chunk, images, activations, dead, True)
            if should_stop():
                return

    def _rescue_chunk(self, layer, chunk, recipe, should_stop, images, activations, dead):
        """Run the dead filters of a chunk again, together, each from a start that fires.

        The starts come from the same batched search a single visualization uses; filters for
        which no start fires stay dead.
        """
        single = replace(recipe, batch=1)
        starts: dict[int, np.ndarray] = {}
        for unit, is_dead in zip(chunk, dead, strict=True):
            if is_dead and not should_stop():
                found = self.find_live_start([ObjectiveTerm(layer, unit)], single)
                if found is not None:
                    starts[unit] = found[0]
        if not starts:
            return images, activations, dead
        revived = list(starts)
        batch = recipe.batch
        padded = (revived * batch)[:batch]
        programs = self.programs([ObjectiveTerm(layer, revived[0])], recipe)
        programs[0].objective.configure([ObjectiveTerm(layer, revived[0])], padded)
        start = np.stack([starts[unit] for unit in padded])
        for _ in visualize(programs, recipe, start, should_stop):
            pass
        found = programs[-1].images()
        scores = self.evaluate(programs[-1], found)
        images, activations, dead = images.copy(), activations.copy(), dead.copy()
        for unit in revived:
            k = padded.index(unit)
            if scores[k] > 0:
                index = chunk.index(unit)
                images[index], activations[index], dead[index] = found[k], scores[k], False
        return images, activations, dead

    # ------------------------------------------------------------------ quality

    def reference_maxima(self, layer: tuple[str, ...]) -> np.ndarray | None:
        """Each filter's highest mean activation over the reference images (None: no images)."""
        if layer not in self._references:
            images = self._reference_images()
            if images is None or not len(images):
                self._references[layer] = None
            else:
                extractor = linearized(self.model, layer)
                best = None
                for start in range(0, len(images), 256):
                    out = extractor(images[start : start + 256], training=False).numpy()
                    means = out.reshape(out.shape[0], -1, out.shape[-1]).mean(axis=1)
                    top = means.max(axis=0)
                    best = top if best is None else np.maximum(best, top)
                self._references[layer] = best
        return self._references[layer]

    def quality(
        self, terms: Sequence[ObjectiveTerm], recipe: Recipe, activation: float
    ) -> float | None:
        """Activation reached ÷ the filter's best over real images, for single-filter runs."""
        if len(terms) != 1 or terms[0].neuron is not None or recipe.negate:
            return None
        maxima = self.reference_maxima(terms[0].layer)
        if maxima is None:
            return None
        best = float(maxima[terms[0].unit])
        return activation / best if best > 0 else None


def _mixture(shape, rng, amplitude: float, smooth: bool) -> np.ndarray:
    return scale_mixture(shape, rng, smooth=smooth, amplitude=amplitude)


def _octave_at(recipe: Recipe, steps_done: int) -> int:
    """The index of the octave a run that has done `steps_done` steps is in (or ended in)."""
    counts = octave_steps(recipe)
    end = 0
    for index, count in enumerate(counts):
        end += count
        if steps_done < end:
            return index
    return len(counts) - 1
