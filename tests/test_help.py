"""The Help menu: its entries, the shortcuts table read from the window's actions, About's
versions (found without importing TensorFlow) and the README's sections as links."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl

from gui.dialogs import help_dialog, help_pages

REPO_ROOT = Path(__file__).resolve().parents[1]
# The dialog is raised when the menu asks for it again; the offscreen platform cannot raise.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support raise")


def _menu(window, title: str):
    for action in window.menuBar().actions():
        if action.text().replace("&", "") == title:
            return action.menu()
    raise AssertionError(f"no {title} menu in {[a.text() for a in window.menuBar().actions()]}")


def _trigger(window, name: str) -> help_dialog.HelpDialog:
    window.menu_actions[name].trigger()
    dialog = window.help.dialog
    assert dialog is not None and dialog.isVisible()
    return dialog


def test_the_help_menu_has_its_entries(window):
    entries = [a.text().replace("&", "") for a in _menu(window, "Help").actions() if a.text()]
    assert entries == [
        "First Five Minutes", "Keyboard Shortcuts", "README Sections", "Open README",
        "About convscope",
    ]  # fmt: skip
    assert window.menu_actions["help_tour"].shortcut().toString() == "F1"


def test_first_five_minutes_walks_through_with_pictures(window):
    dialog = _trigger(window, "help_tour")
    text = dialog.browser.toPlainText()
    for step in ("Pick a layer", "Watch it grow", "Explain an image", "Dataset tab"):
        assert step in text
    pictures = [help_pages.HELP_DIR / picture for picture, _, _ in help_pages.TOUR]
    for picture in pictures:
        assert picture.is_file() and picture.stat().st_size < 100_000
        assert picture.as_uri() in dialog.browser.toHtml()


def test_the_shortcuts_table_lists_every_action_with_a_shortcut(window):
    text = _trigger(window, "help_shortcuts").browser.toPlainText()
    for keys in ("Esc", "F5", "Shift+F5", "Ctrl+Shift+F5", "F6", "F1", "Ctrl+3"):
        assert keys in text
    with_keys = [a for a in window.menu_actions.values() if not a.shortcut().isEmpty()]
    assert len(help_pages.shortcut_rows(window.menu_actions)) == len(with_keys)
    # A shortcut added to the window later shows up without touching the help page.
    window.menu_actions["export_maps"].setShortcut("Ctrl+Alt+M")
    window.menu_actions["help_shortcuts"].trigger()
    assert "Ctrl+Alt+M" in window.help.dialog.browser.toPlainText()
    assert "Export Feature Maps (PNG per layer)" in window.help.dialog.browser.toPlainText()


def test_about_shows_the_versions(window):
    text = _trigger(window, "about").browser.toPlainText()
    for package in ("tensorflow", "keras", "numpy"):
        assert metadata.version(package) in text
    import PySide6
    from PySide6.QtCore import qVersion

    assert PySide6.__version__ in text and qVersion() in text
    assert help_pages.convscope_version() in text and "0." in help_pages.convscope_version()
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in text


def test_about_does_not_import_tensorflow():
    code = (
        "import sys; from gui.dialogs import help_pages; help_pages.about_html();"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_readme_sections_are_links_and_open_the_readme(window, monkeypatch):
    opened: list[QUrl] = []
    monkeypatch.setattr(help_dialog, "open_url", lambda url: opened.append(url) or True)
    dialog = _trigger(window, "help_readme_sections")
    text = dialog.browser.toPlainText()
    sections = help_pages.readme_sections()
    assert "What it does" in sections and "Development" in sections
    assert all(section in text for section in sections)
    dialog.browser.anchorClicked.emit(QUrl(help_pages.README_PATH.as_uri()))
    window.menu_actions["help_readme"].trigger()
    assert [url.toLocalFile() for url in opened] == [str(help_pages.README_PATH)] * 2
    dialog.browser.anchorClicked.emit(QUrl("help:about"))  # the dialog's own page links
    assert dialog.page == "about"


def test_an_unreadable_readme_or_unknown_page_is_said_not_crashed(window, tmp_path):
    assert help_pages.readme_sections(tmp_path / "missing.md") == []
    assert "could not be read" in help_pages.readme_html(tmp_path / "missing.md")
    fenced = tmp_path / "r.md"
    fenced.write_text("## One\n```\n## not a section\n```\n## Two\n", encoding="utf-8")
    assert help_pages.readme_sections(fenced) == ["One", "Two"]
    dialog = _trigger(window, "help_tour")
    with pytest.raises(ValueError, match="'nope'"):
        dialog.show_page("nope")
    dialog.browser.anchorClicked.emit(QUrl("help:nope"))  # a bad link leaves the page as it is
    assert dialog.page == "tour"
