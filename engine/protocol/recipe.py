"""How an image is grown: every knob of feature visualization in one frozen value, and presets.

Plain Python (no TensorFlow), so the window can build, show, save and load recipes. The engine
turns a recipe into a compiled program (`engine/optvis/program.py`).
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

DEFAULT_SCALES: tuple[tuple[int, float], ...] = ((3, 1.0), (7, 0.5), (14, 0.25), (28, 0.125))


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
    init_noise: float = 0.05
    init_scales: tuple[tuple[int, float], ...] = DEFAULT_SCALES  # (grid size, weight)
    init_smooth: bool = True
    # Optimizer
    optimizer: str = "ascent"  # "ascent": lr × RMS-normalized gradient; "adam"
    learning_rate: float = 0.05  # in units of the model's input range
    normalize_grad: bool = True
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

    def __post_init__(self) -> None:
        _at_least(self, "steps", 1)
        _at_least(self, "frame_every", 1)
        _at_least(self, "batch", 1)
        _at_least(self, "octaves", 1)
        for name in ("pad", "jitter", "blur_every", "converge_window"):
            _at_least(self, name, 0)
        for name in ("init_noise", "l2", "lp", "tv", "diversity", "rotate", "converge_tol"):
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
        """A recipe from saved settings; unknown keys are ignored, bad values raise ValueError."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
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
    # The seed notebooks: a few big normalized steps on raw pixels from grey noise.
    "Notebook": Recipe(steps=40, learning_rate=1.0, jitter=0, init="grey", frame_every=1),
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
    # What convscope did first: notebook ascent with small steps and jitter.
    "Classic": Recipe(),
}
