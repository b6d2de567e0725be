"""How a model wants its pixels: a value range, Caffe-style BGR mean subtraction, or mean/std.

Plain Python (no TensorFlow), so the window can offer, show and remember the choice. The engine
turns a choice into layers in front of the model (engine/models/preprocessing.py); everything
else in
convscope then sees an input range, as it does for every other model.

A choice reaches the engine three ways: a zoo model knows its own, a JSON sidecar beside the
file says it (`"input": {"range": [-1, 1]}`, `"input": {"preprocessing": "caffe"}` or
`"input": {"preprocessing": {"mean": [...], "std": [...]}}`), or the user picks one in the
window, which remembers it per model file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RANGE, CAFFE, MEAN_STD = "range", "caffe", "mean_std"
KINDS = (RANGE, CAFFE, MEAN_STD)
# Keras's caffe-mode ImageNet means, in BGR order, in 0-255 pixel units.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
# The free input side a user may pick: small enough to draw on, big enough for ImageNet models.
MIN_FREE_SIDE, MAX_FREE_SIDE = 8, 1024


@dataclass(frozen=True)
class InputPreprocessing:
    """What the model's first layer expects, starting from 8-bit pixels.

    - RANGE: pixels mapped linearly onto [low, high] ([0, 1], [-1, 1], [0, 255] ...).
    - CAFFE: channels reversed to BGR, then the ImageNet mean subtracted (0-255 units).
    - MEAN_STD: (pixels / 255 - mean) / std per channel, mean and std in [0, 1] units
      (torchvision's convention); one value applies to every channel.
    """

    kind: str = RANGE
    low: float = 0.0
    high: float = 1.0
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown preprocessing {self.kind!r}; known: {', '.join(KINDS)}")
        finite = math.isfinite(self.low) and math.isfinite(self.high)
        if self.kind == RANGE and not (finite and self.high > self.low):
            raise ValueError(f"input range [{self.low}, {self.high}] is not a range")
        if self.kind == MEAN_STD:
            if not self.mean or len(self.mean) != len(self.std):
                raise ValueError(
                    f"mean {list(self.mean)} and std {list(self.std)} need the same number of "
                    "values: one, or one per channel"
                )
            if not all(math.isfinite(v) for v in self.mean):
                raise ValueError(f"mean {list(self.mean)} must be finite numbers")
            if not all(math.isfinite(v) and v > 0 for v in self.std):
                raise ValueError(f"std {list(self.std)} must be positive numbers")

    # ------------------------------------------------------------------ the common choices

    @classmethod
    def value_range(cls, low: float, high: float) -> InputPreprocessing:
        return cls(RANGE, float(low), float(high))

    @classmethod
    def caffe(cls) -> InputPreprocessing:
        return cls(CAFFE)

    @classmethod
    def mean_std(cls, mean: tuple[float, ...], std: tuple[float, ...]) -> InputPreprocessing:
        return cls(MEAN_STD, mean=tuple(float(v) for v in mean), std=tuple(float(v) for v in std))

    # ------------------------------------------------------------------ what the engine needs

    @property
    def needs_layers(self) -> bool:
        """Whether the engine puts layers in front of the model (a range needs none)."""
        return self.kind != RANGE

    @property
    def input_range(self) -> tuple[float, float]:
        """The range convscope feeds: the layers in front take 0-255 pixels."""
        return (self.low, self.high) if self.kind == RANGE else (0.0, 255.0)

    def check_channels(self, channels: int) -> None:
        """Raise ValueError when this choice cannot apply to a `channels`-channel input."""
        if self.kind == CAFFE and channels != 3:
            raise ValueError(
                f"Caffe-style preprocessing swaps RGB to BGR, but this model takes {channels} "
                "channel(s); pick a range or mean/std instead"
            )
        if self.kind == MEAN_STD and len(self.mean) not in (1, channels):
            raise ValueError(
                f"mean/std have {len(self.mean)} values but the model takes {channels} "
                "channel(s); give one value, or one per channel"
            )

    def describe(self) -> str:
        """A short phrase for the status bar: "[0, 1]", "Caffe BGR − mean", "mean/std"."""
        if self.kind == RANGE:
            return f"[{_number(self.low)}, {_number(self.high)}]"
        if self.kind == CAFFE:
            return "Caffe BGR − ImageNet mean"
        return f"(x − {_numbers(self.mean)}) / {_numbers(self.std)}"

    # ------------------------------------------------------------------ JSON (sidecar, settings)

    def to_json(self) -> dict:
        if self.kind == RANGE:
            return {"range": [self.low, self.high]}
        if self.kind == CAFFE:
            return {"preprocessing": "caffe"}
        return {"preprocessing": {"mean": list(self.mean), "std": list(self.std)}}

    @classmethod
    def from_json(cls, data: object) -> InputPreprocessing | None:
        """The choice an `"input"` object of a sidecar states; None when it states none.

        Raises ValueError (or TypeError) for one that is there but makes no sense.
        """
        if not isinstance(data, dict):
            raise TypeError(f"'input' should be an object, not {type(data).__name__}")
        stated = data.get("preprocessing")
        if stated is None:
            if "range" not in data:
                return None
            low, high = (float(v) for v in data["range"])
            return cls.value_range(low, high)
        if isinstance(stated, str):
            named = {
                "caffe": cls.caffe(),
                "unit": cls.value_range(0, 1),
                "symmetric": cls.value_range(-1, 1),
                "pixels": cls.value_range(0, 255),
            }
            if stated.lower() not in named:
                raise ValueError(
                    f"preprocessing {stated!r} is unknown; use {', '.join(named)} or "
                    '{"mean": [...], "std": [...]}'
                )
            return named[stated.lower()]
        if isinstance(stated, dict):
            return cls.mean_std(_floats(stated.get("mean")), _floats(stated.get("std")))
        raise TypeError(f"preprocessing should be a name or an object, not {stated!r}")


def _floats(values: object) -> tuple[float, ...]:
    if isinstance(values, (int, float)):
        return (float(values),)
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"expected a number or a list of numbers, got {values!r}")
    return tuple(float(v) for v in values)


def parse_numbers(text: str) -> tuple[float, ...]:
    """'0.485, 0.456 0.406' → (0.485, 0.456, 0.406); ValueError naming the bad part."""
    parts = [part for part in text.replace(",", " ").replace(";", " ").split() if part]
    if not parts:
        raise ValueError("no numbers given")
    values = []
    for part in parts:
        try:
            values.append(float(part))
        except ValueError:
            raise ValueError(f"{part!r} is not a number") from None
    return tuple(values)


def _number(value: float) -> str:
    return f"{value:g}"


def _numbers(values: tuple[float, ...]) -> str:
    if len(values) == 1:
        return _number(values[0])
    return "(" + ", ".join(_number(v) for v in values) + ")"
