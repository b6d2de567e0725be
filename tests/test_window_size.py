"""The window fits a 1280×720 screen (a 1366×768 laptop with its panel) with a model and an image
loaded, on every tab: wide panels scroll inside their column instead of widening the window."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QScrollArea

SMALL_SCREEN = (1280, 720)


def test_the_loaded_window_can_be_narrower_than_a_small_laptop_screen(window):
    hint = window.minimumSizeHint()
    assert hint.width() <= SMALL_SCREEN[0], hint
    assert hint.height() <= SMALL_SCREEN[1], hint


@pytest.mark.parametrize("tab", range(5))
def test_every_tab_fits_at_1280_by_720(qtbot, window, tab):
    window.ui.centre_tabs.setCurrentIndex(tab)
    window.resize(*SMALL_SCREEN)
    QApplication.processEvents()
    qtbot.waitUntil(lambda: window.width() == SMALL_SCREEN[0], timeout=2_000)
    assert window.height() == SMALL_SCREEN[1]
    assert window.minimumSizeHint().width() <= SMALL_SCREEN[0]


def test_wide_panels_scroll_rather_than_losing_their_controls(qtbot, window):
    window.show_tab(1)  # Explain: the widest control row
    window.resize(*SMALL_SCREEN)
    columns = window.ui.columns
    columns.setSizes([2000, 10, 2000])  # the user squeezes the centre column to its minimum
    QApplication.processEvents()
    area = window.ui.explain_panel.parentWidget().parentWidget()
    assert isinstance(area, QScrollArea)
    assert area.width() < window.ui.explain_panel.minimumSizeHint().width()
    qtbot.waitUntil(lambda: area.horizontalScrollBar().maximum() > 0, timeout=2_000)
    # Every control keeps its full size; the column scrolls to reach it.
    assert window.ui.explain_panel.width() >= window.ui.explain_panel.minimumSizeHint().width()
