"""Keep TensorFlow's start-up notices out of the terminal, and nothing else.

TensorFlow logs the oneDNN notice, "Could not find cuda drivers", cpu_feature_guard and
"failed call to cuInit" from C++ before its log settings are read, so TF_CPP_MIN_LOG_LEVEL
cannot silence them. The process's stderr (fd 2) therefore goes through a small filter process
that drops exactly those lines. A separate process, not a thread, because a crash must still
reach the terminal: when this process dies the filter reads to the end of the pipe and passes
every remaining line on.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable

# TensorFlow's C++ info and warning lines ("I0000 00:00:1796131169.890729  319 port.cc:153] ..."),
# absl's note about them, the second half of the cpu_feature_guard notice, and the error lines
# that only say there is no GPU. Every other error line passes.
NOISE = re.compile(
    rb"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.]+:\d+\]"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|To enable the following instructions: .* rebuild TensorFlow"
    rb"|E\d{4} [^\]]*\] (?:failed call to cuInit|Unable to register cu\w+ factory))"
)


def is_noise(line: bytes) -> bool:
    """Whether `line` (one line of stderr) is a TensorFlow start-up notice."""
    return NOISE.match(line) is not None


def quiet_tensorflow() -> Callable[[], None]:
    """Filter this process's stderr from now on; returns the function that ends the filter
    (flushing what it holds). Call before TensorFlow is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # what TensorFlow can drop itself
    sys.stderr.flush()
    try:
        child = subprocess.Popen(
            [sys.executable, "-S", "-u", __file__], stdin=subprocess.PIPE, stdout=2
        )
    except OSError:
        return lambda: None  # no filter: the notices show, which is harmless
    if child.stdin is None:  # never with stdin=PIPE; this tells mypy so
        return lambda: None
    saved = os.dup(2)
    os.dup2(child.stdin.fileno(), 2)
    child.stdin.close()

    def stop() -> None:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes this process's end of the pipe: the filter sees its end
        os.close(saved)
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()

    return stop


def _pump() -> None:
    """The filter process: stdin to stdout, lines of noise left out, until the pipe closes."""
    # Ctrl+C reaches the whole process group; the filter must outlive the program it serves.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pending = b""
    while chunk := os.read(0, 65536):
        # "\r" ends a line too, so a progress line that counts up shows at once.
        *lines, pending = re.split(rb"(?<=[\r\n])", pending + chunk)
        kept = b"".join(line for line in lines if not is_noise(line))
        if kept:
            os.write(1, kept)
    if pending and not is_noise(pending):
        os.write(1, pending)


if __name__ == "__main__":
    _pump()
