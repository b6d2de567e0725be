"""Files in and out of the File menu: open dialogs, drops on the window, the recent files and
the picture on the front canvas as a PNG."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QObject, QSettings
from PySide6.QtWidgets import QMenu

from gui.common.canvas import Canvas
from gui.common.feedback import Feedback
from gui.common.file_dialogs import FileDialogs
from gui.common.names import RECENT_IMAGES_KEY, RECENT_MODELS_KEY
from gui.files.dropped_files import MODEL_SUFFIXES, classify_drop
from gui.files.recent_files import RecentFiles
from gui.images.controller import ImageController
from gui.models.opening import ModelController

IMAGE_FILTERS = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)"


class FilesController(QObject):
    """Turns the user's files into opened models and images, and remembers them."""

    def __init__(
        self,
        feedback: Feedback,
        dialogs: FileDialogs,
        settings: QSettings,
        images: ImageController,
        models: ModelController,
        menus: tuple[QMenu, QMenu],
        active_canvas: Callable[[], Canvas],
        export_stem: Callable[[], str],
    ) -> None:
        super().__init__()
        self._feedback = feedback
        self._dialogs = dialogs
        self._images = images
        self._models = models
        self._models_menu, self._images_menu = menus
        self._active_canvas = active_canvas
        self._export_stem = export_stem
        self.recent_models = RecentFiles(settings, RECENT_MODELS_KEY)
        self.recent_images = RecentFiles(settings, RECENT_IMAGES_KEY)

        # Each list is rebuilt as it opens, so files deleted since drop out of it.
        self._models_menu.aboutToShow.connect(self.rebuild_recent_menus)
        self._images_menu.aboutToShow.connect(self.rebuild_recent_menus)
        self.rebuild_recent_menus()

    # ------------------------------------------------------------------ public actions

    def choose_image(self) -> None:
        path = self._dialogs.open_file("Open image", IMAGE_FILTERS)
        if path:
            self._images.open_image(path)

    def choose_model(self) -> None:
        suffixes = " ".join(f"*{s}" for s in MODEL_SUFFIXES)
        path = self._dialogs.open_file("Open model", f"Keras models ({suffixes});;All files (*)")
        if path:
            self._models.open_model(path)

    def choose_saved_model(self) -> None:
        path = self._dialogs.open_saved_model()
        if path:
            self._models.open_model(path)

    def open_dropped(self, paths: list[str]) -> None:
        """Open what was dropped on the window: a model, a SavedModel folder or an image."""
        kind, path, problem = classify_drop(paths)
        if problem:
            self._feedback.error(problem)
        elif kind == "model":
            self._models.open_model(path)
        else:
            self._images.open_image(path)

    def export_canvas(self, path: str | None = None) -> None:
        """Save the picture on the front tab's canvas as a PNG, enlarged with square pixels."""
        path = path or self._dialogs.save_path(
            "Export canvas", "png", "PNG (*.png)", self._export_stem()
        )
        if not path:
            return
        try:
            self._active_canvas().export_png(path)
        except (ValueError, OSError) as error:
            self._feedback.error(f"Could not export: {error}")
            return
        self._feedback.say(f"Saved {path}")

    # ------------------------------------------------------------------ recent files

    # Only files that opened belong in Open Recent: the controllers tell us once a file has
    # opened (remember_*) or failed to (forget_*), not when the user asks for it.

    def remember_model(self, path: str) -> None:
        # exists(), not is_file(): a SavedModel is a folder.
        if Path(path).exists():
            self.recent_models.add(path)
            self.rebuild_recent_menus()

    def remember_image(self, path: str) -> None:
        if Path(path).is_file():
            self.recent_images.add(path)
            self.rebuild_recent_menus()

    def forget_model(self, path: str) -> None:
        self.recent_models.remove(path)
        self.rebuild_recent_menus()

    def forget_image(self, path: str) -> None:
        self.recent_images.remove(path)
        self.rebuild_recent_menus()

    def rebuild_recent_menus(self) -> None:
        """List the recent files in their submenus, newest first, with Clear Recent below."""
        for menu, recent, opener in (
            (self._models_menu, self.recent_models, self._models.open_model),
            (self._images_menu, self.recent_images, self._images.open_image),
        ):
            menu.clear()
            paths = recent.paths()
            for index, path in enumerate(paths, start=1):
                action = menu.addAction(f"&{index} {Path(path).name}")
                action.setToolTip(path)
                action.setStatusTip(path)
                action.setData(path)
                action.triggered.connect(partial(_open_recent, opener, path))
            menu.addSeparator()
            clear = menu.addAction("&Clear Recent")
            clear.setEnabled(bool(paths))
            clear.triggered.connect(partial(self._on_clear_triggered, recent))
            menu.setEnabled(bool(paths))

    def _on_clear_triggered(self, recent: RecentFiles, _checked: bool = False) -> None:
        recent.clear()
        self.rebuild_recent_menus()


def _open_recent(opener: Callable[[str], object], path: str, _checked: bool = False) -> None:
    opener(path)
