"""Head to head: how soon convscope and tf-keras-vis grow an image as strong as the best real one.

Run from the repo root: `.venv/bin/python benchmarks/vs_tf_keras_vis.py [--quick] [--skip-vgg]`
(needs the `bench` extra: `pip install -e ".[bench]"`).

For each filter, the target is the filter's best real-image activation: the highest mean
activation of its channel over real images (held-out MNIST digits for the built-in model;
scikit-image's astronaut, chelsea and coffee photos, centre-cropped to 224 px, for VGG16). Then
each tool grows an image for the same objective (the channel's mean activation) and the clock
runs until the image, as the model sees it without any random transform, first reaches the
target. Both images are scored after every step by the same compiled evaluator, with the clock
paused while it runs, so neither tool pays for the check.

- convscope: the engine's default recipe for the model (`default_preset`: Classic for grey
  models, Lucid for colour ones), stepped as `engine.optvis.program.visualize` steps it, on the
  program `Visualizer.programs` builds, in the recipe's precision ("auto": bfloat16 where the
  CPU has it natively; `--precision float32` to compare like with like). The line says which.
- tf-keras-vis 0.8.7: `ActivationMaximization(model, model_modifier=ExtractIntermediateLayer)`
  with its default input modifiers, regularizers and optimizer (Jitter 4, Rotate 1, TV 1.0,
  L1 norm 0.3, RMSprop 1.0), and a callback that records each step; it raises to stop the run
  once the target is reached. Its `input_range` is the model's (its default, 0-255, is VGG's).

VGG16 (weights=None: nothing can be downloaded here) takes 0-255 RGB through a fixed 1x1
convolution that does Keras's "caffe" preprocessing (RGB to BGR, minus the ImageNet mean), so
both tools and the real photos use the same 0-255 range, tf-keras-vis's default one.

Both run in this one process, interleaved filter by filter (the order alternates), each filter
five times on the built-in model (the run of median time counts: its runs take milliseconds,
which a busy machine's hiccup would otherwise decide), after one untimed warm-up run each
(tracing and first-call costs are paid once per layer in both tools, so they are left out). A
unit neither tool makes fire is run once. Times are medians over filters; a run that does not
reach its target within the step budget counts as the whole budget's time, and the ratio is
then a bound (said so). The script reports; it never fails on a slow result.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

from bench_common import arguments, print_versions, use_checkout, vgg16

if TYPE_CHECKING:  # TensorFlow loads inside main(), after the environment is set
    from collections.abc import Callable

    import keras
    import numpy as np

    from engine.protocol.recipe import Recipe

WARMUP_STEPS = 4
VGG_MEAN_BGR = (103.939, 116.779, 123.68)
PHOTOS = ("astronaut", "chelsea", "coffee")


@dataclass(frozen=True)
class Case:
    """One model and layer, with its step budget and the speed-up convscope should reach."""

    label: str
    model: keras.Model
    layer: str
    input_range: tuple[float, float]
    real_images: np.ndarray  # model inputs, (N, H, W, C)
    filters: int
    budget: int  # steps each tool may take per filter
    target: float
    repeats: int = 1  # runs per filter and tool; the median one counts


@dataclass(frozen=True)
class Run:
    """One tool's run on one filter."""

    seconds: float  # tool time until the target was reached, else the whole budget's
    steps: int
    reached: bool
    final: np.ndarray  # (H, W, C) in model input units, as the tool left it
    score: float  # the final image's objective
    history: tuple[tuple[float, float], ...] = ()  # (tool seconds, objective) after each step
    clipped: float = 0.0  # the final image's objective once clipped to the input range

    def time_to(self, level: float) -> float | None:
        """Tool seconds until the objective first reached `level` (None: never)."""
        return next((seconds for seconds, value in self.history if value >= level), None)


class Reached(Exception):
    """Raised from tf-keras-vis's callback: its loop has no other way to stop early."""


class Clock:
    """Tool time only: `pause` around the shared objective check, `resume` after it."""

    def __init__(self) -> None:
        self.total = 0.0
        self._since = time.perf_counter()

    def pause(self) -> float:
        self.total += time.perf_counter() - self._since
        return self.total

    def resume(self) -> None:
        self._since = time.perf_counter()


