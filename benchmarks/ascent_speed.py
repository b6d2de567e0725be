"""Steps per second of activation maximization: the classic notebook loop against the engine.

Run from the repo root: `.venv/bin/python benchmarks/ascent_speed.py [--quick] [--skip-vgg]`.

(a) The notebook loop builds `keras.Model(model.inputs, layer.output)` for every visualization and
    runs plain eager `tf.GradientTape` steps with the gradient normalized by its RMS.
(b) The engine's compiled `Program` (engine/optvis/program.py) for the same objective, made by
    `Visualizer.programs` once per layer (the app caches it: a new filter only reconfigures the
    objective's variables), started with `program.start` and stepped with `program.step()`. Its
    recipe is the classic one: RMS-normalized ascent on pixels, lr 0.05, jitter 1.

Both run in this one process, interleaved round by round (A, B, A, B ...), and each method's rate is
the median over rounds, so a noisy neighbour or a thermal dip hits both alike. Rates are steady
state: a few warm-up steps run untimed before each timed block. The script reports; it never fails
on a slow result.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench_common import arguments, print_versions, use_checkout, vgg16

if TYPE_CHECKING:  # TensorFlow loads inside main(), after the environment is set
    import keras
    import numpy as np

    from engine.optvis.visualizer import Visualizer
    from engine.protocol.recipe import Recipe

WARMUP_STEPS = 3
LEARNING_RATE = 0.05  # in units of the input range, as the engine counts it
JITTER = 1  # the app's default; the notebook loop has none, so this only handicaps the engine
SEED = 0


@dataclass(frozen=True)
class Case:
    """One model and layer to time, with the speed-up the engine is expected to reach."""

    label: str
    layer: str
    input_shape: tuple[int, int, int]
    input_range: tuple[float, float]
    # Timed steps per round. The engine gets more so that both timed blocks last about as long:
    # a block of a few milliseconds would measure the scheduler, not the step.
    notebook_steps: int
    engine_steps: int
    target: float


@dataclass(frozen=True)
class Result:
    case: Case
    notebook: float  # steps/s, steady state, median over rounds
    notebook_with_build: float  # steps/s of a whole visualization, sub-model build included
    engine: float  # steps/s, steady state, median over rounds
    engine_setup_s: float  # building the program and tracing its first step, paid once per layer


def start_image(case: Case, seed: int) -> np.ndarray:
    """The near-grey noisy image the engine starts from, so both methods see the same pixels."""
    import numpy as np

    low, high = case.input_range
    noise = np.random.default_rng(seed).uniform(0.45, 0.55, (1, *case.input_shape))
    return (low + (high - low) * noise).astype(np.float32)


def notebook_round(model: keras.Model, case: Case, unit: int, steps: int) -> tuple[float, float]:
    """One notebook visualization; returns (steady steps/s, steps/s with the build included)."""
    import keras
    import tensorflow as tf

    began = time.perf_counter()
    # The notebooks build the sub-model per visualization, so its cost belongs to this round.
    extractor = keras.Model(model.inputs, model.get_layer(case.layer).output)
    img = tf.convert_to_tensor(start_image(case, unit))
    step_size = LEARNING_RATE * (case.input_range[1] - case.input_range[0])

    def step(img: tf.Tensor) -> tf.Tensor:
        # Only the image is watched, as in the notebooks. Even so an eager tape runs every conv's
        # filter gradient too (TF's Conv2D gradient always returns both; only a graph prunes the
        # unused one): most of the engine's lead on big models. These 3x3 convs survive the
        # oneDNN eager weight-gradient crash seen with some other convs.
        with tf.GradientTape() as tape:
            tape.watch(img)
            loss = tf.reduce_mean(extractor(img)[..., unit])
        grads = tape.gradient(loss, img)
        grads = grads / (tf.sqrt(tf.reduce_mean(tf.square(grads))) + 1e-5)
        return img + step_size * grads

    for _ in range(WARMUP_STEPS):
        img = step(img)
    timed = time.perf_counter()
    for _ in range(steps):
        img = step(img)
    img.numpy()  # CPU eager is synchronous already; this makes sure nothing is left pending
    done = time.perf_counter()
    return steps / (done - timed), (WARMUP_STEPS + steps) / (done - began)


def engine_round(visualizer: Visualizer, case: Case, unit: int, steps: int) -> float:
    """Steady steps/s of the engine's compiled step on a fresh run of `unit`."""
    from engine.optvis.program import initial_images
    from engine.protocol import ObjectiveTerm

    recipe = engine_recipe(unit)
    # Cached program: switching to another filter only reassigns the objective's variables.
    program = visualizer.programs([ObjectiveTerm((case.layer,), unit)], recipe)[0]
    program.start(initial_images(recipe, (1, *case.input_shape)), recipe.seed)
    for _ in range(WARMUP_STEPS):
        program.step()
    began = time.perf_counter()
    for _ in range(steps):
        program.step()  # returns a numpy array, so every step is complete when it returns
    return steps / (time.perf_counter() - began)


