"""Images per second of a dataset scan: the engine's batched scan against predicting one by one.

Run from the repo root: `.venv/bin/python benchmarks/scan_speed.py [--quick]`.

Real MNIST digits from `../shared/data/mnist` are written as PNG files into a temporary folder
(all 10,000; `--quick`: 128, two batches, and one round). Then, in this one process and
interleaved round by round:

(a) `Scanner.scan` (engine/dataset/scan.py) of the default model over its conv layers: parallel
    decoding, batches of 64, one forward pass per batch for all layers, statistics reduced in the
    graph, top-k kept per channel by L2 norm and by max.
(b) The naive loop: for each file, read and convert it, `model.predict(img[None], verbose=0)` on a
    model from the input to all conv layers, and the same top-k bookkeeping in numpy. It is timed
    on a subset of the files and its rate extrapolated per image.

Each method's rate is the median over rounds. The script reports; it never fails on a slow result.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_common import arguments, use_checkout

TARGET = 5.0
# --quick: two batches of the scan, two one-by-one predictions, one round.
QUICK_COUNTS, QUICK_ROUNDS = (128, 2), 1


def write_digits(folder: Path, count: int) -> None:
    """The first `count` MNIST test digits as PNG files."""
    from PIL import Image

    from engine.dataset.mnist import load_mnist_dir
    from engine.optvis.references import MNIST_DIR

    digits, _ = load_mnist_dir(MNIST_DIR)
    for i in range(count):
        Image.fromarray(digits[i % len(digits)]).save(folder / f"{i:05d}.png")


def naive_rate(model, layers, source, names, value_range, top_k: int) -> float:
    """Images per second of reading, converting and predicting one file at a time."""
    import keras
    import numpy as np

    from engine.dataset.state import LayerStats, update_stats
    from engine.images.convert import convert_image, read_image
    from engine.models.surgery import find_layer

    outputs = [find_layer(model, layer).output for layer in layers]
    all_conv = keras.Model(model.inputs, outputs)
    stats = [LayerStats.empty(int(out.shape[-1]), top_k) for out in outputs]
    all_conv.predict(np.zeros((1, 28, 28, 1), np.float32), verbose=0)  # warm-up, untimed
    began = time.perf_counter()
    for index, name in enumerate(names):
        image = read_image(Path(source.root) / name)
        pixels = convert_image(image, (28, 28, 1), value_range).pixels
        maps = all_conv.predict(pixels[None], verbose=0)
        for layer_stats, values in zip(stats, maps, strict=True):
            reduced = {
                "l2": np.sqrt(np.square(values).sum(axis=(1, 2))),
                "max": values.max(axis=(1, 2)),
                "mean": values.mean(axis=(1, 2)),
            }
            update_stats(layer_stats, reduced, np.array([index]), top_k)
    return len(names) / (time.perf_counter() - began)


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__, argv, "128 images, 2 one by one, one round", skip_vgg=False)
    parser.add_argument("--rounds", type=int, help="rounds (default 2; --quick: 1)")
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = QUICK_ROUNDS if args.quick else 2
    if args.rounds < 1:
        parser.error(f"--rounds {args.rounds}: at least one round is needed")
    use_checkout()
    from engine.dataset.scan import Scanner
    from engine.dataset.sources import folder_source
    from engine.models.loading import load_model

    count, naive_count = QUICK_COUNTS if args.quick else (10_000, 500)
    model, meta, _ = load_model(None)
    layers = [(layer.name,) for layer in model.layers if "conv" in type(layer).__name__.lower()]
    with tempfile.TemporaryDirectory(prefix="convscope-scan-") as folder:
        began = time.perf_counter()
        write_digits(Path(folder), count)
        print(f"wrote {count} MNIST PNGs in {time.perf_counter() - began:.1f} s", flush=True)
        source = folder_source(folder)
        scanner = Scanner(model, (28, 28, 1), meta.input_range, layers, 9, cache=False)
        scanner.scan(source.subset(source.names[:128]))  # traces the step, untimed
        scan_rates, naive_rates = [], []
        for round_number in range(args.rounds):
            began = time.perf_counter()
            state = scanner.scan(source)
            elapsed = time.perf_counter() - began
            scan_rates.append(state.count / elapsed)
            subset = source.names[round_number * naive_count :][:naive_count]
            naive_rates.append(naive_rate(model, layers, source, subset, meta.input_range, 9))
            print(
                f"round {round_number + 1}: scan {scan_rates[-1]:.0f} images/s, "
                f"one-by-one {naive_rates[-1]:.1f} images/s",
                flush=True,
            )
    scan, naive = statistics.median(scan_rates), statistics.median(naive_rates)
    print(
        f"scan: {count} images in {count / scan:.2f} s ({scan:.0f} images/s); "
        f"one-by-one predict: {naive:.1f} images/s; scan is {scan / naive:.1f}× faster "
        f"(target {TARGET:.0f}×)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
