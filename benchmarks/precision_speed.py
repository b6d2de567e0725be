"""Steps per second of the engine's step: bfloat16 against float32, and the channel slice.

Run from the repo root: `.venv/bin/python benchmarks/precision_speed.py [--quick] [--skip-vgg]`.

(a, b) The same compiled `Program` (engine/optvis/program.py) with the recipe's precision set to
       "float32" and to "bfloat16", on the built-in model's conv3 and on VGG16 block3_conv2 at
       224 px (random weights). Both compute every channel, so the ratio is the precision's alone.
       For VGG one seeded run per precision also grows an image: the final activations (scored
       in float32 either way) and the SSIM of the two images say whether bfloat16 changes what
       the user sees.
(c)    At float32, the last layer computing only the target filter against every filter
       (engine/models/channel_slice.py), on both models; the images must be the same.

The methods run in this one process, interleaved round by round (A, B, A, B ...), and each one's
rate is the median over rounds, so a noisy neighbour hits both alike. Rates are steady state: a
few warm-up steps run untimed before each timed block. The script reports; it never fails on a
slow result. No GPU column: where TensorFlow sees a GPU, the line says so.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bench_common import arguments, print_versions, use_checkout, vgg16

if TYPE_CHECKING:  # TensorFlow loads inside main(), after the environment is set
    import keras
    import numpy as np

    from engine.optvis.visualizer import Visualizer
    from engine.protocol.recipe import Recipe

WARMUP_STEPS = 3
UNIT = 5


@dataclass(frozen=True)
class Case:
    """One model and layer to time."""

    label: str
    layer: str
    input_shape: tuple[int, int, int]
    input_range: tuple[float, float]
    steps: int  # timed steps per round
    rounds: int
    image_steps: int  # steps of the seeded run whose images are compared


@dataclass(frozen=True)
class Method:
    """One way of computing the step: a recipe precision, with or without the slice."""

    name: str
    precision: str
    slice_channels: bool


def base_recipe() -> Recipe:
    from engine.protocol.recipe import Recipe

    # The classic recipe, as benchmarks/ascent_speed.py times it.
    return Recipe(learning_rate=0.05, jitter=1, seed=0, batch=1)


def visualizer(model: keras.Model, case: Case, method: Method) -> Visualizer:
    from engine.optvis.visualizer import Visualizer

    return Visualizer(
        model,
        case.input_shape,
        case.input_range,
        lambda: None,
        slice_channels=method.slice_channels,
    )


def timed_round(vis: Visualizer, case: Case, method: Method, unit: int) -> float:
    """Steady steps/s of `method`'s compiled step on a fresh run of `unit`."""
    from engine.optvis.program import initial_images
    from engine.protocol import ObjectiveTerm

    recipe = replace(base_recipe(), precision=method.precision, seed=unit)
    program = vis.programs([ObjectiveTerm((case.layer,), unit)], recipe)[0]
    program.start(initial_images(recipe, (1, *case.input_shape)), recipe.seed)
    for _ in range(WARMUP_STEPS):
        program.step()
    began = time.perf_counter()
    for _ in range(case.steps):
        program.step()  # returns a numpy array: every step is complete when it returns
    return case.steps / (time.perf_counter() - began)


def compare(
    model: keras.Model, case: Case, a: Method, b: Method
) -> tuple[float, float, float, int]:
    """(median steps/s of a, of b, median of the rounds' b/a ratios, traces of b's step) over
    interleaved rounds. The ratio is paired round by round: on a shared machine the load
    changes between rounds more than within one."""
    from engine.protocol import ObjectiveTerm

    visualizers = {a.name: visualizer(model, case, a), b.name: visualizer(model, case, b)}
    rates: dict[str, list[float]] = {a.name: [], b.name: []}
    for index in range(case.rounds):
        unit = (UNIT + index) % 32
        for method in (a, b):
            rates[method.name].append(timed_round(visualizers[method.name], case, method, unit))
        print(
            f"  {case.label} round {index + 1}/{case.rounds}: {a.name} {rates[a.name][-1]:7.2f}/s"
            f"  {b.name} {rates[b.name][-1]:7.2f}/s",
            flush=True,
        )
    recipe = replace(base_recipe(), precision=b.precision)
    traces = visualizers[b.name].programs([ObjectiveTerm((case.layer,), UNIT)], recipe)[0]
    ratios = [rb / ra for ra, rb in zip(rates[a.name], rates[b.name], strict=True)]
    return (
        statistics.median(rates[a.name]),
        statistics.median(rates[b.name]),
        statistics.median(ratios),
        traces.trace_count(),
    )


