"""The widgets on their own, driven offscreen the way a user would drive them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from engine.protocol import LayerInfo, LayerKind, ModelSummary, Prediction, Recipe
from gui.common.canvas import Canvas
from gui.common.imaging import normalize_per_channel, to_rgb8, upscale_nearest
from gui.common.message_bar import MessageBar
from gui.common.predictions import PredictionsPanel
from gui.layers.filter_picker import FilterPicker
from gui.layers.layer_tree import LayerTree
from gui.visualize.controls import AscentControls
from gui.visualize.objective_plot import ObjectivePlot

# The offscreen platform cannot pass a window's size limits on to a real window system, and
# says so whenever a layout changes them: that is the test platform talking, not our code.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def _conv(name: str, channels: int, path: tuple[str, ...] = ()) -> LayerInfo:
    return LayerInfo(
        (*path, name), name, "Conv2D", (None, 28, 28, channels), 1234, LayerKind.CHANNELS, channels
    )


def _summary() -> ModelSummary:
    block = LayerInfo(
        ("block",),
        "block",
        "Functional",
        (None, 14, 14, 16),
        5000,
        LayerKind.CHANNELS,
        16,
        children=(_conv("inner_a", 8, ("block",)), _conv("inner_b", 16, ("block",))),
    )
    layers = (
        _conv("conv1", 24),
        block,
        LayerInfo(("flatten",), "flatten", "Flatten", (None, 3136), 0, LayerKind.NONE, 0),
        LayerInfo(("dense",), "dense", "Dense", (None, 128), 401_536, LayerKind.UNITS, 128),
        LayerInfo(("out",), "out", "Dense", (None, 10), 1290, LayerKind.UNITS, 10, True),
    )
    return ModelSummary("tiny", "built-in", (28, 28, 1), (0.0, 1.0), tuple("0123456789"), layers)


# ----------------------------------------------------------------------------- imaging


def test_normalize_per_channel_scales_each_channel_and_zeroes_constant_ones() -> None:
    maps = np.stack([np.arange(4.0).reshape(2, 2), np.full((2, 2), 7.0)], axis=-1)
    out = normalize_per_channel(maps)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:, :, 0], [[0, 1 / 3], [2 / 3, 1]], rtol=1e-6)
    np.testing.assert_array_equal(out[:, :, 1], 0)


def test_to_rgb8_clips_and_upscale_keeps_square_pixels() -> None:
    rgb = to_rgb8(np.array([[-1.0, 0.5, 2.0]]))
    assert rgb.shape == (1, 3, 3) and rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb[0, :, 0], [0, 128, 255])
    big = upscale_nearest(np.zeros((28, 40, 3), np.uint8), 256)
    assert big.shape == (280, 400, 3)


# ----------------------------------------------------------------------------- layer tree


def _item_for(tree: LayerTree, name: str):
    return tree.findItems(name, Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive, 0)[0]


def test_layer_tree_lists_every_layer_with_nested_children_expanded(qtbot) -> None:
    tree = LayerTree()
    qtbot.addWidget(tree)
    tree.set_summary(_summary())
    listed = tree.findItems("*", Qt.MatchFlag.MatchWildcard | Qt.MatchFlag.MatchRecursive, 0)
    assert [item.text(0) for item in listed] == [lay.name for lay in _summary().walk()]
    block = _item_for(tree, "block")
    assert block.childCount() == 2 and block.isExpanded()
    assert _item_for(tree, "conv1").text(2) == "28×28×24"
    assert _item_for(tree, "dense").text(3) == "401,536"
    assert _item_for(tree, "out").text(4) == "10 classes"
    assert _item_for(tree, "dense").text(4) == "128 units"
    assert _item_for(tree, "conv1").font(0).bold()
    flatten = _item_for(tree, "flatten")
    assert "nothing to visualize" in flatten.toolTip(0)
    assert flatten.flags() & Qt.ItemFlag.ItemIsSelectable
    assert tree.current_layer() is None


def test_layer_tree_emits_on_click_and_keys_but_not_on_select_layer(qtbot) -> None:
    tree = LayerTree()
    qtbot.addWidget(tree)
    tree.resize(600, 400)
    tree.show()
    tree.set_summary(_summary())
    item = _item_for(tree, "inner_b")
    with qtbot.waitSignal(tree.layer_selected) as blocker:
        qtbot.mouseClick(
            tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(item).center()
        )
    assert blocker.args[0].path == ("block", "inner_b")
    with qtbot.waitSignal(tree.layer_selected) as blocker:
        qtbot.keyClick(tree, Qt.Key.Key_Down)
    assert blocker.args[0].name == "flatten"
    with qtbot.assertNotEmitted(tree.layer_selected):
        tree.select_layer(("block", "inner_a"))
        tree.set_summary(_summary())
        tree.select_layer(("conv1",))
    assert tree.current_layer().name == "conv1"


def _shown_columns(tree: LayerTree) -> list[str]:
    header = tree.headerItem()
    return [header.text(c) for c in range(tree.columnCount()) if not tree.isColumnHidden(c)]


def test_a_narrow_layer_tree_hides_params_then_type_instead_of_cutting_every_column(qtbot):
    # At 1280x720 the tree is ~300 px: five columns cut to 40 px showed "C…" and "1…".
    tree = LayerTree()
    qtbot.addWidget(tree)
    tree.resize(900, 400)
    tree.show()
    tree.set_summary(_summary())
    assert _shown_columns(tree) == ["Layer", "Type", "Output", "Params", "Shows"]
    needed = {c: tree.sizeHintForColumn(c) for c in range(tree.columnCount())}
    tree.resize(needed[0] + needed[2] + needed[4] + 60, 400)
    qtbot.waitUntil(lambda: tree.isColumnHidden(3))
    assert _shown_columns(tree) == ["Layer", "Output", "Shows"]
    for column in (0, 2):  # what is shown is shown whole
        assert tree.columnWidth(column) >= needed[column]
    item = _item_for(tree, "dense")
    assert "401,536 parameters" in item.toolTip(0) and "Dense" in item.toolTip(4)
    tree.resize(900, 400)  # wider again: they come back
    qtbot.waitUntil(lambda: not tree.isColumnHidden(3))
    assert _shown_columns(tree) == ["Layer", "Type", "Output", "Params", "Shows"]


def test_long_nested_names_are_cut_before_shows_and_nothing_scrolls_sideways(qtbot):
    # MobileNetV2 inside a Sequential: 150 rows of names like block_16_depthwise_relu.
    inner = tuple(
        _conv(f"block_{k}_depthwise_relu", 960, ("mobilenetv2_1.00_96",)) for k in range(150)
    )
    base = LayerInfo(
        ("mobilenetv2_1.00_96",), "mobilenetv2_1.00_96", "Functional", (None, 3, 3, 1280),
        2_257_984, LayerKind.CHANNELS, 1280, children=inner,
    )  # fmt: skip
    tree = LayerTree()
    qtbot.addWidget(tree)
    tree.resize(300, 500)
    tree.show()
    tree.set_summary(ModelSummary("nested", "x.keras", (96, 96, 3), (0.0, 1.0), (), (base,)))
    qtbot.wait(50)  # the vertical scroll bar appears once the rows are laid out
    assert tree.verticalScrollBar().isVisible()
    assert tree.horizontalScrollBar().maximum() == 0
    assert _shown_columns(tree) == ["Layer", "Shows"]
    assert tree.columnWidth(4) >= tree.sizeHintForColumn(4)  # "960 channels", whole
    assert tree.columnWidth(0) < tree.sizeHintForColumn(0)  # the name gave way


# ----------------------------------------------------------------------------- filter picker


def _picker(qtbot, units: int = 6) -> FilterPicker:
    picker = FilterPicker()
    qtbot.addWidget(picker)
    picker.resize(400, 300)
    picker.show()
    picker.set_layer(_conv("conv1", units))
    return picker


def test_filter_picker_click_and_arrow_keys_emit_the_unit(qtbot) -> None:
    picker = _picker(qtbot)
    assert picker.unit_count() == picker.count() == 6
    assert picker.current_unit() is None
    assert picker.item(2).text() == "#2"
    with qtbot.waitSignal(picker.filter_selected) as blocker:
        qtbot.mouseClick(
            picker.viewport(),
            Qt.MouseButton.LeftButton,
            pos=picker.visualItemRect(picker.item(2)).center(),
        )
    assert blocker.args == [2]
    with qtbot.waitSignal(picker.filter_selected) as blocker:
        qtbot.keyClick(picker, Qt.Key.Key_Right)
    assert blocker.args == [3]
    with qtbot.waitSignal(picker.filter_activated) as blocker:
        qtbot.keyClick(picker, Qt.Key.Key_Return)
    assert blocker.args == [3]
    with qtbot.assertNotEmitted(picker.filter_selected):
        picker.select_unit(5)
        picker.select_unit(None)
    assert picker.current_unit() is None


def test_feature_maps_are_normalized_per_channel_and_visualizations_win(qtbot) -> None:
    picker = _picker(qtbot, units=3)
    rng = np.random.default_rng(0)
    base = rng.normal(size=(5, 5, 1)).astype(np.float32)
    picker.set_feature_maps(np.concatenate([base, base * 1000, base], axis=-1))
    first, scaled = picker.thumbnail(0), picker.thumbnail(1)
    assert first.shape == (5, 5, 3) and first.std() > 0
    assert np.abs(first.astype(int) - scaled.astype(int)).max() <= 1
    grown = np.full((4, 4, 3), [1.0, 0.0, 0.0], np.float32)
    picker.set_visualization(2, grown)
    picker.set_feature_maps(np.zeros((5, 5, 3), np.float32))
    np.testing.assert_array_equal(picker.thumbnail(2), to_rgb8(grown))
    assert (picker.thumbnail(0) == picker.thumbnail(0)[0, 0]).all()  # constant channel: flat
    picker.set_layer(_conv("conv1", 3))  # a new layer forgets old visualizations
    assert not np.array_equal(picker.thumbnail(2), to_rgb8(grown))
    picker.clear()
    assert picker.unit_count() == 0
    picker.set_feature_maps(None)


def test_dense_values_become_grey_squares_with_the_value_in_the_label(qtbot) -> None:
    picker = FilterPicker()
    qtbot.addWidget(picker)
    layer = LayerInfo(("out",), "out", "Dense", (None, 3), 30, LayerKind.UNITS, 3, True)
    picker.set_layer(layer, labels=["cat", "dog", "eel"])
    picker.set_feature_maps(np.array([0.5, -1.0, 2.0], np.float32))
    assert [picker.thumbnail(k)[0, 0, 0] for k in range(3)] == [64, 0, 255]
    assert picker.item(0).text() == "cat  0.5"
    picker.set_feature_maps(None)
    assert picker.item(0).text() == "cat"


# ----------------------------------------------------------------------------- canvas


def test_canvas_shows_the_exact_pixels_and_paints_them(qtbot) -> None:
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(300, 300)
    canvas.show()
    assert canvas.current_rgb8() is None
    image = np.zeros((28, 28, 3), np.float32)
    image[:, :, 0] = 1.0  # pure red: easy to find in a screenshot
    canvas.show_image(image, title="conv1 #3")
    rgb = canvas.current_rgb8()
    assert canvas.title() == "conv1 #3"
    np.testing.assert_allclose(rgb, to_rgb8(image), atol=1)
    assert rgb[0, 0].tolist() == [255, 0, 0]
    shot = canvas.grab().toImage()
    center = QColor(shot.pixel(shot.width() // 2, shot.height() // 2 + 10))
    assert (center.red(), center.green(), center.blue()) == (255, 0, 0)
    canvas.show_image(np.full((28, 28, 1), 0.5), colormap="viridis")
    assert canvas.current_rgb8()[0, 0].tolist() != [128, 128, 128]
    canvas.show_map(np.arange(6.0).reshape(2, 3))
    assert canvas.current_rgb8().shape == (2, 3, 3)
    canvas.clear("nothing yet")
    assert canvas.current_rgb8() is None and canvas.title() == ""


def test_canvas_keeps_the_users_zoom_until_the_shape_changes(qtbot) -> None:
    canvas = Canvas()
    qtbot.addWidget(canvas)
    canvas.resize(300, 300)
    canvas.show()
    canvas.show_image(np.zeros((28, 28, 1)))
    canvas.view.setRange(xRange=(5, 10), yRange=(5, 10), padding=0)  # the user zooms in
    zoomed = canvas.view.viewRange()
    canvas.show_image(np.ones((28, 28, 1)))
    assert canvas.view.viewRange() == zoomed
    canvas.show_image(np.ones((56, 56, 1)))
    (x0, x1), (y0, y1) = canvas.view.viewRange()
    assert x0 <= 0 and x1 >= 56 and y0 <= 0 and y1 >= 56


def test_canvas_export_png_upscales_and_refuses_when_empty(qtbot, tmp_path) -> None:
    canvas = Canvas()
    qtbot.addWidget(canvas)
    with pytest.raises(ValueError, match="nothing to export"):
        canvas.export_png(str(tmp_path / "empty.png"))
    image = np.random.default_rng(1).random((28, 20, 3)).astype(np.float32)
    canvas.show_image(image)
    target = tmp_path / "out.png"
    canvas.export_png(str(target))
    with Image.open(target) as saved:
        assert saved.size == (20 * 13, 28 * 13)
        pixels = np.asarray(saved.convert("RGB"))
    np.testing.assert_array_equal(pixels[::13, ::13], canvas.current_rgb8())
    with pytest.raises(OSError, match="missing"):
        canvas.export_png(str(tmp_path / "missing" / "out.png"))


# ----------------------------------------------------------------------------- the rest


def test_objective_plot_appends_consecutive_steps(qtbot) -> None:
    plot = ObjectivePlot()
    qtbot.addWidget(plot)
    plot.append([0.1, 0.2])
    plot.append(np.linspace(0, 1, 3000))
    assert plot.values()[:2] == [0.1, 0.2] and len(plot.values()) == 3002
    qtbot.waitUntil(lambda: plot.curve.getOriginalDataset()[0] is not None, timeout=2_000)
    x, _y = plot.curve.getOriginalDataset()  # redrawn by its timer, a few times a second
    assert x[0] == 1 and x[-1] == 3002
    low, high = plot.getViewBox().viewRange()[1]
    assert low <= 0.0 and high >= 1.0  # the whole curve is in view
    plot.reset("conv1 #3")
    assert plot.values() == []


def test_controls_round_trip_through_qsettings_and_stop_emits(qtbot, tmp_path) -> None:
    controls = AscentControls()
    qtbot.addWidget(controls)
    assert controls.settings() == Recipe()
    wanted = Recipe(steps=999, learning_rate=0.1234, jitter=4, seed=2**31 - 1, frame_every=7)
    controls.set_settings(wanted)
    store = QSettings(str(tmp_path / "convscope.ini"), QSettings.Format.IniFormat)
    controls.save(store)
    store.sync()
    fresh = AscentControls()
    qtbot.addWidget(fresh)
    fresh.restore(QSettings(str(tmp_path / "convscope.ini"), QSettings.Format.IniFormat))
    assert fresh.settings() == wanted
    store.setValue("ascent/steps", "garbage")
    store.setValue("ascent/seed", 10**12)
    store.remove("ascent/jitter")
    fresh.set_settings(Recipe())
    fresh.restore(store)
    assert fresh.settings().steps == 256 and fresh.settings().jitter == 1
    assert fresh.settings().seed == 2**31 - 1
    assert not controls.stop_button.isEnabled()
    controls.set_running(True)
    controls.set_progress(120, 256)
    assert controls.progress_label.text() == "step 120 / 256"
    with qtbot.waitSignal(controls.stop_requested):
        qtbot.mouseClick(controls.stop_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(controls.restart_requested):
        qtbot.mouseClick(controls.restart_button, Qt.MouseButton.LeftButton)


def test_predictions_panel_rows_top_first(qtbot) -> None:
    panel = PredictionsPanel()
    qtbot.addWidget(panel)
    predictions = [Prediction(k, f"class{k}", p) for k, p in enumerate([0.05, 0.9, 0.01])]
    panel.set_predictions("seven.png", predictions, notes=["converted to greyscale"])
    assert panel.rows() == [("class1", 0.9), ("class0", 0.05), ("class2", 0.01)]
    assert panel.percent_labels[0].text() == "90.0%" and panel.bars[0].value() == 900
    assert panel.bars[3].isHidden()
    assert panel.notes_label.text() == "converted to greyscale"
    panel.clear()
    assert panel.rows() == [] and panel.header_label.text().startswith("Drop an image")


def test_message_bar_shows_and_hides(qtbot) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    bar = MessageBar(window)
    window.show()
    assert bar.isHidden()  # a window shows no empty bar
    bar.show_error("could not load model.keras")
    assert bar.isVisible() and bar.is_error() and bar.text() == "could not load model.keras"
    qtbot.mouseClick(bar.close_button, Qt.MouseButton.LeftButton)
    assert bar.isHidden()
    bar.show_info("stopped at step 12")
    assert bar.isVisible() and not bar.is_error()
    bar.clear()
    assert bar.isHidden() and bar.text() == ""
