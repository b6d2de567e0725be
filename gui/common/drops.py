"""Dropping a file or folder on a tab that takes one (the Dataset and Microscope tabs)."""

from __future__ import annotations

from PySide6.QtGui import QDragEnterEvent, QDropEvent


def accept_file_drag(event: QDragEnterEvent) -> None:
    """Let a drag of files or folders land; anything else (text, pictures) is refused."""
    if event.mimeData().hasUrls():
        event.acceptProposedAction()


def dropped_path(event: QDropEvent) -> str | None:
    """The first local file or folder of a drop (the drop is taken either way), or None."""
    local = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
    event.acceptProposedAction()
    return local[0] if local else None
