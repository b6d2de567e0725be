"""How much memory a visualization job needs, planned before it starts, and how much is free.

Plain integers from the model's description (`ModelSummary`): no TensorFlow. One image of a job
costs its input-side buffers (the parameterization, the transformed image, their gradients and
the optimizer's slots) plus, for every layer up to the target, its activations twice (kept for
the gradient, and the gradient of the same size). A spatial size the description leaves open (a
free-size model) counts as the input's side: an upper bound.

The budget is `CONVSCOPE_MEMORY_BUDGET` (bytes; `K`, `M`, `G` suffixes allowed) when set, else a
share of `MemAvailable` in /proc/meminfo, else unknown (then nothing is limited).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.protocol import LayerInfo, ModelSummary
from engine.protocol.input_spec import MAX_FREE_SIDE, MIN_FREE_SIDE

BUDGET_VARIABLE = "CONVSCOPE_MEMORY_BUDGET"
MEMINFO = Path("/proc/meminfo")
# The share of the free memory one job may plan to use: TensorFlow's allocator, the window and
# the rest of the process need the remainder.
USABLE_SHARE = 0.6
FLOAT_BYTES = 4
# Opening a model file peaks at about this many times its size (a 393M-parameter model was
# measured at 5.4x): the file's bytes, the weights as tensors, and Keras's copies while building.
LOAD_PEAK_FACTOR = 6
INPUT_BUFFERS = 8  # input-sized tensors per image: parameters, image, transformed, grads, slots
ACTIVATION_COPIES = 2  # each activation is kept for the gradient, and its gradient is as large
_SUFFIXES = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class NotEnoughMemory(MemoryError):
    """A job that would not fit in memory; the message says what ran out and what to try, and
    `fitting_side`, for a model that takes any size, the input side at which it would fit."""

    def __init__(self, message: str, fitting_side: int | None = None) -> None:
        super().__init__(message)
        self.fitting_side = fitting_side


@dataclass(frozen=True)
class MemoryPlan:
    """A job's batch, sized to the budget; `per_image` bytes each (`budget` None: unknown)."""

    batch: int
    per_image: int
    budget: int | None

    @property
    def total(self) -> int:
        return self.batch * self.per_image


def parse_bytes(text: str) -> int:
    """'4000000000', '512M' or '4G' as a number of bytes; ValueError names the bad text."""
    cleaned = text.strip().upper().removesuffix("B").removesuffix("I")
    number, unit = cleaned, ""
    if cleaned and cleaned[-1] in _SUFFIXES:
        number, unit = cleaned[:-1], cleaned[-1]
    try:
        value = float(number) * _SUFFIXES[unit]
    except ValueError:
        raise ValueError(f"{BUDGET_VARIABLE}={text!r}: expected bytes such as 4G or 512M") from None
    if not value > 0:
        raise ValueError(f"{BUDGET_VARIABLE}={text!r}: the budget must be positive")
    return int(value)


def available_bytes(meminfo: Path = MEMINFO) -> int | None:
    """The bytes a job may plan to use now (see the module's docstring); None: unknown."""
    override = os.environ.get(BUDGET_VARIABLE)
    if override:
        return parse_bytes(override)
    try:
        lines = meminfo.read_text(encoding="ascii").splitlines()
    except OSError:
        return None
    for line in lines:
        key, _, rest = line.partition(":")
        if key == "MemAvailable" and rest.split():
            return int(int(rest.split()[0]) * 1024 * USABLE_SHARE)
    return None


def _elements(shape: Sequence[int | None] | None, side: int) -> int:
    """Elements of one image's activation of `shape` (batch axis dropped, open sizes = side)."""
    if not shape or len(shape) < 2:
        return 0
    dims = list(shape[1:])
    spatial = len(dims) - 1  # every axis but the channels
    return math.prod((side if d is None and k < spatial else (d or 1)) for k, d in enumerate(dims))


def _activations_up_to(
    layers: Sequence[LayerInfo], target: tuple[str, ...], side: int
) -> tuple[int, bool]:
    """Activation elements per image of the layers up to `target` in model order, inclusive;
    and whether `target` was reached. A sub-model counts its own layers, not its output again."""
    total = 0
    for layer in layers:
        if layer.children:
            inner, reached = _activations_up_to(layer.children, target, side)
            total += inner
        else:
            if layer.type_name != "InputLayer":  # the input is counted among the buffers
                total += _elements(layer.output_shape, side)
            reached = layer.path == target
        if reached:
            return total, True
    return total, False


