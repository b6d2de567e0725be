"""Small things a user reads: conversion notes, circuit names, exported colorbars, and the
picture `--screenshot --tab filters --filter N` takes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QPalette

from engine.protocol import Ascend, Circuit, CircuitLink, Prediction, ShowKernels
from gui.common.predictions import PredictionsPanel, muted_text_color
from gui.filters.circuit_view import CircuitView
from gui.network.feature_grids import export_picture, layer_grid, strip_labels, write_layer_grids
from gui.startup import Startup

LONG_NOTE = (
    "resized 4032×3024 → 224×224 without keeping the aspect ratio; converted colour to "
    "greyscale by the luminance weights; values scaled from 0..255 to the model's 0..1; "
    "the alpha channel was dropped"
)


def _luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG relative luminance of an sRGB colour."""
    parts = [c / 255 for c in rgb]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in parts]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_conversion_note_is_enabled_and_contrasts_with_the_panel(qtbot) -> None:
    panel = PredictionsPanel()
    qtbot.addWidget(panel)
    panel.set_predictions("cat.png", [Prediction(0, "cat", 0.9)], notes=["converted to grey"])
    note = panel.notes_label
    assert note.isEnabled() and note.text() == "converted to grey"
    ink = muted_text_color(note.palette()).getRgb()[:3]
    paper = note.palette().color(QPalette.ColorRole.Window).getRgb()[:3]
    assert _contrast(ink, paper) >= 4.5  # WCAG AA for body text; the disabled grey is not
    assert note.font().pointSizeF() >= 0.9 * panel.font().pointSizeF()


def test_a_long_note_is_cut_to_two_lines_with_all_of_it_in_the_tooltip(qtbot) -> None:
    panel = PredictionsPanel()
    qtbot.addWidget(panel)
    panel.resize(300, 300)
    panel.show()
    qtbot.waitExposed(panel)
    panel.set_predictions("cat.png", [Prediction(0, "cat", 0.9)], notes=LONG_NOTE.split("; "))
    note = panel.notes_label
    lines = note.shown_lines()
    assert note.is_elided() and len(lines) == 2 and lines[-1].endswith("…")
    assert note.toolTip() == "; ".join(LONG_NOTE.split("; "))
    assert note.height() < 3 * note.fontMetrics().lineSpacing()
    panel.set_predictions("cat.png", [Prediction(0, "cat", 0.9)], notes=["converted to grey"])
    assert not note.is_elided() and note.toolTip() == ""


def test_a_long_file_name_in_the_header_is_cut_with_a_tooltip(qtbot) -> None:
    panel = PredictionsPanel()
    qtbot.addWidget(panel)
    panel.resize(260, 200)
    panel.show()
    qtbot.waitExposed(panel)
    name = "a_photo_with_a_very_long_file_name_from_a_camera_IMG_20240101_123456.png"
    panel.set_predictions(name, [Prediction(0, "cat", 0.9)])
    assert panel.header_label.is_elided() and panel.header_label.toolTip() == name
    assert panel.width() <= 260


def _circuit(source: tuple[str, ...]) -> Circuit:
    kernel = np.arange(9, dtype=np.float32).reshape(3, 3) - 4
    links = (CircuitLink(source, 7, 1.0, -0.5, kernel, ("pool2", "batch_normalization_12")),)
    return Circuit(1, ("conv3",), 5, links)


