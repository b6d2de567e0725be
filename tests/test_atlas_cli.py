"""`python main.py atlas`: a layer atlas written to a folder, without a window."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import main

ROOT = Path(__file__).resolve().parents[1]
SMALL_ATLAS = ("--layer", "conv1", "--filters", "0-7", "--steps", "24")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "CONVSCOPE_CACHE_DIR": str(tmp_path / "cache"),
        **extra,
    }


def _atlas(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "main.py", "atlas", *args],
        cwd=ROOT, env=_env(tmp_path, **env), capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def _atlas_in_process(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`main.py atlas` run in this process, its output captured as a subprocess's would be."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path / "cache"))
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = main.main(["atlas", *args])
    return subprocess.CompletedProcess(
        ["atlas", *args], status, stdout.getvalue(), stderr.getvalue()
    )


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> list[tuple[Path, subprocess.CompletedProcess]]:
    """The same small atlas of the built-in model, computed in two separate processes: a
    launch of main.py, and this test process (a second launch would only load TensorFlow again)."""
    runs = []
    for name, run in (("first", _atlas), ("second", _atlas_in_process)):
        folder = tmp_path_factory.mktemp(name)
        runs.append((folder / "out", run(folder, *SMALL_ATLAS, "--out", str(folder / "out"))))
    return runs


def test_atlas_writes_pngs_contact_sheet_and_json(two_runs):
    out, completed = two_runs[0]
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "filters 8/8" in completed.stdout
    assert "8 filters, " in completed.stdout and "reach quality ≥ 1" in completed.stdout
    for unit in range(8):
        with Image.open(out / f"conv1_{unit}.png") as tile:
            assert tile.mode == "L"  # the built-in model sees grey digits
            assert min(tile.size) >= 128
    assert not (out / "conv1_8.png").exists()
    with Image.open(out / "contact_sheet.png") as sheet:
        assert sheet.size[0] > 2 * 128 and sheet.size[1] > 2 * 128
    report = json.loads((out / "atlas.json").read_text(encoding="utf-8"))
    assert report["model"] == "default" and report["layer"] == "conv1"
    assert report["recipe"]["steps"] == 24 and report["seed"] == 0 == report["recipe"]["seed"]
    assert report["recipe"]["optimizer"] == "ascent"  # the Classic preset
    entries = report["filters"]
    assert [entry["unit"] for entry in entries] == list(range(8))
    for entry in entries:
        assert isinstance(entry["dead"], bool)
        assert np.isfinite(entry["activation"])
        assert entry["quality"] is None or np.isfinite(entry["quality"])
        assert entry["file"] == f"conv1_{entry['unit']}.png"
        if not entry["dead"]:
            assert entry["activation"] > 0
        # The verdict the window shows, its evidence, and how noisy and saturated the tile is.
        assert entry["verdict"] in ("fine", "failed", "weak", "dead")
        assert entry["dead"] == (entry["verdict"] == "dead") and entry["message"]
        assert entry["evidence"]["references"] > 0 and entry["evidence"]["kind"] == entry["verdict"]
        assert (entry["warning"] is not None) == (entry["verdict"] in ("failed", "weak"))
        assert entry["high_frequency"] >= 0 and 0 <= entry["saturated"] <= 1
    # Real MNIST digits or the bundled samples: either way the first layer has references.
    assert sum(entry["quality"] is not None for entry in entries) >= 6
    summary = report["summary"]
    assert summary["filters"] == 8 and sum(summary["verdicts"].values()) == 8
    live = [entry for entry in entries if not entry["dead"]]
    assert summary["live"] == len(live) and summary["beat_best_real"] <= len(live)
    assert summary["saturated"]["max"] == max(entry["saturated"] for entry in entries)


def test_same_seed_and_settings_give_the_same_pngs(two_runs):
    (first, run_a), (second, run_b) = two_runs
    assert run_a.returncode == 0 and run_b.returncode == 0, run_b.stderr[-3000:]
    names = sorted(path.name for path in first.glob("*.png"))
    assert len(names) == 9  # eight filters and the contact sheet
    assert names == sorted(path.name for path in second.glob("*.png"))
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--layer", "no_such_layer"), "no layer 'no_such_layer'"),
        (("--layer", "flatten"), "has no channels or units to show"),
        (("--layer", "conv1", "--filters", "99"), "there is no #99"),
        (("--layer", "conv1", "--filters", "a-b"), "--filters 'a-b'"),
        (("--layer", "conv1", "--preset", "nope"), "no preset 'nope'"),
    ],
)
def test_bad_input_exits_1_with_a_message(tmp_path, capsys, args, message):
    status = main.main(["atlas", *args, "--out", str(tmp_path / "out")])
    assert status == 1
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert not list((tmp_path / "out").glob("*.png"))


def test_unwritable_out_folder_exits_1(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    status = main.main(["atlas", "--layer", "conv1", "--out", str(blocker / "out")])
    assert status == 1
    assert "cannot write to --out" in capsys.readouterr().err


def test_imagenet_model_by_name_fails_clearly_offline(tmp_path, monkeypatch, capsys):
    # Force "offline" even where the internet is reachable: an empty Keras cache and the weights
    # on a closed port, so the download fails at once. In this process: a launch of main.py
    # would add nothing but loading TensorFlow, and an uncaught exception fails the test here.
    from keras.src.backend import config

    from engine.models.weights_download import WEIGHTS

    (tmp_path / "keras").mkdir()
    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path / "keras"))
    monkeypatch.setitem(WEIGHTS, "VGG16", replace(WEIGHTS["VGG16"], url="http://127.0.0.1:9/x"))
    status = main.main(
        ["atlas", "--model", "VGG16", "--layer", "block3_conv2", "--out", str(tmp_path / "out")]
    )
    stderr = capsys.readouterr().err
    assert status == 1
    assert "could not download ImageNet weights for VGG16" in stderr
    assert "(offline?)" in stderr
    assert "pass a model file instead" in stderr
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_most_live_filters_of_the_last_conv_layer_beat_real_digits():
    """Acceptance: with the Classic preset and 128 steps, at least 90 % of conv3's filters that
    are not dead reach at least their best activation over real MNIST digits."""
    from engine.models.introspect import describe_model
    from engine.models.loading import load_model
    from engine.optvis.references import mnist_references
    from engine.optvis.visualizer import ATLAS_BATCH, Visualizer
    from engine.protocol import ObjectiveTerm
    from engine.protocol.recipe import PRESETS

    digits = mnist_references()
    if digits is None:
        pytest.skip("the MNIST test set is not in ../shared/data/mnist")
    model, meta, label = load_model(None)
    summary = describe_model(model, meta, label)
    visualizer = Visualizer(model, summary.input_shape, summary.input_range, lambda: digits)
    recipe = replace(PRESETS["Classic"], steps=128)
    units = list(range(64))
    assert len(units) <= ATLAS_BATCH  # one batch
    chunks = [c for c in visualizer.atlas(("conv3",), units, recipe, lambda: False) if c.final]
    assert len(chunks) == 1 and chunks[0].units == units
    chunk = chunks[0]
    live = [unit for unit, dead in zip(units, chunk.dead, strict=True) if not dead]
    qualities = {
        unit: visualizer.quality(
            [ObjectiveTerm(("conv3",), unit)], recipe, float(chunk.activations[unit])
        )
        for unit in live
    }
    good = [unit for unit in live if qualities[unit] is not None and qualities[unit] >= 1]
    assert live, "every filter of conv3 is dead"
    assert len(good) >= 0.9 * len(live), (
        f"{len(good)} of {len(live)} live filters reach quality ≥ 1: {qualities}"
    )
