"""Dataset scans: top images per filter, statistics, skipped files, resume and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _write_folder(folder: Path, count: int, size: int = 16, seed: int = 0) -> Path:
    """`count` random RGB PNGs (some in a sub-folder, sizes varying), and nothing else."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        side = size if i % 3 else size * 2
        pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        target = folder / ("sub" if i % 4 == 0 else "") / f"img_{i:03d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(target)
    return folder


def _brute_force(model, folder: Path, layer: tuple[str, ...], shape, value_range):
    """Per-image (N, C) l2, max and mean of a layer, image by image, in list_images order."""
    from engine.dataset.sources import list_images
    from engine.images.convert import convert_image, read_image
    from engine.models.surgery import truncate

    cut = truncate(model, layer)
    rows = {"l2": [], "max": [], "mean": []}
    for path in list_images(folder):
        pixels = convert_image(read_image(path), shape, value_range).pixels
        maps = np.asarray(cut(pixels[None], training=False))[0]
        rows["l2"].append(np.sqrt((maps.astype(np.float64) ** 2).sum(axis=(0, 1))))
        rows["max"].append(maps.max(axis=(0, 1)))
        rows["mean"].append(maps.mean(axis=(0, 1)))
    return {key: np.array(value) for key, value in rows.items()}


def _expected_top(scores: np.ndarray, k: int) -> np.ndarray:
    """(C, k) indices: highest score first, ties to the lower index."""
    index = np.arange(scores.shape[0])
    return np.array([np.lexsort((index, -column))[:k] for column in scores.T])