def image_bytes(summary: ModelSummary, target: tuple[str, ...], side: int | None = None) -> int:
    """Bytes one image of a visualization of `target` needs (at input side `side` for a
    free-size model; the size in use by default)."""
    height, width, channels = summary.input_shape
    if side is not None:
        height = width = side
    height, width = height or MIN_FREE_SIDE, width or MIN_FREE_SIDE
    open_side = max(height, width)
    pixels = height * width * channels
    activations, _ = _activations_up_to(summary.layers, target, open_side)
    return FLOAT_BYTES * (INPUT_BUFFERS * pixels + ACTIVATION_COPIES * activations)


def fitting_side(summary: ModelSummary, target: tuple[str, ...], budget: int) -> int | None:
    """The largest input side at which one image fits `budget` (None: not even the smallest)."""
    if image_bytes(summary, target, MIN_FREE_SIDE) > budget:
        return None
    low, high = MIN_FREE_SIDE, MAX_FREE_SIDE
    while low < high:
        middle = (low + high + 1) // 2
        if image_bytes(summary, target, middle) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def smaller_side(summary: ModelSummary, target: tuple[str, ...], budget: int) -> int | None:
    """For a free-size model, a side smaller than the one in use at which `target` fits
    `budget`; None otherwise."""
    if not summary.free_size:
        return None
    side = fitting_side(summary, target, budget)
    height, width, _ = summary.input_shape
    return side if side is not None and side < max(height or 0, width or 0) else None


def gigabytes(count: int) -> str:
    return f"{count / 2**30:.1f} GB" if count >= 2**29 else f"{count / 2**20:.0f} MB"


def plan_batch(
    summary: ModelSummary,
    target: tuple[str, ...],
    wanted: int,
    job: str,
    budget: int | None = None,
) -> MemoryPlan:
    """A batch of at most `wanted` images of `job` on `target` that fits `budget` (default:
    `available_bytes()`); NotEnoughMemory when not even one image fits."""
    budget = available_bytes() if budget is None else budget
    per_image = image_bytes(summary, target)
    if budget is None:
        return MemoryPlan(wanted, per_image, None)
    batch = min(wanted, budget // per_image)
    if batch < 1:
        raise NotEnoughMemory(
            shortage(summary, target, job, per_image, budget), smaller_side(summary, target, budget)
        )
    return MemoryPlan(int(batch), per_image, budget)


def shortage(
    summary: ModelSummary, target: tuple[str, ...], job: str, needed: int, budget: int
) -> str:
    """The sentence for a job whose one image needs `needed` bytes, over `budget`: what ran out
    and what would fit."""
    height, width, channels = summary.input_shape
    text = (
        f"Not enough memory for the {job} of {'/'.join(target)}: one image of "
        f"{height}×{width}×{channels} needs about {gigabytes(needed)} with its gradient, "
        f"and about {gigabytes(budget)} is free."
    )
    return text + _what_to_try(summary, target, budget)


def ran_out(summary: ModelSummary, target: tuple[str, ...], job: str, plan: MemoryPlan) -> str:
    """The sentence for a job that ran out of memory although `plan` said it would fit."""
    height, width, channels = summary.input_shape
    images = "one image" if plan.batch == 1 else f"a batch of {plan.batch} images"
    text = (
        f"Out of memory in the {job} of {'/'.join(target)}: {images} of "
        f"{height}×{width}×{channels} (planned at about {gigabytes(plan.total)}) did not fit."
    )
    if plan.batch > 1:
        smaller = max(1, plan.batch // 2)
        text += (
            f" A batch of {smaller} needs about {gigabytes(smaller * plan.per_image)}: set "
            f"{BUDGET_VARIABLE}={smaller * plan.per_image // 2**20}M to run batches that size."
        )
    return text + _what_to_try(summary, target, plan.total // 2)


def _what_to_try(summary: ModelSummary, target: tuple[str, ...], budget: int) -> str:
    height, width, _ = summary.input_shape
    text = ""
    if summary.free_size:
        side = fitting_side(summary, target, budget)
        if side is not None and side < max(height or 0, width or 0):
            text += (
                f" This model takes any size: an input side of {side} px or less would fit "
                "(Model › Input Preprocessing and Size…)."
            )
    return text + " Try a layer nearer the input, or close other programs."
