"""With a fake engine: the Network tab, the sorted grid, per-layer exports and the sketch pad."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from engine.protocol import (
    Ascend,
    Explain,
    FailureKind,
    LayerInfo,
    LayerKind,
    OpenImage,
    WalkNetwork,
)
from gui.common.imaging import apply_colormap, normalize_per_channel
from gui.common.names import Tab
from gui.images.sketch_pad import PAD_SIDE, SketchPad
from gui.network.layer_row import CHANNEL_CAP, LayerRow

CONV2 = ("conv2",)


# ----------------------------------------------------------------------------- the network walk


def test_the_network_tab_walks_every_layer_and_a_click_shows_a_map_large(qtbot, window, engine):
    assert not engine.of_type(WalkNetwork)  # nothing is walked until the tab is shown
    window.show_tab(Tab.NETWORK)
    request = engine.last(WalkNetwork)
    network = window.ui.network
    assert network.layers() == [("conv1",), CONV2, ("out",)]
    assert not network.is_complete()
    sent = engine.walk(request)
    assert network.is_complete() and "All 3 layers" in network.status_label.text()
    assert network.row(("conv1",)).shown_count() == 8 and network.row(("out",)).shown_count() == 10
    row = network.row(CONV2)
    qtbot.mouseClick(row, Qt.LeftButton, pos=row.unit_center(5))
    values = sent[CONV2][:, :, 5]
    assert network.canvas.title().startswith("conv2 #5 · 14×14 · range [")
    assert f"{values.max():.3g}]" in network.canvas.title()
    expected = apply_colormap(normalize_per_channel(values[:, :, None])[:, :, 0], "viridis")
    np.testing.assert_array_equal(network.canvas.current_rgb8(), expected)
    network.colormap_combo.setCurrentText("inferno")
    assert not np.array_equal(network.canvas.current_rgb8(), expected)
    dense = network.row(("out",))
    qtbot.mouseClick(dense, Qt.LeftButton, pos=dense.unit_center(2))
    assert network.canvas.title().startswith(f"out #2 = {sent[('out',)][2]:.4g}")


def test_a_new_image_walks_again_and_stale_maps_are_dropped(window, engine) -> None:
    window.show_tab(Tab.NETWORK)
    old = engine.last(WalkNetwork)
    window.images.open_image(sample="digit:4")
    engine.open()
    new = engine.last(WalkNetwork)
    assert new is not old and not window.ui.network.is_complete()
    engine.walk(old)
    assert not window.ui.network.all_maps()
    engine.walk(new)
    assert window.ui.network.is_complete()
    window.show_tab(0)
    window.show_tab(Tab.NETWORK)
    assert engine.last(WalkNetwork) is new  # still the current image's walk


def test_a_wide_layer_shows_its_first_channels_and_more_on_request(qtbot) -> None:
    info = LayerInfo(("wide",), "wide", "Conv2D", (None, 4, 4, 100), 0, LayerKind.CHANNELS, 100)
    row = LayerRow(info)
    qtbot.addWidget(row)
    row.set_maps(np.random.default_rng(1).random((4, 4, 100)).astype(np.float32))
    assert row.shown_count() == CHANNEL_CAP and row.more_label.text().count("+36 more")
    row.more_label.linkActivated.emit("more")
    assert row.shown_count() == 100
    with qtbot.waitSignal(row.unit_clicked) as blocker:
        qtbot.mouseClick(row, Qt.LeftButton, pos=row.unit_center(99))
    assert blocker.args == [99]


# ----------------------------------------------------------------------------- sorted grid


def _conv2_maps(window, engine) -> np.ndarray:
    maps = np.zeros((14, 14, 16), np.float32)
    maxima = np.array([3, 9, 1, 7, 0, 5, 2, 8, 4, 6, 11, 10, 15, 13, 12, 14], np.float32)
    maps[0, 0, :] = maxima
    maps[1:, :, :] = np.arange(16, dtype=np.float32)[::-1] / 100  # means follow the reverse order
    window.layers.select_layer(CONV2)  # the layer's maps are asked for the current image
    engine.maps(CONV2, maps)
    return maps


def test_sorting_by_max_reorders_thumbnails_and_clicks_select_the_right_unit(qtbot, window, engine):
    maps = _conv2_maps(window, engine)
    picker = window.ui.filter_picker
    tooltip = picker.unit_item(1).toolTip()
    assert "max 9 · mean" in tooltip and "% positive" in tooltip
    window.ui.sort_bar.combo.setCurrentText("max activation")
    order = picker.display_order()
    assert order == [int(k) for k in np.argsort(-maps.max(axis=(0, 1)), kind="stable")]
    assert order[:3] == [12, 15, 13] and picker.item(0).text() == "#12"  # labels keep numbers
    rect = picker.visualItemRect(picker.item(0))
    qtbot.mouseClick(picker.viewport(), Qt.LeftButton, pos=rect.center())
    assert engine.last(Ascend).unit == 12 and picker.current_unit() == 12
    window.ui.sort_bar.combo.setCurrentText("mean activation")
    assert picker.display_order()[0] == int(np.argmax(maps.mean(axis=(0, 1))))
    assert picker.current_unit() == 12  # the selection stays on its unit
    window.ui.sort_bar.combo.setCurrentText("channel")
    assert picker.display_order() == list(range(16))


def test_a_new_layer_is_sorted_once_its_maps_arrive(window, engine) -> None:
    window.ui.sort_bar.combo.setCurrentText("max activation")
    window.layers.select_layer(("conv1",))
    assert window.ui.filter_picker.display_order() == list(range(8))
    maps = np.zeros((28, 28, 8), np.float32)
    maps[0, 0] = np.arange(8)
    engine.maps(("conv1",), maps)
    assert window.ui.filter_picker.display_order() == list(range(7, -1, -1))


# ----------------------------------------------------------------------------- per-layer export


def test_export_feature_maps_writes_one_png_per_layer(window, engine, tmp_path) -> None:
    window.network.export_feature_maps(str(tmp_path))
    request = engine.last(WalkNetwork)
    assert not list(tmp_path.iterdir())  # waits for the walk
    engine.walk(request)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conv1.png", "conv2.png", "out.png"]
    with Image.open(tmp_path / "conv2.png") as grid:
        side = 4 * 58 - 2  # 16 maps of 14 px ×4, 4 to a line
        assert grid.width >= side and grid.height > side  # the colorbar strip under them
        assert grid.crop((0, 0, side, side)).getpixel((0, 0)) != (255, 255, 255)
    again = tmp_path / "again"
    again.mkdir()
    count = len(engine.of_type(WalkNetwork))
    window.network.export_feature_maps(str(again))  # the walk is complete: written at once
    assert len(engine.of_type(WalkNetwork)) == count and len(list(again.iterdir())) == 3


def test_a_failed_walk_says_the_export_failed(window, engine, tmp_path) -> None:
    window.network.export_feature_maps(str(tmp_path))
    request = engine.last(WalkNetwork)
    engine.fail(request, FailureKind.MEMORY, "out of memory")
    assert "Could not export the feature maps" in window.ui.message_bar.text()


# ----------------------------------------------------------------------------- sketch pad


def _draw(qtbot, pad: SketchPad, points: list[tuple[int, int]]) -> None:
    surface = pad.surface
    qtbot.mousePress(surface, Qt.LeftButton, pos=QPoint(*points[0]))
    for point in points[1:]:
        qtbot.mouseMove(surface, QPoint(*point))
    qtbot.mouseRelease(surface, Qt.LeftButton, pos=QPoint(*points[-1]))


def test_the_sketch_pad_draws_thick_white_strokes(qtbot) -> None:
    pad = SketchPad()
    qtbot.addWidget(pad)
    pad.show()
    assert pad.pixels().shape == (PAD_SIDE, PAD_SIDE) and not pad.pixels().any()
    with qtbot.waitSignal(pad.sketch_changed) as blocker:
        _draw(qtbot, pad, [(60, 140), (140, 140), (220, 140)])
    drawn = blocker.args[0]
    assert drawn.dtype == np.uint8 and drawn[140, 60:221].min() == 255
    assert drawn[140 - 6 : 140 + 7, 140].min() == 255  # about 18 px thick
    assert not drawn[100].any() and not drawn[180].any()
    with qtbot.waitSignal(pad.sketch_changed) as blocker:
        qtbot.mouseClick(pad.clear_button, Qt.LeftButton)
    assert not blocker.args[0].any() and not pad.pixels().any()


def test_drawing_sends_the_picture_as_the_image_and_live_explains(qtbot, window, engine) -> None:
    window.show_sketch_pad()
    assert window.ui.left_tabs.currentWidget() is window.ui.sketch_pad
    window.ui.explain_panel.controls.live_check.setChecked(True)
    window.ui.explain_panel.controls.set_method("saliency")
    _draw(qtbot, window.ui.sketch_pad, [(140, 40), (140, 140), (140, 240)])
    request = engine.last(OpenImage)
    assert request.source == "drawing" and request.pixels.shape == (PAD_SIDE, PAD_SIDE)
    assert request.pixels.max() == 255 and request.layer == CONV2
    count = len(engine.of_type(Explain))
    engine.open(source="drawing")  # the engine answers with the drawing's predictions
    assert len(engine.of_type(Explain)) == count + 1 and engine.last(Explain).method == "saliency"
    qtbot.mouseClick(window.ui.sketch_pad.clear_button, Qt.LeftButton)
    assert not engine.last(OpenImage).pixels.any()


def test_strokes_go_out_at_most_every_100_ms_while_drawing(qtbot) -> None:
    pad = SketchPad()
    qtbot.addWidget(pad)
    pad.show()
    sent = []
    pad.sketch_changed.connect(sent.append)
    qtbot.mousePress(pad.surface, Qt.LeftButton, pos=QPoint(20, 20))
    for x in range(25, 200, 5):
        qtbot.mouseMove(pad.surface, QPoint(x, 20))
    assert sent == []  # the first send waits for the timer
    qtbot.waitUntil(lambda: len(sent) == 1, timeout=1_000)
    qtbot.mouseRelease(pad.surface, Qt.LeftButton, pos=QPoint(200, 20))
    assert len(sent) == 2 and sent[-1][20, 200] == 255
