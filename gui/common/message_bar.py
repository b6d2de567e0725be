"""A dismissible strip over the top of the workspace for errors and notices that need reading.

It floats over the window's widgets rather than taking a place in their layout: a message that
comes and goes must not push the columns down and up again (or change the canvas's size).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QWidget,
)

# Space between the bar and the edges of the widget it floats over.
OVERLAY_MARGIN = 6

# Fixed light backgrounds with dark text stay readable on both light and dark themes.
_ERROR_STYLE = (
    "QFrame#MessageBar { background: #fde2e1; border: 1px solid #e8a09c; border-radius: 4px; }"
    " QFrame#MessageBar QLabel { color: #5c1512; }"
)
_INFO_STYLE = (
    "QFrame#MessageBar { background: #e1effd; border: 1px solid #9cc3e8; border-radius: 4px; }"
    " QFrame#MessageBar QLabel { color: #12365c; }"
)


class MessageBar(QFrame):
    """Hidden until there is something to say; the × hides it again."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MessageBar")
        # Never taller than its text: it covers the top of the workspace while shown.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._error = False
        self._action: Callable[[], object] | None = None
        self._below: QWidget | None = None  # the widget the floating bar stays under

        self.icon_label = QLabel()
        self.icon_label.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.text_label = QLabel()
        self.text_label.setWordWrap(True)
        # Selectable so the user can paste an error message into a bug report.
        self.text_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text_label.setTextFormat(Qt.TextFormat.PlainText)
        self.text_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.close_button = QToolButton()
        self.close_button.setText("×")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Dismiss")
        # What the user can do about the message, e.g. "Open anyway"; hidden when nothing.
        self.action_button = QPushButton()
        self.action_button.setVisible(False)

        self.close_button.clicked.connect(self._on_close_button_clicked)
        self.action_button.clicked.connect(self._on_action_button_clicked)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.icon_label, alignment=Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.text_label, stretch=1)
        layout.addWidget(self.action_button, alignment=Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.close_button, alignment=Qt.AlignmentFlag.AlignTop)
        self.setVisible(False)

    # ------------------------------------------------------------------------------- public API

    def float_over(self, host: QWidget, below: QWidget | None = None) -> None:
        """Float over the top of `host` (its child, outside any layout), as wide as `host`;
        with `below` (a tab bar inside `host`), just under it, so that it stays usable."""
        self.setParent(host)
        self._below = below
        host.installEventFilter(self)
        self._place()

    def show_error(
        self,
        text: str,
        action_text: str | None = None,
        action: Callable[[], object] | None = None,
    ) -> None:
        """Show `text` as an error, with a warning sign on a reddish background; with
        `action_text` and `action`, a button that hides the bar and calls `action`."""
        self._show(text, error=True)
        self._set_action(action_text, action)

    def show_info(self, text: str) -> None:
        """Show `text` as a notice on a bluish background."""
        self._show(text, error=False)
        self._set_action(None, None)

    def text(self) -> str:
        """The message shown, without the sign."""
        return self.text_label.text()

    def is_error(self) -> bool:
        """Whether the message is an error."""
        return self._error

    def clear(self) -> None:
        """Forget the message and hide."""
        self.text_label.setText("")
        self._error = False
        self._set_action(None, None)
        self.setVisible(False)

    # ------------------------------------------------------------------------------- helpers

    def _show(self, text: str, *, error: bool) -> None:
        self._error = error
        self.icon_label.setText("⚠" if error else "ℹ")
        self.text_label.setText(text)
        self.setStyleSheet(_ERROR_STYLE if error else _INFO_STYLE)
        self.setVisible(True)
        self._place()

    def _place(self) -> None:
        # Over the host's top edge, as tall as the wrapped text needs, above its other children.
        host = self.parentWidget()
        if host is None or self.isWindow():
            return
        width = max(1, host.width() - 2 * OVERLAY_MARGIN)
        top = OVERLAY_MARGIN
        if self._below is not None:
            top += self._below.mapTo(host, QPoint(0, self._below.height())).y()
        height = self.heightForWidth(width) if self.hasHeightForWidth() else -1
        if height < 0:
            height = self.sizeHint().height()
        self.setGeometry(OVERLAY_MARGIN, top, width, height)
        self.raise_()

    def _set_action(self, text: str | None, action: Callable[[], object] | None) -> None:
        had_action = self._action is not None
        self._action = action if text and action is not None else None
        if self._action is not None:
            self.action_button.setText(text or "")
        if had_action or self._action is not None:  # leave a hidden button alone
            self.action_button.setVisible(self._action is not None)

    # ------------------------------------------------------------------------------- events

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize:
            self._place()
        return super().eventFilter(watched, event)

    # ------------------------------------------------------------------------------- slots

    def _on_action_button_clicked(self) -> None:
        action = self._action
        self.clear()
        if action is not None:
            action()

    def _on_close_button_clicked(self) -> None:
        self.setVisible(False)
