"""Attribution: which pixels of an image made a model decide, or made a unit fire.

Every method is a plain function with the same signature, in a module of this package:

    method(model, image, target, *, layer, options, should_stop, progress) -> AttributionResult

`image` is one (H, W, C) float32 image in the model's input range. Gradients are computed inside
`tf.function` only (TF 2.21's oneDNN kernels can crash eager tapes). Long methods call
`progress(fraction)` now and then and raise `Cancelled` as soon as `should_stop()` is true.
`explain` looks a method up by name, so its module is imported only when first used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import keras
import numpy as np

# name -> (module in this package, function), one per method of the protocol's catalogue.
METHODS: dict[str, tuple[str, str]] = {
    "gradcam": ("cam", "gradcam"),
    "gradcam++": ("cam", "gradcam_plus_plus"),
    "scorecam": ("cam", "scorecam"),
    "cam": ("cam", "cam"),
    "saliency": ("gradients", "saliency"),
    "smoothgrad": ("gradients", "smoothgrad"),
    "gradient_x_input": ("gradients", "gradient_x_input"),
    "integrated_gradients": ("gradients", "integrated_gradients"),
    "guided_backprop": ("guided", "guided_backprop"),
    "guided_gradcam": ("guided", "guided_gradcam"),
    "deconvnet": ("deconvnet", "deconvnet"),
    "occlusion": ("occlusion", "occlusion"),
    "lime": ("lime", "lime"),
}


class Cancelled(Exception):
    """Raised by a method when `should_stop()` became true."""


# How a class is scored: the output's pre-activation (Grad-CAM's choice) or what it outputs.
SCORES = ("logit", "probability")


@dataclass(frozen=True)
class Target:
    """What is explained: a class of the model's output, or an inner unit (the mean of channel
    `unit` of layer `unit_layer`).

    A class is scored by its logit (`score` "logit": a softmax output is replaced by its
    logits) or its probability ("probability": after the softmax, as the model outputs it).
    When the output is a map (H', W', K), e.g. a face detector's P-Net, the classes are its
    channels, scored by their spatial mean or, with `position` (row, column), at one place.
    """

    class_index: int | None = None
    unit_layer: tuple[str, ...] | None = None
    unit: int | None = None
    score: str = "logit"
    position: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if (self.unit_layer is None) != (self.unit is None):
            raise ValueError("an inner unit needs both unit_layer and unit")
        if self.unit_layer is None and self.class_index is None:
            raise ValueError("a target needs a class_index or an inner unit")
        if self.score not in SCORES:
            raise ValueError(f"score {self.score!r} is not one of {', '.join(SCORES)}")
        if self.position is not None and (len(self.position) != 2 or min(self.position) < 0):
            raise ValueError(f"output position {self.position!r} must be (row, column) >= 0")

    @property
    def index(self) -> int:
        """What the score picks: the channel of an inner unit, else the class."""
        index = self.unit if self.unit_layer is not None else self.class_index
        if index is None:  # __post_init__ refuses such a target already
            raise ValueError(f"target {self!r} has no class_index or unit to score")
        return index


@dataclass(frozen=True)
class AttributionResult:
    """(H, W) float32 raw map at the image's size; `signed` maps have meaningful negatives.

    `verdict` is "ok", or "empty" / "constant" / "non-finite" for a map that shows nothing,
    with `warning` saying so, why when known, and what to try instead (engine/attribution/
    verdict.py); `score` names what was differentiated or measured ("logit of class 3").
    """

    heatmap: np.ndarray
    signed: bool = False
    layer: tuple[str, ...] | None = None  # the conv layer used, for CAM methods
    details: dict = field(default_factory=dict)
    verdict: str = "ok"
    warning: str = ""
    score: str = ""


def explain(
    model: keras.Model,
    image: np.ndarray,
    method: str,
    target: Target,
    *,
    layer: tuple[str, ...] | None = None,
    options: Mapping[str, float] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: Callable[[float], None] = lambda fraction: None,
) -> AttributionResult:
    """Run attribution `method` (a key of METHODS) on one image; the result carries its verdict
    (an empty or constant map is named, with the reason and a suggestion) and its score's name."""
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; known: {', '.join(METHODS)}")
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3:
        raise ValueError(f"explain takes one (H, W, C) image, got shape {image.shape}")
    module_name, function_name = METHODS[method]
    module = importlib.import_module(f"{__name__}.{module_name}")
    function = getattr(module, function_name)
    result = function(
        model,
        image,
        target,
        layer=layer,
        options=dict(options or {}),
        should_stop=should_stop,
        progress=progress,
    )
    # Imported here: the verdict module reads this one's classes.
    from engine.attribution.verdict import judged

    return judged(model, image, method, target, result)
