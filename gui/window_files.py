"""The File menu of MainWindow: files to open, and exports of the canvas, the run as a GIF
and the method as JSON."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog

from engine.protocol import TRUST_NOTE, EngineFailure
from engine.protocol.recipe import Recipe
from gui.dropped_files import MODEL_SUFFIXES, classify_drop
from gui.exports import read_json, write_gif, write_json
from gui.recent_files import RecentFiles

TRUST_BUTTON = "Open anyway (I trust this file)"


class FilesMixin:
    """Part of MainWindow (it uses the window's widgets, run record and helpers); split out to
    keep each module short. Each export takes a path, or asks for one with None."""

    def choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open image",
            str(self._last_dir()),
            "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;All files (*)",
        )
        if path:
            self._remember_dir(path)
            self.open_image(path)

    def choose_model(self) -> None:
        suffixes = " ".join(f"*{s}" for s in MODEL_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(
            self, "Open model", str(self._last_dir()), f"Keras models ({suffixes});;All files (*)"
        )
        if path:
            self._remember_dir(path)
            self.open_model(path)

    def choose_saved_model(self) -> None:
        # A SavedModel is a folder, which a file dialog would step into rather than return.
        path = QFileDialog.getExistingDirectory(
            self, "Open SavedModel folder", str(self._last_dir())
        )
        if path:
            self._remember_dir(path)  # the folder holding the SavedModel, as for files
            self.open_model(path)

    def export_canvas(self, path: str | None = None) -> None:
        """Save the picture on the front tab's canvas as a PNG, enlarged with square pixels."""
        path = path or self._ask_save_path("Export canvas", "png", "PNG (*.png)")
        if not path:
            return
        try:
            self.active_canvas().export_png(path)
        except (ValueError, OSError) as error:
            self._show_error(f"Could not export: {error}")
            return
        self._say(f"Saved {path}")

    def export_animation(self, path: str | None = None) -> None:
        """Save the frames of the current or last run as a looping animated GIF."""
        record = self.record
        frames = record.animation_frames() if record is not None else []
        if not frames:
            self._show_error("No run to animate yet: click a filter to grow its image first.")
            return
        path = path or self._ask_save_path("Export animation", "gif", "GIF (*.gif)")
        if not path:
            return
        try:
            count = write_gif(frames, path)
        except (ValueError, OSError) as error:
            self._show_error(f"Could not export the animation: {error}")
            return
        self._say(f"Saved {path} ({count} frames)")

    def export_settings(self, path: str | None = None) -> None:
        """Save the method as JSON, with what the last run grew and how it went under 'run'.

        Before any run, the method in the panel is saved, with 'run' null.
        """
        if self.record is not None:
            document = self.record.document()
        else:
            document = {**self.controls.settings().to_dict(), "run": None}
        path = path or self._ask_save_path("Export settings", "json", "JSON (*.json)")
        if not path:
            return
        try:
            write_json(document, path)
        except (ValueError, OSError) as error:
            self._show_error(f"Could not export the settings: {error}")
            return
        self._say(f"Saved {path}")

    def load_settings(self, path: str | None = None) -> None:
        """Fill the method panel from a JSON file written by Export Settings (or a bare recipe)."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Load settings", str(self._last_dir()), "JSON (*.json);;All files (*)"
            )
            if not path:
                return
            self._remember_dir(path)
        try:
            recipe = Recipe.from_dict(read_json(path))
        except (ValueError, TypeError, OSError) as error:
            self._show_error(f"Could not load settings from {Path(path).name}: {error}")
            return
        self.controls.set_settings(recipe)
        self._say(f"Loaded the method from {Path(path).name}")

    # ------------------------------------------------------------------ recent files

    def _init_recent(self) -> None:
        """Fill File › Open Recent Model / Image; each is rebuilt as it opens, so files deleted
        since drop out of it."""
        self.recent_models = RecentFiles(self._settings, "recent/models")
        self.recent_images = RecentFiles(self._settings, "recent/images")
        self.recent_models_menu.aboutToShow.connect(self.rebuild_recent_menus)
        self.recent_images_menu.aboutToShow.connect(self.rebuild_recent_menus)
        self.rebuild_recent_menus()

    def rebuild_recent_menus(self) -> None:
        """List the recent files in their submenus, newest first, with Clear Recent below."""
        for menu, recent, opener in (
            (self.recent_models_menu, self.recent_models, self.open_model),
            (self.recent_images_menu, self.recent_images, self.open_image),
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
            clear.triggered.connect(partial(_clear_recent, self, recent))
            menu.setEnabled(bool(paths))

    def _remember_recent_model(self, path: str | None) -> None:
        # exists(), not is_file(): a SavedModel is a folder.
        if path is not None and not path.lower().startswith("zoo:") and Path(path).exists():
            self.recent_models.add(path)
            self.rebuild_recent_menus()

    def _remember_recent_image(self, path: str | None) -> None:
        if path is not None and Path(path).is_file():
            self.recent_images.add(path)
            self.rebuild_recent_menus()

    def _offer_trust(self, failure: EngineFailure) -> bool:
        """For a model refused because it holds Python code, show the error with a button that
        loads it anyway; whether it did."""
        request = self._model_request
        if (
            failure.what != "model"
            or TRUST_NOTE not in failure.message
            or request is None
            or request.request_id != failure.request_id
            or request.path is None
        ):
            return False
        path = request.path
        self.message_bar.show_error(
            failure.message, TRUST_BUTTON, lambda: self.open_model(path, trusted=True)
        )
        self.error_shown.emit(failure.message)
        return True

    # ------------------------------------------------------------------ drag and drop

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        kind, path, problem = classify_drop(paths)
        if problem:
            self._show_error(problem)
        elif kind == "model":
            self.open_model(path)
        else:
            self.open_image(path)
        event.acceptProposedAction()

    # ------------------------------------------------------------------ helpers

    def _last_dir(self) -> Path:
        return Path(str(self._settings.value("paths/last_dir", str(Path.home()))))

    def _remember_dir(self, path: str) -> None:
        self._settings.setValue("paths/last_dir", str(Path(path).parent))

    def _ask_save_path(self, title: str, suffix: str, filters: str, stem: str = "") -> str:
        suggested = self._last_dir() / f"{stem or self._export_stem()}.{suffix}"
        path, _ = QFileDialog.getSaveFileName(self, title, str(suggested), filters)
        if path:
            self._remember_dir(path)
        return path

    def _export_stem(self) -> str:
        """'conv3-5' for the last run of conv3 #5; 'convscope' before any run."""
        if self.record is None:
            return "convscope"
        request = self.record.request
        return f"{'-'.join(request.layer)}-{request.unit}"


def _open_recent(opener, path: str, _checked: bool = False) -> None:
    opener(path)


def _clear_recent(window, recent: RecentFiles, _checked: bool = False) -> None:
    recent.clear()
    window.rebuild_recent_menus()
