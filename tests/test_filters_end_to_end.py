"""The Filters tab with the real engine thread: kernels and a circuit walked backwards."""

from __future__ import annotations

import numpy as np
import pytest

from gui.window_filters import SUB_CIRCUITS, SUB_KERNELS


@pytest.fixture
def window(real_window):
    return real_window


def test_kernels_then_a_circuit_walked_back_one_layer(qtbot, window):
    window.select_layer(("conv3",))
    with qtbot.waitSignal(window.engine.kernels, timeout=30_000) as blocker:
        window.show_filters(SUB_KERNELS)
        window.filter_picker.filter_selected.emit(5)
    assert blocker.args[0].kernel.shape == (3, 3, 48)
    with qtbot.waitSignal(window.engine.circuit, timeout=30_000):
        window.show_filters(SUB_CIRCUITS)
    links = window.circuit_view.links()
    assert len(links) == 48 and links[0].source_layer == ("conv2",)
    with qtbot.waitSignal(window.engine.circuit, timeout=30_000) as blocker:
        window.circuit_view.link_chosen.emit(0)  # walk back to the strongest input
    assert blocker.args[0].layer == ("conv2",) and blocker.args[0].unit == links[0].channel
    assert window.layer.name == "conv2"
    with qtbot.waitSignal(window.engine.circuit, timeout=30_000) as blocker:
        window.circuit_back()
    assert blocker.args[0].layer == ("conv3",)


def test_the_weight_grid_shows_every_filter_for_a_chosen_input_channel(qtbot, window):
    window.select_layer(("conv2",))
    with qtbot.waitSignal(window.engine.kernels, timeout=30_000) as blocker:
        window.show_filters(SUB_KERNELS)
        window.filter_picker.filter_selected.emit(3)
    first = blocker.args[0]
    assert first.grid.shape == (48, 3, 3) and first.input_channels == 24
    grid = window.kernel_view.weight_grid
    with qtbot.waitSignal(window.engine.kernels, timeout=30_000) as blocker:
        grid.channel_box.setValue(7)
    assert blocker.args[0].grid_channel == 7
    assert not np.allclose(blocker.args[0].grid, first.grid)
    qtbot.waitUntil(lambda: "48 filters" in grid.caption.text(), timeout=5_000)
    assert grid.picture is not None and grid.picture.shape[0] > 100


def test_picking_filters_during_a_scan_does_not_cancel_it(qtbot, window):
    from gui.window_filters import SUB_DATASET

    window.select_layer(("conv3",))
    window.show_filters(SUB_DATASET)
    finished = []
    window.engine.scan_progress.connect(lambda p: p.finished and finished.append(p))
    window.scan_builtin()
    window.filter_picker.filter_selected.emit(2)  # look at another filter meanwhile
    window.filter_picker.filter_selected.emit(7)
    qtbot.waitUntil(lambda: bool(finished), timeout=120_000)
    assert not finished[-1].cancelled
    assert window.unit == 7
