"""The Filters tab with the real engine thread: kernels and a circuit walked backwards."""

from __future__ import annotations

import numpy as np
import pytest

from engine.protocol import EndReason, JobEnded, ScanProgress
from gui.common.names import FiltersTab


@pytest.fixture
def window(real_window):
    return real_window


def test_kernels_then_a_circuit_walked_back_one_layer(qtbot, window, real_engine):
    window.layers.select_layer(("conv3",))
    with qtbot.waitSignal(real_engine.kernels, timeout=30_000) as blocker:
        window.filters.show_filters(FiltersTab.KERNELS)
        window.ui.filter_picker.filter_selected.emit(5)
    assert blocker.args[0].kernel.shape == (3, 3, 48)
    with qtbot.waitSignal(real_engine.circuit, timeout=30_000):
        window.filters.show_filters(FiltersTab.CIRCUITS)
    links = window.ui.filters_panel.circuit_view.links()
    assert len(links) == 48 and links[0].source_layer == ("conv2",)
    with qtbot.waitSignal(real_engine.circuit, timeout=30_000) as blocker:
        window.ui.filters_panel.circuit_view.link_chosen.emit(0)  # walk back to the strongest input
    assert blocker.args[0].layer == ("conv2",) and blocker.args[0].unit == links[0].channel
    assert window.state.layer.name == "conv2"
    with qtbot.waitSignal(real_engine.circuit, timeout=30_000) as blocker:
        window.filters.circuit_back()
    assert blocker.args[0].layer == ("conv3",)


def test_the_weight_grid_shows_every_filter_for_a_chosen_input_channel(qtbot, window, real_engine):
    window.layers.select_layer(("conv2",))
    with qtbot.waitSignal(real_engine.kernels, timeout=30_000) as blocker:
        window.filters.show_filters(FiltersTab.KERNELS)
        window.ui.filter_picker.filter_selected.emit(3)
    first = blocker.args[0]
    assert first.grid.shape == (48, 3, 3) and first.input_channels == 24
    grid = window.ui.filters_panel.kernel_view.weight_grid
    with qtbot.waitSignal(real_engine.kernels, timeout=30_000) as blocker:
        grid.channel_box.setValue(7)
    assert blocker.args[0].grid_channel == 7
    assert not np.allclose(blocker.args[0].grid, first.grid)
    qtbot.waitUntil(lambda: "48 filters" in grid.caption.text(), timeout=5_000)
    assert grid.picture is not None and grid.picture.shape[0] > 100


def test_picking_filters_during_a_scan_does_not_cancel_it(qtbot, window, real_engine):
    window.layers.select_layer(("conv3",))
    window.filters.show_filters(FiltersTab.DATASET)
    finished: list[JobEnded] = []
    real_engine.ended.connect(lambda e: isinstance(e.value, ScanProgress) and finished.append(e))
    window.dataset.scan_builtin()
    window.ui.filter_picker.filter_selected.emit(2)  # look at another filter meanwhile
    window.ui.filter_picker.filter_selected.emit(7)
    qtbot.waitUntil(lambda: bool(finished), timeout=120_000)
    assert finished[-1].reason is EndReason.FINISHED
    assert window.state.unit == 7