def evaluator(model: keras.Model, layer: str) -> Callable[[np.ndarray, int], float]:
    """The shared check: the channel's mean activation on one image (H, W, C) of model input."""
    import tensorflow as tf

    from engine.models.surgery import linearized

    extractor = linearized(model, (layer,))

    @tf.function
    def means(x: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(extractor(x, training=False), axis=(1, 2))

    def score(image: np.ndarray, unit: int) -> float:
        return float(means(tf.constant(image[None], tf.float32))[0, unit].numpy())

    return score


def best_real(case: Case) -> np.ndarray:
    """Each filter's best real-image activation (max over images of the channel's mean)."""
    from engine.optvis.real_images import RealImages

    real = RealImages(case.model, case.input_range, lambda: case.real_images)
    maxima = real.maxima((case.layer,))
    if maxima is None:
        raise ValueError(f"no real images for {case.label}")
    return maxima[: case.filters]


def convscope_recipe(channels: int, budget: int, precision: str | None) -> tuple[str, Recipe]:
    """The engine's default preset for the model, by name, with the budget's steps, and with
    `precision` where given (else the preset's own, "auto" where the engine has the field)."""
    from engine.protocol.recipe import PRESETS, Recipe, default_preset

    name = default_preset(channels)
    recipe = replace(PRESETS[name], steps=budget, frame_every=1)
    if precision is None:
        return name, recipe
    if "precision" not in {f.name for f in fields(Recipe)}:
        raise ValueError(f"this engine's Recipe has no precision field; got {precision!r}")
    return name, replace(recipe, precision=precision)  # type: ignore[call-arg]


def precision_used(visualizer, recipe: Recipe) -> str:
    """What the convscope model computed in, and why ("float32" on an engine without it)."""
    if not hasattr(visualizer, "precision"):
        return "float32 (the engine has no precision setting)"
    found = visualizer.precision(recipe)
    return f"{found.compute} (recipe: {found.requested}; {found.reason})"


def convscope_run(case: Case, visualizer, recipe: Recipe, unit: int, target: float, score) -> Run:
    """convscope's default recipe on `unit` until its image reaches `target`.

    The compiled program is stepped as `engine.optvis.program.visualize` steps it (the default
    presets have one octave and no blur, so that is all it does per step), but the image is
    fetched after every step with the clock paused: the app fetches one every other step at
    most, so fetching each one would charge convscope for the benchmark's check.
    """
    import numpy as np

    from engine.optvis.program import initial_images, model_size
    from engine.protocol import ObjectiveTerm

    if recipe.octaves != 1 or recipe.blur_every:
        raise ValueError(f"octaves {recipe.octaves}, blur_every {recipe.blur_every}: expected 1, 0")
    low, high = case.input_range
    clock = Clock()
    program = visualizer.programs([ObjectiveTerm((case.layer,), unit)], recipe)[0]
    program.start(initial_images(recipe, (1, *model_size(visualizer.input_shape))), recipe.seed)
    reached, image, history = False, None, []
    while not reached and len(history) < recipe.steps:
        program.step()  # returns numpy values: the step is complete when it returns
        seconds = clock.pause()
        image = low + (high - low) * program.images()[0]
        history.append((seconds, score(image, unit)))
        reached = history[-1][1] >= target
        clock.resume()
    if image is None:
        raise ValueError(f"convscope ran no step for filter {unit} (steps {recipe.steps})")
    seconds, value = history[-1]
    inside = np.clip(image, low, high)
    clipped = score(inside, unit)
    return Run(seconds, len(history), reached, image, value, tuple(history), clipped)


def tfkv_run(case: Case, tool, budget: int, unit: int, target: float, score) -> Run:
    """tf-keras-vis's defaults on `unit` until its image reaches `target`."""
    import tensorflow as tf
    from tf_keras_vis.activation_maximization.callbacks import Callback

    clock = Clock()
    seen: dict[str, np.ndarray] = {}
    history: list[tuple[float, float]] = []

    class Recorder(Callback):
        def __call__(self, i, values, grads, scores, model_outputs, **kwargs) -> None:
            seconds = clock.pause()
            seen["image"] = values[0][0].numpy()
            history.append((seconds, score(seen["image"], unit)))
            if history[-1][1] >= target:
                raise Reached
            clock.resume()

    def channel_mean(output):
        return tf.reduce_mean(output[..., unit], axis=(1, 2))

    reached = False
    try:
        tool(channel_mean, steps=budget, input_range=case.input_range, callbacks=[Recorder()])
    except Reached:
        reached = True
    if not history:
        raise ValueError(f"tf-keras-vis ran no step for filter {unit} (budget {budget})")
    seconds, value = history[-1]
    # What tf-keras-vis hands back is clipped already.
    return Run(seconds, len(history), reached, seen["image"], value, tuple(history), value)


def outside_share(image: np.ndarray, input_range: tuple[float, float]) -> float:
    """The share of pixel values outside the model's input range."""
    import numpy as np

    low, high = input_range
    return float(np.mean((image < low) | (image > high)))


def measure(case: Case, precision: str | None) -> tuple[list[Run], list[Run], str, str]:
    """Interleave the two tools over the case's filters; returns their runs and the recipe."""
    from tf_keras_vis.activation_maximization import ActivationMaximization
    from tf_keras_vis.utils.model_modifiers import ExtractIntermediateLayer

    from engine.optvis.visualizer import Visualizer

    shape = tuple(int(d) for d in case.model.input_shape[1:])
    score = evaluator(case.model, case.layer)
    targets = best_real(case)
    visualizer = Visualizer(case.model, shape, case.input_range, lambda: case.real_images)
    name, recipe = convscope_recipe(shape[-1], case.budget, precision)
    tool = ActivationMaximization(case.model, model_modifier=ExtractIntermediateLayer(case.layer))
    # Untimed warm-up: traces convscope's step and tf-keras-vis's first eager calls.
    convscope_run(case, visualizer, replace(recipe, steps=WARMUP_STEPS), 0, float("inf"), score)
    tfkv_run(case, tool, WARMUP_STEPS, 0, float("inf"), score)
    ours: list[Run] = []
    theirs: list[Run] = []
    for unit in range(case.filters):
        target = float(targets[unit])
        runs = [
            lambda u=unit, t=target: convscope_run(case, visualizer, recipe, u, t, score),
            lambda u=unit, t=target: tfkv_run(case, tool, case.budget, u, t, score),
        ]
        mine_all: list[Run] = []
        other_all: list[Run] = []
        for repeat in range(case.repeats):
            swap = (unit + repeat) % 2 == 1  # the order alternates
            first, second = runs[::-1] if swap else runs
            results = (first(), second())
            mine, other = results[::-1] if swap else results
            mine_all.append(mine)
            other_all.append(other)
            if not (mine.reached or other.reached):
                break  # a unit neither tool makes fire is left out: once is enough
        ours.append(median_run(mine_all))
        theirs.append(median_run(other_all))
        print(
            f"  {case.label} filter {unit}: best real {target:.4g}; "
            f"convscope {describe(ours[-1])}; tf-keras-vis {describe(theirs[-1])}",
            flush=True,
        )
    clipping = "kept in range" if recipe.keep_in_range else "unclipped"
    return ours, theirs, f"{name}, {clipping}", precision_used(visualizer, recipe)


def median_run(runs: list[Run]) -> Run:
    """The run of median time (the later one of the middle two): a few milliseconds of a
    busy machine would otherwise decide a ratio of runs that take tens of milliseconds."""
    return sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]


