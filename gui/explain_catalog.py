"""What the window knows of the attribution methods, without importing the engine's (Keras) code.

The method names are the engine's contract (engine.protocol.EXPLAIN_METHODS); the titles, which
methods are slow and which options each takes are the window's to show.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.protocol import EXPLAIN_LONG_METHODS, EXPLAIN_METHODS, EXPLAIN_TITLES

TITLES = EXPLAIN_TITLES
# Slow enough for a progress bar and Cancel; the engine sends Progress for exactly these.
LONG_METHODS = EXPLAIN_LONG_METHODS
# Methods that weigh a convolution layer's maps: the CAM layer choice applies to them.
CAM_METHODS = frozenset({"gradcam", "gradcam++", "scorecam", "cam", "guided_gradcam"})


@dataclass(frozen=True)
class OptionSpec:
    """A spin box of the Explain panel for a method setting."""

    name: str
    label: str
    minimum: int
    maximum: int
    tip: str


OPTIONS = {
    "samples": OptionSpec(
        "samples", "Samples", 2, 5000,
        "How many perturbed copies of the image are scored (LIME) or averaged (SmoothGrad). "
        "More is smoother and slower.",
    ),
    "steps": OptionSpec(
        "steps", "Steps", 2, 1000,
        "Integrated gradients: points on the path from the baseline (black) to the image.",
    ),
    "patch": OptionSpec(
        "patch", "Patch", 1, 512,
        "Occlusion: side in pixels of the grey square slid over the image.",
    ),
}  # fmt: skip
# The option boxes each method uses, as (box, the option's name in Explain.options): the
# engine's methods name SmoothGrad's sample count "n" and LIME's "samples".
METHOD_OPTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "smoothgrad": (("samples", "n"),),
    "lime": (("samples", "samples"),),
    "integrated_gradients": (("steps", "steps"),),
    "occlusion": (("patch", "patch"),),
}
# The engine's own defaults, so leaving a box alone gives what the method would do anyway.
_DEFAULTS = {("smoothgrad", "samples"): 25, ("lime", "samples"): 300}
_DEFAULT_BY_OPTION = {"samples": 50, "steps": 64, "patch": 4}


def method_title(method: str) -> str:
    """'Grad-CAM' for 'gradcam'; an unknown name as it is."""
    return TITLES.get(method, method)


def default_option(method: str, option: str, image_side: int = 28) -> int:
    """A starting value for `option` of `method`; the occlusion patch is a seventh of the image."""
    if option == "patch":
        return max(3, round(image_side / 7))
    return _DEFAULTS.get((method, option), _DEFAULT_BY_OPTION[option])


__all__ = [
    "CAM_METHODS",
    "EXPLAIN_METHODS",
    "LONG_METHODS",
    "METHOD_OPTIONS",
    "OPTIONS",
    "TITLES",
    "OptionSpec",
    "default_option",
    "method_title",
]
