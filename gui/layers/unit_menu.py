"""The right-click menu of a filter thumbnail: what a click with or without Ctrl/Shift does,
for those whose window manager takes Alt+click (or who never knew the modifiers)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMenu, QWidget

MENU_VISUALIZE = "Visualize"
MENU_ADD = "Add to Objective"
MENU_SUBTRACT = "Subtract from Objective"
MENU_MAP = "Show Feature Map"


def unit_menu(
    parent: QWidget,
    visualize: Callable[[], object],
    add: Callable[[float], object],
    show_map: Callable[[], object],
) -> QMenu:
    """A menu of four entries: Visualize, Add to / Subtract from Objective (`add(±1.0)`) and
    Show Feature Map, each calling what it is given."""
    menu = QMenu(parent)
    menu.addAction(MENU_VISUALIZE).triggered.connect(lambda: visualize())
    menu.addAction(MENU_ADD).triggered.connect(lambda: add(1.0))
    menu.addAction(MENU_SUBTRACT).triggered.connect(lambda: add(-1.0))
    menu.addAction(MENU_MAP).triggered.connect(lambda: show_map())
    return menu
