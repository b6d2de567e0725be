"""Guards against Qt binding releases that corrupt Python's reference counts.

PySide6 6.12.0 dropped a reference to True on every button click and to None on every restyle;
after a few thousand the interpreter aborts ("bool_dealloc"), killing the app at a random moment.
These checks fail fast on such a release instead.
"""

from __future__ import annotations

import gc
import sys

from gui.common.message_bar import MessageBar
from gui.visualize.controls import AscentControls


def _drift(action, repeats: int = 300) -> tuple[int, int]:
    action()  # the first call fills one-time caches (style sheets, the interpreter's): not drift
    gc.collect()
    true_before, none_before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(repeats):
        action()
    gc.collect()
    return sys.getrefcount(True) - true_before, sys.getrefcount(None) - none_before


def test_clicking_buttons_keeps_reference_counts(qtbot):
    controls = AscentControls()
    qtbot.addWidget(controls)
    controls.set_running(True)
    true_drift, none_drift = _drift(controls.stop_button.click)
    assert abs(true_drift) < 50 and abs(none_drift) < 50


def test_showing_messages_keeps_reference_counts(qtbot):
    bar = MessageBar()
    qtbot.addWidget(bar)
    true_drift, none_drift = _drift(lambda: (bar.show_error("x"), bar.clear()))
    assert abs(true_drift) < 50 and abs(none_drift) < 50
