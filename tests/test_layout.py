"""A layout that stays put: long captions are cut (whole in the tooltip) instead of widening a
column, every tab fits a 1280×720 screen without scrolling sideways, messages float over the
workspace instead of pushing it down, and dragged splitters are remembered."""

from __future__ import annotations

import numpy as np
import pytest
from fake_engine import FakeEngine
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication, QScrollArea, QWidget

from gui.common.elided_label import ElidedLabel
from gui.common.names import Tab
from gui.layers.layer_tree import fit_widths

SMALL_SCREEN = (1280, 720)
LONG_CAPTION = (
    "predictions class '8' · done at step 512 · objective 41.3 · jitter 8 px · scale 1.05 · "
    "rotate 10° · decorrelated FFT · Adam lr 0.05 — model says 8 (100.0%)"
)


def _small(qtbot, window) -> None:
    window.resize(*SMALL_SCREEN)
    QApplication.processEvents()
    qtbot.waitUntil(lambda: window.width() == SMALL_SCREEN[0], timeout=2_000)


def _sideways_scrolling(window) -> list[str]:
    """The visible panels (scroll areas) and the layer tree that scroll sideways. (Tables of
    numbers and picture strips may: they are data, not the layout.)"""
    QApplication.processEvents()
    areas = [*window.findChildren(QScrollArea), window.ui.layer_tree]
    return [
        f"{type(area.widget() if isinstance(area, QScrollArea) else area).__name__}"
        for area in areas
        if area.isVisible() and area.horizontalScrollBar().isVisible()
    ]


@pytest.mark.parametrize("tab", list(Tab))
def test_no_tab_scrolls_sideways_at_1280_by_720(qtbot, window, tab):
    _small(qtbot, window)
    window.show_tab(tab)
    assert _sideways_scrolling(window) == []


def test_every_tab_name_shows_whole_at_1280_by_720(qtbot, window):
    # Seven names in the centre column: cut to 'Visu…', 'Ex…' or scrolled out of view, the
    # tab bar stops saying what is there.
    _small(qtbot, window)
    left, centre, right = window.ui.columns.sizes()
    # Side columns dragged wider, as users do to read the layer tree: the centre keeps ~420 px.
    window.ui.columns.setSizes([420, left + centre + right - 840, 420])
    QApplication.processEvents()
    bar = window.ui.centre_tabs.tabBar()
    metrics = bar.fontMetrics()
    for index in range(bar.count()):
        rect = bar.tabRect(index)
        assert bar.rect().contains(rect), (bar.tabText(index), rect, bar.rect())
        assert rect.width() > metrics.horizontalAdvance(bar.tabText(index)), bar.tabText(index)


def test_the_canvas_gets_the_room_at_1280_by_720(qtbot, window):
    _small(qtbot, window)
    left, centre, right = window.ui.columns.sizes()
    assert centre > left and centre > right, (left, centre, right)


@pytest.mark.parametrize("tab", [Tab.VISUALIZE, Tab.EXPLAIN])
def test_a_long_caption_is_cut_and_no_column_changes_width(qtbot, window, tab):
    _small(qtbot, window)
    window.show_tab(tab)
    before = window.ui.columns.sizes()
    canvas = window.ui.active_canvas()
    canvas.show_image(np.zeros((28, 28, 1), np.float32), LONG_CAPTION)
    window.feedback.say(f"Saved {'/very/long/folder' * 12}/run.png")
    QApplication.processEvents()
    assert window.ui.columns.sizes() == before
    assert window.width() == SMALL_SCREEN[0]
    assert _sideways_scrolling(window) == []
    label = canvas.title_label
    assert canvas.title() == LONG_CAPTION  # the whole text is kept, and read in the tooltip
    assert label.is_elided() and label.toolTip() == LONG_CAPTION
    assert label.width() <= canvas.width()


def test_long_model_file_names_do_not_push_model_b_off_screen(qtbot, window):
    _small(qtbot, window)
    window.show_tab(Tab.COMPARE)
    before = window.ui.columns.sizes()
    view = window.ui.compare_view
    name = "checkpoint_" + "very_long_name_" * 8 + "epoch_0042.keras"
    view.column_b.title_label.setText(f"B · {name}")
    view.set_loading_b(f"/home/someone/{'deep/' * 20}{name}")
    QApplication.processEvents()
    assert window.ui.columns.sizes() == before
    column_b, centre = view.column_b, window.ui.columns.widget(1)
    right_of_b = column_b.mapTo(window, QPoint(column_b.width(), 0)).x()
    assert right_of_b <= centre.mapTo(window, QPoint(centre.width(), 0)).x()
    assert column_b.title_label.toolTip().endswith(name)  # cut in the middle, whole in the tip
    assert _sideways_scrolling(window) == []