def grown(model: keras.Model, case: Case, method: Method) -> tuple[np.ndarray, float]:
    """The image and float32 activation of one seeded run of `case.image_steps` steps."""
    from engine.protocol import ObjectiveTerm

    vis = visualizer(model, case, method)
    recipe = replace(base_recipe(), precision=method.precision, steps=case.image_steps)
    run = vis.run([ObjectiveTerm((case.layer,), UNIT)], recipe, lambda: False)
    while True:
        try:
            next(run)
        except StopIteration as ended:
            return ended.value.images[0], ended.value.activation


def image_agreement(model: keras.Model, case: Case, a: Method, b: Method) -> str:
    """How far b's image and activation are from a's, from one seed, in words."""
    import numpy as np
    from skimage.metrics import structural_similarity

    from engine.protocol import normalize_for_display

    image_a, act_a = grown(model, case, a)
    image_b, act_b = grown(model, case, b)
    # SSIM of the pictures the window shows (the default display, the notebooks' mean ± std),
    # and of the raw values over their span.
    shown = structural_similarity(
        normalize_for_display(image_a),
        normalize_for_display(image_b),
        data_range=1.0,
        channel_axis=-1,
    )
    span = float(image_a.max() - image_a.min()) or 1.0
    raw = structural_similarity(image_a, image_b, data_range=span, channel_axis=-1)
    diff = 100 * abs(act_b - act_a) / max(abs(act_a), 1e-12)
    same = np.abs(image_b - image_a).max()
    return (
        f"activation {diff:.2f}% apart, SSIM shown {shown:.3f} raw {raw:.3f}, "
        f"max pixel diff {same:.2g}"
    )


def report(
    case: Case, kind: str, rates: tuple[float, float, float, int], target: float, extra: str
) -> str:
    a, b, ratio, traces = rates
    return (
        f"{case.label} {case.layer}: {kind} is {ratio:.2f}x (median of rounds; {b:.2f} vs "
        f"{a:.2f} steps/s; traced {traces}x{extra}) (target {target} x)"
    )


def measure(model: keras.Model, case: Case, with_images: bool) -> list[str]:
    f32 = Method("float32", "float32", False)
    bf16 = Method("bfloat16", "bfloat16", False)
    sliced = Method("sliced", "float32", True)
    rates = compare(model, case, f32, bf16)
    extra = ", " + image_agreement(model, case, f32, bf16) if with_images else ""
    lines = [report(case, "bfloat16 against float32", rates, 1.7, extra)]
    rates = compare(model, case, f32, sliced)
    extra = ", " + image_agreement(model, case, f32, sliced)
    lines.append(report(case, "channel slice against every channel (float32)", rates, 1.2, extra))
    return lines


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv, "one round of few steps: a smoke test").parse_args(argv)
    use_checkout()
    import keras

    from engine.models.loading import load_model
    from engine.optvis.precision import resolve, visible_gpus

    print_versions()
    print(f"precision auto here: {resolve('auto').reason}")
    if visible_gpus():
        print(f"GPU visible ({visible_gpus()[0]}): ops run there; fill the README's GPU column")
    model, meta, _ = load_model(None)
    small = (2, 1, 2) if args.quick else (200, 9, 40)
    default = Case("default model", "conv3", (28, 28, 1), meta.input_range, *small)
    lines = measure(model, default, with_images=not args.quick)
    if not args.skip_vgg:
        large = (1, 1, 2) if args.quick else (10, 7, 24)
        case = Case("VGG16", "block3_conv2", (224, 224, 3), (0.0, 255.0), *large)
        keras.utils.set_random_seed(0)  # the same random weights every run: comparable images
        lines += measure(vgg16(), case, with_images=True)
    print()
    for line in lines:
        print(line)
    print(f"load average at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
