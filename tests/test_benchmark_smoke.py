"""The speed benchmarks still run end to end; their numbers are not checked (noisy machine)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _run_quick(script: str, *args: str) -> subprocess.CompletedProcess:
    # A subprocess, as a user runs it: the script must find the engine on its own, and its
    # TensorFlow (and Qt) state must not mix with the test session's.
    completed = subprocess.run(
        [sys.executable, f"benchmarks/{script}", "--quick", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


def test_ascent_speed_benchmark_runs_quick():
    completed = _run_quick("ascent_speed.py", "--skip-vgg")
    assert "default model: engine is" in completed.stdout, completed.stdout
    assert "VGG16" not in completed.stdout  # --skip-vgg was honoured


def test_atlas_speed_benchmark_runs_quick():
    completed = _run_quick("atlas_speed.py", "--skip-vgg")
    assert "default model conv3: batched atlas (batch 64) is" in completed.stdout, completed.stdout
    assert "one filter at a time per filter-step" in completed.stdout
    assert "VGG16" not in completed.stdout


def test_preset_speed_benchmark_runs_quick():
    completed = _run_quick("preset_speed.py", "--skip-vgg")
    assert "default model conv3: a Lucid step takes" in completed.stdout, completed.stdout
    assert "VGG16" not in completed.stdout


@pytest.mark.slow
def test_stream_overhead_benchmark_runs_quick():
    completed = _run_quick("stream_overhead.py")
    assert "window/headless steps/s ratio" in completed.stdout, completed.stdout
    assert "the window costs" in completed.stdout


def test_explain_speed_benchmark_runs_quick():
    completed = _run_quick("explain_speed.py", "--skip-vgg")
    assert "default model: Grad-CAM" in completed.stdout, completed.stdout
    assert "VGG16" not in completed.stdout


def test_scan_speed_benchmark_runs_quick():
    completed = _run_quick("scan_speed.py")
    assert "scan: 1000 images in" in completed.stdout, completed.stdout
    assert "one-by-one predict:" in completed.stdout and "(target 5×)" in completed.stdout


def test_vs_tf_keras_vis_benchmark_runs_quick():
    completed = _run_quick("vs_tf_keras_vis.py", "--skip-vgg")
    out = completed.stdout
    assert "tf-keras-vis 0.8.7" in out, out
    assert "default model conv3 (2 filters): convscope reaches the best real image in" in out
    assert "(target 10 x)" in out
    assert "outside the input range: convscope" in out  # the honest part: unclipped pixels
    assert "VGG16" not in out


def test_startup_benchmark_runs_quick():
    completed = _run_quick("startup.py")
    out = completed.stdout
    assert "start-up: window visible in" in out and "(target 1.5 s)" in out, out
    assert "start-up: model loaded and layer tree filled in" in out and "(target 4 s)" in out
    assert "start-up: first prediction of the sample image in" in out and "(target 5 s)" in out


def test_precision_speed_benchmark_runs_quick():
    completed = _run_quick("precision_speed.py", "--skip-vgg")
    out = completed.stdout
    assert "default model conv3: bfloat16 against float32 is" in out, out
    assert "(target 1.7 x)" in out and "(target 1.2 x)" in out
    assert "channel slice against every channel (float32) is" in out
    assert "VGG16" not in out


def test_startup_trace_marks_each_milestone_once_then_closes_the_window(
    qtbot, engine, tmp_path, monkeypatch
):
    from fake_engine import fake_window

    from gui.startup_trace import watch

    trace = tmp_path / "trace.txt"
    window = fake_window(qtbot, engine, model=False)
    assert watch(window) is None  # no CONVSCOPE_STARTUP_TRACE: nothing traced, nothing closes
    monkeypatch.setenv("CONVSCOPE_STARTUP_TRACE", str(trace))
    watch(window)
    qtbot.waitUntil(trace.exists)  # the window's first paint
    for _ in range(2):  # a second model and image are not milestones
        window.models.open_model(None)
        engine.load()
        window.images.open_image(sample="digit:3")
        engine.open()
    qtbot.waitUntil(lambda: not window.isVisible())
    lines = [line.split() for line in trace.read_text(encoding="utf-8").splitlines()]
    assert [line[0] for line in lines] == ["window_shown", "tree_filled", "first_prediction"]
    walls = [float(line[1]) for line in lines]
    assert walls == sorted(walls)


@pytest.mark.slow
def test_microscope_speed_benchmark_runs_quick():
    pytest.importorskip("ray", reason="the cluster extra (Ray) is not installed")
    completed = _run_quick("microscope_speed.py")
    out = completed.stdout
    assert "microscope of 500 digits, 34 units" in out, out
    assert "local:" in out and "ray local:2:" in out and "per worker:" in out
    assert "same files: yes" in out
