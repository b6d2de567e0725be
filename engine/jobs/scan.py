"""The ScanImages and ShowTopImages requests: dataset examples for every filter.

Jobs (engine/jobs/job.py); a scan is cached per model and folder, and a rescan resumes.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from engine.attribution import Target, explain
from engine.dataset.scan import BATCH_SIZE, Scanner, top_image_maps
from engine.dataset.sources import ImageSource, builtin_images, folder_source
from engine.dataset.state import ScanState
from engine.images.channels import to_model_channels
from engine.jobs.job import Done, Emit, Job, ShouldStop
from engine.optvis.memory import plan_batch
from engine.protocol import (
    EndReason,
    LayerPath,
    ModelSummary,
    ScanImages,
    ScanProgress,
    ScanSummary,
    ShowTopImages,
    TopImages,
)


@dataclass
class ScanContext:
    """The scanner of the loaded model and the last scan, kept by the session."""

    scanner: Scanner | None = None
    source: ImageSource | None = None
    state: ScanState | None = None


def run_scan(
    request: ScanImages,
    model: keras.Model,
    summary: ModelSummary,
    context: ScanContext,
    emit: Emit,
    should_stop: ShouldStop,
) -> Job:
    """Scan a folder (or the built-in images), ending with its last ScanProgress.

    The scanner reports progress from inside its loop, so that goes out through `emit`; the
    firing statistics (ScanSummary) follow the scan, also when it was stopped part way.
    """
    source = builtin_images() if request.folder is None else folder_source(request.folder)
    if context.scanner is None or context.scanner.top_k != request.top_k:
        # Images go through in batches that fit the memory free (a huge input: fewer at once).
        batch = plan_batch(summary, summary.layers[-1].path, BATCH_SIZE, "scan").batch
        context.scanner = Scanner(
            model,
            summary.input_shape,
            summary.input_range,
            top_k=request.top_k,
            batch_size=batch,
        )
    scanner = context.scanner
    cached = scanner.cached(source)
    if cached is not None and cached.complete:
        state, from_cache = cached, True
    else:

        def progress(done: int, total: int, skipped: int) -> None:
            emit(ScanProgress(request.request_id, done, total, skipped))

        state, from_cache = scanner.scan(source, should_stop, progress), False
    context.source, context.state = source, state
    yield ScanSummary(
        request.request_id,
        str(request.folder or "built-in images"),
        state.count,
        len(state.skipped),
        {layer: state.fire_fraction(layer) for layer in state.layers},
        {layer: state.mean(layer) for layer in state.layers},
        {layer: np.asarray(state.stats[layer].max) for layer in state.layers},
    )
    last = ScanProgress(
        request.request_id,
        state.count,
        len(state.names),
        len(state.skipped),
        from_cache=from_cache,
        message=_skipped_text(state),
    )
    return Done(last, EndReason.FINISHED if state.complete else EndReason.CANCELLED)


def run_top_images(
    request: ShowTopImages,
    model: keras.Model,
    summary: ModelSummary,
    context: ScanContext,
) -> Job:
    """The top images of one filter from the last scan, with optional projections."""
    if context.state is None or context.scanner is None or context.source is None:
        raise ValueError("scan a folder (or the built-in images) first")
    layer = tuple(request.layer)
    if layer not in context.state.layers:
        raise ValueError(f"the scan did not cover layer {str(LayerPath(layer))!r}")
    images, maps, scores, names = top_image_maps(
        context.scanner, context.source, context.state, layer, request.unit, request.rank_by
    )
    projections = None
    if request.projection != "none" and len(images):
        projections = _projections(model, summary, images, layer, request.unit, request.projection)
    yield TopImages(
        request.request_id,
        layer,
        request.unit,
        request.rank_by,
        images,
        maps,
        np.asarray(scores),
        names,
        projections,
    )
    return Done()


def _projections(model, summary, images, layer, unit, method) -> np.ndarray:
    low, high = summary.input_range
    target = Target(unit_layer=layer, unit=unit)
    name = {"gradcam": "gradcam", "deconvnet": "deconvnet"}.get(method)
    if name is None:
        raise ValueError(f"unknown projection {method!r}; use none, deconvnet or gradcam")
    # `images` are what the window shows (grey or RGB); the model may take other channel counts.
    channels = summary.input_shape[-1]
    maps = [
        explain(
            model,
            low + (high - low) * to_model_channels(image, channels),
            name,
            target,
            options={"low": low, "high": high},
        ).heatmap
        for image in images
    ]
    return np.stack(maps).astype(np.float32)


def _skipped_text(state: ScanState) -> str:
    if not state.skipped:
        return ""
    first = next(iter(state.skipped.items()))
    return f"{len(state.skipped)} files skipped (e.g. {first[0]}: {first[1]})"
