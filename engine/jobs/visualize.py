"""The Ascend and ContinueRun requests: one visualization, streamed frame by frame.

A stopped run keeps its state (engine/optvis/visualizer.py's Resumable) in a small store, so
ContinueRun goes on exactly where it stopped; the store forgets the oldest beyond a few.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np

from engine.jobs.job import RUN_END, Done, Job, mapped
from engine.optvis.program import Snapshot
from engine.optvis.visualizer import Resumable, RunResult
from engine.protocol import EndReason, Frame, LayerPath, Prediction, RunFinished

# Stopped runs kept for ContinueRun: each holds a few images' worth of parameters.
KEPT_RUNS = 8


@dataclass(frozen=True)
class RunTarget:
    """What a visualization is of, for its frames and its result."""

    layer: LayerPath
    unit: int
    is_class: bool  # the output layer's unit without a neuron: the result names its classes


class StoppedRuns:
    """The last few stopped visualizations, by the request id that ran them."""

    def __init__(self) -> None:
        self._runs: OrderedDict[int, tuple[RunTarget, Resumable]] = OrderedDict()

    def keep(self, run_id: int, target: RunTarget, resumable: Resumable) -> None:
        self._runs[run_id] = (target, resumable)
        while len(self._runs) > KEPT_RUNS:
            self._runs.popitem(last=False)

    def take(self, run_id: int) -> tuple[RunTarget, Resumable]:
        """The stopped run `run_id`, which can be continued once; ValueError if unknown."""
        if run_id not in self._runs:
            raise ValueError(
                f"run {run_id} cannot be continued: it finished, or was stopped too long ago"
            )
        return self._runs.pop(run_id)

    def clear(self) -> None:
        self._runs.clear()


def run_visualization(
    request_id: int,
    target: RunTarget,
    steps: int,
    run: Generator[Snapshot, None, RunResult],
    predict: Callable[[np.ndarray], tuple[Prediction, ...]],
    stopped: StoppedRuns,
    quality: Callable[[float], float | None],
) -> Job:
    """Stream `run`'s snapshots as Frames; end with its RunFinished.

    `predict` classifies the final image (for a class visualization), `quality` rates its
    activation against real images; a run stopped early is kept in `stopped` for ContinueRun.
    """
    result = yield from mapped(
        run,
        lambda snapshot: Frame(
            request_id,
            target.layer,
            target.unit,
            snapshot.step,
            steps,
            tiled(snapshot.images),
            snapshot.objectives,
            snapshot.milestone,
        ),
    )
    reason = RUN_END[result.outcome.reason]
    if result.resumable is not None:
        stopped.keep(request_id, target, result.resumable)
    predictions = predict(result.images[:1]) if target.is_class else ()
    finished = RunFinished(
        request_id,
        target.layer,
        target.unit,
        result.outcome.steps_done,
        tiled(result.images),
        result.activation,
        predictions,
        activation=result.activation,
        # A cancelled run may be the window closing: no time for the reference set.
        quality=None if reason is EndReason.CANCELLED else quality(result.activation),
        restarted=result.restarted,
        resumable=result.resumable is not None,
        verdict=result.verdict,
        best_real_image=None if result.best_real_image is None else result.best_real_image.copy(),
    )
    return Done(finished, reason)


def tiled(images: np.ndarray) -> np.ndarray:
    """A batch of images side by side, so the window shows every image of a diverse batch."""
    if len(images) == 1:
        return np.array(images[0], copy=True)
    return np.concatenate(list(images), axis=1)
