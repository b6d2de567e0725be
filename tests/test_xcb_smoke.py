"""The real window on a real X server: Qt's xcb platform under Xvfb, the built-in model, a short
visualization, closed. Every other test runs offscreen, which needs none of X's libraries, so
only this one proves that `make run` on a fresh machine opens a window.

Skipped, saying why, where Xvfb or the libraries are missing; `.ci/run` installs both and sets
CONVSCOPE_REQUIRE_XCB=1, which turns the skip into a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _skip_or_fail(reason: str) -> NoReturn:
    if os.environ.get("CONVSCOPE_REQUIRE_XCB") == "1":
        pytest.fail(f"CONVSCOPE_REQUIRE_XCB=1 but {reason}")
    pytest.skip(reason)


def _missing_packages() -> str:
    result = subprocess.run(
        ["sh", str(ROOT / ".ci" / "qt_libs.sh"), "--missing"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    return result.stdout.strip()


@pytest.fixture
def x_display():
    """A fresh Xvfb on a display number it picks itself (-displayfd), stopped afterwards."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        _skip_or_fail("Xvfb is not installed (Debian: sudo apt-get install -y xvfb)")
    missing = _missing_packages()
    if missing:
        _skip_or_fail(f"Qt's xcb plugin lacks libraries: sudo apt-get install -y {missing}")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write_end), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write_end)
    try:
        with os.fdopen(read_end) as announced:
            number = announced.readline().strip()  # written once the server accepts clients
        if not number.isdigit():
            pytest.fail(f"Xvfb did not start (exit status {server.poll()})")
        yield f":{number}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_the_real_window_opens_visualizes_and_closes_on_xcb(tmp_path, x_display):
    target = tmp_path / "xcb.png"
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", DISPLAY=x_display, PYTHONUNBUFFERED="1")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # keep the user's settings out of it
    env.pop("WAYLAND_DISPLAY", None)
    result = subprocess.run(
        [sys.executable, "main.py", "--screenshot", str(target), "--layer", "conv3",
         "--filter", "2", "--steps", "8", "--size", "1280x720"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "visualizing conv3 #2" in result.stdout
    assert "Could not load the Qt platform plugin" not in result.stderr
    with Image.open(target) as picture:
        assert picture.size == (1280, 720)  # the window manager-less X screen gave what we asked
        assert len(picture.getcolors(1 << 20) or ()) > 50  # a real window, not a blank sheet
