"""The layer atlas's batches: many filters of one layer optimized together, in one program.

Filters that do not fire are run again, together, each from a start that fires (random
mixtures, else the filter's best real image); those no start makes fire stay dead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from engine.optvis.program import Outcome, Program, initial_images, model_size, visualize
from engine.optvis.real_images import RealImages
from engine.protocol import ObjectiveTerm
from engine.protocol.recipe import Recipe


class Visualizer(Protocol):
    """What the atlas needs of engine/optvis/visualizer.py's Visualizer (named here, not
    imported, so the two modules do not import each other)."""

    input_shape: tuple[int | None, int | None, int]
    real: RealImages

    def programs(self, terms: Sequence[ObjectiveTerm], recipe: Recipe) -> list[Program]: ...

    def evaluate(self, program: Program, images: np.ndarray) -> np.ndarray: ...

    def find_live_start(
        self, terms: Sequence[ObjectiveTerm], recipe: Recipe
    ) -> np.ndarray | None: ...

    def real_start(self, terms: Sequence[ObjectiveTerm], recipe: Recipe) -> np.ndarray | None: ...


@dataclass(frozen=True)
class AtlasChunk:
    """Images of some filters of an atlas; activations and deadness only once `final`."""

    units: list[int]
    images: np.ndarray  # (len(units), H, W, C) in [0, 1]
    activations: np.ndarray | None
    dead: np.ndarray | None
    final: bool
    from_real: np.ndarray | None = None  # (len(units),) bool: started from a real image


def chunks(
    visualizer: Visualizer,
    layer: tuple[str, ...],
    units: list[int],
    recipe: Recipe,
    should_stop: Callable[[], bool],
    live_every: int,
    batch: int,
) -> Iterator[AtlasChunk]:
    """Visualize `units` of `layer` `batch` at a time: live chunks every `live_every` steps,
    then a final chunk per batch (Visualizer.atlas sizes the batch)."""
    recipe = replace(recipe, batch=batch, diversity=0.0)
    height, width, channels = model_size(visualizer.input_shape)
    for first in range(0, len(units), batch):
        chunk = units[first : first + batch]
        padded = chunk + [chunk[-1]] * (batch - len(chunk))  # the last batch is topped up
        programs = visualizer.programs([ObjectiveTerm(layer, chunk[0])], recipe)
        programs[0].objective.configure([ObjectiveTerm(layer, chunk[0])], padded)
        start = initial_images(recipe, (batch, height, width, channels))
        peak = np.zeros(batch, np.float32)
        threshold = visualizer.real.threshold(layer)
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
        activations = visualizer.evaluate(programs[-1], programs[-1].images())[: len(chunk)]
        # A filter that never rose above a small share of the layer's scale never fired.
        dead = (peak[: len(chunk)] <= threshold) & (activations <= threshold)
        from_real = np.zeros(len(chunk), bool)
        if dead.any():
            images, activations, dead, from_real = _rescue_chunk(
                visualizer, layer, chunk, recipe, should_stop, images, activations, dead
            )
            if should_stop():  # cancelled during the rescue: unfinished, as above
                yield AtlasChunk(chunk, images, None, None, False)
                return
        yield AtlasChunk(chunk, images, activations, dead, True, from_real)
        if should_stop():
            return


def _rescue_chunk(visualizer, layer, chunk, recipe, should_stop, images, activations, dead):
    """Run the dead filters of a chunk again, together, each from a start that fires.

    The starts come from the same batched search a single visualization uses, else from
    the filter's best real image; filters for which no start fires stay dead.
    """
    single = replace(recipe, batch=1)
    starts: dict[int, np.ndarray] = {}
    real: set[int] = set()
    for unit, is_dead in zip(chunk, dead, strict=True):
        if is_dead and not should_stop():
            terms = [ObjectiveTerm(layer, unit)]
            found = visualizer.find_live_start(terms, single)
            if found is None:
                found = visualizer.real_start(terms, single)
                real.update([unit] if found is not None else [])
            if found is not None:
                starts[unit] = found[0]
    from_real = np.array([unit in real for unit in chunk])
    if not starts:
        return images, activations, dead, from_real
    revived = list(starts)
    batch = recipe.batch
    padded = (revived * batch)[:batch]
    programs = visualizer.programs([ObjectiveTerm(layer, revived[0])], recipe)
    programs[0].objective.configure([ObjectiveTerm(layer, revived[0])], padded)
    start = np.stack([starts[unit] for unit in padded])
    for _ in visualize(programs, recipe, start, should_stop):
        pass
    found = programs[-1].images()
    scores = visualizer.evaluate(programs[-1], found)
    images, activations, dead = images.copy(), activations.copy(), dead.copy()
    threshold = visualizer.real.threshold(layer)
    for unit in revived:
        k = padded.index(unit)
        if scores[k] > threshold:
            index = chunk.index(unit)
            images[index], activations[index], dead[index] = found[k], scores[k], False
    return images, activations, dead, from_real