def engine_recipe(seed: int) -> Recipe:
    from engine.protocol.recipe import Recipe

    return Recipe(learning_rate=LEARNING_RATE, jitter=JITTER, seed=seed, batch=1)


def measure(model: keras.Model, case: Case, rounds: int) -> Result:
    """Interleave the two methods for `rounds` rounds and take each one's median rate."""
    from engine.optvis.visualizer import Visualizer
    from engine.protocol import ObjectiveTerm

    began = time.perf_counter()
    visualizer = Visualizer(model, case.input_shape, case.input_range, lambda: None)
    program = visualizer.programs([ObjectiveTerm((case.layer,), 0)], engine_recipe(SEED))[0]
    program.step()  # the first call traces the tf.function; count it as setup
    setup_s = time.perf_counter() - began
    filters = program.objective.sizes[0]

    notebook: list[float] = []
    notebook_all: list[float] = []
    engine: list[float] = []
    for index in range(rounds):
        unit = index % filters  # a different filter per round, as a notebook gallery does
        steady, whole = notebook_round(model, case, unit, case.notebook_steps)
        notebook.append(steady)
        notebook_all.append(whole)
        engine.append(engine_round(visualizer, case, unit, case.engine_steps))
        print(
            f"  {case.label} round {index + 1}/{rounds}: notebook {steady:8.2f}/s"
            f"  engine {engine[-1]:8.2f}/s",
            flush=True,
        )
    traces = program.trace_count()
    if traces != 1:
        print(f"  warning: the engine's step was traced {traces} times; expected once")
    return Result(
        case,
        statistics.median(notebook),
        statistics.median(notebook_all),
        statistics.median(engine),
        setup_s,
    )


def print_table(results: list[Result]) -> None:
    header = (
        f"{'model':<20} {'layer':<13} {'notebook/s':>10} {'nb+build/s':>10} "
        f"{'engine/s':>9} {'ratio':>6} {'engine setup s':>14}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for r in results:
        print(
            f"{r.case.label:<20} {r.case.layer:<13} {r.notebook:>10.2f} "
            f"{r.notebook_with_build:>10.2f} {r.engine:>9.2f} "
            f"{r.engine / r.notebook:>5.1f}x {r.engine_setup_s:>14.2f}"
        )
    print()
    for r in results:
        ratio = r.engine / r.notebook
        print(f"{r.case.label}: engine is {ratio:.1f}x the notebook loop (target {r.case.target}x)")


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv, "one round of few steps: a smoke test").parse_args(argv)
    use_checkout()
    from engine.models.loading import load_model

    print_versions()
    model, meta, _ = load_model(None)
    # (notebook steps, engine steps, rounds): full runs take about a minute on 2 idle cores.
    small = (2, 5, 1) if args.quick else (60, 400, 9)
    default = Case("default model", "conv3", (28, 28, 1), meta.input_range, *small[:2], 5.0)
    results = [measure(model, default, small[2])]
    if not args.skip_vgg:
        vgg = vgg16()
        large = (1, 2, 1) if args.quick else (6, 12, 7)
        case = Case(
            "VGG16 block3_conv2", "block3_conv2", (224, 224, 3), (0.0, 255.0), *large[:2], 1.8
        )
        results.append(measure(vgg, case, large[2]))
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