def test_a_message_floats_over_the_workspace_without_moving_it(qtbot, window):
    _small(qtbot, window)
    columns = window.ui.columns
    before = columns.geometry()
    canvas_before = window.ui.canvas.size()
    window.feedback.error("Could not open model.keras: " + "the file is broken. " * 30)
    QApplication.processEvents()
    bar = window.ui.message_bar
    assert bar.isVisible() and bar.is_error()
    assert columns.geometry() == before and window.ui.canvas.size() == canvas_before
    tabs = window.ui.centre_tabs.tabBar()
    under_tabs = tabs.mapTo(window.ui.central, tabs.rect().bottomLeft()).y()
    assert under_tabs < bar.geometry().top() < under_tabs + 20  # under the tabs, over the rest
    assert bar.width() > columns.width() * 0.9
    window.resize(1400, 860)  # it follows the window's width
    QApplication.processEvents()
    qtbot.waitUntil(lambda: bar.width() > 1300, timeout=2_000)
    bar.close_button.click()
    assert not bar.isVisible() and columns.geometry().top() == before.top()


def test_a_layer_with_nothing_to_show_is_information_not_an_error(qtbot, window):
    window.layers.select_layer(("flatten",))
    bar = window.ui.message_bar
    qtbot.waitUntil(bar.isVisible, timeout=2_000)
    assert not bar.is_error() and "no channels or units" in bar.text()


def test_dragged_splitters_are_remembered(qtbot):
    from fake_engine import fake_window

    window = fake_window(qtbot, FakeEngine())
    window.ui.columns.setSizes([360, 600, 440])
    window.ui.splitters["right"].setSizes([300, 420])
    QApplication.processEvents()
    columns, right = window.ui.columns.sizes(), window.ui.splitters["right"].sizes()
    window.close()
    again = fake_window(qtbot, FakeEngine())
    assert again.ui.columns.sizes() == columns
    assert again.ui.splitters["right"].sizes() == right
    again.close()


def test_an_elided_label_keeps_its_text_and_asks_for_little_room(qtbot):
    host = QWidget()
    qtbot.addWidget(host)
    label = ElidedLabel("short", host)
    label.setToolTip("what it means")
    label.resize(400, 20)
    assert not label.is_elided() and label.toolTip() == "what it means"
    label.setText(LONG_CAPTION)
    label.resize(120, 20)
    assert label.text() == LONG_CAPTION and label.is_elided()
    assert label.toolTip() == f"{LONG_CAPTION}\nwhat it means"
    assert label.minimumSizeHint().width() < 100
    label.setText("line one\nline two")
    assert label.text() == "line one line two"  # one line: it is a caption


def test_fit_widths_cuts_the_widest_columns_to_one_level():
    assert fit_widths([50, 60, 70], 500) == [50, 60, 70]
    assert fit_widths([40, 100, 200], 240) == [40, 100, 100]
    assert sum(fit_widths([74, 96, 68, 99], 211)) <= 211


def test_every_explain_method_fits_at_1280_by_720(qtbot, window):
    from engine.protocol import EXPLAIN_CATALOGUE

    _small(qtbot, window)
    window.show_tab(Tab.EXPLAIN)
    controls = window.ui.explain_panel.controls
    for method in EXPLAIN_CATALOGUE:
        controls.set_method(method)  # each shows its own option boxes in the row
        assert _sideways_scrolling(window) == [], method


def test_comparison_panels_name_every_method_whole(qtbot):
    from engine.protocol import EXPLAIN_CATALOGUE
    from gui.explain.comparison_strip import ComparisonStrip

    strip = ComparisonStrip()
    qtbot.addWidget(strip)
    metrics, cell = strip.grid.fontMetrics(), strip.grid.gridSize().width()
    for method in EXPLAIN_CATALOGUE.values():  # "Guided backpropagation" is not cut
        assert metrics.horizontalAdvance(method.title) < cell - 8, method.title


def test_the_kernel_tables_fit_at_1280_by_720(qtbot, window):
    _small(qtbot, window)
    window.show_tab(Tab.FILTERS)
    view = window.ui.filters_panel.kernel_view
    for page, table in ((0, view.stats_table), (1, view.filters_table)):
        view.pages.setCurrentIndex(page)
        QApplication.processEvents()
        header = table.horizontalHeader()
        used = sum(header.sectionSize(k) for k in range(header.count()))
        assert used <= table.viewport().width() + 1
        assert not table.horizontalScrollBar().isVisible()
