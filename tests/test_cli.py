"""The program as a user starts it: from the command line, in its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="3")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # keep the user's settings out of it
    env["PYTHONUNBUFFERED"] = "1"
    return env


def test_screenshot_renders_a_finished_visualization_of_the_chosen_preset(tmp_path):
    # One run for the screenshot and the preset chosen on the command line: each run pays
    # TensorFlow's import and the window's start (~8 s on 2 cores).
    target = tmp_path / "window.png"
    result = subprocess.run(
        [sys.executable, "main.py", "--screenshot", str(target), "--layer", "conv2",
         "--filter", "5", "--preset", "LUCID", "--steps", "60"],
        cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    with Image.open(target) as picture:
        assert picture.size[0] >= 800 and picture.size[1] >= 500
        assert len(picture.getcolors(1 << 20) or ()) > 50  # a real window, not a blank sheet
    assert "visualizing conv2 #5" in result.stdout
    for noise in ("oneDNN", "cuda drivers", "cuInit", "cpu_feature_guard", "absl::InitializeLog"):
        assert noise not in result.stderr  # TensorFlow's start-up notices stay out of sight


def test_screenshot_with_a_model_and_image_argument(tmp_path, saved_models):
    image = tmp_path / "cat.png"
    from engine.images.samples import load_sample

    load_sample("photo:chelsea").save(image)
    target = tmp_path / "tiny.png"
    result = subprocess.run(
        [sys.executable, "main.py", str(saved_models["tiny"]), str(image),
         "--screenshot", str(target), "--steps", "20"],
        cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert target.stat().st_size > 10_000
    # A picture neither reads nor writes the user's settings: its layout is the default one,
    # and the model it opened does not land in the user's Open Recent list.
    assert not (tmp_path / "config" / "convscope").exists()


def test_closing_the_window_mid_run_exits_cleanly_within_two_seconds(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "main.py", "--layer", "conv3", "--filter", "2", "--steps", "100000000"],
        cwd=ROOT, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        line = ""
        deadline = time.monotonic() + 120
        while "visualizing" not in line and time.monotonic() < deadline:
            line = process.stdout.readline()
        assert "visualizing conv3 #2" in line
        time.sleep(1.0)  # well into the run
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)  # closes the window the way the user's × does
        status = process.wait(timeout=10)
        assert time.monotonic() - started < 8.0  # measured well under 1 s; a loaded machine is slow
        assert status == 0
    finally:
        if process.poll() is None:
            process.kill()


def test_the_window_shows_before_tensorflow_has_loaded(tmp_path):
    probe = """
import os
import sys
from PySide6.QtWidgets import QApplication
from engine.worker import EngineThread
from gui.main_window import MainWindow
app = QApplication([])
engine = EngineThread()
window = MainWindow(engine)
seen = []
engine.status.connect(lambda s: seen.append(window.statusBar().currentMessage() or s.text))
engine.status.connect(lambda s: app.quit())
window.show()
engine.start()
assert window.isVisible()
print("tensorflow loaded when shown:", "tensorflow" in sys.modules)
app.exec()
print("status:", seen, flush=True)
# The engine thread is still loading TensorFlow, which is all this probe is about: closing the
# window would wait for the import to finish (seconds) and then for nothing.
os._exit(0)
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=_env(tmp_path),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "tensorflow loaded when shown: False" in result.stdout
    assert "Loading TensorFlow" in result.stdout


def test_a_bad_model_argument_opens_the_built_in_model_with_a_message(tmp_path):
    bogus = tmp_path / "broken.keras"
    bogus.write_text("nope")
    target = tmp_path / "shot.png"
    result = subprocess.run(
        [sys.executable, "main.py", str(bogus), "--screenshot", str(target), "--steps", "8",
         "--size", "1280x720", "--tab", "network"],
        cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1  # not the model asked for: the run says so
    assert "broken.keras" in result.stderr
    assert "visualizing conv3 #0" in result.stdout  # the built-in model opened instead
    with Image.open(target) as picture:
        assert picture.size == (1280, 720)


def test_train_default_without_data_says_where_to_point_it(tmp_path):
    result = subprocess.run(
        [sys.executable, "main.py", "train-default", "--mnist", str(tmp_path / "nowhere"),
         "--output", str(tmp_path / "m.keras")],
        cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "nowhere" in result.stderr


def test_an_unknown_preset_is_refused_by_name(tmp_path):
    unknown = subprocess.run(
        [sys.executable, "main.py", "--preset", "picasso"],
        cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert unknown.returncode == 2 and "picasso" in unknown.stderr


def test_help_lists_the_subcommands_and_answers_at_once(tmp_path):
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "main.py", "--help"], cwd=ROOT, env=_env(tmp_path),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0
    for command in ("atlas", "explain", "scan", "merge", "train-default", "--size", "--tab"):
        assert command in result.stdout
    assert time.monotonic() - started < 10  # no TensorFlow for --help
    bad = subprocess.run(
        [sys.executable, "main.py", "--size", "1280by720"], cwd=ROOT, env=_env(tmp_path),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2 and "'1280by720'" in bad.stderr


def test_the_stderr_filter_drops_tensorflow_notices_and_keeps_everything_else():
    from engine.cli import noise

    notices = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1796131169.890729     319 port.cc:153] oneDNN custom operations are on.\n"
        "I0000 00:00:1796131169.891263     319 cudart_stub.cc:31] Could not find cuda drivers\n"
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow"
        " with the appropriate compiler flags.\n"
        "E0000 00:00:1796131172.512767     319 cuda_platform.cc:52] failed call to cuInit: x\n"
    )
    ours = (
        "convscope: could not open broken.keras\n"
        "E0000 00:00:1796131172.5 319 op_kernel.cc:1] OOM when allocating tensor\n"
        "Traceback (most recent call last):\n"
        "downloading ImageNet weights: 1.0 of 9.0 MB\r"
    )
    result = subprocess.run(
        [sys.executable, noise.__file__], input=(notices + ours).encode(), capture_output=True,
        timeout=30,
    )  # fmt: skip
    assert result.stdout == ours.encode()  # bytes: "\r" stays "\r", so progress counts up


def test_the_qt_library_check_says_what_to_install_before_anything_else(tmp_path):
    nothing = tmp_path / "ldconfig"
    nothing.write_text("#!/bin/sh\necho '\tlibxcb.so.1 (libc6,x86-64) => /lib/libxcb.so.1'\n")
    nothing.chmod(0o755)
    env = dict(os.environ, LDCONFIG=str(nothing), CONVSCOPE_NO_INSTALL="1", DISPLAY=":7")
    env.pop("QT_QPA_PLATFORM", None)
    check = ["sh", str(ROOT / ".ci" / "qt_libs.sh")]
    result = subprocess.run(check, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "sudo apt-get install -y libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in result.stderr
    for quiet in ({"QT_QPA_PLATFORM": "offscreen"}, {"DISPLAY": ""}):  # no X window to open
        result = subprocess.run(check, env=env | quiet, capture_output=True, timeout=30)
        assert result.returncode == 0 and not result.stderr
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry_run.stdout.splitlines()[0] == "sh .ci/qt_libs.sh"  # before the pip install
