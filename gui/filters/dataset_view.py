"""The Dataset examples sub-tab: scan a folder of images (or the built-in ones) for how often
each filter fires, then the selected filter's top images with where it fired drawn over them."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.protocol import ScanProgress, TopImages
from gui.common.heatmaps import HeatmapStyle, render
from gui.common.rate import RateMeter
from gui.filters.kernel_art import rgb8_pixmap

TILE_SIDE = 112
GRID = 3  # 3×3 top images
RANK_CHOICES = (("L2 norm", "l2"), ("max", "max"))
PROJECTION_CHOICES = (("none", "none"), ("deconvnet", "deconvnet"), ("Grad-CAM", "gradcam"))


def top_tile(top: TopImages, k: int, side: int = TILE_SIDE) -> np.ndarray:
    """Image `k` of `top` with its activation map (or its projection) over it, (h, w, 3) uint8."""
    if top.projections is not None:
        signed = top.projections[k].min() < 0
        return render(top.images[k], top.projections[k], signed, HeatmapStyle(0.6), None, side)
    return render(top.images[k], top.maps[k], False, HeatmapStyle(0.45), None, side)


class DatasetView(QWidget):
    """Scan buttons, the scan's progress with Cancel, and a 3×3 grid of the filter's top images."""

    scan_folder_requested = Signal()
    scan_builtin_requested = Signal()
    cancel_requested = Signal()
    # The rank-by or projection choice changed: ask for the top images again.
    ranking_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder_button = QPushButton("Scan folder…")
        self.folder_button.setToolTip(
            "Run every image of a folder through the model and record "
            "how each filter fires (Ctrl+Shift+F)"
        )
        self.builtin_button = QPushButton("Scan built-in images")
        self.builtin_button.setToolTip("Scan the images that come with convscope")
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(18)
        self.cancel_button = QPushButton("Cancel")
        self.status_label = QLabel("No scan yet: scan a folder to find each filter's top images.")
        self.status_label.setWordWrap(True)
        # Images per second and time left of the running scan, from its progress updates.
        self.rate_meter = RateMeter()
        self._scanning = ""  # the status while a scan runs, before its speed is known
        self.rank_combo = QComboBox()
        for text, key in RANK_CHOICES:
            self.rank_combo.addItem(text, key)
        self.rank_combo.setToolTip("Order images by the L2 norm of the filter's map or its max")
        self.projection_combo = QComboBox()
        for text, key in PROJECTION_CHOICES:
            self.projection_combo.addItem(text, key)
        self.projection_combo.setToolTip(
            "Draw the activation map over each image, or project the filter back to pixels"
        )
        self.title_label = QLabel()
        self.tiles: list[QLabel] = []
        self.captions: list[QLabel] = []
        grid = QGridLayout()
        grid.setSpacing(6)
        for k in range(GRID * GRID):
            tile, caption = QLabel(), QLabel()
            tile.setFixedSize(TILE_SIDE, TILE_SIDE)
            tile.setAlignment(Qt.AlignmentFlag.AlignCenter)
            tile.setStyleSheet("background: #282828;")
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            caption.setFixedWidth(TILE_SIDE + 24)
            self.tiles.append(tile)
            self.captions.append(caption)
            cell = QVBoxLayout()
            cell.addWidget(tile, 0, Qt.AlignmentFlag.AlignHCenter)
            cell.addWidget(caption)
            grid.addLayout(cell, k // GRID, k % GRID)
        self._show_running(False)

        self.folder_button.clicked.connect(self._on_folder_button_clicked)
        self.builtin_button.clicked.connect(self._on_builtin_button_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.rank_combo.currentIndexChanged.connect(self._on_choice_changed)
        self.projection_combo.currentIndexChanged.connect(self._on_choice_changed)

        scan = QHBoxLayout()
        scan.addWidget(self.folder_button)
        scan.addWidget(self.builtin_button)
        scan.addWidget(self.progress, 1)
        scan.addWidget(self.cancel_button)
        choices = QHBoxLayout()
        choices.addWidget(QLabel("Rank by"))
        choices.addWidget(self.rank_combo)
        choices.addWidget(QLabel("Projection"))
        choices.addWidget(self.projection_combo)
        choices.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(scan)
        layout.addWidget(self.status_label)
        layout.addLayout(choices)
        layout.addWidget(self.title_label)
        layout.addLayout(grid)
        layout.addStretch(1)
        self.clear_tiles("")

    # ------------------------------------------------------------------------------- public API

    def start_scan(self, source: str) -> None:
        self.progress.setRange(0, 0)
        self._scanning = f"Scanning {source}…"
        self.rate_meter.reset()
        self.status_label.setText(self._scanning)
        self._show_running(True)

    def set_progress(self, progress: ScanProgress) -> None:
        """Show how far the running scan is."""
        skipped = f" · {progress.skipped} skipped" if progress.skipped else ""
        self.progress.setRange(0, max(progress.total, 1))
        self.progress.setValue(min(progress.done, progress.total))
        self.progress.setFormat(f"{progress.done} / {progress.total}{skipped}")
        self.rate_meter.update(progress.done, progress.total)
        speed = self.rate_meter.text("images")
        if self._scanning:
            self.status_label.setText(f"{self._scanning} {speed}" if speed else self._scanning)
        self._show_running(True)

    def finish(self, progress: ScanProgress | None, cancelled: bool) -> None:
        """The scan ended (`progress` is how far it got, None if it never began): say how."""
        self._show_running(False)
        self._scanning = ""
        if progress is None:
            self.status_label.setText("Scan cancelled before it began." if cancelled else "")
            return
        state = "cancelled" if cancelled else "finished"
        if progress.from_cache:
            state += " (from the cache)"
        skipped = f" · {progress.skipped} skipped" if progress.skipped else ""
        text = f"Scan {state}: {progress.done} of {progress.total} images{skipped}"
        self.status_label.setText(text + (f" — {progress.message}" if progress.message else ""))

    def set_status(self, text: str) -> None:
        """Say `text` in place of the scan's status (its speed no longer overwrites it)."""
        self._scanning = ""
        self.status_label.setText(text)

    def is_running(self) -> bool:
        return not self.cancel_button.isHidden()

    def show_top_images(self, top: TopImages, title: str) -> None:
        """Fill the grid with the top images of `top`, best first, with score and file name."""
        count = min(len(top.names), GRID * GRID, len(top.images))
        self.title_label.setText(title)
        for k in range(GRID * GRID):
            if k < count:
                self.tiles[k].setPixmap(
                    rgb8_pixmap(top_tile(top, k)).scaled(
                        TILE_SIDE,
                        TILE_SIDE,
                        Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.FastTransformation,
                    )
                )
                name = top.names[k]
                self.captions[k].setText(f"{float(top.scores[k]):.3g} · {name}")
                self.captions[k].setToolTip(name)
            else:
                self.tiles[k].clear()
                self.captions[k].setText("")

    def tile_names(self) -> list[str]:
        """The captions of the filled tiles, in order."""
        return [c.text() for c in self.captions if c.text()]

    def clear_tiles(self, message: str) -> None:
        self.title_label.setText(message)
        for tile, caption in zip(self.tiles, self.captions, strict=True):
            tile.clear()
            caption.setText("")

    def rank_by(self) -> str:
        return self.rank_combo.currentData()

    def projection(self) -> str:
        return self.projection_combo.currentData()

    # ------------------------------------------------------------------------------- helpers

    def _show_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        self.folder_button.setEnabled(not running)
        self.builtin_button.setEnabled(not running)

    # ------------------------------------------------------------------------------- slots

    def _on_folder_button_clicked(self) -> None:
        self.scan_folder_requested.emit()

    def _on_builtin_button_clicked(self) -> None:
        self.scan_builtin_requested.emit()

    def _on_cancel_button_clicked(self) -> None:
        self.cancel_requested.emit()

    def _on_choice_changed(self, _index: int) -> None:
        self.ranking_changed.emit()