def describe(run: Run) -> str:
    if run.reached:
        return f"{run.seconds:.3f} s ({run.steps} steps)"
    return f"not reached in {run.steps} steps ({run.seconds:.2f} s; reached {run.score:.4g})"


def compare(case: Case, ours: list[Run], theirs: list[Run]) -> tuple[float, float, str]:
    """Median seconds of each tool and how to read their ratio ("", ">= ", "<= ", "~ ").

    A filter that one tool brings up to its best real image counts the other's whole budget if
    it never does: the truth is longer, so the ratio is then a bound. A filter neither tool
    brings up that far is timed to the weaker tool's best score instead, and said so.
    """
    ours_s, theirs_s = [], []
    missed_ours = missed_theirs = False
    for unit, (mine, other) in enumerate(zip(ours, theirs, strict=True)):
        if mine.reached or other.reached:
            missed_ours |= not mine.reached
            missed_theirs |= not other.reached
            ours_s.append(mine.seconds)
            theirs_s.append(other.seconds)
            continue
        level = min(max(v for _, v in mine.history), max(v for _, v in other.history))
        mine_at, other_at = mine.time_to(level), other.time_to(level)
        if level <= 0 or mine_at is None or other_at is None:
            print(f"  {case.label} filter {unit}: neither tool made it fire; left out")
            continue
        print(
            f"  {case.label} filter {unit}: neither reached the best real image; both timed to "
            f"the weaker one's best, {level:.4g}: convscope {mine_at:.2f} s, "
            f"tf-keras-vis {other_at:.2f} s"
        )
        ours_s.append(mine_at)
        theirs_s.append(other_at)
    if not ours_s:
        return float("nan"), float("nan"), ""
    bound = {(True, False): ">= ", (False, True): "<= ", (True, True): "~ "}.get(
        (missed_theirs, missed_ours), ""
    )
    return statistics.median(ours_s), statistics.median(theirs_s), bound


