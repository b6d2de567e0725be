"""The current run on disk: an animated GIF of its frames, its method as JSON, and JSON read back.

Each export takes a path, or asks for one with None.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject

from engine.protocol import LayerPath, Recipe
from gui.common.feedback import Feedback
from gui.common.file_dialogs import FileDialogs
from gui.visualize.controls import AscentControls
from gui.visualize.exports import read_json, write_gif, write_json
from gui.visualize.runs import RunsController


class RunFiles(QObject):
    """File › Export Animation, Export Settings and Load Settings."""

    def __init__(
        self,
        runs: RunsController,
        controls: AscentControls,
        feedback: Feedback,
        dialogs: FileDialogs,
    ) -> None:
        super().__init__()
        self._runs = runs
        self._controls = controls
        self._feedback = feedback
        self._dialogs = dialogs

    def export_animation(self, path: str | None = None) -> None:
        """Save the frames of the current or last run as a looping animated GIF."""
        record = self._runs.record
        frames = record.animation_frames() if record is not None else []
        if not frames:
            self._feedback.error("No run to animate yet: click a filter to grow its image first.")
            return
        path = path or self._dialogs.save_path(
            "Export animation", "gif", "GIF (*.gif)", self.export_stem()
        )
        if not path:
            return
        try:
            count = write_gif(frames, path)
        except (ValueError, OSError) as error:
            self._feedback.error(f"Could not export the animation: {error}")
            return
        self._feedback.say(f"Saved {path} ({count} frames)")

    def export_settings(self, path: str | None = None) -> None:
        """Save the method as JSON, with what the last run grew and how it went under 'run'.

        Before any run, the method in the panel is saved, with 'run' null.
        """
        record = self._runs.record
        if record is not None:
            document = record.document()
        else:
            document = {**self._controls.settings().to_dict(), "run": None}
        path = path or self._dialogs.save_path(
            "Export settings", "json", "JSON (*.json)", self.export_stem()
        )
        if not path:
            return
        try:
            write_json(document, path)
        except (ValueError, OSError) as error:
            self._feedback.error(f"Could not export the settings: {error}")
            return
        self._feedback.say(f"Saved {path}")

    def load_settings(self, path: str | None = None) -> None:
        """Fill the method panel from a JSON file written by Export Settings (or a bare recipe)."""
        if path is None:
            path = self._dialogs.open_file("Load settings", "JSON (*.json);;All files (*)")
            if not path:
                return
        try:
            recipe = Recipe.from_dict(read_json(path))
        except (ValueError, TypeError, OSError) as error:
            self._feedback.error(f"Could not load settings from {Path(path).name}: {error}")
            return
        self._controls.set_settings(recipe)
        self._feedback.say(f"Loaded the method from {Path(path).name}")

    def export_stem(self) -> str:
        """'conv3-5' for the last run of conv3 #5; 'convscope' before any run."""
        record = self._runs.record
        if record is None:
            return "convscope"
        request = record.request
        return f"{'-'.join(LayerPath(request.layer))}-{request.unit}"
