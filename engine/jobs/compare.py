"""Comparing two models side by side: model B held beside the session's model A.

`load_comparison` loads B exactly as the session loads A (same files, zoo names and errors);
`run_compare` answers a Compare request for both models on the session's image: the unit's
feature map, the top predictions, and a visualization grown with the same recipe and seed by
each model's own `Visualizer`. Both are jobs (engine/jobs/job.py); no Qt here.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field, replace

import keras
import numpy as np
from PIL import Image

from engine.images.convert import convert_image
from engine.jobs.job import Done, Job, ShouldStop, mapped
from engine.jobs.visualize import tiled
from engine.models.loading import load_model
from engine.models.model_input import set_up_input
from engine.models.predictions import top_predictions
from engine.models.surgery import truncate
from engine.optvis.visualizer import RunResult, Visualizer
from engine.protocol import (
    Compare,
    CompareFrame,
    CompareSide,
    Comparison,
    ComparisonLoaded,
    EndReason,
    LayerInfo,
    LayerPath,
    LoadComparison,
    LoadModel,
    ModelSummary,
    ObjectiveTerm,
    Status,
)


@dataclass
class ModelSide:
    """One compared model with what is expensive to rebuild for it."""

    model: keras.Model
    summary: ModelSummary
    visualizer: Visualizer
    extractors: dict[tuple[str, ...], keras.Model] = field(default_factory=dict)


def load_comparison(request: LoadComparison) -> Generator[object, None, ModelSide]:
    """Load model B; raises ModelLoadError (the message names the file) as LoadModel does."""
    yield Status(f"Loading model B: {request.path or 'the built-in model'}…", busy=True)
    model, meta, label = load_model(
        request.path, random_weights=request.random_weights, trusted=request.trusted
    )
    # The same input set-up as model A gets (the user's remembered choice or the sidecar's
    # preprocessing, a size for free-size models), so both models see the image as they would
    # when opened on their own.
    as_model_a = LoadModel(
        request.path,
        random_weights=request.random_weights,
        preprocessing=request.preprocessing,
        input_size=request.input_size,
    )
    model, summary = set_up_input(model, meta, request.path or label, as_model_a)
    # Model B is only visualized here: no reference images, so no quality ratio.
    visualizer = Visualizer(model, summary.input_shape, summary.input_range, lambda: None, summary)
    side = ModelSide(model, summary, visualizer)
    yield ComparisonLoaded(request.request_id, summary)
    return side


def run_compare(
    request: Compare,
    side_a: ModelSide,
    side_b: ModelSide | None,
    picture: Image.Image | None,
    should_stop: ShouldStop,
) -> Job:
    """Compare A and B on `request`'s layer and unit and on `picture` (None: no image open);
    the first Comparison has maps and predictions, the final one (the value) the images."""
    if side_b is None:
        raise ValueError("choose model B first (Model › Compare with…)")
    sides = {"A": side_a, "B": side_b}
    results: dict[str, CompareSide] = {}
    inputs: dict[str, np.ndarray | None] = {}
    for name, side in sides.items():
        results[name], inputs[name] = _measure(name, side, request, picture)
    note = "" if picture is not None else "No image open: visualizations only."
    yield _comparison(request, results, note)
    cancelled = False
    for name, side in sides.items():
        if results[name].note or cancelled:
            continue  # this side cannot show the unit, or the user stopped the comparison
        yield Status(
            f"Comparing: visualizing {request.layer[-1]} #{request.unit} in {name}…", busy=True
        )
        grown = yield from _grow(name, side, request, inputs[name], should_stop)
        cancelled = grown.outcome.reason == "cancelled"
        results[name] = _with_image(results[name], grown)
    reason = EndReason.CANCELLED if cancelled else EndReason.FINISHED
    return Done(_comparison(request, results, note), reason)


# ----------------------------------------------------------------------------- one side


def _measure(
    name: str, side: ModelSide, request: Compare, picture: Image.Image | None
) -> tuple[CompareSide, np.ndarray | None]:
    """Feature map and predictions of one side, and its converted image's display pixels."""
    summary = side.summary
    note = unit_problem(name, summary, request.layer, request.unit)
    if picture is None:
        return CompareSide(name, summary.name, summary.description, note=note), None
    converted = convert_image(picture, summary.input_shape, summary.input_range)
    batch = converted.pixels[None]
    predictions = ()
    outputs = side.model(batch, training=False)
    if len(outputs.shape) == 2:
        predictions = top_predictions(
            np.asarray(outputs)[0], summary.class_names, scores_are=summary.scores
        )
    feature_map, value = None, None
    if not note:
        extractor = side.extractors.get(request.layer)
        if extractor is None:
            extractor = truncate(side.model, request.layer)
            side.extractors[request.layer] = extractor
        maps = np.asarray(extractor(batch, training=False))[0]
        if maps.ndim == 3:
            feature_map = np.array(maps[..., request.unit], dtype=np.float32, copy=True)
            value = float(feature_map.mean())
        else:
            value = float(maps[request.unit])
    found = CompareSide(
        name, summary.name, summary.description, feature_map, value, predictions, note=note
    )
    return found, converted.display


