"""What the window tells the user: errors and notices in the message bar, a line in the status
bar, and the engine's own busy line."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QProgressBar

from engine.protocol import Status
from gui.common.message_bar import MessageBar


class Feedback(QObject):
    """The message bar and the status line, shared by every controller."""

    error_shown = Signal(str)  # an error the user now sees in the message bar

    def __init__(
        self,
        bar: MessageBar,
        status_label: QLabel,
        busy: QProgressBar,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._bar = bar
        self._status_label = status_label
        self._busy = busy
        self._status_is_busy = False  # the status line holds the engine's busy line

    def error(
        self, text: str, action_text: str | None = None, action: Callable[[], object] | None = None
    ) -> None:
        """Show `text` as an error, with a button doing `action` when given."""
        self._bar.show_error(text, action_text, action)
        self.error_shown.emit(text)

    def info(self, text: str) -> None:
        """Show `text` as a notice in the message bar."""
        self._bar.show_info(text)

    def clear(self) -> None:
        """Hide the message bar: what it said is about something the user has left."""
        self._bar.clear()

    def clear_notice(self) -> None:
        """Hide a notice, but leave an error for the user to read."""
        if not self._bar.is_error():
            self._bar.clear()

    def say(self, text: str) -> None:
        """Put `text` on the status line."""
        self._status_label.setText(text)
        self._status_is_busy = False

    def status_text(self) -> str:
        return self._status_label.text()

    def show_engine_status(self, status: Status) -> None:
        # "Ready" replaces only the engine's own busy line, not a result the window wrote.
        if status.busy or self._status_is_busy:
            self._status_label.setText(status.text)
        self._status_is_busy = status.busy
        self._busy.setVisible(status.busy)
