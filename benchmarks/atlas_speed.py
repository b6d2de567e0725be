"""Cost per filter-step of the batched layer atlas against one filter at a time.

Run from the repo root: `.venv/bin/python benchmarks/atlas_speed.py [--quick] [--skip-vgg]`.

(a) Batched, as `Visualizer.atlas` does it: one compiled `Program` with a batch of B images,
    `Objective.configure([...], units_per_image=...)` giving every image its own filter; one step
    advances B filters.
(b) One filter at a time: the same recipe with batch 1; one step advances one filter.

Both use the Classic recipe (the atlas command's default) and the same layer. They run in this one
process, interleaved round by round, and each rate (filter-steps per second) is the median over
rounds. Rates are steady state: a few warm-up steps run untimed before each timed block, and the
compilation of each program is reported apart. The script reports; it never fails on a slow result.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass, replace

from bench_common import arguments, print_versions, use_checkout, vgg16

WARMUP_STEPS = 2


@dataclass(frozen=True)
class Case:
    label: str
    layer: str
    input_shape: tuple[int, int, int]
    input_range: tuple[float, float]
    batch: int  # filters per batched step
    batched_steps: int  # timed steps per round, batched
    single_steps: int  # timed steps per round, one filter
    rounds: int
    target: float  # batched filter-steps/s ÷ single filter-steps/s


def _program(visualizer, case: Case, batch: int, recipe):
    """A started program whose image k scores filter (k mod filters) of the layer."""
    from engine.optvis.program import initial_images
    from engine.protocol import ObjectiveTerm

    recipe = replace(recipe, batch=batch)
    program = visualizer.programs([ObjectiveTerm((case.layer,), 0)], recipe)[0]
    filters = program.objective.sizes[0]
    units = [k % filters for k in range(batch)]
    program.objective.configure([ObjectiveTerm((case.layer,), units[0])], units)
    program.start(initial_images(recipe, (batch, *case.input_shape)), recipe.seed)
    return program


def _rate(program, steps: int, filters_per_step: int) -> float:
    """Filter-steps per second of `steps` steps, after a short untimed warm-up."""
    for _ in range(WARMUP_STEPS):
        program.step()
    began = time.perf_counter()
    for _ in range(steps):
        program.step()  # returns numpy: the step is complete
    return steps * filters_per_step / (time.perf_counter() - began)


def measure(model, case: Case, recipe) -> tuple[float, float, float, float]:
    """(batched, single) median filter-steps/s and each program's build-and-trace seconds."""
    from engine.optvis.visualizer import Visualizer

    visualizer = Visualizer(model, case.input_shape, case.input_range, lambda: None)
    setups = []
    for batch in (case.batch, 1):
        began = time.perf_counter()
        _program(visualizer, case, batch, recipe).step()  # the first step traces
        setups.append(time.perf_counter() - began)
    batched: list[float] = []
    single: list[float] = []
    for index in range(case.rounds):
        many = _program(visualizer, case, case.batch, replace(recipe, seed=index))
        batched.append(_rate(many, case.batched_steps, case.batch))
        one = _program(visualizer, case, 1, replace(recipe, seed=index))
        single.append(_rate(one, case.single_steps, 1))
        print(
            f"  {case.label} round {index + 1}/{case.rounds}: batch {case.batch} "
            f"{batched[-1]:9.1f} filter-steps/s  one filter {single[-1]:9.1f} filter-steps/s",
            flush=True,
        )
    return statistics.median(batched), statistics.median(single), *setups


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv, "one round of few steps: a smoke test").parse_args(argv)
    use_checkout()
    from engine.models.loading import load_model
    from engine.protocol.recipe import PRESETS

    print_versions()
    recipe = PRESETS["Classic"]
    model, meta, _ = load_model(None)
    quick = args.quick
    cases = [
        (model, Case("default model conv3", "conv3", (28, 28, 1), meta.input_range, 64,
                     1 if quick else 40, 2 if quick else 400, 1 if quick else 9, 3.0)),
    ]  # fmt: skip
    if not args.skip_vgg:
        # A batch of 8 at 224 px keeps the whole comparison to about two minutes on 2 cores.
        vgg = vgg16()
        cases.append(
            (vgg, Case("VGG16 block3_conv2", "block3_conv2", (224, 224, 3), (0.0, 255.0), 8,
                       1 if quick else 3, 1 if quick else 12, 1 if quick else 5, 1.0))
        )  # fmt: skip
    results = [(case, *measure(net, case, recipe)) for net, case in cases]

    header = (
        f"{'case':<22} {'batch':>5} {'batched f-steps/s':>17} {'one f-steps/s':>13} "
        f"{'ratio':>6} {'setup s (batch/one)':>20}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for case, batched, single, setup_many, setup_one in results:
        print(
            f"{case.label:<22} {case.batch:>5} {batched:>17.1f} {single:>13.1f} "
            f"{batched / single:>5.1f}x {setup_many:>9.2f} / {setup_one:<8.2f}"
        )
    print()
    for case, batched, single, *_ in results:
        print(
            f"{case.label}: batched atlas (batch {case.batch}) is {batched / single:.1f}x "
            f"one filter at a time per filter-step (target {case.target}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