def test_a_long_channel_name_in_a_circuit_is_cut_with_a_tooltip(qtbot) -> None:
    view = CircuitView()
    qtbot.addWidget(view)
    view.resize(420, 300)  # the Filters tab's width in a 1280×720 window
    view.show()
    qtbot.waitExposed(view)
    long_name = ("block_3_expand_relu_with_a_name_longer_than_any_column",)
    view.show_circuit(_circuit(long_name), "conv3 #5 of a model whose layers have long names")
    assert view.width() <= 420  # the long title did not widen the tab
    item = view.table.item(0, 3)
    name = "block_3_expand_relu_with_a_name_longer_than_any_column #7"
    shown = view.table.fontMetrics().horizontalAdvance(item.text())
    assert shown > view.table.columnWidth(3)  # too long: the table cuts it with "…"
    assert item.toolTip().startswith(f"{name} (via pool2, batch_normalization_12)")
    assert "inhibitory" in item.toolTip() and "sum -0.5" in item.toolTip()
    assert view.title_label.is_elided() and "long names" in view.title_label.toolTip()
    right = view.table.columnViewportPosition(4) + view.table.columnWidth(4)
    assert right <= view.table.viewport().width()  # every column in view, none cut off


def _bottom_strip(picture: np.ndarray, grid_height: int) -> np.ndarray:
    """The row under the grid with the most distinct colours (a gradient: more than text)."""
    strip = picture[grid_height:].astype(int)
    counts = [len({tuple(p) for p in row}) for row in strip]
    return strip[int(np.argmax(counts))]


@pytest.mark.parametrize("maps", [np.linspace(-1, 3, 7 * 7 * 9).reshape(7, 7, 9), np.arange(10.0)])
def test_an_exported_grid_has_a_colorbar_under_it(tmp_path, maps) -> None:
    (written,) = write_layer_grids({("block", "conv"): maps}, tmp_path)
    grid = layer_grid(maps)
    with Image.open(written) as image:
        picture = np.asarray(image.convert("RGB"))
    assert written.name == "block-conv.png"
    assert picture.shape[0] > grid.shape[0] and picture.shape[1] >= grid.shape[1]
    assert np.array_equal(picture[: grid.shape[0], : grid.shape[1]], grid)
    row = _bottom_strip(picture, grid.shape[0])
    colors = row[(row != 255).any(axis=1)]  # the bar without the white margins
    assert len({tuple(p) for p in colors}) > 100  # a gradient, not a flat band
    brightness = colors.sum(axis=1)
    assert brightness[:10].mean() < brightness[-10:].mean() - 300  # viridis: dark low, left
    assert np.array_equal(picture, export_picture(maps))


def test_colorbar_labels_follow_how_the_grid_was_scaled() -> None:
    labels, caption = strip_labels(np.array([-2.0, 0.0, 6.0]))
    assert labels == [(0.0, "-2"), (1.0, "6"), (0.25, "0")]  # Dense: one scale, zero marked
    labels, caption = strip_labels(np.linspace(-1, 3, 18).reshape(3, 3, 2))
    # Channel maps are each scaled to their own range: the ends cannot be one number each.
    assert [text for _, text in labels] == ["map min", "map max"]
    assert "own min" in caption and "-1 to 3" in caption


@pytest.fixture
def bare_window(qtbot, engine):
    from fake_engine import fake_window

    return fake_window(qtbot, engine, model=False)


def test_the_screenshot_path_picks_the_filter_as_a_click_does(bare_window, engine) -> None:
    startup = Startup(bare_window, None, None, layer=("conv2",), unit=5, tab="filters")
    startup.begin()
    engine.load()
    engine.open()
    assert bare_window.ui.filter_picker.current_unit() == 5 and bare_window.state.unit == 5
    kernels = engine.last(ShowKernels)
    assert (kernels.layer, kernels.unit) == (("conv2",), 5)  # the Filters tab shows filter 5
    run = engine.last(Ascend)
    assert (run.layer, run.unit) == (("conv2",), 5)  # and its image grows for the picture
    assert len(engine.of_type(Ascend)) == 1


def test_a_filter_the_layer_lacks_is_named_not_a_crash(bare_window, engine) -> None:
    Startup(bare_window, None, None, layer=("conv2",), unit=999, tab="filters").begin()
    engine.load()
    engine.open()
    text = bare_window.ui.message_bar.text()
    assert "No filter #999 in conv2" in text and engine.of_type(Ascend) == []
