"""The Help menu's window: one browser showing the first five minutes, the keyboard shortcuts,
About or the README's sections, and the menu's slots that open it on each page."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from gui.dialogs import help_pages
from gui.dialogs.help_pages import PAGES, README_PATH

ActionsSource = Callable[[], Mapping[str, QAction]]


def open_url(url: QUrl) -> bool:
    """Open `url` with the desktop's program for it (a module function so tests can stub it)."""
    return QDesktopServices.openUrl(url)


class HelpDialog(QDialog):
    """A non-modal help window; `show_page(name)` switches what it shows."""

    def __init__(self, actions: ActionsSource, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("convscope Help")
        self.resize(760, 640)
        self._actions = actions
        self.page = ""
        self.browser = QTextBrowser(self)
        # Links are handled here: help: links switch pages, files open outside the dialog.
        self.browser.setOpenLinks(False)
        self.browser.anchorClicked.connect(self._on_browser_anchor_clicked)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)

    def show_page(self, name: str) -> None:
        """Show page `name` (one of PAGES) and bring the window to the front."""
        if name not in PAGES:
            raise ValueError(f"help page {name!r} is not one of {sorted(PAGES)}")
        builders: dict[str, Callable[[], str]] = {
            "tour": help_pages.tour_html,
            "shortcuts": lambda: help_pages.shortcuts_html(self._actions()),
            "about": help_pages.about_html,
            "readme": help_pages.readme_html,
        }
        self.page = name
        self.browser.setHtml(builders[name]())
        self.show()
        self.raise_()
        self.activateWindow()

    def _on_browser_anchor_clicked(self, url: QUrl) -> None:
        if url.scheme() == "help":
            page = url.path()
            if page in PAGES:
                self.show_page(page)
            return
        open_url(url)


class HelpMenu:
    """The Help menu's slots; the dialog is made when first asked for and then kept."""

    def __init__(self, parent: QWidget, actions: ActionsSource) -> None:
        self._parent = parent
        self._actions = actions
        self.dialog: HelpDialog | None = None

    def _show(self, page: str) -> None:
        if self.dialog is None:
            self.dialog = HelpDialog(self._actions, self._parent)
        self.dialog.show_page(page)

    def show_tour(self) -> None:
        """Help › First Five Minutes (F1)."""
        self._show("tour")

    def show_shortcuts(self) -> None:
        """Help › Keyboard Shortcuts."""
        self._show("shortcuts")

    def show_about(self) -> None:
        """Help › About convscope."""
        self._show("about")

    def show_readme_sections(self) -> None:
        """Help › README Sections: the sections, as links."""
        self._show("readme")

    def open_readme(self) -> None:
        """Help › Open README: README.md in the desktop's program for it."""
        open_url(QUrl.fromLocalFile(str(README_PATH)))
