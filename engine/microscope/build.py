"""The microscope's stages in order, for any executor: scan, atlas, then each layer's files.

A chunk counts as done when its file exists (files are written whole or not at all), so a
rerun skips what is done and an interrupted run loses at most the chunks in flight. The
manifest is rewritten after every chunk; only this driver writes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from engine.microscope import manifest
from engine.microscope.finish import finish_layer
from engine.microscope.layout import Layout, read_json
from engine.microscope.plan import AtlasChunk, LayerChunk, Plan, ScanChunk
from engine.microscope.work import (
    Context,
    atlas_chunk,
    load_scan,
    scan_chunk,
    store_atlas,
    store_scan,
)

Chunk = TypeVar("Chunk")
Result = TypeVar("Result")
StopFn = Callable[[], bool]
Work = Callable[[Context, Chunk, StopFn], Result | None]


class Executor(Protocol):
    """What runs a stage's chunks: here (local.LocalExecutor) or on a cluster."""

    def map(
        self,
        work: Work,
        chunks: Sequence[Chunk],
        store: Callable[[Chunk, Result], None],
    ) -> bool:
        """Run `work(context, chunk, should_stop)` for every chunk, each on a Context built
        once per worker, and call `store(chunk, result)` here, in the driver, for each
        finished one (any order; a None result is a chunk stopped early: not stored). False
        when it stopped before every chunk was done."""
        ...


class Reporter(Protocol):
    def __call__(self, stage: str, done: int, total: int, items: int, total_items: int) -> None:
        """`done` of `total` chunks of `stage` are finished, covering `items` of `total_items`
        (images, units or layers)."""
        ...


@dataclass
class Outcome:
    """How a build ended and what it did in this run."""

    complete: bool
    manifest: dict
    images_scanned: int = 0
    scan_seconds: float = 0.0
    units_visualized: int = 0
    atlas_seconds: float = 0.0
    seconds: float = 0.0
    layer_summaries: dict[str, dict] = field(default_factory=dict)


def finished(layout: Layout, plan: Plan) -> set[str]:
    """The ids of the plan's chunks whose files are there."""
    stored: list[ScanChunk | AtlasChunk] = [*plan.scan, *plan.atlas]
    done = {c.id for c in stored if layout.chunk(c.id).exists()}
    return done | {c.id for c in plan.layers if layout.units(c.layer).exists()}


def _images(chunk: ScanChunk) -> int:
    return chunk.stop - chunk.start


def _units(chunk: AtlasChunk) -> int:
    return chunk.stop - chunk.first


def _one(_chunk: LayerChunk) -> int:
    return 1


class _Run:
    """One build's bookkeeping: which chunks are done, the manifest, the progress reports."""

    def __init__(self, layout: Layout, plan: Plan, body: dict, report: Reporter, after) -> None:
        self.layout, self.plan, self.body = layout, plan, body
        self.report, self.after = report, after
        self.done = finished(layout, plan)
        self.outcome = Outcome(False, manifest.write(layout, body, plan, self.done))

    def begin(self, stage: str, chunks: Sequence, items: Callable) -> list:
        """Report where `stage` starts; its chunks still to do."""
        self._report(stage, chunks, items)
        return [c for c in chunks if c.id not in self.done]

    def kept(self, stage: str, chunk_id: str, chunks: Sequence, items: Callable) -> None:
        self.done.add(chunk_id)
        manifest.write(self.layout, self.body, self.plan, self.done)
        self._report(stage, chunks, items)
        self.after(chunk_id)

    def _report(self, stage: str, chunks: Sequence, items: Callable) -> None:
        ready = [c for c in chunks if c.id in self.done]
        total = sum(map(items, chunks))
        self.report(stage, len(ready), len(chunks), sum(map(items, ready)), total)

    def keep_scan(self, chunk: ScanChunk, state) -> None:
        store_scan(self.layout, chunk, state)
        self.outcome.images_scanned += _images(chunk)
        self.kept("scan", chunk.id, self.plan.scan, _images)

    def keep_atlas(self, chunk: AtlasChunk, arrays) -> None:
        store_atlas(self.layout, chunk, arrays)
        self.outcome.units_visualized += _units(chunk)
        self.kept("atlas", chunk.id, self.plan.atlas, _units)

    def close(self, complete: bool) -> Outcome:
        """The last manifest: with the images scanned and skipped and the verdict totals once
        every chunk is done."""
        body, outcome = self.body, self.outcome
        if complete:
            body = {**body, "images": {**body["images"], **_scanned(self.layout, self.plan)}}
            outcome.layer_summaries = {
                entry["name"]: read_json(self.layout.units(tuple(entry["path"])))["summary"]
                for entry in body["layers"]
            }
            body["summary"] = totals(outcome.layer_summaries)
        outcome.manifest = manifest.write(self.layout, body, self.plan, self.done)
        outcome.complete = outcome.manifest["complete"]
        return outcome


def build(
    layout: Layout,
    plan: Plan,
    body: dict,
    executor: Executor,
    driver: Callable[[], Context],
    should_stop: StopFn,
    report: Reporter,
    after_chunk: Callable[[str], None] = lambda _id: None,
) -> Outcome:
    """Run every chunk of `plan` not yet done; `body` is the manifest without its stages.

    `driver()` gives the Context the layers' files are written with (here, where the folder
    is); `after_chunk(id)` runs after each chunk is kept (tests stop a run there)."""
    began = time.perf_counter()
    run = _Run(layout, plan, body, report, after_chunk)
    start = time.perf_counter()
    todo = run.begin("scan", plan.scan, _images)
    going = executor.map(scan_chunk, todo, run.keep_scan)
    run.outcome.scan_seconds = time.perf_counter() - start
    if going:
        start = time.perf_counter()
        todo = run.begin("atlas", plan.atlas, _units)
        going = executor.map(atlas_chunk, todo, run.keep_atlas)
        run.outcome.atlas_seconds = time.perf_counter() - start
    if going:
        for chunk in run.begin("layers", plan.layers, _one):
            if should_stop():
                going = False
                break
            finish_layer(driver(), layout, plan, chunk, body["identity"]["display"])
            run.kept("layers", chunk.id, plan.layers, _one)
    outcome = run.close(going)
    outcome.seconds = time.perf_counter() - began
    return outcome


def _scanned(layout: Layout, plan: Plan) -> dict:
    """How many images went through the model and which could not be read, and why."""
    states = [load_scan(layout.chunk(c.id)) for c in plan.scan_of(0)]
    skipped = {name: why for state in states for name, why in sorted(state.skipped.items())}
    return {"scanned": sum(state.count for state in states), "skipped": skipped}


def totals(layer_summaries: dict[str, dict]) -> dict:
    """Units and verdict counts over all layers."""
    verdicts: dict[str, int] = {}
    for summary in layer_summaries.values():
        for kind, count in summary["verdicts"].items():
            verdicts[kind] = verdicts.get(kind, 0) + count
    units = sum(summary["units"] for summary in layer_summaries.values())
    return {"units": units, "verdicts": verdicts}
