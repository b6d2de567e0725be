"""The BuildMicroscope request: the window's microscope of the loaded model, built here.

It drives engine/microscope's builder with the local executor on the session's model (the one
the window shows, its input set-up included), so it is the same folder `python main.py
microscope` writes: a later run of either resumes it. Progress goes out through `emit` from the
builder's reporter (it reports from inside its loop, where nothing can be yielded); StopRun is
seen between chunks and inside them, and a stopped build keeps every finished chunk.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import keras

from engine.dataset.sources import folder_source
from engine.jobs.job import Done, Emit, Job, ShouldStop
from engine.microscope.build import build
from engine.microscope.layout import Layout
from engine.microscope.local import LocalExecutor
from engine.microscope.prepare import BuildSettings, Prepared, model_source
from engine.microscope.prepare import prepare as prepare_build
from engine.microscope.work import Context, Spec
from engine.protocol import BuildMicroscope, EndReason, MicroscopeProgress, ModelSummary, Status
from engine.protocol.recipe import PRESETS

PRESET = "Classic"  # the headless command's default, so either can resume the other's folder


class Reporter:
    """build.Reporter sending MicroscopeProgress, with the time left at each stage's pace (the
    first report of a stage is its baseline, so chunks done by an earlier run do not count)."""

    def __init__(self, request_id: int, emit: Emit) -> None:
        self._request_id = request_id
        self._emit = emit
        self._began: dict[str, tuple[float, int]] = {}

    def __call__(self, stage: str, done: int, total: int, items: int, total_items: int) -> None:
        now = time.perf_counter()
        began, at_start = self._began.setdefault(stage, (now, items))
        rate = (items - at_start) / (now - began) if now > began else 0.0
        eta = (total_items - items) / rate if rate > 0 else None
        self._emit(
            MicroscopeProgress(self._request_id, stage, done, total, items, total_items, eta)
        )


def run_build(
    request: BuildMicroscope,
    model: keras.Model,
    summary: ModelSummary,
    fingerprint: str,
    emit: Emit,
    should_stop: ShouldStop,
) -> Job:
    """Build (or go on with) the microscope of `model` in `request.out`; the job's value is the
    folder. ValueError (ManifestMismatch among them) names bad input or a folder of another."""
    yield Status(f"Building a microscope of {summary.name} in {request.out}…", busy=True)
    ready = prepare(request, model, summary, fingerprint)
    executor = LocalExecutor(ready.spec, should_stop, ready.context)
    body = {**ready.body, "engine": executor.label}  # as the command records it
    outcome = build(
        ready.layout, ready.plan, body, executor, lambda: ready.context, should_stop,
        Reporter(request.request_id, emit),
    )  # fmt: skip
    reason = EndReason.FINISHED if outcome.complete else EndReason.CANCELLED
    return Done(str(ready.layout.root), reason)


def prepare(
    request: BuildMicroscope, model: keras.Model, summary: ModelSummary, fingerprint: str
) -> Prepared:
    """Check the request against the folder (a folder built for another model, recipe or data
    list is refused), plan the chunks and write the list of images, as the command does."""
    recipe = request.recipe
    if recipe is None:
        recipe = replace(PRESETS[PRESET], steps=request.steps, seed=request.seed)
    settings = BuildSettings(recipe, request.top_k, request.layers)
    source = folder_source(request.images)
    out = Path(request.out)
    out.mkdir(parents=True, exist_ok=True)
    spec = Spec(summary.source, False, source.root, (), (), {}, settings.top_k)
    context = Context(spec, model, summary, summary.name)
    origin = model_source(summary.source)
    return prepare_build(Layout(out), source, context, fingerprint, settings, origin)
