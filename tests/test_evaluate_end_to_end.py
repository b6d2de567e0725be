"""The Dataset tab with the real engine thread: one click evaluates the built-in model on its
held-out MNIST digits, and a misclassified digit opens as the current image."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from engine.optvis.references import MNIST_DIR
from engine.protocol import Evaluation, JobEnded

pytestmark = pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="../shared/data/mnist is not here")


def test_one_click_evaluates_the_held_out_digits(qtbot, real_window, real_engine) -> None:
    view = real_window.ui.evaluation_view
    ends: list[JobEnded] = []
    real_engine.ended.connect(lambda e: isinstance(e.value, Evaluation) and ends.append(e))
    qtbot.mouseClick(view.mnist_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(ends), timeout=60_000)
    qtbot.waitUntil(lambda: view.evaluation is not None, timeout=5_000)
    evaluation = view.evaluation
    assert evaluation is not None and evaluation.accuracy is not None
    assert evaluation.accuracy > 0.95 and int(evaluation.confusion.sum()) == 2000
    assert view.status_label.text().startswith(f"Accuracy {evaluation.accuracy:.1%}")
    first = view.shown_indices()[0]
    assert not evaluation.correct()[first]  # the misclassified come first
    with qtbot.waitSignal(real_window.state.image_changed, timeout=30_000):
        view.grid.itemClicked.emit(view.grid.item(0))
    assert real_window.state.image is not None
