"""The Explain and WalkNetwork requests: attribution maps and every layer's feature maps.

Split from the session so each module keeps to one purpose; results go out through `emit`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import keras
import numpy as np

from engine.attribution import LONG_METHODS, TITLES, Cancelled, Target, explain
from engine.models.surgery import truncate
from engine.protocol import (
    Explain,
    Explanation,
    FeatureMaps,
    LayerKind,
    ModelSummary,
    Progress,
    WalkNetwork,
)


def run_explain(
    request: Explain,
    model: keras.Model,
    summary: ModelSummary,
    pixels: np.ndarray,
    display: np.ndarray,
    emit: Callable[[object], None],
    should_stop: Callable[[], bool],
) -> bool:
    """Explain the current image; returns False when it was cancelled (nothing is emitted)."""
    if request.unit is not None:
        target = Target(unit_layer=request.unit_layer, unit=request.unit)
        label = f"{'/'.join(request.unit_layer)} #{request.unit}"
        class_index = None
    else:
        class_index = request.target_class
        if class_index is None:
            outputs = model(pixels[None], training=False).numpy()[0]
            class_index = int(np.argmax(outputs))
        target = Target(class_index=class_index)
        names = summary.class_names
        label = f"class {names[class_index]!r}" if class_index < len(names) else f"#{class_index}"

    def report(fraction: float) -> None:
        if request.method in LONG_METHODS:
            emit(Progress(request.request_id, float(fraction), TITLES[request.method]))

    low, high = summary.input_range  # baselines and noise scales are in the model's range
    started = time.perf_counter()
    try:
        result = explain(
            model, pixels, request.method, target, layer=request.layer,
            options={"low": low, "high": high, **dict(request.options)},
            should_stop=should_stop, progress=report,
        )  # fmt: skip
    except Cancelled:
        # The window hides its progress bar on this; a newer request may already be running.
        emit(Progress(request.request_id, 1.0, "cancelled"))
        return False
    emit(
        Explanation(
            request.request_id, request.method, class_index, label, result.layer,
            np.array(result.heatmap, dtype=np.float32, copy=True),
            np.array(display, copy=True), result.signed,
            time.perf_counter() - started, dict(result.details),
        )
    )  # fmt: skip
    return True


def run_walk(
    request: WalkNetwork,
    model: keras.Model,
    summary: ModelSummary,
    pixels: np.ndarray,
    extractors: dict[tuple[str, ...], keras.Model],
    emit: Callable[[object], None],
) -> None:
    """Feature maps of every layer with channels or units, in model order."""
    for info in summary.walk():
        if info.kind is LayerKind.NONE:
            continue
        extractor = extractors.get(info.path)
        if extractor is None:
            extractor = extractors[info.path] = truncate(model, info.path)
        maps = extractor(pixels[None], training=False).numpy()[0]
        emit(FeatureMaps(request.request_id, info.path, np.array(maps, copy=True)))
