"""The input the user chose for each model file, remembered between sessions: the pixel
preprocessing of a file nothing describes, and the side a free-size model works at."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from PySide6.QtCore import QSettings

from engine.protocol.input_spec import MAX_FREE_SIDE, MIN_FREE_SIDE, InputPreprocessing
from gui.common.names import MODEL_INPUT_GROUP

BUILT_IN = "<built-in>"


def is_zoo(path: str | None) -> bool:
    """Whether `path` names a zoo model ("zoo:NAME") rather than a file."""
    return path is not None and path.lower().startswith("zoo:")


class ModelInputs:
    """Choices per model file in `settings`; model A and model B of a comparison share them."""

    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    def remembered(self, path: str | None) -> tuple[InputPreprocessing | None, int | None]:
        """The preprocessing and side chosen for `path` before; (None, None) if none."""
        if is_zoo(path):
            return None, None  # the zoo knows its own preprocessing and size
        raw = self._settings.value(settings_key(path))
        if not raw:
            return None, None
        try:
            data = json.loads(str(raw))
            stated = data.get("preprocessing")
            spec = None if stated is None else InputPreprocessing.from_json(stated)
            side = data.get("size")
            side = int(side) if side is not None else None
            if side is not None and not MIN_FREE_SIDE <= side <= MAX_FREE_SIDE:
                side = None
            return spec, side
        except (ValueError, TypeError, AttributeError):
            return None, None  # a damaged setting is forgotten, not an error

    def remember(self, path: str | None, spec: InputPreprocessing | None, side: int | None) -> None:
        data = {
            "path": path or BUILT_IN,
            "preprocessing": None if spec is None else spec.to_json(),
            "size": side,
        }
        self._settings.setValue(settings_key(path), json.dumps(data))


def settings_key(path: str | None) -> str:
    """The key of `path`'s choice. A hash, not the path: QSettings would read the path's
    slashes as nested groups."""
    name = BUILT_IN if path is None else str(Path(path).resolve())
    return f"{MODEL_INPUT_GROUP}/{hashlib.sha1(name.encode('utf-8')).hexdigest()}"
