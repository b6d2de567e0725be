"""The pages of the Help menu as HTML: the first five minutes, the keyboard shortcuts (read from
the window's own actions), About (versions) and the README's sections. No widgets here."""

from __future__ import annotations

import html
import platform
import re
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import qVersion
from PySide6.QtGui import QAction, QKeySequence

REPO_ROOT = Path(__file__).resolve().parents[2]
HELP_DIR = REPO_ROOT / "resources" / "help"
README_PATH = REPO_ROOT / "README.md"
PYPROJECT_PATH = REPO_ROOT / "pyproject.toml"

# Internal links of the help pages: "help:<page>" switches the dialog to that page.
PAGES = {
    "tour": "First five minutes",
    "shortcuts": "Shortcuts",
    "about": "About",
    "readme": "README",
}

# (picture in resources/help/, heading, what to do): the walk-through of the first five minutes.
TOUR: tuple[tuple[str, str, str], ...] = (
    ("window.png", "1. Pick a layer, click a filter",
     "The built-in MNIST CNN is open. Choose a layer in the tree on the left (conv3 is picked "
     "to start with) and click one of its filters in the grid below it."),
    ("grow.png", "2. Watch it grow",
     "The Visualize tab grows an image that makes that filter fire: the canvas repaints as the "
     "run goes and the curve under it shows the objective rising. Esc stops, F5 runs again, "
     "Shift+F5 goes on from where it stopped."),
    ("explain.png", "3. Explain an image",
     "Open a picture (Ctrl+O, or File › Samples), then press F6: the Explain tab shows which "
     "pixels the model's answer rests on, with the method chosen in that tab."),
    ("network.png", "4. Look through the network",
     "The Network tab shows the feature maps of every layer for the current image; Ctrl+M "
     "shows the selected filter's map large."),
    ("dataset.png", "5. Check it on real data",
     "Run › Evaluate on Held-out MNIST Digits predicts 2,000 real digits the model never saw; "
     "the Dataset tab shows the accuracy, the confusion matrix and the digits it got wrong."),
)  # fmt: skip


def _plain(text: str) -> str:
    """A menu text without its mnemonic ampersands or trailing ellipsis."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def shortcut_rows(actions: Mapping[str, QAction]) -> list[tuple[str, str, str]]:
    """(shortcut, action, what it does) for every action of `actions` with a shortcut, in the
    order given, each QAction once: the table is read from the window, so it never goes stale."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()
    for action in actions.values():
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.PortableText)
        if not keys or id(action) in seen:
            continue
        seen.add(id(action))
        rows.append((keys, _plain(action.text()), action.statusTip()))
    return rows


def _package_version(name: str) -> str:
    # importlib.metadata reads the installed package's metadata without importing it, so the
    # window learns TensorFlow's version without loading TensorFlow (gui/ never imports it).
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def convscope_version() -> str:
    """convscope's version: the installed package's, else the one pyproject.toml names."""
    try:
        return metadata.version("convscope")
    except metadata.PackageNotFoundError:
        pass
    try:
        text = PYPROJECT_PATH.read_text(encoding="utf-8")
    except OSError:
        return "unknown"
    found = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return found.group(1) if found else "unknown"


def versions() -> dict[str, str]:
    """The versions About shows, by name."""
    return {
        "convscope": convscope_version(),
        "TensorFlow": _package_version("tensorflow"),
        "Keras": _package_version("keras"),
        "Qt": qVersion(),
        "PySide6": pyside_version,
        "NumPy": _package_version("numpy"),
        "Python": platform.python_version(),
    }


def readme_sections(path: Path = README_PATH) -> list[str]:
    """The README's "## " headings, in order (none when the file cannot be read); headings
    inside ``` code blocks are not sections."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    sections, in_code = [], False
    for line in lines:
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("## "):
            sections.append(line[3:].strip())
    return sections


def _page(title: str, body: str) -> str:
    nav = " · ".join(f'<a href="help:{name}">{label}</a>' for name, label in PAGES.items())
    return f"<p>{nav}</p><h2>{html.escape(title)}</h2>{body}"


def tour_html(help_dir: Path = HELP_DIR) -> str:
    """The first five minutes, each step with its picture where the picture exists."""
    parts = []
    for picture, heading, text in TOUR:
        parts.append(f"<h3>{html.escape(heading)}</h3><p>{html.escape(text)}</p>")
        if (help_dir / picture).is_file():
            parts.append(f'<p><img src="{(help_dir / picture).as_uri()}"></p>')
    return _page("The first five minutes", "".join(parts))


def shortcuts_html(actions: Mapping[str, QAction]) -> str:
    """The keyboard shortcuts as a table."""
    cells = "".join(
        f"<tr><td><b>{html.escape(keys)}</b></td><td>{html.escape(name)}</td>"
        f"<td>{html.escape(tip)}</td></tr>"
        for keys, name, tip in shortcut_rows(actions)
    )
    table = f'<table cellpadding="3"><tr><th>Keys</th><th>Action</th><th></th></tr>{cells}</table>'
    return _page("Keyboard shortcuts", table)


def about_html() -> str:
    """convscope and the versions of what it runs on."""
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td><b>{html.escape(value)}</b></td></tr>"
        for name, value in versions().items()
    )
    intro = "<p>A desktop workbench for seeing inside convolutional neural networks.</p>"
    return _page("About convscope", f'{intro}<table cellpadding="3">{rows}</table>')


def readme_html(path: Path = README_PATH) -> str:
    """The README's sections as links; each opens README.md."""
    sections = readme_sections(path)
    if not sections:
        return _page("README", f"<p>{html.escape(str(path))} could not be read.</p>")
    uri = path.as_uri()
    items = "".join(f'<li><a href="{uri}">{html.escape(name)}</a></li>' for name in sections)
    return _page("README", f"<p>{html.escape(str(path))}</p><ul>{items}</ul>")
