"""Wall time of a whole microscope of the built-in model: here, and on a local Ray of 2 workers.

Run from the repo root: `.venv/bin/python benchmarks/microscope_speed.py [--quick]`.

The 10,000 real MNIST test digits from `../shared/data/mnist` are written as PNG files into a
temporary folder. Then `python main.py microscope` of the built-in model, every layer it shows
by default (conv1..conv3 and the output; `--quick`: one batch of 64 digits, conv1 alone, 1
step, the top 2 images: every stage once, a smoke test) with the classic recipe, is built
twice from scratch in this one process: (a) with the local executor, (b) with `--ray local:2`
(engine/microscope/ray_executor.py: Ray Data for the scan, two actors for the atlas). Each run
reports its wall time, the scan's images/s and the atlas's filter-steps/s (a filter-step: one
unit's image, one optimizer step), per worker for Ray, and Ray's start-up. The two folders must
hold the same files; the script says whether they do. Ray's rates include its workers loading
TensorFlow and the model; on a machine of 2 cores Ray cannot be faster than the local run,
which already uses both: the difference is its overhead.

`--resnet50` also times ResNet50 at 224 px (random weights: nothing can be downloaded here) for
the README's arithmetic: forward images/s, and the filter-steps/s of an atlas step (gradient of
one channel per image, batch 8, inside tf.function) at the end of each stage conv2..conv5.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from bench_common import arguments, print_versions, use_checkout

WORKERS = 2
# --quick: one forward batch of digits (one scan chunk) and one layer (one atlas chunk), so Ray
# starts one scan actor and one atlas actor, each a fresh process importing TensorFlow, the most
# of its cost; one step per unit and the top 2 images (fewer crops to write).
QUICK_DIGITS, QUICK_LAYER, QUICK_STEPS, QUICK_TOP_K = 64, "conv1", 1, 2
QUICK_OPTIONS = ["--layers", QUICK_LAYER, "--steps", str(QUICK_STEPS), "--top-k", str(QUICK_TOP_K)]


def write_digits(folder: Path, count: int) -> None:
    """The first `count` MNIST test digits as PNG files."""
    from PIL import Image

    from engine.dataset.mnist import load_mnist_dir
    from engine.optvis.references import MNIST_DIR

    folder.mkdir(parents=True, exist_ok=True)
    digits, _ = load_mnist_dir(MNIST_DIR)
    for i in range(count):
        Image.fromarray(digits[i % len(digits)]).save(folder / f"{i:05d}.png")


class Times:
    """A quiet reporter: when each chunk was kept, to tell the steady rate from the start-up."""

    def __init__(self) -> None:
        self.kept: dict[str, list[tuple[float, int]]] = {}

    def __call__(self, stage: str, _done: int, _total: int, items: int, _all: int) -> None:
        self.kept.setdefault(stage, []).append((time.perf_counter(), items))

    def steady(self, stage: str) -> float | None:
        """Items per second from the first chunk kept to the last (the workers warm)."""
        kept = self.kept.get(stage, [])[1:]  # the first report is build.py's baseline
        if len(kept) < 3:
            return None
        (first, at_first), (last, at_last) = kept[0], kept[-1]
        return (at_last - at_first) / max(last - first, 1e-9)


def build_once(images: Path, out: Path, quick: bool, ray_target: str | None) -> dict:
    """One microscope from scratch; its timings and counts."""
    from contextlib import nullcontext

    from engine.cli import microscope
    from engine.microscope.build import build
    from engine.microscope.local import LocalExecutor

    argv = ["--images", str(images), "--out", str(out), "--force"]
    argv += QUICK_OPTIONS if quick else []
    began = time.perf_counter()
    ready = microscope.prepare(microscope._parse(argv))
    prepared = time.perf_counter() - began
    if ray_target is None:
        executor = nullcontext(LocalExecutor(ready.spec, lambda: False, ready.context))
    else:
        from engine.microscope.ray_executor import RayExecutor, parse_target

        executor = RayExecutor(ready.spec, lambda: False, parse_target(ray_target))
    times = Times()
    began = time.perf_counter()
    with executor as running:
        started = time.perf_counter() - began
        outcome = build(
            ready.layout, ready.plan, ready.body, running, lambda: ready.context,
            lambda: False, times,
        )  # fmt: skip
    wall = time.perf_counter() - began
    if not outcome.complete:
        raise RuntimeError(f"the microscope in {out} did not finish")
    return {
        "prepare": prepared,
        "start": started,
        "wall": wall,
        "scan": outcome.scan_seconds,
        "atlas": outcome.atlas_seconds,
        "finish": wall - started - outcome.scan_seconds - outcome.atlas_seconds,
        "images": outcome.images_scanned,
        "filter_steps": outcome.units_visualized * ready.steps,
        "units": outcome.units_visualized,
        "steady_scan": times.steady("scan"),
    }


def same_files(first: Path, second: Path) -> bool:
    """Whether two microscope folders hold the same layers' files (engine field aside)."""
    import numpy as np

    layers = json.loads((first / "manifest.json").read_text())["layers"]
    for layer in layers:
        a, b = first / layer["folder"], second / layer["folder"]
        if (a / "units.json").read_bytes() != (b / "units.json").read_bytes():
            return False
        for npy in a.glob("*.npy"):
            if not np.array_equal(np.load(npy), np.load(b / npy.name)):
                return False
        for png in (a / "vis").glob("*.png"):
            if png.read_bytes() != (b / "vis" / png.name).read_bytes():
                return False
    return True


