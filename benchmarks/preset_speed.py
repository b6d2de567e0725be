"""Step time of the Lucid preset against the Classic (pixel) preset.

Run from the repo root: `.venv/bin/python benchmarks/preset_speed.py [--quick] [--skip-vgg]`.

The Lucid preset grows a decorrelated Fourier image with Adam under padding, jitter, random scale
and random rotation; Classic takes RMS-normalized ascent steps on raw pixels with a 1-pixel
jitter. Both are compiled `Program`s from `Visualizer.programs` for the same layer and filter,
batch 1, one octave. They run in this one process, interleaved round by round; each rate is the
median over rounds of steady-state steps per second (a few warm-up steps run untimed before each
timed block). The script reports; it never fails on a slow result.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass, replace

from bench_common import arguments, print_versions, use_checkout, vgg16

WARMUP_STEPS = 3
PRESET_NAMES = ("Classic", "Lucid")


@dataclass(frozen=True)
class Case:
    label: str
    layer: str
    input_shape: tuple[int, int, int]
    input_range: tuple[float, float]
    steps: int  # timed steps per round, each preset
    rounds: int
    target: float  # the most Lucid may be slower per step, as Classic's rate ÷ Lucid's


def _started(visualizer, case: Case, recipe, unit: int):
    from engine.optvis.program import initial_images
    from engine.protocol import ObjectiveTerm

    program = visualizer.programs([ObjectiveTerm((case.layer,), unit)], recipe)[0]
    program.start(initial_images(recipe, (1, *case.input_shape)), recipe.seed)
    return program


def _rate(program, steps: int) -> float:
    for _ in range(WARMUP_STEPS):
        program.step()
    began = time.perf_counter()
    for _ in range(steps):
        program.step()  # returns numpy: the step is complete
    return steps / (time.perf_counter() - began)


def measure(model, case: Case) -> dict[str, tuple[float, float]]:
    """Per preset: (median steps/s, seconds to build and trace its program)."""
    from engine.optvis.visualizer import Visualizer
    from engine.protocol.recipe import PRESETS

    visualizer = Visualizer(model, case.input_shape, case.input_range, lambda: None)
    # One octave each: the step is what is compared, not how a preset splits its run.
    recipes = {name: replace(PRESETS[name], batch=1, octaves=1) for name in PRESET_NAMES}
    setup = {}
    for name, recipe in recipes.items():
        began = time.perf_counter()
        _started(visualizer, case, recipe, 0).step()  # the first step traces
        setup[name] = time.perf_counter() - began
    rates: dict[str, list[float]] = {name: [] for name in PRESET_NAMES}
    for index in range(case.rounds):
        for name, recipe in recipes.items():
            program = _started(visualizer, case, replace(recipe, seed=index), index % 8)
            rates[name].append(_rate(program, case.steps))
        print(
            f"  {case.label} round {index + 1}/{case.rounds}: "
            + "  ".join(f"{name} {rates[name][-1]:8.2f} steps/s" for name in PRESET_NAMES),
            flush=True,
        )
    return {name: (statistics.median(rates[name]), setup[name]) for name in PRESET_NAMES}


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv, "one round of few steps: a smoke test").parse_args(argv)
    use_checkout()
    from engine.models.loading import load_model

    print_versions()
    model, meta, _ = load_model(None)
    quick = args.quick
    cases = [
        (model, Case("default model conv3", "conv3", (28, 28, 1), meta.input_range,
                     2 if quick else 300, 1 if quick else 9, 1.5)),
    ]  # fmt: skip
    if not args.skip_vgg:
        vgg = vgg16()
        cases.append(
            (vgg, Case("VGG16 block3_conv2", "block3_conv2", (224, 224, 3), (0.0, 255.0),
                       1 if quick else 12, 1 if quick else 7, 1.5))
        )  # fmt: skip
    results = [(case, measure(net, case)) for net, case in cases]

    header = (
        f"{'case':<22} {'Classic steps/s':>15} {'Lucid steps/s':>13} {'Lucid slower':>12} "
        f"{'setup s (Classic/Lucid)':>24}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for case, found in results:
        (classic, classic_setup), (lucid, lucid_setup) = found["Classic"], found["Lucid"]
        print(
            f"{case.label:<22} {classic:>15.2f} {lucid:>13.2f} {classic / lucid:>11.2f}x "
            f"{classic_setup:>11.2f} / {lucid_setup:<10.2f}"
        )
    print()
    for case, found in results:
        slower = found["Classic"][0] / found["Lucid"][0]
        print(
            f"{case.label}: a Lucid step takes {slower:.2f}x a Classic step "
            f"(target at most {case.target}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
