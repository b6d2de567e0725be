"""The Explain and Network tabs with the real engine thread on the built-in model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from gui.common.imaging import to_rgb8, upscale_nearest

CAM_MODULE = Path(__file__).resolve().parents[1] / "engine" / "attribution" / "cam.py"


@pytest.fixture
def window(qtbot, real_window):
    with qtbot.waitSignal(real_window.image_shown, timeout=30_000):
        real_window.open_image(sample="digit:7")
    return real_window


@pytest.mark.skipif(
    not CAM_MODULE.exists(), reason="engine/attribution/cam.py (Grad-CAM) is not written yet"
)
def test_gradcam_of_a_seven_overlays_the_digit(qtbot, window):
    window.show_tab(1)
    window.explain_panel.controls.set_method("gradcam")
    with qtbot.waitSignal(window.explanation_shown, timeout=60_000) as blocker:
        qtbot.mouseClick(window.explain_panel.controls.explain_button, Qt.LeftButton)
    explanation = blocker.args[0]
    assert explanation.method == "gradcam" and explanation.label == "class '7'"
    assert explanation.heatmap.shape == (28, 28) and np.isfinite(explanation.heatmap).all()
    assert explanation.layer is not None  # the last conv layer, named by the engine
    shown = window.explain_panel.view.canvas.current_rgb8()
    plain = upscale_nearest(to_rgb8(explanation.image), 256)
    assert shown.shape == plain.shape and np.abs(shown.astype(int) - plain).mean() > 5
    assert window.explain_panel.view.canvas.title().startswith("Grad-CAM · class '7'")


def test_the_network_tab_fills_every_layer_of_the_default_model(qtbot, window):
    window.show_tab(2)
    qtbot.waitUntil(window.network.is_complete, timeout=30_000)
    names = [path[-1] for path in window.network.layers()]
    assert names == ["conv1", "pool1", "conv2", "pool2", "conv3", "pool3", "dense", "predictions"]
    assert window.network.row(("conv3",)).maps().shape == (7, 7, 64)