def describe(name: str, run: dict, workers: int) -> str:
    images_rate = run["images"] / run["scan"]
    steps_rate = run["filter_steps"] / run["atlas"]
    line = (
        f"{name}: {run['wall']:.1f} s wall (start {run['start']:.1f} s, scan {run['scan']:.1f} s, "
        f"atlas {run['atlas']:.1f} s, layers' files {run['finish']:.1f} s); "
        f"{images_rate:,.0f} images/s, {steps_rate:,.0f} filter-steps/s"
    )
    if run["steady_scan"]:
        line += f"; scan once warm {run['steady_scan']:,.0f} images/s"
    if workers > 1:
        warm = f", {run['steady_scan'] / workers:,.0f} once warm" if run["steady_scan"] else ""
        line += (
            f" (per worker: {images_rate / workers:,.0f} images/s{warm}; "
            f"{steps_rate / workers:,.0f} filter-steps/s)"
        )
    return line


def _seconds_per_call(call, *args, repeats: int = 3) -> float:
    call(*args)  # traces, untimed
    began = time.perf_counter()
    for _ in range(repeats):
        call(*args)
    return (time.perf_counter() - began) / repeats


def resnet50_rates(batch: int = 8) -> None:
    """ResNet50's forward images/s and, per stage, its atlas filter-steps/s; conv channels."""
    import keras
    import numpy as np
    import tensorflow as tf

    model = keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3))
    images = tf.constant(np.random.default_rng(0).uniform(-1, 1, (32, 224, 224, 3)), tf.float32)
    forward = tf.function(lambda x: model(x, training=False))
    print(f"ResNet50 forward: {32 / _seconds_per_call(forward, images):.1f} images/s", flush=True)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    for stage, end in enumerate(("conv2_block3_out", "conv3_block4_out", "conv4_block6_out",
                                 "conv5_block3_out"), start=2):  # fmt: skip
        trunk = keras.Model(model.input, model.get_layer(end).output)
        units = tf.range(batch) % int(trunk.output.shape[-1])

        @tf.function
        def step(x, trunk=trunk, units=units):
            with tf.GradientTape() as tape:
                tape.watch(x)
                maps = trunk(x, training=False)
                means = tf.reduce_mean(maps, [1, 2])  # image i maximizes channel units[i]
                objective = tf.reduce_sum(tf.gather(means, units, axis=1, batch_dims=1))
            return tape.gradient(objective, x)

        rate = batch / _seconds_per_call(step, images[:batch])
        channels = sum(c.filters for c in convs if c.name.startswith(f"conv{stage}_"))
        if stage == 2:
            channels += sum(c.filters for c in convs if c.name.startswith("conv1_"))
        print(
            f"ResNet50 atlas step at {end}: {rate:.1f} filter-steps/s; conv channels of "
            f"stage {stage}{' (and conv1)' if stage == 2 else ''}: {channels:,}",
            flush=True,
        )
    print(f"ResNet50 conv channels: {sum(c.filters for c in convs):,} in {len(convs)} layers")


def main(argv: list[str] | None = None) -> int:
    quick_help = (
        f"{QUICK_DIGITS} digits, {QUICK_LAYER}, {QUICK_STEPS} step, top {QUICK_TOP_K}: a smoke test"
    )
    parser = arguments(__doc__, argv, quick_help, skip_vgg=False)
    parser.add_argument("--resnet50", action="store_true", help="also time ResNet50 (slow)")
    args = parser.parse_args(argv)
    use_checkout()
    count = QUICK_DIGITS if args.quick else 10_000
    print_versions()
    with tempfile.TemporaryDirectory(prefix="convscope-microscope-") as folder:
        root = Path(folder)
        began = time.perf_counter()
        write_digits(root / "digits", count)
        print(f"wrote {count:,} MNIST PNGs in {time.perf_counter() - began:.1f} s", flush=True)
        local = build_once(root / "digits", root / "local", args.quick, None)
        print(describe("local", local, 1), flush=True)
        ray = build_once(root / "digits", root / "ray", args.quick, f"local:{WORKERS}")
        print(describe(f"ray local:{WORKERS}", ray, WORKERS), flush=True)
        same = same_files(root / "local", root / "ray")
    print(
        f"microscope of {count:,} digits, {local['units']} units, {local['filter_steps']:,} "
        f"filter-steps: local {local['wall']:.1f} s, ray local:{WORKERS} {ray['wall']:.1f} s "
        f"({ray['wall'] / local['wall']:.2f}x the local time; Ray's start {ray['start']:.1f} s); "
        f"same files: {'yes' if same else 'NO'}"
    )
    if args.resnet50:
        resnet50_rates()
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
