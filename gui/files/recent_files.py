"""The recently opened files of one kind, kept in QSettings: newest first, no repeats."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

RECENT_LIMIT = 8


class RecentFiles:
    """A list of at most `limit` paths under `key` in `settings` ("recent/models", ...)."""

    def __init__(self, settings: QSettings, key: str, limit: int = RECENT_LIMIT) -> None:
        self._settings = settings
        self._key = key
        self._limit = limit

    def paths(self) -> list[str]:
        """The stored paths (files, or SavedModel folders), newest first, without those that no
        longer exist (which are forgotten)."""
        stored = self._stored()
        kept = [path for path in stored if Path(path).exists()]  # SavedModels are folders
        if kept != stored:
            self._store(kept)
        return kept

    def add(self, path: str | Path) -> None:
        """Put `path` first, removing an earlier mention of the same file."""
        full = str(Path(path).resolve())
        self._store([full, *(p for p in self._stored() if p != full)])

    def remove(self, path: str | Path) -> None:
        """Forget `path` (a file that failed to open), wherever it was in the list."""
        full = str(Path(path).resolve())
        self._store([p for p in self._stored() if p != full])

    def clear(self) -> None:
        self._store([])

    def _stored(self) -> list[str]:
        value = self._settings.value(self._key, [])
        if isinstance(value, str):  # QSettings gives a lone string for a one-item list
            value = [value] if value else []
        return [str(path) for path in (value if isinstance(value, list) else [])]

    def _store(self, paths: list[str]) -> None:
        self._settings.setValue(self._key, paths[: self._limit])
