"""A row under the filter grid: grow every filter of the layer, how far that is, and Cancel."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from gui.common.rate import RateMeter


class AtlasBar(QWidget):
    """'Visualize whole layer', then a progress bar with Cancel while the atlas runs."""

    # The user wants every filter of the selected layer grown.
    atlas_requested = Signal()
    # The user wants the running atlas stopped.
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_button = QPushButton("Visualize whole layer")
        self.run_button.setToolTip(
            "Grow an image for every filter of the selected layer, in batches (Ctrl+L)."
            " Finished layers are cached and show at once next time."
        )
        self.progress = QProgressBar()
        self.progress.setToolTip("Filters of the layer grown so far.")
        self.progress.setMaximumHeight(18)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop growing the layer; the filters done so far stay.")
        self.status_label = QLabel()
        self.status_label.setEnabled(False)  # greyed: a remark, not a control
        # About how long the atlas has left, once a couple of batches told it; empty until then.
        self.eta_label = QLabel()
        self.eta_label.setEnabled(False)
        self.eta_label.setToolTip("Time left at the speed of the batches so far.")
        # start() counts as the first update: one finished batch then gives a rate.
        self.rate_meter = RateMeter(min_updates=2)

        self.reset()

        self.run_button.clicked.connect(self._on_run_button_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.addWidget(self.run_button)
        layout.addWidget(self.progress, stretch=1)
        layout.addWidget(self.status_label, stretch=1)
        layout.addWidget(self.eta_label)
        layout.addWidget(self.cancel_button)

    # ------------------------------------------------------------------------------- public API

    def start(self, total: int) -> None:
        """An atlas of `total` filters has begun."""
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(0)
        self.progress.setFormat(f"0 / {total}")
        self.rate_meter.reset()
        self.rate_meter.update(0, total)
        self.eta_label.setText("")
        self._show_running(True)

    def set_progress(self, done: int, total: int, layer: str = "") -> None:
        """`done` of `total` filters of `layer` are finished."""
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, total))
        self.progress.setFormat(f"{layer} · {done} / {total}" if layer else f"{done} / {total}")
        self.rate_meter.update(done, total)
        self.eta_label.setText(self.rate_meter.text(""))

    def finish(self, text: str) -> None:
        """The atlas ended; `text` says how (e.g. '64 filters · 3 dead')."""
        self._show_running(False)
        self.status_label.setText(text)

    def reset(self) -> None:
        """Nothing running and nothing to say, as for a newly selected layer."""
        self._show_running(False)
        self.status_label.setText("")

    def set_available(self, available: bool) -> None:
        """Offer the button only for a layer with channels or units (or take it away)."""
        self.run_button.setEnabled(available and not self.is_running())

    def is_running(self) -> bool:
        """Whether the bar shows an atlas in progress."""
        return not self.cancel_button.isHidden()

    def progress_text(self) -> str:
        """What the progress bar says, e.g. '12 / 64'."""
        return self.progress.text()

    def eta_text(self) -> str:
        """About how long the running atlas has left, e.g. 'about 40 s left'; "" while unknown."""
        return self.eta_label.text()

    # ------------------------------------------------------------------------------- helpers

    def _show_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        self.status_label.setVisible(not running)
        self.eta_label.setVisible(running)
        self.run_button.setEnabled(not running)

    # ------------------------------------------------------------------------------- slots

    def _on_run_button_clicked(self) -> None:
        self.atlas_requested.emit()

    def _on_cancel_button_clicked(self) -> None:
        self.cancel_requested.emit()
