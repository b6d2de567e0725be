"""Visualizations of one model: compiled programs, dead-filter rescue, verdicts, layer atlases.

A `Visualizer` caches what is expensive to build (truncated models, compiled steps) and the
reference activations that say how good an image is (engine/optvis/real_images.py). A unit that
does not fire from the recipe's start is rescued from random mixtures, then from its best real
image; only a unit no start makes fire is dead (engine/optvis/verdict.py). It yields plain
values; the engine session turns them into messages.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from engine.optvis import layer_atlas, memory
from engine.optvis.fast_objective import build_objective, exact_scores
from engine.optvis.initial import from_image, scale_mixture
from engine.optvis.layer_atlas import AtlasChunk
from engine.optvis.objectives import Objective
from engine.optvis.precision import resolve
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
from engine.optvis.real_images import RealImages, single_unit
from engine.protocol import ModelSummary, ObjectiveTerm, Precision, Verdict
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
    from_real: bool = False  # it started from its unit's best real image


@dataclass(frozen=True)
class RunResult:
    """The end of one visualization: the return value of `Visualizer.run`."""

    images: np.ndarray  # (B, H, W, C) in [0, 1]
    activation: float  # objective of the first image, evaluated without transforms
    activations: np.ndarray  # (B,)
    outcome: Outcome
    restarted: bool
    resumable: Resumable | None = None  # set when it stopped before its steps were done
    from_real: bool = False  # no other start fired: it started from the best real image
    verdict: Verdict | None = None  # single-unit runs that were not cancelled
    best_real_image: np.ndarray | None = None  # (H, W, C) in [0, 1], with the verdict


class _Ended(NamedTuple):
    """Where a run ended: the program it ended in, its images and their objective."""

    program: Program
    images: np.ndarray
    activations: np.ndarray


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
        recipe.precision,
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
        slice_channels: bool = True,
    ) -> None:
        self.model = model
        # Compute only the channels an objective of one layer reads (False: every channel, to
        # measure or check the slice).
        self.slice_channels = slice_channels
        self.summary = summary  # its layers' shapes size the atlas's batches to free memory
        self.input_shape = input_shape
        self.input_range = input_range
        self.real = RealImages(model, input_range, reference_images)
        self._objectives: dict[tuple, Objective] = {}
        self._programs: dict[tuple, Program] = {}
        self._precisions: dict[str, Precision] = {}
        self.current: list[Program] = []  # the programs of the running visualization

    # ------------------------------------------------------------------ building

    def programs(self, terms: Sequence[ObjectiveTerm], recipe: Recipe) -> list[Program]:
        """One compiled program per octave, configured for `terms`."""
        layers = tuple(term.layer for term in terms)
        precision = self.precision(recipe)
        # Terms of one layer read only their channels: the last layer computes just those. Not
        # with diversity, which compares whole layers across the batch.
        sliced = (
            self.slice_channels
            and len(set(layers)) == 1
            and (recipe.batch == 1 or recipe.diversity == 0)
        )
        objective_key = (layers, recipe.batch, precision.compute, sliced)
        objective = self._objectives.get(objective_key)
        if objective is None:
            width = len(terms) if sliced else None
            objective = build_objective(self.model, layers, recipe.batch, precision, width)
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

    def precision(self, recipe: Recipe) -> Precision:
        """What the recipe's precision means on this machine; ValueError for float16 on a CPU."""
        found = self._precisions.get(recipe.precision)
        if found is None:
            height, width, _ = model_size(self.input_shape)
            found = resolve(recipe.precision, height * width)
            self._precisions[recipe.precision] = found
        return found

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
        """Yield snapshots; return the RunResult.

        A unit that does not fire gets one rescue: from random mixtures, else (a single-unit
        run) from its best real image, when that fires.
        """
        programs = self.programs(terms, recipe)
        height, width, channels = model_size(self.input_shape)
        start = initial_images(recipe, (recipe.batch, height, width, channels), user_image)
        restarted = from_real = False
        while True:
            outcome = yield from self._drive(programs, recipe, start, should_stop)
            ended = self._ended(programs, recipe, outcome)
            if restarted or not self._needs_rescue(terms, recipe, outcome, ended):
                break
            rescue = self.find_live_start(terms, recipe)
            if rescue is None:
                rescue = self.real_start(terms, recipe)
                from_real = rescue is not None
            if rescue is None or should_stop():
                break
            start, restarted = rescue, True
            programs = self.programs(terms, recipe)  # the rescue reconfigured the objective
        return self._result(tuple(terms), recipe, ended, outcome, restarted, from_real)

    def resume(
        self, stopped: Resumable, should_stop: Callable[[], bool]
    ) -> Generator[Snapshot, None, RunResult]:
        """Go on with a stopped run from the very state it stopped in, for its steps left."""
        programs = self.programs(stopped.terms, stopped.recipe)
        programs[_octave_at(stopped.recipe, stopped.steps_done)].restore_state(stopped.state)
        outcome = yield from self._drive(
            programs, stopped.recipe, stopped.images, should_stop, stopped.steps_done
        )
        ended = self._ended(programs, stopped.recipe, outcome)
        return self._result(
            stopped.terms, stopped.recipe, ended, outcome, stopped.restarted, stopped.from_real
        )

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

    def _ended(self, programs: list[Program], recipe: Recipe, outcome: Outcome) -> _Ended:
        """Where a run ended: its program, images and their float32 objective, computed once
        for both the rescue's question and the result (a forward pass each, on a big model)."""
        active = programs[_octave_at(recipe, outcome.steps_done)]
        images = active.images()
        return _Ended(active, images, self.evaluate(active, images))

    def _result(
        self,
        terms: tuple[ObjectiveTerm, ...],
        recipe: Recipe,
        ended: _Ended,
        outcome: Outcome,
        restarted: bool,
        from_real: bool = False,
    ) -> RunResult:
        active, images, activations = ended
        resumable = None
        if outcome.reason == "cancelled" and 0 < outcome.steps_done < recipe.steps:
            resumable = Resumable(
                terms, recipe, outcome.steps_done, restarted, images, active.save_state(), from_real
            )
        verdict, best = None, None
        unit = single_unit(terms, recipe)
        # A cancelled run may be the window closing: no time for the reference set.
        if unit is not None and outcome.reason != "cancelled":
            verdict = self.real.verdict(
                unit.layer, unit.unit, float(activations[0]), from_real, images[0]
            )
            best = self.real.best_start(unit.layer, unit.unit)
        activation = float(activations[0])
        return RunResult(
            images, activation, activations, outcome, restarted, resumable, from_real, verdict, best
        )

    def _needs_rescue(
        self,
        terms: Sequence[ObjectiveTerm],
        recipe: Recipe,
        outcome: Outcome,
        ended: _Ended,
    ) -> bool:
        """Whether a run that ended with `outcome` left its unit not firing."""
        if outcome.reason in ("dead", "cancelled"):
            return outcome.reason == "dead"
        unit = single_unit(terms, recipe)
        if unit is None:
            return False
        return not self.real.fires(unit.layer, unit.unit, float(ended.activations[0]))

    def real_start(self, terms: Sequence[ObjectiveTerm], recipe: Recipe) -> np.ndarray | None:
        """Starting images from the unit's best real image (with the recipe's start noise), or
        None: not a single-unit run, no reference images, or none makes it fire."""
        unit = single_unit(terms, recipe)
        best = None if unit is None else self.real.best_start(unit.layer, unit.unit)
        if best is None:
            return None
        height, width, channels = model_size(self.input_shape)
        rng = np.random.default_rng(recipe.seed + 2)
        noise = min(recipe.init_noise, 0.5)
        return from_image(best, (recipe.batch, height, width, channels), noise, rng)

    def evaluate(self, program: Program, images: np.ndarray) -> np.ndarray:
        """The objective of each image as the model sees it, without random transforms; in
        float32 on the full model, whatever precision the run computes in."""
        low, high = self.input_range
        inputs = low + (high - low) * images
        return program.sign.numpy() * exact_scores(program.objective, inputs).numpy()

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
        if not scores[best] > self._fire_level(terms, recipe):
            return None
        return np.repeat(images[best : best + 1], recipe.batch, axis=0)

    def _fire_level(self, terms: Sequence[ObjectiveTerm], recipe: Recipe) -> float:
        """What counts as firing for the objective: above a small share of its layer's scale
        for a single unit, above zero otherwise."""
        unit = single_unit(terms, recipe)
        return 0.0 if unit is None else self.real.threshold(unit.layer)

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

    def _atlas(self, layer, units, recipe, should_stop, live_every, batch) -> Iterator[AtlasChunk]:
        return layer_atlas.chunks(self, layer, units, recipe, should_stop, live_every, batch)

    def atlas_plan(
        self, layer: tuple[str, ...], count: int, budget_bytes: int | None = None
    ) -> memory.MemoryPlan:
        """The atlas's batch for `count` filters of `layer` within `budget_bytes` (default:
        the free memory); without a summary, ATLAS_BATCH unchecked."""
        wanted = max(1, min(ATLAS_BATCH, count))
        if self.summary is None:
            return memory.MemoryPlan(wanted, 0, None)
        return memory.plan_batch(self.summary, layer, wanted, "layer atlas", budget_bytes)

    # ------------------------------------------------------------------ quality

    def reference_maxima(self, layer: tuple[str, ...]) -> np.ndarray | None:
        """Each filter's highest mean activation over the reference images (None: no images)."""
        return self.real.maxima(layer)

    def quality(
        self, terms: Sequence[ObjectiveTerm], recipe: Recipe, activation: float
    ) -> float | None:
        """Activation reached ÷ the filter's best over real images, for single-filter runs."""
        unit = single_unit(terms, recipe)
        maxima = None if unit is None else self.reference_maxima(unit.layer)
        if unit is None or maxima is None:
            return None
        best = float(maxima[unit.unit])
        return activation / best if best > 0 else None

    def unit_verdict(
        self,
        layer: tuple[str, ...],
        unit: int,
        activation: float,
        from_real: bool = False,
        image: np.ndarray | None = None,
    ) -> Verdict:
        """The verdict on `unit` of `layer` (an atlas tile) that reached `activation`."""
        return self.real.verdict(layer, unit, activation, from_real, image)


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
