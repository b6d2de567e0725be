"""File dialogs that start where the user last answered one, and remember it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

from gui.common.names import LAST_DIR_KEY


class FileDialogs:
    """Open, folder and save dialogs over `parent`, remembering the last folder in `settings`."""

    def __init__(self, parent: QWidget, settings: QSettings) -> None:
        self._parent = parent
        self._settings = settings

    def last_dir(self) -> Path:
        return Path(str(self._settings.value(LAST_DIR_KEY, str(Path.home()))))

    def open_file(self, title: str, filters: str, folder: str | None = None) -> str:
        """A file chosen by the user ('' if none), starting in `folder` or the last one."""
        path, _ = QFileDialog.getOpenFileName(
            self._parent, title, folder or str(self.last_dir()), filters
        )
        if path:
            self._remember_parent(path)
        return path

    def open_folder(self, title: str) -> str:
        """A folder chosen by the user ('' if none); the next dialog starts in it."""
        folder = QFileDialog.getExistingDirectory(self._parent, title, str(self.last_dir()))
        if folder:
            self._settings.setValue(LAST_DIR_KEY, folder)
        return folder

    def open_saved_model(self) -> str:
        """A SavedModel folder: a file dialog would step into it rather than return it."""
        path = QFileDialog.getExistingDirectory(
            self._parent, "Open SavedModel folder", str(self.last_dir())
        )
        if path:
            self._remember_parent(path)  # the folder holding the SavedModel, as for files
        return path

    def save_path(self, title: str, suffix: str, filters: str, stem: str) -> str:
        """Where to save ('' if cancelled), suggesting '<stem>.<suffix>' in the last folder."""
        suggested = self.last_dir() / f"{stem}.{suffix}"
        path, _ = QFileDialog.getSaveFileName(self._parent, title, str(suggested), filters)
        if path:
            self._remember_parent(path)
        return path

    def _remember_parent(self, path: str) -> None:
        self._settings.setValue(LAST_DIR_KEY, str(Path(path).parent))
