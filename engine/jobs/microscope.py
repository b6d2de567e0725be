"""The BuildMicroscope request: the window's microscope of the loaded model, built here.

It drives engine/microscope's builder with the local executor on the session's model (the one
the window shows, its input set-up included), so it is the same folder `python main.py
microscope` writes: a later run of either resumes it. Progress goes out through `emit` from the
builder's reporter (it reports from inside its loop, where nothing can be yielded); StopRun is
seen between chunks and inside them, and a stopped build keeps every finished chunk.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import keras

from engine.dataset.sources import ImageSource, folder_source
from engine.jobs.job import Done, Emit, Job, ShouldStop
from engine.microscope import manifest
from engine.microscope.build import build
from engine.microscope.layout import Layout, layer_folder_name, layer_text, write_json
from engine.microscope.local import LocalExecutor
from engine.microscope.plan import ATLAS_CHUNK, SCAN_CHUNK, Plan, make_plan
from engine.microscope.work import Context, Spec
from engine.protocol import (
    BuildMicroscope,
    EndReason,
    LayerInfo,
    MicroscopeProgress,
    ModelSummary,
    Status,
)
from engine.protocol.display import DEFAULT_DISPLAY
from engine.protocol.recipe import PRESETS

PRESET = "Classic"  # the headless command's default, so either can resume the other's folder


@dataclass(frozen=True)
class Ready:
    """A checked build: its folder, chunks, manifest body and the context it runs on."""

    layout: Layout
    plan: Plan
    body: dict
    context: Context


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
    executor = LocalExecutor(ready.context.spec, should_stop, ready.context)
    outcome = build(
        ready.layout, ready.plan, ready.body, executor, lambda: ready.context, should_stop,
        Reporter(request.request_id, emit),
    )  # fmt: skip
    reason = EndReason.FINISHED if outcome.complete else EndReason.CANCELLED
    return Done(str(ready.layout.root), reason)


def chosen_layers(summary: ModelSummary, wanted: tuple[tuple[str, ...], ...] | None) -> list:
    """The LayerInfo of each layer asked for (None: every conv layer and the output), in
    order, each once; ValueError names a layer the model lacks."""
    if wanted is None:
        chosen = [info for info in summary.walk() if info.has_kernels or info.is_output]
    else:
        chosen = []
        for path in wanted:
            info = summary.resolve(tuple(path))
            if info is None:
                raise ValueError(f"the model has no layer {'/'.join(path)!r}")
            chosen.append(info)
    if not chosen:
        raise ValueError("the model has no conv layer and no output layer to show")
    return list({info.path: info for info in chosen}.values())


def prepare(
    request: BuildMicroscope, model: keras.Model, summary: ModelSummary, fingerprint: str
) -> Ready:
    """Check the request against the folder (a folder built for another model, recipe or data
    list is refused), plan the chunks and write the list of images."""
    recipe = replace(
        PRESETS[PRESET], steps=request.steps, seed=request.seed, batch=1, diversity=0.0,
        negate=False,
    )  # fmt: skip
    source = folder_source(request.images)
    names = tuple(sorted(source.names))
    out = Path(request.out)
    out.mkdir(parents=True, exist_ok=True)
    layout = Layout(out)
    existing = manifest.load(layout)
    chunking = {"scan_chunk": SCAN_CHUNK, "atlas_chunk": ATLAS_CHUNK}
    wanted = manifest.identity(
        fingerprint, recipe.to_dict(), source.signature, request.top_k, DEFAULT_DISPLAY, chunking
    )
    if existing is not None:
        manifest.check(existing, wanted)
    layers = chosen_layers(summary, request.layers)
    groups = [[tuple(text.split("/")) for text in g] for g in (existing or {}).get("groups", [])]
    known = {layer for group in groups for layer in group}
    new = [tuple(info.path) for info in layers if tuple(info.path) not in known]
    groups = [*groups, new] if new else groups
    infos = {path: summary.resolve(path) for group in groups for path in group}
    counts = {path: info.size for path, info in infos.items() if info is not None}
    plan = make_plan(len(names), groups, counts, recipe.seed, SCAN_CHUNK, ATLAS_CHUNK)
    spec = Spec(
        summary.source, False, source.root, names, tuple(tuple(g) for g in groups),
        recipe.to_dict(), request.top_k,
    )  # fmt: skip
    context = Context(spec, model, summary, summary.name)
    body = _body(summary, wanted, groups, infos, source, names)
    write_json(layout.images_list, {"root": source.root, "names": list(names)})
    return Ready(layout, plan, body, context)


def _body(
    summary: ModelSummary,
    wanted: dict,
    groups: list[list[tuple[str, ...]]],
    infos: dict[tuple[str, ...], LayerInfo | None],
    source: ImageSource,
    names: tuple[str, ...],
) -> dict:
    """The manifest without its stages, as engine/cli/microscope.py writes it."""
    layers = [
        {
            "name": layer_text(path),
            "path": list(path),
            "folder": layer_folder_name(path),
            "units": info.size if info else 0,
            "kind": info.kind.value if info else None,
            "group": group,
        }
        for group, members in enumerate(groups)
        for path in members
        for info in [infos.get(path)]
    ]
    return {
        "format_version": wanted["format_version"],
        "identity": wanted,
        "model": {
            "name": summary.name,
            "source": summary.source,
            "fingerprint": wanted["fingerprint"],
            "input_shape": list(summary.input_shape),
            "input_range": list(summary.input_range),
        },
        "recipe": wanted["recipe"],
        "display": DEFAULT_DISPLAY,
        "top_k": wanted["top_k"],
        "images": {
            "root": source.root,
            "count": len(names),
            "list": "images.json",
            "digest": source.signature,
        },
        "groups": [[layer_text(path) for path in group] for group in groups],
        "layers": layers,
        "versions": manifest.versions(),
    }