def report(case: Case, ours: list[Run], theirs: list[Run], recipe: str, precision: str) -> None:
    """The case's summary lines; the last one ends in its target."""
    ours_s, theirs_s, bound = compare(case, ours, theirs)
    for tool_name, runs in (("convscope", ours), ("tf-keras-vis", theirs)):
        missed = sum(not r.reached for r in runs)
        if missed:
            print(
                f"  {case.label}: {tool_name} did not reach the best real image on {missed} of "
                f"{case.filters} filters in {case.budget} steps"
            )
    # Medians hide a filter one tool never brings up: the whole gallery's time shows it.
    mark = ">= " if any(not r.reached for r in theirs) else ""
    print(
        f"  {case.label}: all {case.filters} filters take convscope "
        f"{sum(r.seconds for r in ours):.2f} s, tf-keras-vis {mark}"
        f"{sum(r.seconds for r in theirs):.2f} s"
    )
    out_ours = statistics.median(outside_share(r.final, case.input_range) for r in ours)
    out_theirs = statistics.median(outside_share(r.final, case.input_range) for r in theirs)
    # An unclipped image shown as a picture is clipped (or normalized): what does that cost it?
    kept = [r.clipped / r.score for r in ours if r.score > 0]
    clipped = (
        f" (clipped, they keep {statistics.median(kept):.0%} of their objective)" if kept else ""
    )
    print(
        f"  {case.label}: final images outside the input range: convscope {out_ours:.1%} "
        f"of pixels{clipped}; tf-keras-vis {out_theirs:.1%} (it clips what it returns); "
        f"convscope recipe {recipe}, precision {precision}"
    )
    runs = f" (median of {case.repeats} runs per filter)" if case.repeats > 1 else ""
    print(
        f"{case.label} ({case.filters} filters): convscope reaches the best real image in "
        f"{ours_s:.3f} s, tf-keras-vis in {theirs_s:.3f} s{runs}: {bound}{theirs_s / ours_s:.1f} x "
        f"(target {case.target:g} x)"
    )


def vgg_case(filters: int, budget: int) -> Case:
    """VGG16 (random weights) behind the caffe preprocessing, on three real photos."""
    import keras
    import numpy as np
    from skimage import data, transform

    keras.utils.set_random_seed(0)  # the same random VGG16, so runs can be compared
    vgg = vgg16()
    inputs = keras.Input((224, 224, 3))
    caffe = keras.layers.Conv2D(3, 1, name="caffe_preprocess", trainable=False)
    x = caffe(inputs)
    caffe.set_weights([np.eye(3)[::-1].reshape(1, 1, 3, 3), -np.array(VGG_MEAN_BGR)])
    for layer in vgg.layers[1:]:
        x = layer(x)
    model = keras.Model(inputs, x, name="vgg16_caffe")
    photos = []
    for name in PHOTOS:
        photo = getattr(data, name)()[..., :3]
        side = min(photo.shape[:2])
        top, left = (photo.shape[0] - side) // 2, (photo.shape[1] - side) // 2
        square = photo[top : top + side, left : left + side]
        photos.append(transform.resize(square, (224, 224), anti_aliasing=True) * 255.0)
    real = np.stack(photos).astype(np.float32)
    return Case(
        "VGG16 block3_conv2 at 224", model, "block3_conv2", (0.0, 255.0), real, filters, budget, 2.0
    )


def default_case(filters: int, budget: int, repeats: int) -> Case:
    """The built-in MNIST model's conv3 against held-out real MNIST digits."""
    from engine.models.loading import load_model
    from engine.optvis.references import mnist_references

    model, meta, _ = load_model(None)
    digits = mnist_references()
    if digits is None:
        raise ValueError("real MNIST is missing: expected it in ../shared/data/mnist")
    low, high = meta.input_range
    return Case(
        "default model conv3",
        model,
        "conv3",
        (low, high),
        low + (high - low) * digits,
        filters,
        budget,
        10.0,
        repeats,
    )


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__, argv, "few filters and steps: a smoke test")
    parser.add_argument(
        "--precision", help="convscope's recipe precision (default: the preset's own, auto)"
    )
    args = parser.parse_args(argv)
    use_checkout()
    import tf_keras_vis

    print_versions()
    print(f"tf-keras-vis {tf_keras_vis.__version__}")
    cases = [default_case(2, 64, 1) if args.quick else default_case(8, 512, 5)]
    if not args.skip_vgg:
        cases.append(vgg_case(1, 8) if args.quick else vgg_case(3, 160))
    for case in cases:
        ours, theirs, recipe, precision = measure(case, args.precision)
        report(case, ours, theirs, recipe, precision)
    return 0


if __name__ == "__main__":
    sys.exit(main())
