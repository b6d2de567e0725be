"""What the method form shows: every field of a Recipe, its section, range and one-line tooltip.

Plain data and pure functions (no widgets), so the form, the settings file and the tests agree
on one table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from engine.protocol.precision import BF16_MIN_PIXELS, cpu_flags, resolve_precision
from engine.protocol.recipe import (
    INITIAL_IMAGES,
    LIVE_KNOBS,
    OPTIMIZERS,
    PARAMETERIZATIONS,
    PRECISIONS,
)

LIVE_NOTE = " Changes a running visualization at its next step."
NEXT_START_NOTE = " Takes effect on the next start."


@dataclass(frozen=True)
class FieldSpec:
    """One field of the form, named as the Recipe attribute it edits."""

    name: str
    label: str
    # How it is edited: "int", "float", "bool" (a switch), "choice" (from a list), or text
    # holding a list of scale factors ("floats") or of "grid:weight" pairs ("pairs").
    kind: str
    tip: str
    low: float = 0
    high: float = 0
    decimals: int = 0
    step: float = 1
    choices: tuple[str, ...] = ()

    @property
    def live(self) -> bool:
        """Whether a running visualization takes this knob at its next step."""
        return self.name in LIVE_KNOBS

    @property
    def tooltip(self) -> str:
        return self.tip + (LIVE_NOTE if self.live else NEXT_START_NOTE)


def _int(name: str, label: str, low: int, high: int, tip: str) -> FieldSpec:
    return FieldSpec(name, label, "int", tip, low, high)


def _float(
    name: str, label: str, low: float, high: float, decimals: int, step: float, tip: str
) -> FieldSpec:
    return FieldSpec(name, label, "float", tip, low, high, decimals, step)


def _bool(name: str, label: str, tip: str) -> FieldSpec:
    return FieldSpec(name, label, "bool", tip)


def _choice(name: str, label: str, choices: tuple[str, ...], tip: str) -> FieldSpec:
    return FieldSpec(name, label, "choice", tip, choices=choices)


def _precision_tip() -> str:
    # The window cannot ask TensorFlow for GPUs: it says what auto means on this CPU, and the
    # run's own caption what the engine picked.
    here = resolve_precision("auto", cpu_flags(), ()).reason
    return (
        "What the model computes in; the image and optimizer stay float32, and scores shown "
        f"are float32. Here {here} (float32 below {BF16_MIN_PIXELS} input pixels; with a GPU: "
        "float16). float16 needs a GPU: on a CPU it is about 5.6x slower."
    )


SECTIONS: tuple[tuple[str, tuple[FieldSpec, ...]], ...] = (
    ("Run", (
        _int("steps", "Steps", 1, 100_000, "How many gradient steps a run takes."),
        _int("seed", "Seed", 0, 2**31 - 1,
             "Seed of the random start and transforms: same seed, same picture."),
        _int("frame_every", "Frame every N steps", 1, 1000,
             "Send a picture to the window every N steps; fewer frames run faster."),
    )),
    ("Start image", (
        _choice("init", "Start from", INITIAL_IMAGES,
                "grey: flat grey; scales: a mix of coarse noise grids; image: the input image."),
        _float("init_noise", "Noise", 0.0, 0.5, 6, 0.01,
               "Uniform noise of ± this much added to the start, a fraction of the input's "
               "range (1/255 = 0.003922 is one 8-bit level)."),
        _float("init_centre", "Grey level", 0.0, 1.0, 6, 0.05,
               "The grey the 'grey' start is centred on, a fraction of the input's range."),
        FieldSpec("init_scales", "Noise grids", "pairs",
                  "For the 'scales' start: grid size:weight pairs, e.g. 3:1, 7:0.5, 14:0.25."),
        _bool("init_smooth", "Smooth noise grids",
              "Interpolate the coarse noise grids smoothly instead of in square blocks."),
    )),
    ("Image parameterization", (
        _choice("param", "Parameterization", PARAMETERIZATIONS,
                "pixel: optimize pixels; fourier: a spectrum that favours low frequencies."),
        _bool("decorrelate", "Decorrelate colour",
              "Optimize in a decorrelated colour space (RGB models, with fourier)."),
        _int("octaves", "Octaves", 1, 8,
             "Grow at a low resolution first, then upscale and go on; 1 means one size."),
        _float("octave_scale", "Octave scale", 1.05, 4.0, 2, 0.05,
               "Size ratio between one octave and the next."),
    )),
    ("Optimizer", (
        _choice("optimizer", "Optimizer", OPTIMIZERS,
                "ascent: learning rate × RMS-normalized gradient (the notebooks); adam: Adam."),
        _float("learning_rate", "Learning rate", 0.000001, 10.0, 6, 0.001,
               "Step size, a fraction of the input's range: 0.003922 (1/255) is one 8-bit "
               "pixel level on any model. Larger is faster but noisier."),
        _bool("normalize_grad", "Normalize gradient",
              "Divide the gradient by its RMS, so the step size does not depend on the layer."),
        _float("grad_epsilon", "RMS epsilon", 0.0, 1.0, 8, 0.0001,
               "Added to the gradient's RMS before dividing: where the gradient is tinier, "
               "steps shrink. The notebooks' 1e-5 on 0-255 pixels is 0.00255."),
        _bool("keep_in_range", "Keep in input range",
              "Clip pixels to the model's input range after every step. Off (the notebooks): "
              "pixels roam free and View ▸ Display normalizes them for the screen."),
        _choice("precision", "Precision", PRECISIONS, _precision_tip()),
    )),
    ("Robustness", (
        _int("pad", "Pad px", 0, 64, "Pad the image by this many pixels before transforming it."),
        _int("jitter", "Jitter px", 0, 32,
             "Random shift in pixels each step; it discourages pixel noise."),
        FieldSpec("scales", "Scales", "floats",
                  "Random rescale factors picked each step, e.g. 0.95, 1, 1.05; empty: none."),
        _float("rotate", "Rotate °", 0.0, 180.0, 1, 1.0,
               "Random rotation each step, up to this many degrees either way."),
    )),
    ("Regularizers", (
        _float("l2", "L2", 0.0, 100.0, 4, 0.001,
               "Weight of a penalty on how far pixels stray from grey."),
        _float("lp", "Lp", 0.0, 100.0, 4, 0.001,
               "Weight of a penalty on the image's Lp norm: high p punishes extreme pixels."),
        _float("lp_p", "p of Lp", 1.0, 32.0, 1, 1.0, "The exponent p of the Lp penalty."),
        _float("tv", "Total variation", 0.0, 100.0, 4, 0.001,
               "Weight of a penalty on differences between neighbouring pixels: smoother."),
        _int("blur_every", "Blur every N steps", 0, 1000,
             "Blur the image every N steps to damp high frequencies; 0: never."),
        _float("blur_sigma", "Blur sigma", 0.05, 10.0, 2, 0.1,
               "Width of that blur, in pixels."),
    )),
    ("Objective", (
        _bool("negate", "Negate (what inhibits it)",
              "Minimize the filter instead: grow the image that inhibits it most."),
        _int("batch", "Images at once", 1, 16,
             "How many images are grown together for the filter, shown side by side."),
        _float("diversity", "Diversity", 0.0, 100.0, 3, 0.1,
               "Weight of a term pushing those images apart; needs 2 or more images."),
    )),
    ("Stop early", (
        _int("converge_window", "Window (steps)", 0, 100_000,
             "Stop once the objective changed less than the tolerance over this many steps."),
        _float("converge_tol", "Tolerance", 0.0, 1.0, 5, 0.0005,
               "Relative change of the objective below which the run has converged."),
    )),
)  # fmt: skip

FIELDS: dict[str, FieldSpec] = {spec.name: spec for _, specs in SECTIONS for spec in specs}


# ----------------------------------------------------------------------------- text fields


def format_value(spec: FieldSpec, value: Any) -> str:
    """A tuple field as the text its line edit shows."""
    if spec.kind == "floats":
        return ", ".join(f"{float(v):g}" for v in value)
    if spec.kind == "pairs":
        return ", ".join(f"{int(size)}:{float(weight):g}" for size, weight in value)
    raise ValueError(f"{spec.name} is not a text field")


def parse_text(spec: FieldSpec, text: str) -> tuple:
    """Text typed in a tuple field as the Recipe value; ValueError names what is wrong."""
    parts = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    if spec.kind == "floats":
        values = tuple(_number(part, spec) for part in parts)
        if any(v <= 0 for v in values):
            raise ValueError(f"{spec.label}: every factor must be positive")
        return values
    if spec.kind == "pairs":
        pairs = []
        for part in parts:
            size, sep, weight = part.partition(":")
            if not sep:
                raise ValueError(f"{spec.label}: {part!r} is not size:weight")
            grid = _number(size, spec)
            if grid != int(grid) or grid < 1:
                raise ValueError(f"{spec.label}: grid size {size.strip()!r} is not a whole number")
            pairs.append((int(grid), _number(weight, spec)))
        if not pairs or any(w < 0 for _, w in pairs):
            raise ValueError(f"{spec.label}: give at least one size:weight, weights 0 or more")
        return tuple(pairs)
    raise ValueError(f"{spec.name} is not a text field")


def _number(text: str, spec: FieldSpec) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{spec.label}: {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{spec.label}: {text.strip()!r} is not a finite number")
    return value


# ----------------------------------------------------------------------------- settings file


def to_stored(spec: FieldSpec, value: object) -> object:
    """A value as QSettings should keep it: tuples as their text, the rest as they are."""
    if spec.kind in ("floats", "pairs"):
        return format_value(spec, value)
    return value


def from_stored(spec: FieldSpec, raw: object) -> object | None:
    """A stored value back as the field's type, or None when missing or unreadable.

    A hand-edited or old settings file must never crash the window.
    """
    if raw is None:
        return None
    if isinstance(raw, (list, tuple)):  # an ini file read "0.9, 1.1" without quotes as a list
        raw = ", ".join(str(part) for part in raw)
    text = str(raw).strip()
    try:
        if spec.kind == "bool":
            return {"true": True, "1": True, "false": False, "0": False}.get(text.lower())
        if spec.kind == "choice":
            return text if text in spec.choices else None
        if spec.kind in ("floats", "pairs"):
            return parse_text(spec, text)
        if isinstance(raw, bool):
            return None
        if spec.kind == "int":
            return int(text)
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
