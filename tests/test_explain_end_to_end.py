"""The Explain and Network tabs with the real engine thread on the built-in model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.protocol import Recipe
from gui.common.imaging import to_rgb8, upscale_nearest

CAM_MODULE = Path(__file__).resolve().parents[1] / "engine" / "attribution" / "cam.py"


@pytest.fixture
def window(qtbot, real_window):
    with qtbot.waitSignal(real_window.state.image_changed, timeout=30_000):
        real_window.images.open_image(sample="digit:7")
    return real_window


@pytest.mark.skipif(
    not CAM_MODULE.exists(), reason="engine/attribution/cam.py (Grad-CAM) is not written yet"
)
def test_gradcam_of_a_seven_overlays_the_digit(qtbot, window):
    window.show_tab(1)
    window.ui.explain_panel.controls.set_method("gradcam")
    with qtbot.waitSignal(window.explainer.shown, timeout=60_000) as blocker:
        qtbot.mouseClick(window.ui.explain_panel.controls.explain_button, Qt.LeftButton)
    explanation = blocker.args[0]
    assert explanation.method == "gradcam" and explanation.label == "class '7'"
    assert explanation.heatmap.shape == (28, 28) and np.isfinite(explanation.heatmap).all()
    assert explanation.layer is not None  # the last conv layer, named by the engine
    shown = window.ui.explain_panel.view.canvas.current_rgb8()[:, :280]  # colorbar on the right
    plain = upscale_nearest(to_rgb8(explanation.image), 256)
    assert shown.shape == plain.shape and np.abs(shown.astype(int) - plain).mean() > 5
    assert window.ui.explain_panel.view.canvas.title().startswith("Grad-CAM · class '7'")


def test_the_network_tab_fills_every_layer_of_the_default_model(qtbot, window):
    window.show_tab(2)
    qtbot.waitUntil(window.ui.network.is_complete, timeout=30_000)
    names = [path[-1] for path in window.ui.network.layers()]
    assert names == ["conv1", "pool1", "conv2", "pool2", "conv3", "pool3", "dense", "predictions"]
    assert window.ui.network.row(("conv3",)).maps().shape == (7, 7, 64)


def _step(window) -> int:
    """The step the Visualize tab's counter shows ('step 120 / 1000000')."""
    return int(window.ui.controls.progress_label.text().split()[1])


def test_a_live_explanation_leaves_a_running_visualization_running(qtbot, window):
    controls = window.ui.explain_panel.controls
    controls.set_method("gradcam")
    controls.live_check.setChecked(True)
    window.ui.controls.set_settings(Recipe(steps=1_000_000, frame_every=1))
    finished = []
    window.runs.finished.connect(finished.append)
    window.runs.visualize(3)
    qtbot.waitUntil(lambda: window.runs.painter.frames_shown >= 2, timeout=30_000)
    with qtbot.waitSignal(window.explainer.shown, timeout=60_000):
        window.images.open_image(sample="digit:4")  # Live explains the new image
    before = _step(window)
    qtbot.waitUntil(lambda: _step(window) > before + 10, timeout=30_000)
    assert not finished and window.ui.controls.stop_button.isEnabled()


def test_explain_pressed_during_a_run_stops_it_and_continue_goes_on(qtbot, window):
    window.show_tab(1)
    window.ui.explain_panel.controls.set_method("gradcam")
    window.ui.controls.set_settings(Recipe(steps=1_000_000, frame_every=1))
    window.runs.visualize(3)
    qtbot.waitUntil(lambda: window.runs.painter.frames_shown >= 2, timeout=30_000)
    with qtbot.waitSignals([window.runs.finished, window.explainer.shown], timeout=60_000):
        qtbot.mouseClick(window.ui.explain_panel.controls.explain_button, Qt.LeftButton)
    stopped = window.runs.record.finished
    assert stopped.resumable and "stopped at step" in window.ui.canvas.title()
    with qtbot.waitSignal(window.runs.painter.painted, timeout=30_000) as painted:
        window.menu_actions["continue"].trigger()
    assert painted.args[0].step > stopped.steps_done  # on from where it stopped
    window.runs.stop()
