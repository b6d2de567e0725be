"""The Filters tab with a fake engine: kernels, circuits walked back, dataset scans."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.protocol import (
    Ascend,
    Atlas,
    EndReason,
    FailureKind,
    ScanImages,
    ShowKernels,
    ShowTopImages,
    StopRun,
    TraceCircuit,
)
from gui.common.names import FiltersTab
from gui.main_window import MainWindow


def _pick(win: MainWindow, unit: int) -> None:
    """Click filter `unit` in the grid, as the user would."""
    item = win.ui.filter_picker.unit_item(unit)
    win.ui.filter_picker.setCurrentItem(item)


def test_kernels_are_asked_for_only_when_the_tab_shows(window, engine) -> None:
    _pick(window, 3)
    assert engine.of_type(ShowKernels) == []
    window.filters.show_filters(FiltersTab.KERNELS)
    request = engine.last(ShowKernels)
    assert (request.layer, request.unit) == (("conv2",), 3)
    _pick(window, 5)
    assert engine.last(ShowKernels).unit == 5
    window.show_tab(0)
    _pick(window, 6)
    assert engine.last(ShowKernels).unit == 5  # hidden: nothing asked
    window.show_tab(3)
    assert engine.last(ShowKernels).unit == 6  # asked lazily once shown


def test_a_kernels_result_draws_slices_with_values_stats_and_histogram(window, engine) -> None:
    window.filters.show_filters(FiltersTab.KERNELS)
    _pick(window, 2)
    sent = engine.show_kernels(engine.last(ShowKernels))
    view = window.ui.filters_panel.kernel_view
    assert len(view.channel_labels) == 8 and view.values_written()
    assert view.stat("max") == f"{sent.stats['max']:.4g}" and view.stat("max", layer=True) == "9"
    assert view.bars is not None and view.filters_table.rowCount() == 16
    picture = view.channel_labels[0].pixmap().toImage()
    assert picture.width() >= 64
    strongest = int(np.argmax(np.linalg.norm(sent.kernel, axis=(0, 1))))
    assert view.effect.channels[0] == strongest and len(view.effect.channels) == 3
    assert view.effect.cell_count() >= 3  # kernel slices, feature map of the image's layer


def test_large_kernels_are_capped_and_not_written(window, engine) -> None:
    window.filters.show_filters(FiltersTab.KERNELS)
    _pick(window, 1)
    engine.show_kernels(engine.last(ShowKernels), np.ones((7, 7, 80), np.float32))
    view = window.ui.filters_panel.kernel_view
    assert len(view.channel_labels) == 64 and not view.values_written()
    assert "+16 more" in view.more_label.text()


def test_a_circuit_lists_links_in_order_with_signs_and_walks_back(qtbot, window, engine) -> None:
    window.filters.show_filters(FiltersTab.CIRCUITS)
    _pick(window, 4)
    first = engine.last(TraceCircuit)
    assert (first.layer, first.unit) == (("conv2",), 4)
    engine.trace(first)
    view = window.ui.filters_panel.circuit_view
    assert [view.row_text(r) for r in range(3)] == [
        "excitatory · conv1 #0", "inhibitory · conv1 #1", "excitatory · conv1 #2",
    ]  # fmt: skip
    look_up = engine.last(Atlas)
    assert look_up.cache_only and look_up.units == (0, 1, 2) and look_up.layer == ("conv1",)
    engine.tile(look_up.request_id, ("conv1",), 1)  # from the cache
    assert view.has_source_image(1) and not view.has_source_image(0)
    assert not view.back_button.isEnabled()

    view.link_chosen.emit(1)  # as a click on the second row
    second = engine.last(TraceCircuit)
    assert (second.layer, second.unit) == (("conv1",), 1)
    assert window.state.layer.path == ("conv1",) and window.ui.filter_picker.current_unit() == 1
    engine.trace(second, note="conv1 reads the image: the trace stops here.")
    assert view.note_label.isVisible() and "stops here" in view.note_label.text()
    assert view.back_button.isEnabled() and not view.forward_button.isEnabled()

    qtbot.mouseClick(view.back_button, Qt.LeftButton)
    back = engine.last(TraceCircuit)
    assert (back.layer, back.unit) == (("conv2",), 4) and window.state.layer.path == ("conv2",)
    assert view.forward_button.isEnabled()
    qtbot.mouseClick(view.forward_button, Qt.LeftButton)
    assert (engine.last(TraceCircuit).layer, engine.last(TraceCircuit).unit) == (("conv1",), 1)


def test_visualize_on_a_link_grows_its_source(window, engine) -> None:
    window.filters.show_filters(FiltersTab.CIRCUITS)
    _pick(window, 4)
    engine.trace(engine.last(TraceCircuit))
    button = window.ui.filters_panel.circuit_view.table.cellWidget(0, 4)
    button.click()
    request = engine.last(Ascend)
    assert (request.layer, request.unit) == (("conv1",), 0)
    engine.finish(request, 10)
    assert window.ui.filters_panel.circuit_view.has_source_image(0)


def test_a_scan_shows_progress_cancels_and_flags_dead_filters(qtbot, window, engine) -> None:
    assert window.menu_actions["scan_folder"].shortcut().toString() == "Ctrl+Shift+F"
    window.dataset.scan_folder("/data/digits")
    request = engine.last(ScanImages)
    assert request.folder == "/data/digits"
    view = window.ui.filters_panel.dataset_view
    assert window.ui.filters_panel.currentIndex() == FiltersTab.DATASET and view.is_running()
    engine.scan_step(request.request_id, 40, 100, skipped=2)
    assert view.progress.text() == "40 / 100 · 2 skipped"
    qtbot.mouseClick(view.cancel_button, Qt.LeftButton)
    assert isinstance(engine.requests[-1], StopRun)
    fire = np.ones(16)
    fire[[3, 7]] = 0.0
    fire[5] = 0.004
    # A cancelled scan still counts what it saw: its summary comes, then its end.
    engine.scan_done(request.request_id, {("conv2",): fire, ("conv1",): np.ones(8)})
    engine.end_scan(request, 41, 100, EndReason.CANCELLED)
    assert not view.is_running() and "cancelled" in view.status_label.text()

    picker = window.ui.filter_picker
    assert picker.flag(3) == "dead" and picker.flag(5) == "rare 0.4%" and picker.flag(0) == ""
    assert "dead" in picker.unit_item(3).text()
    item = window.ui.layer_tree._find_item(("conv2",))
    assert "2 dead, 1 rare filters on 1,797 images" in item.toolTip(0)
    window.layers.select_layer(("conv1",))
    window.layers.select_layer(("conv2",))
    assert window.ui.filter_picker.flag(7) == "dead"  # flags come back with the layer


def test_top_images_fill_the_grid_and_rank_by_resubmits(window, engine) -> None:
    window.dataset.scan_builtin()
    assert engine.last(ScanImages).folder is None
    engine.scan_done(engine.last(ScanImages).request_id, {("conv2",): np.ones(16)})
    _pick(window, 2)
    request = engine.last(ShowTopImages)
    assert (request.layer, request.unit, request.rank_by, request.projection) == (
        ("conv2",), 2, "l2", "none",
    )  # fmt: skip
    engine.top(request)
    names = window.ui.filters_panel.dataset_view.tile_names()
    assert len(names) == 9 and names[0].endswith("img_000.png")
    window.ui.filters_panel.dataset_view.rank_combo.setCurrentIndex(1)
    again = engine.last(ShowTopImages)
    assert again.rank_by == "max" and again.request_id != request.request_id
    window.ui.filters_panel.dataset_view.projection_combo.setCurrentIndex(2)
    assert engine.last(ShowTopImages).projection == "gradcam"


@pytest.mark.parametrize("what", ["kernels", "circuit", "scan"])
def test_failures_show_in_the_message_bar(window, engine, what) -> None:
    window.filters.show_filters(FiltersTab.KERNELS)
    _pick(window, 1)
    window.dataset.scan_folder("/nowhere")
    ids = {
        "kernels": engine.last(ShowKernels).request_id,
        "scan": engine.last(ScanImages).request_id,
    }
    window.filters.show_filters(FiltersTab.CIRCUITS)
    ids["circuit"] = engine.last(TraceCircuit).request_id
    requests = {r.request_id: r for r in engine.requests}
    engine.fail(requests[ids[what]], FailureKind.INPUT, f"the {what} broke")
    assert f"the {what} broke" in window.ui.message_bar.text()
    if what == "scan":
        assert not window.ui.filters_panel.dataset_view.is_running()
