"""The speed benchmarks still run end to end; their numbers are not checked (noisy machine)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# Each smoke test's script and its options, as `quick_all.py` takes them.
SCRIPTS = {  # run in this order: the window's and tf-keras-vis's global state come last
    "test_startup_benchmark_runs_quick": "startup.py",
    "test_scan_speed_benchmark_runs_quick": "scan_speed.py",
    "test_explain_speed_benchmark_runs_quick": "explain_speed.py:--skip-vgg",
    "test_ascent_speed_benchmark_runs_quick": "ascent_speed.py:--skip-vgg",
    "test_atlas_speed_benchmark_runs_quick": "atlas_speed.py:--skip-vgg",
    "test_preset_speed_benchmark_runs_quick": "preset_speed.py:--skip-vgg",
    "test_precision_speed_benchmark_runs_quick": "precision_speed.py:--skip-vgg",
    "test_stream_overhead_benchmark_runs_quick": "stream_overhead.py",
    "test_vs_tf_keras_vis_benchmark_runs_quick": "vs_tf_keras_vis.py:--skip-vgg",
    "test_microscope_speed_benchmark_runs_quick": "microscope_speed.py",
}


@pytest.fixture(scope="module")
def quick_runs(request) -> QuickRuns:
    """Each selected smoke test's script's --quick output, all from one run of
    benchmarks/quick_all.py: a subprocess, as a user runs a benchmark (the scripts must find
    the engine on their own, and their TensorFlow and Qt state must not mix with the test
    session's), but one TensorFlow import for all of them instead of one each."""
    here = request.module.__name__
    selected = {item.originalname for item in request.session.items if item.module.__name__ == here}
    wanted = [script for test, script in SCRIPTS.items() if test in selected]
    if importlib.util.find_spec("ray") is None:  # its test skips: no cluster extra
        wanted = [item for item in wanted if not item.startswith("microscope_speed")]
    completed = subprocess.run(
        [sys.executable, "benchmarks/quick_all.py", *wanted],
        cwd=REPO_ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    sections = re.findall(
        r"^=== begin (\S+)\n(.*?)^=== end \1 status (-?\d+) after", completed.stdout, re.M | re.S
    )
    runs = {script: (int(status), out) for script, out, status in sections}
    return QuickRuns(runs, completed.stderr)


@dataclass(frozen=True)
class QuickRuns:
    """What each script printed, and its exit status; the stderr they shared."""

    runs: dict[str, tuple[int, str]]
    stderr: str

    def output(self, script: str) -> str:
        """The script's stdout, once it exited 0 (it fails the test otherwise)."""
        status, out = self.runs.get(script, (None, "(it never started)"))
        assert status == 0, f"{script}: status {status}\n{out[-2000:]}\n{self.stderr[-3000:]}"
        return out


def test_ascent_speed_benchmark_runs_quick(quick_runs):
    out = quick_runs.output("ascent_speed.py")
    assert "default model: engine is" in out, out
    assert "VGG16" not in out  # --skip-vgg was honoured


def test_atlas_speed_benchmark_runs_quick(quick_runs):
    out = quick_runs.output("atlas_speed.py")
    assert "default model conv3: batched atlas (batch 64) is" in out, out
    assert "one filter at a time per filter-step" in out
    assert "VGG16" not in out


def test_preset_speed_benchmark_runs_quick(quick_runs):
    out = quick_runs.output("preset_speed.py")
    assert "default model conv3: a Lucid step takes" in out, out
    assert "VGG16" not in out


@pytest.mark.slow
def test_stream_overhead_benchmark_runs_quick(quick_runs):
    out = quick_runs.output("stream_overhead.py")
    assert "window/headless steps/s ratio" in out, out
    assert "the window costs" in out


def test_explain_speed_benchmark_runs_quick(quick_runs):
    out = quick_runs.output("explain_speed.py")
    assert "default model: Grad-CAM" in out, out
    assert "VGG16" not in out


def test_scan_speed_benchmark_runs_quick(quick_runs):
    out = quick_runs.output("scan_speed.py")
    assert re.search(r"^scan: \d+ images in", out, re.M), out
    assert "one-by-one predict:" in out and "(target 5×)" in out


def test_vs_tf_keras_vis_benchmark_runs_quick(quick_runs):
    out = quick_runs.output("vs_tf_keras_vis.py")
    assert "tf-keras-vis 0.8.7" in out, out
    assert "default model conv3 (2 filters): convscope reaches the best real image in" in out
    assert "(target 10 x)" in out
    assert "outside the input range: convscope" in out  # the honest part: unclipped pixels
    assert "VGG16" not in out


def test_startup_benchmark_runs_quick(quick_runs):
    out = quick_runs.output("startup.py")
    assert "start-up: window visible in" in out and "(target 1.5 s)" in out, out
    assert "start-up: model loaded and layer tree filled in" in out and "(target 4 s)" in out
    assert "start-up: first prediction of the sample image in" in out and "(target 5 s)" in out


def test_precision_speed_benchmark_runs_quick(quick_runs):
    out = quick_runs.output("precision_speed.py")
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
def test_microscope_speed_benchmark_runs_quick(quick_runs):
    pytest.importorskip("ray", reason="the cluster extra (Ray) is not installed")
    out = quick_runs.output("microscope_speed.py")
    assert re.search(r"^microscope of \d+ digits, \d+ units", out, re.M), out
    assert "local:" in out and "ray local:2:" in out and "per worker:" in out
    assert "same files: yes" in out
