"""What a finished attribution says of itself: which score it explains, and whether it shows
anything at all.

An all-zero or constant map is a true result as often as a bug (Grad-CAM is zero when every
pooled gradient at its layer is negative), but shown without a word it reads as "nothing here
matters". So every result is judged: an empty, constant or non-finite map gets a warning with
the reason when the method's own numbers tell it, and something to try instead (for Grad-CAM,
the nearest earlier conv layer whose map is not empty, when a few tries find one).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from engine.attribution import AttributionResult, Target
from engine.models.surgery import find_layer
from engine.protocol import LayerPath, method_title

# Grad-CAM-weighted methods: an empty map may have a non-empty neighbour layer.
_GRADCAM_LIKE = ("gradcam", "gradcam++", "guided_gradcam")
_PERTURBING = ("occlusion", "lime")
_LAYERS_TRIED = 3  # earlier conv layers tried for a suggestion: one gradient pass each
_SIGNED_METHODS = "gradient × input, integrated gradients or occlusion (signed maps)"


def map_verdict(heatmap: np.ndarray) -> str:
    """ "ok", or "non-finite", "empty" (all zero) or "constant" (one value everywhere)."""
    values = np.asarray(heatmap, np.float64)
    if values.size == 0 or not np.isfinite(values).all():
        return "non-finite"
    peak = float(np.abs(values).max())
    if peak == 0.0:
        return "empty"
    if float(values.max() - values.min()) <= 1e-6 * peak:
        return "constant"
    return "ok"


def score_name(model: keras.Model, target: Target) -> str:
    """What the target's score is, in words: "logit of class 3, spatial mean of the 8x8 output
    map", "probability of class 0", "mean of channel 5 of conv3"."""
    if target.unit_layer is not None:
        return f"mean of channel {target.unit} of {str(LayerPath(target.unit_layer))!r}"
    from engine.models.introspect import output_scores

    scores = output_scores(model)
    if target.score == "probability":
        kind = "probability" if scores != "logits" else "probability (softmax of the logits)"
        if scores == "independent":
            kind = "sigmoid score"
    else:
        kind = (
            "sigmoid score (no logit: the head is a sigmoid)"
            if scores == "independent"
            else "logit"
        )
    text = f"{kind} of class {target.class_index}"
    shape = tuple(model.outputs[0].shape)
    if len(shape) == 4:
        if target.position is not None:
            text += f" at output position {tuple(target.position)}"
        else:
            text += f", spatial mean of the {shape[1]}x{shape[2]} output map"
    return text


def _layer_name(result: AttributionResult) -> str:
    return repr(str(LayerPath(result.layer))) if result.layer else "this layer"


def _cam_reason(method: str, result: AttributionResult) -> str:
    where = _layer_name(result)
    weights = result.details.get("pooled_gradients", result.details.get("weights"))
    if weights is None:
        return ""
    weights = np.asarray(weights, np.float64)
    if method == "scorecam":
        if (weights <= 0).all():
            return f"no channel of layer {where}, used as a mask, raises the score above black"
        return f"the channels of layer {where} add up to no positive evidence anywhere"
    if method == "cam":
        return f"the class's weights on the channels of layer {where} sum to <= 0 everywhere"
    prefix = "its Grad-CAM factor is zero: " if method == "guided_gradcam" else ""
    if not weights.any():
        return f"{prefix}the score does not depend on layer {where}: all its gradients are zero"
    if (weights <= 0).all():
        return (
            f"{prefix}no positive gradient at layer {where}: every channel's pooled gradient "
            "is <= 0, so ReLU(sum of weighted channels) is zero"
        )
    return (
        f"{prefix}at layer {where} the channels with a positive weight do not fire, or the "
        "negatively weighted ones outweigh them everywhere"
    )


def _reason(method: str, verdict: str, target: Target, result: AttributionResult) -> str:
    if verdict == "non-finite":
        return "the map holds NaN or infinite values: the score or its gradient overflowed"
    if verdict == "constant":
        return "it has the same value everywhere, so it points at no region"
    if method in (*_GRADCAM_LIKE, "scorecam", "cam"):
        return _cam_reason(method, result)
    if method in _PERTURBING:
        return "hiding parts of the image never changes the score"
    reason = "the score's gradient with respect to the pixels is zero"
    if target.score == "probability":
        reason += " (a saturated probability has none; its logit may)"
    return reason


def _earlier_conv_layers(model: keras.Model, used: tuple[str, ...]) -> list[tuple[str, ...]]:
    from engine.attribution.cam import _flat_paths
    from engine.attribution.common import CONV_TYPES

    paths = _flat_paths(model)
    earlier = paths[: paths.index(used)] if used in paths else []
    convs = [p for p in earlier if isinstance(find_layer(model, p), CONV_TYPES)]
    return list(reversed(convs))[:_LAYERS_TRIED]


def nearest_working_layer(
    model: keras.Model, image: np.ndarray, target: Target, used: tuple[str, ...]
) -> tuple[str, ...] | None:
    """The nearest conv layer before `used` whose Grad-CAM map is not empty, or None (a few
    layers are tried, one gradient pass each)."""
    from engine.attribution.cam import gradcam

    for path in _earlier_conv_layers(model, used):
        try:
            if map_verdict(gradcam(model, image, target, layer=path).heatmap) == "ok":
                return path
        except ValueError:  # a layer the target does not depend on: try the next
            continue
    return None


def _suggestion(
    model: keras.Model, image: np.ndarray, method: str, target: Target, result: AttributionResult
) -> tuple[str, tuple[str, ...] | None]:
    layer = None
    # Class targets only: a scan explains inner units image after image, often not firing.
    if method in _GRADCAM_LIKE and result.layer is not None and target.unit_layer is None:
        layer = nearest_working_layer(model, image, target, tuple(result.layer))
    if layer is not None:
        text = (
            f"layer {str(LayerPath(layer))!r}, the nearest earlier one where Grad-CAM is not "
            f"empty, or {_SIGNED_METHODS}"
        )
    elif method in _PERTURBING:
        text = "a larger patch or fewer superpixels, or a gradient method"
    elif target.score == "probability":
        text = f"the logit score, or {_SIGNED_METHODS}"
    else:
        text = _SIGNED_METHODS if method != "occlusion" else "integrated gradients"
    return text, layer


def judged(
    model: keras.Model,
    image: np.ndarray,
    method: str,
    target: Target,
    result: AttributionResult,
) -> AttributionResult:
    """`result` with its verdict, warning and score name filled in; details["check"] holds the
    verdict's parts ("verdict", "reason", "suggestion", "suggested_layer") for reports."""
    name = score_name(model, target)
    verdict = map_verdict(result.heatmap)
    if verdict == "ok":
        return dataclasses.replace(result, verdict="ok", warning="", score=name)
    reason = _reason(method, verdict, target, result)
    suggestion, layer = _suggestion(model, image, method, target, result)
    title = method_title(method)
    warning = f"The {title} map is {verdict}"
    warning += f": {reason}. Try {suggestion}." if reason else f". Try {suggestion}."
    check = {
        "verdict": verdict,
        "reason": reason,
        "suggestion": suggestion,
        "suggested_layer": None if layer is None else "/".join(layer),
    }
    details = {**result.details, "check": check}
    return dataclasses.replace(
        result, verdict=verdict, warning=warning, score=name, details=details
    )
