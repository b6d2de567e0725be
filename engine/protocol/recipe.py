"""How an image is grown: every knob of feature visualization in one frozen value, and presets.

Plain Python (no TensorFlow), so the window can build, show, save and load recipes. The engine
turns a recipe into a compiled program (`engine/optvis/program.py`).

Units: the engine grows images as fractions of the model's input range (0 is the range's low
end, 1 its high end), so every step size and noise knob is a fraction of that range too and
means the same on 0-255, [0, 1] and [-1, 1] models: 1/255 (`PIXEL_LEVEL`) is one 8-bit pixel
level on every range, one pixel value on a 0-255 VGG. Step sizes are per step, after the
gradient's RMS normalization when `normalize_grad` is on (then a step moves pixels by about
`learning_rate` each, root mean square); with Adam it is Adam's step size, the same unit.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

PARAMETERIZATIONS = ("pixel", "fourier")
INITIAL_IMAGES = ("grey", "scales", "image")
OPTIMIZERS = ("ascent", "adam")
STOP_REASONS = ("steps", "converged", "cancelled", "dead")
# What the model computes in (engine/optvis/precision.py): "auto" picks bfloat16 where the CPU
# has it natively, float16 mixed precision on a GPU, float32 elsewhere. float16 needs a GPU.
PRECISIONS = ("auto", "float32", "bfloat16", "float16")

DEFAULT_SCALES: tuple[tuple[int, float], ...] = ((3, 1.0), (7, 0.5), (14, 0.25), (28, 0.125))

# One 8-bit pixel level as a fraction of the input range: the unit of the notebooks' steps.
PIXEL_LEVEL = 1.0 / 255.0
# The notebooks' `g / (sqrt(mean(g ** 2)) + 1e-5)` on a 0-255 model, as `grad_epsilon`: their
# gradients are per pixel value, 1/255 of ours per range, so their 1e-5 is 255 × 1e-5 here.
NOTEBOOK_EPSILON = 0.00255


@dataclass(frozen=True)
class Recipe:
    """The method of one visualization. Changes apply on the next start, except the knobs in
    `LIVE_KNOBS`, which a running visualization picks up at its next step."""

    # The run
    steps: int = 256
    seed: int = 0
    frame_every: int = 2  # send an image to the window every N steps
    # Parameterization: how the optimized variables become an image
    param: str = "pixel"  # "pixel" or "fourier"
    decorrelate: bool = True  # decorrelated colour, for RGB models under "fourier"
    # The starting image
    init: str = "grey"  # "grey" (the notebooks' start), "scales" (a mixture), "image"
    init_noise: float = 0.05  # uniform noise in ±init_noise, a fraction of the input range
    init_centre: float = 0.5  # the grey the "grey" start is centred on, a fraction of the range
    init_scales: tuple[tuple[int, float], ...] = DEFAULT_SCALES  # (grid size, weight)
    init_smooth: bool = True
    # Optimizer
    optimizer: str = "ascent"  # "ascent": lr × RMS-normalized gradient; "adam"
    learning_rate: float = 0.05  # per step, a fraction of the input range (see Units above)
    normalize_grad: bool = True
    # Added to the gradient's RMS before dividing by it (gradients w.r.t. the image in fractions
    # of the range, so it is range-independent). Tiny next to most gradients; where a gradient
    # is tinier still, steps shrink. The notebooks' 1e-5 on raw 0-255 gradients is NOTEBOOK_EPSILON.
    grad_epsilon: float = 1e-8
    # Pixels kept inside the input range after each step (True), or left free as the notebooks
    # do (False, the default): then images may leave [0, 1] and are normalized for display.
    # Clipped, a filter whose weights sum positive has a flat white square as its maximum,
    # which shows nothing. Only "pixel" images leave the range; "fourier" ones pass a sigmoid.
    keep_in_range: bool = False
    # Transformation robustness, applied every step
    pad: int = 0  # pixels of padding before the other transforms
    jitter: int = 1  # pixels of random shift
    scales: tuple[float, ...] = ()  # random scale factors to pick from; () for none
    rotate: float = 0.0  # degrees of random rotation either way
    # Regularizers (weights of penalties subtracted from the objective)
    l2: float = 0.0
    lp: float = 0.0
    lp_p: float = 6.0
    tv: float = 0.0
    blur_every: int = 0  # blur the image every N steps; 0 for never
    blur_sigma: float = 0.5
    # Multiscale: optimize at a low resolution first, then upscale and continue
    octaves: int = 1
    octave_scale: float = 1.4
    # Objective modifiers
    negate: bool = False  # find what inhibits the filter instead
    batch: int = 1  # images grown at once for one filter
    diversity: float = 0.0  # weight of the term pushing those images apart
    # Stopping early
    converge_window: int = 0  # steps over which the objective must change; 0 never stops early
    converge_tol: float = 1e-3  # relative change below which the run has converged
    # Arithmetic of the model (the image and optimizer stay float32): one of PRECISIONS
    precision: str = "auto"

    def __post_init__(self) -> None:
        _at_least(self, "steps", 1)
        _at_least(self, "frame_every", 1)
        _at_least(self, "batch", 1)
        _at_least(self, "octaves", 1)
        for name in ("pad", "jitter", "blur_every", "converge_window"):
            _at_least(self, name, 0)
        if not (math.isfinite(self.init_centre) and 0 <= self.init_centre <= 1):
            raise ValueError(f"init_centre must lie in [0, 1], got {self.init_centre}")
        for name in (
            "init_noise",
            "grad_epsilon",
            "l2",
            "lp",
            "tv",
            "diversity",
            "rotate",
            "converge_tol",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be 0 or more, got {value}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if not self.blur_sigma > 0:
            raise ValueError(f"blur_sigma must be positive, got {self.blur_sigma}")
        if not self.octave_scale > 1:
            raise ValueError(f"octave_scale must be above 1, got {self.octave_scale}")
        if not self.lp_p >= 1:
            raise ValueError(f"lp_p must be 1 or more, got {self.lp_p}")
        if any(not s > 0 for s in self.scales):
            raise ValueError(f"scales must all be positive, got {self.scales}")
        for name, allowed in (
            ("param", PARAMETERIZATIONS),
            ("init", INITIAL_IMAGES),
            ("optimizer", OPTIMIZERS),
            ("precision", PRECISIONS),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")

    # ------------------------------------------------------------------ saving and loading

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["init_scales"] = [list(pair) for pair in self.init_scales]
        data["scales"] = list(self.scales)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        """A recipe from saved settings; unknown keys are ignored, bad values raise ValueError.

        Recipes saved before `keep_in_range` existed were always kept in range: a missing key
        keeps that behaviour whatever today's default is.
        """
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values.setdefault("keep_in_range", True)
        if "init_scales" in values:
            values["init_scales"] = tuple((int(s), float(w)) for s, w in values["init_scales"])
        if "scales" in values:
            values["scales"] = tuple(float(s) for s in values["scales"])
        try:
            return replace(cls(), **values)
        except TypeError as error:
            raise ValueError(f"not a recipe: {error}") from error


# Knobs a running visualization takes at its next step, without recompiling. (Rotation is left
# out of the compiled step when a run starts without it; its angle is live once it is on.)
LIVE_KNOBS = ("learning_rate", "jitter", "rotate", "l2", "lp", "tv", "diversity")


def _at_least(recipe: Recipe, name: str, low: int) -> None:
    value = getattr(recipe, name)
    if not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be a whole number of at least {low}, got {value!r}")


PRESETS: dict[str, Recipe] = {
    # The seed notebooks (Keras blog "how convnets see the world") on every input range: start
    # 128 + U[0, 20) of 255, 40 RMS-normalized steps of one pixel level, no jitter, unclipped.
    # (Rounded to the 6 decimals the method form shows, so the form keeps the preset exact.)
    "Notebook": Recipe(
        steps=40,
        learning_rate=round(PIXEL_LEVEL, 6),
        grad_epsilon=NOTEBOOK_EPSILON,
        jitter=0,
        init="grey",
        init_centre=round(138 * PIXEL_LEVEL, 6),
        init_noise=round(10 * PIXEL_LEVEL, 6),
        keep_in_range=False,
        frame_every=1,
    ),
    # Lucid's recipe: a decorrelated Fourier image, robust to small transformations, with Adam.
    "Lucid": Recipe(
        steps=512,
        param="fourier",
        decorrelate=True,
        init="grey",
        init_noise=0.01,
        optimizer="adam",
        learning_rate=0.05,
        normalize_grad=False,
        pad=2,
        jitter=2,
        scales=(0.95, 0.975, 1.0, 1.025, 1.05),
        rotate=5.0,
        frame_every=4,
    ),
    # Quick look: few steps, Adam on pixels.
    "Fast preview": Recipe(
        steps=64, optimizer="adam", learning_rate=0.05, normalize_grad=False, jitter=1
    ),
    # What convscope did first: notebook ascent with small steps and jitter, now unclipped.
    "Classic": Recipe(),
}

# The preset a fresh window or atlas uses, by the model's number of input channels.
DEFAULT_COLOUR_PRESET = "Lucid"
DEFAULT_PRESET = "Classic"


def default_preset(channels: int) -> str:
    """The name of the preset (in PRESETS) a fresh window or atlas uses for a model with
    `channels` input channels: the natural-looking Lucid recipe for 3-channel colour models
    (Classic gives saturated checkerboard noise there), Classic otherwise."""
    if not isinstance(channels, int) or isinstance(channels, bool) or channels < 1:
        raise ValueError(f"channels must be a whole number of at least 1, got {channels!r}")
    return DEFAULT_COLOUR_PRESET if channels == 3 else DEFAULT_PRESET