def _assert_same(a, b):
    assert a.names == b.names and a.layers == b.layers and a.count == b.count
    assert a.skipped == b.skipped
    np.testing.assert_array_equal(a.done, b.done)
    for layer in a.layers:
        x, y = a.stats[layer], b.stats[layer]
        np.testing.assert_allclose(x.mean_sum, y.mean_sum, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(x.max, y.max, rtol=1e-5)
        np.testing.assert_array_equal(x.fired, y.fired)
        for rank in ("l2", "max"):
            np.testing.assert_array_equal(x.top[rank][1], y.top[rank][1])
            np.testing.assert_allclose(x.top[rank][0], y.top[rank][0], rtol=1e-5)


@pytest.fixture
def folder(tmp_path):
    return _write_folder(tmp_path / "images", 40)


def test_top_k_and_statistics_match_brute_force(tiny_conv_model, folder):
    from engine.dataset.scan import Scanner
    from engine.dataset.state import top_images

    scanner = Scanner(tiny_conv_model, (16, 16, 3), (0.0, 1.0), top_k=5, batch_size=16, cache=False)
    assert scanner.layers == (("conv_a",), ("pool_a",), ("conv_b",))
    state = scanner.scan(folder)
    assert state.complete and state.count == 40 and not state.skipped
    for layer in scanner.layers:
        truth = _brute_force(tiny_conv_model, folder, layer, (16, 16, 3), (0.0, 1.0))
        stats = state.stats[layer]
        for rank in ("l2", "max"):
            np.testing.assert_array_equal(stats.top[rank][1], _expected_top(truth[rank], 5))
            best = np.sort(truth[rank], axis=0)[::-1][:5].T
            np.testing.assert_allclose(stats.top[rank][0], best, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(state.mean(layer), truth["mean"].mean(axis=0), atol=1e-5)
        np.testing.assert_allclose(stats.max, truth["max"].max(axis=0), rtol=1e-5)
        np.testing.assert_allclose(state.fire_fraction(layer), (truth["max"] > 0).mean(axis=0))
    paths, scores = top_images(state, "conv_b", 3, "max")
    assert len(paths) == 5 and all(p.is_file() for p in paths)
    assert np.all(np.diff(scores) <= 0)


def test_fire_fraction_counts_images_where_a_channel_fires(tmp_path):
    import keras

    from engine.dataset.scan import Scanner

    inputs = keras.Input((8, 8, 1))
    # Channel 0 fires on any non-black pixel, channel 1 never (its bias keeps it below zero).
    conv = keras.layers.Conv2D(2, 1, activation="relu", name="conv")
    model = keras.Model(inputs, conv(inputs))
    conv.set_weights([np.array([1.0, 1.0], np.float32).reshape(1, 1, 1, 2), np.array([0, -5.0])])
    for i in range(10):
        value = 255 if i < 3 else 0  # three white images, seven black ones
        Image.new("L", (8, 8), value).save(tmp_path / f"{i}.png")
    state = Scanner(model, (8, 8, 1), (0.0, 1.0), cache=False).scan(tmp_path)
    np.testing.assert_allclose(state.fire_fraction(("conv",)), [0.3, 0.0])
    _, indices = state.stats[("conv",)].top["max"]
    assert sorted(indices[0][:3]) == [0, 1, 2]


def test_unreadable_files_are_skipped_and_counted(tiny_conv_model, folder):
    from engine.dataset.scan import Scanner

    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.webp").write_text("hello")
    (folder / "notes.txt").write_text("not an image, not even looked at")
    progress = []
    scanner = Scanner(tiny_conv_model, (16, 16, 3), (0.0, 1.0), batch_size=8, cache=False)
    state = scanner.scan(folder, progress=lambda *args: progress.append(args))
    assert state.count == 40 and state.complete
    assert set(state.skipped) == {"broken.png", "empty.jpg", "text.webp"}
    assert "damaged" in state.skipped["broken.png"] and "empty" in state.skipped["empty.jpg"]
    assert progress[-1] == (43, 43, 3)


def test_empty_and_missing_folders_are_clear_errors(tiny_conv_model, tmp_path):
    from engine.dataset.scan import Scanner

    scanner = Scanner(tiny_conv_model, (16, 16, 3), (0.0, 1.0), cache=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="has no images convscope can read"):
        scanner.scan(tmp_path / "empty")
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("x")
    with pytest.raises(ValueError, match="has no images convscope can read"):
        scanner.scan(tmp_path / "texts")
    with pytest.raises(ValueError, match=r"nowhere.*does not exist"):
        scanner.scan(tmp_path / "nowhere")


def test_cancelled_scan_resumes_and_ends_equal(tiny_conv_model, folder, tmp_path):
    from engine.dataset.scan import Scanner
    from engine.dataset.sources import folder_source

    def scanner():
        return Scanner(
            tiny_conv_model, (16, 16, 3), (0.0, 1.0), top_k=4,
            batch_size=8, save_every=1, cache=tmp_path / "cache",
        )  # fmt: skip

    asked = []
    partial = scanner().scan(folder, should_stop=lambda: asked.append(1) or len(asked) > 2)
    assert partial.done.sum() == 16 and not partial.complete
    cached = scanner().cached(folder_source(folder))
    assert cached is not None and cached.done.sum() == 16  # the saved state is the partial one
    progress = []
    resumed = scanner().scan(folder, progress=lambda *args: progress.append(args))
    assert progress[0][0] == 24  # only the remaining files were scanned
    assert resumed.complete
    whole = Scanner(tiny_conv_model, (16, 16, 3), (0.0, 1.0), top_k=4, cache=False).scan(folder)
    _assert_same(resumed, whole)
    assert scanner().scan(folder, progress=lambda *args: pytest.fail("rescanned")).complete


def test_a_different_model_gets_a_different_key(tiny_conv_model, folder, tmp_path):
    import keras

    from engine.dataset.scan import Scanner, scan_key
    from engine.dataset.sources import folder_source

    other = keras.models.clone_model(tiny_conv_model)  # same layers, fresh weights
    source = folder_source(folder)
    first = Scanner(tiny_conv_model, (16, 16, 3), (0.0, 1.0), cache=tmp_path / "c")
    second = Scanner(other, (16, 16, 3), (0.0, 1.0), cache=tmp_path / "c")
    assert first.fingerprint != second.fingerprint
    keys = {scan_key(s.fingerprint, source, s.layers, s.top_k) for s in (first, second)}
    assert len(keys) == 2
    first.scan(source)
    assert first.cached(source) is not None and second.cached(source) is None
    assert scan_key(first.fingerprint, source, first.layers, 5) not in keys


def test_nested_sub_model_layers_are_scanned(nested_model, tmp_path):
    from engine.dataset.scan import Scanner

    folder = tmp_path / "grey"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(folder / f"{i}.png")
    scanner = Scanner(nested_model, (16, 16, 1), (0.0, 1.0), top_k=3, cache=False)
    assert ("block", "inner_conv2") in scanner.layers
    state = scanner.scan(folder)
    for layer in (("stem",), ("block", "inner_conv2")):
        truth = _brute_force(nested_model, folder, layer, (16, 16, 1), (0.0, 1.0))
        np.testing.assert_array_equal(
            state.stats[layer].top["l2"][1], _expected_top(truth["l2"], 3)
        )


@pytest.mark.parametrize(
    "argv",
    [
        ["scan", "--images", "x", "--out", "o", "--shard", "0/3"],
        ["scan", "--shard=1/2"],
        ["merge", "--out", "merged", "shard0", "shard1"],
    ],
)
def test_cli_shards_and_merge_point_to_the_microscope_on_ray(argv, tmp_path, capsys, monkeypatch):
    from main import main

    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is gone" in err
    assert "python main.py microscope" in err and "--ray local:N" in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_cli_reports_bad_input(tmp_path, capsys):
    from main import main

    assert main(["scan", "--images", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_default_model_on_mnist_digits(tmp_path):
    from engine.dataset.mnist import load_mnist_dir
    from engine.dataset.scan import Scanner, top_image_maps
    from engine.dataset.sources import builtin_images
    from engine.models.loading import load_model
    from engine.optvis.references import MNIST_DIR

    try:
        digits, _ = load_mnist_dir(MNIST_DIR)
    except (OSError, ValueError):
        pytest.skip("MNIST data not available")
    folder = tmp_path / "mnist"
    folder.mkdir()
    for i in range(100):
        Image.fromarray(digits[i]).save(folder / f"{i:05d}.png")
    model, meta, _ = load_model(None)
    scanner = Scanner(model, (28, 28, 1), meta.input_range, ["conv1", "conv3"], cache=False)
    state = scanner.scan(folder)
    assert state.count == 100
    truth = _brute_force(model, folder, ("conv3",), (28, 28, 1), meta.input_range)
    np.testing.assert_array_equal(
        state.stats[("conv3",)].top["max"][1], _expected_top(truth["max"], 9)
    )
    fire = state.fire_fraction(("conv3",))
    assert fire.shape == (64,) and 0 < fire.mean() <= 1
    from engine.dataset.sources import folder_source

    images, maps, scores, names = top_image_maps(
        scanner, folder_source(folder), state, ("conv3",), 5
    )
    assert images.shape == (9, 28, 28, 1) and maps.shape == (9, 7, 7)
    np.testing.assert_allclose(
        maps.reshape(9, -1).max(axis=1),
        scores[:9] * 0 + truth["max"][[int(n[:5]) for n in names], 5],
        rtol=1e-4,
    )
    builtin = builtin_images()
    assert len(builtin.names) == 1797 + 5
    assert builtin.open("digit/0000").size == (28, 28)


def test_a_file_name_that_is_not_utf8_is_scanned(tiny_conv_model, folder, tmp_path):
    import os

    from engine.dataset.scan import Scanner
    from engine.dataset.sources import folder_source
    from engine.dataset.state import ScanState
    from main import main

    raw = os.path.join(os.fsencode(folder), b"caf\xe9.png")  # Latin-1, not UTF-8
    try:
        with open(raw, "wb") as file:
            Image.new("RGB", (16, 16), (200, 10, 10)).save(file, format="PNG")
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    name = os.fsdecode(b"caf\xe9.png")
    scanner = Scanner(tiny_conv_model, (16, 16, 3), (0.0, 1.0), top_k=3, cache=tmp_path / "c")
    state = scanner.scan(folder)
    assert state.complete and state.count == 41 and name in state.names
    assert scanner.cached(folder_source(folder)) is not None  # the saved state keeps the name

    model_file = tmp_path / "tiny.keras"
    tiny_conv_model.save(model_file)
    out = tmp_path / "out"
    base = ["--model", str(model_file), "--images", str(folder), "--out", str(out)]
    assert main(["scan", *base, "--top-k", "41", "--layers", "conv_a"]) == 0
    report = json.loads((out / "scan.json").read_text(encoding="utf-8"))
    assert report["scanned"] == 41 and report["skipped"] == {}
    paths = {Path(entry["path"]).name for entry in report["layers"]["conv_a"][0]["top_l2"]}
    assert name in paths  # the path as on disk: open() takes it back
    assert ScanState.load(out / "scan.npz").names == state.names


def test_scans_go_under_the_chosen_cache_folder(monkeypatch, tmp_path):
    from engine.dataset.scan import scans_dir
    from engine.optvis.atlas_cache import cache_dir

    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path / "mycache"))
    assert cache_dir() == tmp_path / "mycache"
    assert scans_dir() == tmp_path / "mycache" / "scans"
    monkeypatch.delenv("CONVSCOPE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "convscope" / "atlas"
    assert scans_dir() == tmp_path / "xdg" / "convscope" / "scans"


# Decoding is slowed down in the child, so that the signal surely arrives in the middle. It
# loads TensorFlow the window's quicker way first (no scikit-learn): the signal comes later.
_SLOW_SCAN = """
import sys, time
from engine.tf_import import import_tensorflow
import_tensorflow()
import engine.dataset.scan as scan
decode = scan.Scanner._decode
def slow(self, source, name):
    time.sleep(0.03)
    return decode(self, source, name)
scan.Scanner._decode = slow
from main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def signalled(tmp_path_factory) -> dict[str, Path]:
    """240 MNIST-sized images and their uninterrupted scan by the default model: what both
    signals' resumed scans must end equal to, made once."""
    from main import main

    root = tmp_path_factory.mktemp("signalled")
    folder = _write_folder(root / "images", 240, size=28)
    assert main(["scan", "--images", str(folder), "--out", str(root / "whole"), "--no-cache"]) == 0
    return {"images": folder, "whole": root / "whole" / "scan.npz"}


@pytest.mark.parametrize(("number", "status"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_saves_the_scan_and_the_next_run_resumes(
    signalled, tmp_path, monkeypatch, capsys, number, status
):
    import os
    import re
    import signal
    import subprocess
    import sys

    from engine.dataset.state import ScanState
    from main import main

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, CONVSCOPE_CACHE_DIR=str(tmp_path / "cache"), TF_CPP_MIN_LOG_LEVEL="3")
    out = tmp_path / "out"
    args = ["scan", "--images", str(signalled["images"]), "--out", str(out), "--batch-size", "4"]
    child = subprocess.Popen(
        [sys.executable, "-c", _SLOW_SCAN, *args], cwd=root, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        for line in child.stdout:
            if " images, " in line:  # the first progress line: the scan is under way
                break
        child.send_signal(getattr(signal, number))
        _, stderr = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == status, stderr[-2000:]
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    found = re.search(r"interrupted at ([\d,]+) of 240 images; run again to resume", stderr)
    assert found, stderr[-2000:]
    done = int(found[1].replace(",", ""))
    assert 0 < done < 240
    assert ScanState.load(out / "scan.npz").done.sum() == done

    # The next run in this process: the signal needed a process of its own, the resume does not
    # (it reads what the child saved in the same cache folder).
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    capsys.readouterr()
    assert main(args) == 0
    assert f"resuming: {done:,} of 240 images were scanned before" in capsys.readouterr().out
    _assert_same(ScanState.load(out / "scan.npz"), ScanState.load(signalled["whole"]))


_SAVE_FOREVER = """
import sys
from engine.dataset.state import ScanState
state = ScanState.load(sys.argv[1])
print("saving", flush=True)
while True:
    state.save(sys.argv[2])
"""


def test_kill_9_while_the_state_is_written_never_leaves_a_corrupt_file(
    tiny_conv_model, folder, tmp_path
):
    import subprocess
    import sys
    import time

    from engine.dataset.scan import Scanner
    from engine.dataset.state import ScanState

    state = Scanner(tiny_conv_model, (16, 16, 3), (0.0, 1.0), top_k=4, cache=False).scan(folder)
    state.save(tmp_path / "source.npz")
    target = tmp_path / "cache" / "scan.npz"
    root = Path(__file__).resolve().parents[1]
    for delay in (0.05, 0.2, 0.45):  # killed at different points of a write
        child = subprocess.Popen(
            [sys.executable, "-c", _SAVE_FOREVER, str(tmp_path / "source.npz"), str(target)],
            cwd=root, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert child.stdout is not None and child.stdout.readline().strip() == "saving"
        time.sleep(delay)
        child.kill()  # SIGKILL: no clean-up runs
        child.wait(timeout=30)
        if target.exists():  # the rename is atomic: the file is the old one or the new one
            again = ScanState.load(target)
            assert again.names == state.names and again.done.sum() == state.done.sum()
