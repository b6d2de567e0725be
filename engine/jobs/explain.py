"""The Explain and WalkNetwork requests: attribution maps and every layer's feature maps.

Jobs (engine/jobs/job.py): an explanation yields its progress and ends with the Explanation; a
walk yields one layer's maps at a time, so it can be served between the steps of a running
visualization without stalling it.
"""

from __future__ import annotations

import time

import keras
import numpy as np
from PIL import Image

from engine.attribution import Cancelled, Target, explain
from engine.jobs.job import Done, Emit, Job, ShouldStop
from engine.models.predictions import class_scores
from engine.models.stepwise import functional_graph, layer_outputs
from engine.models.surgery import truncate
from engine.protocol import (
    EndReason,
    Explain,
    Explanation,
    FeatureMaps,
    LayerKind,
    LayerPath,
    ModelSummary,
    Progress,
    WalkNetwork,
    is_slow_method,
    method_title,
)

# The photo sent back with an explanation is at most this on its long side: enough to look at.
ORIGINAL_SIDE = 1024


def run_explain(
    request: Explain,
    model: keras.Model,
    summary: ModelSummary,
    pixels: np.ndarray,
    display: np.ndarray,
    emit: Emit,
    should_stop: ShouldStop,
    original: Image.Image | None = None,
) -> Job:
    """Explain the current image, ending with the Explanation (with `original`, the photo the
    image was made from, at its own geometry, so the window can draw the map over it).

    A slow method reports its progress through a callback from inside its loop: that goes
    straight out through `emit`, since nothing can be yielded from there.
    """
    if request.unit is not None:
        target = Target(unit_layer=request.unit_layer, unit=request.unit)
        label = f"{LayerPath(request.unit_layer or ())} #{request.unit}"
        class_index = None
    else:
        class_index = request.target_class
        if class_index is None:
            # A map output's classes are its channels: the top one by its spatial mean.
            outputs = model(pixels[None], training=False).numpy()[0]
            class_index = int(np.argmax(class_scores(outputs)))
        target = Target(class_index=class_index, score=request.score, position=request.position)
        names = summary.class_names
        label = _class_label(names[class_index]) if class_index < len(names) else f"#{class_index}"

    title, slow = method_title(request.method), is_slow_method(request.method)

    def report(fraction: float) -> None:
        if slow:
            emit(Progress(request.request_id, float(fraction), title))

    low, high = summary.input_range  # baselines and noise scales are in the model's range
    started = time.perf_counter()
    try:
        result = explain(
            model,
            pixels,
            request.method,
            target,
            layer=request.layer,
            options={"low": low, "high": high, **dict(request.options)},
            should_stop=should_stop,
            progress=report,
        )
    except Cancelled:
        return Done(None, EndReason.CANCELLED)
    yield from ()  # a job like any other, though all it has comes at the end
    return Done(
        Explanation(
            request.request_id,
            request.method,
            class_index,
            label,
            result.layer,
            np.array(result.heatmap, dtype=np.float32, copy=True),
            np.array(display, copy=True),
            result.signed,
            time.perf_counter() - started,
            dict(result.details),
            result.verdict,
            result.warning,
            result.score,
            None if original is None else photo_pixels(original),
        )
    )


def photo_pixels(picture: Image.Image, side: int = ORIGINAL_SIDE) -> np.ndarray | None:
    """(h, w, 3) float32 in [0, 1]: `picture` in RGB, shrunk to at most `side` on its long side
    (keeping its aspect ratio); None for a picture PIL cannot show as RGB (16-bit, float)."""
    try:
        photo = picture.copy()
        photo.thumbnail((side, side), Image.Resampling.LANCZOS)
        rgb = photo.convert("RGB")
    except (ValueError, OSError):
        return None
    return np.asarray(rgb, dtype=np.float32) / 255.0


def run_walk(
    request: WalkNetwork,
    model: keras.Model,
    summary: ModelSummary,
    pixels: np.ndarray,
    extractors: dict[tuple[str, ...], keras.Model],
) -> Job:
    """Feature maps of every layer with channels or units, one layer per item.

    One forward pass, layer by layer (engine/models/stepwise.py), so each item costs a few
    layers' work; a model without a functional graph gets one truncated model per layer.
    """
    wanted = [info.path for info in summary.walk() if info.kind is not LayerKind.NONE]
    batch = pixels[None]
    if functional_graph(model) is not None:
        for path, maps in layer_outputs(model, batch, wanted):
            yield FeatureMaps(request.request_id, path, maps[0])
        return Done()
    for path in wanted:
        extractor = extractors.get(path)
        if extractor is None:
            extractor = extractors[path] = truncate(model, path)
        maps = extractor(batch, training=False).numpy()[0]
        yield FeatureMaps(request.request_id, path, np.array(maps, copy=True))
    return Done()


def _class_label(name: str) -> str:
    """ "class '7'"; a name that says it is a class ('class 0', made up for a model without
    class names) stands alone rather than as "class 'class 0'"."""
    return name if name.lower().startswith("class ") else f"class {name!r}"