def unit_problem(name: str, summary: ModelSummary, layer: tuple[str, ...], unit: int) -> str:
    """Why model `name` cannot show `unit` of `layer` ("" when it can), in the user's words."""
    label = str(LayerPath(layer))
    info: LayerInfo | None = summary.find(tuple(layer))
    if info is None:
        return f"model {name} has no layer {label!r}"
    if not info.visualizable:
        return f"model {name}'s layer {label!r} ({info.type_name}) has no channels or units"
    if not 0 <= unit < info.size:
        return (
            f"model {name}'s layer {label!r} has {info.size} {info.kind.value} "
            f"(#0 to #{info.size - 1}); there is no #{unit}"
        )
    return ""


def _grow(
    name: str,
    side: ModelSide,
    request: Compare,
    user_image: np.ndarray | None,
    should_stop: ShouldStop,
) -> Generator[object, None, RunResult]:
    """Run the shared visualizer of one side, streaming its frames; returns how it ended."""
    recipe = request.settings
    terms = [ObjectiveTerm(request.layer, request.unit)]
    run = side.visualizer.run(terms, recipe, should_stop, user_image)
    return (
        yield from mapped(
            run,
            lambda snapshot: CompareFrame(
                request.request_id,
                name,
                snapshot.step,
                recipe.steps,
                tiled(snapshot.images),
                snapshot.objectives,
            ),
        )
    )


def _with_image(found: CompareSide, grown: RunResult) -> CompareSide:
    return replace(
        found,
        image=tiled(grown.images),
        activation=float(grown.activation),
        steps_done=grown.outcome.steps_done,
    )


# ----------------------------------------------------------------------------- both sides


def _comparison(request: Compare, results: dict[str, CompareSide], note: str) -> Comparison:
    a, b = results["A"], results["B"]
    correlation = map_correlation(a.feature_map, b.feature_map)
    return Comparison(
        request.request_id,
        request.layer,
        request.unit,
        a,
        b,
        verdict(a, b, correlation, f"{LayerPath(request.layer)} #{request.unit}"),
        correlation,
        note,
    )


def map_correlation(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
    """Pearson correlation of two feature maps of the same shape; None when it means nothing
    (a map missing, shapes differ, or one map is constant)."""
    if a is None or b is None or a.shape != b.shape:
        return None
    x = a.astype(np.float64).ravel() - a.mean()
    y = b.astype(np.float64).ravel() - b.mean()
    scale = np.sqrt((x * x).sum() * (y * y).sum())
    if not scale > 0:
        return None
    return float((x * y).sum() / scale)


def verdict(a: CompareSide, b: CompareSide, correlation: float | None, unit: str) -> str:
    """One line on what differs most between A and B, the top class first."""
    if a.predictions and b.predictions:
        top_a, top_b = a.predictions[0], b.predictions[0]
        if top_a.name != top_b.name:
            return f"B's top class differs: {top_a.name!r} vs {top_b.name!r}"
        same = (
            f"Same top class {top_a.name!r} (A {top_a.probability:.0%}, B {top_b.probability:.0%})"
        )
    else:
        same = ""
    if correlation is not None:
        line = f"{unit}'s feature maps correlate at r = {correlation:.2f}"
        return f"{same}; {line}" if same else line[0].upper() + line[1:]
    if a.value is not None and b.value is not None:
        line = f"{unit}: A {a.value:.3g} vs B {b.value:.3g}"
        return f"{same}; {line}" if same else line
    if same:
        return same
    if a.activation is not None and b.activation is not None:
        return f"{unit} visualized: activation A {a.activation:.3g} vs B {b.activation:.3g}"
    return "Nothing to compare yet"
