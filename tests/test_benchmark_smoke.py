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
