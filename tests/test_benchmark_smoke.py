"""The speed benchmark still runs end to end; its numbers are not checked (the machine is noisy)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_ascent_speed_benchmark_runs_quick():
    # A subprocess, as a user runs it: the script must find the engine on its own, and its
    # TensorFlow state must not mix with the test session's.
    completed = subprocess.run(
        [sys.executable, "benchmarks/ascent_speed.py", "--quick", "--skip-vgg"],
        cwd=REPO_ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "default model: engine is" in completed.stdout, completed.stdout
    assert "VGG16" not in completed.stdout  # --skip-vgg was honoured
