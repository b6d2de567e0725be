"""A small progress window for a model's weights downloading, with Cancel."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.protocol import DownloadProgress

_MB = 1024 * 1024
_STEPS = 1000  # the bar counts permille: a QProgressBar holds an int, files exceed 2 GB


def progress_text(progress: DownloadProgress) -> str:
    """'Downloading ImageNet weights for ResNet50: 12.3 of 98.0 MB' (no total: 'so far')."""
    done = progress.done_bytes / _MB
    if progress.total_bytes > 0:
        return f"Downloading {progress.what}: {done:.1f} of {progress.total_bytes / _MB:.1f} MB"
    return f"Downloading {progress.what}: {done:.1f} MB so far"


class DownloadDialog(QDialog):
    """Non-modal, opened with show(): the current model stays usable while the file arrives.
    Closing it (Esc, the title bar's ×) cancels like the Cancel button."""

    cancel_requested = Signal(int)  # request id of the LoadModel whose download to stop

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("Starting the download…")
        self.bar = QProgressBar()
        self.note = QLabel("Only the first time: Keras keeps the file in its cache.")
        self.buttons = QDialogButtonBox()
        self.cancel_button: QPushButton = self.buttons.addButton(
            QDialogButtonBox.StandardButton.Cancel
        )
        self._request_id = 0

        self.label.setWordWrap(True)
        self.note.setEnabled(False)  # greyed: a hint, not news
        self.bar.setRange(0, _STEPS)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)

        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)
        self.setWindowTitle("Downloading weights")
        self.setModal(False)
        self.setMinimumWidth(440)

    # ------------------------------------------------------------------ public setters

    def set_progress(self, progress: DownloadProgress) -> None:
        """Show how far the download of `progress.request_id` is; a new id starts afresh."""
        if progress.request_id != self._request_id:
            self._request_id = progress.request_id
            self.cancel_button.setEnabled(True)
        elif not self.cancel_button.isEnabled():
            return  # cancelling: keep saying so until the engine confirms
        self.label.setText(progress_text(progress))
        if progress.total_bytes > 0:
            self.bar.setRange(0, _STEPS)
            fraction = min(progress.done_bytes / progress.total_bytes, 1.0)
            self.bar.setValue(round(fraction * _STEPS))
        else:
            self.bar.setRange(0, 0)  # busy indicator: the server did not say how big it is

    def set_cancelling(self) -> None:
        self.cancel_button.setEnabled(False)
        self.label.setText("Cancelling the download…")

    def reject(self) -> None:
        # Esc and the title bar's ×: the user wants the download gone, not just the window.
        if self.cancel_button.isEnabled():
            self._on_cancel_button_clicked()

    # ------------------------------------------------------------------ private slots

    def _on_cancel_button_clicked(self) -> None:
        self.set_cancelling()
        self.cancel_requested.emit(self._request_id)
