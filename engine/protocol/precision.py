"""Which arithmetic "auto" means on a machine: plain Python, so the window can say it too.

The recipe's `precision` names what the model computes in; the image and the optimizer stay
float32 (engine/optvis/precision.py builds the model copy). `resolve` is pure: it is given the
CPU's flags and the visible GPUs, so tests fake a machine and the window (which cannot ask
TensorFlow for GPUs) can describe the CPU case.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.protocol.recipe import PRECISIONS

# CPU flags under which oneDNN runs bfloat16 convolutions natively (AVX512_BF16 dot products,
# or AMX tiles); without them bfloat16 is emulated and slower than float32.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
# Measured on a CPU without AVX512_FP16: float16 convolutions against float32.
FLOAT16_CPU_SLOWDOWN = 5.6
# Below this many input pixels "auto" keeps float32 on a CPU: on the built-in 28x28 model the
# casts cost more than the faster convolutions save (bfloat16 ran at 0.7x float32 there; at
# 224x224 on VGG16 it ran at 2x; benchmarks/precision_speed.py). Small models lose more than
# time: bfloat16 keeps 8 bits of mantissa, so an objective that moves by less than ~0.4 % of its
# value a step stands still (a random-weight MobileNetV2 at 64 px did, tests/test_user_models.py).
BF16_MIN_PIXELS = 128 * 128


@dataclass(frozen=True)
class Precision:
    """What a recipe's precision resolved to on one machine, and why."""

    requested: str  # the recipe's value: one of PRECISIONS
    compute: str  # what the model runs in: "float32", "bfloat16" or "float16"
    reason: str  # one sentence for a caption, tooltip or command line


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo; empty where there is none (not Linux)."""
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def resolve_precision(
    requested: str,
    flags: frozenset[str],
    gpus: Sequence[str],
    platform: str = sys.platform,
    pixels: int | None = None,
) -> Precision:
    """The concrete precision for `requested` on a machine with CPU `flags` and `gpus`, for a
    model whose input has `pixels` pixels (None: unknown, as the window's tooltip asks).

    ValueError for an unknown name, and for float16 without a GPU: on a CPU without
    AVX512_FP16 it runs about 5.6x slower than float32.
    """
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {requested!r}")
    if requested == "float16" and not gpus:
        raise ValueError(
            f"precision 'float16' needs a GPU: on this CPU it runs about "
            f"{FLOAT16_CPU_SLOWDOWN}x slower than float32; choose 'bfloat16', 'float32' or 'auto'"
        )
    if requested != "auto":
        where = f"on {gpus[0]}" if gpus else "on the CPU"
        return Precision(requested, requested, f"{requested} as the recipe asks, {where}")
    if gpus:
        return Precision("auto", "float16", f"auto: float16 mixed precision on {gpus[0]}")
    if not platform.startswith("linux"):
        return Precision("auto", "float32", "auto: float32 (CPU bfloat16 support not checked)")
    native = sorted(set(BF16_CPU_FLAGS) & flags)
    if native and pixels is not None and pixels < BF16_MIN_PIXELS:
        return Precision(
            "auto",
            "float32",
            f"auto: float32, the input is too small ({pixels} px) for bfloat16 to pay on the CPU",
        )
    if native:
        return Precision(
            "auto", "bfloat16", f"auto: bfloat16, the CPU computes it natively ({native[0]})"
        )
    return Precision("auto", "float32", "auto: float32, the CPU has no AVX512_BF16 or AMX")
