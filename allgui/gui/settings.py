"""What the window remembers between sessions (QSettings): geometry, recent
projects, and the user's choices in each tab."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

MAX_RECENT = 8


class AppSettings:
    """A thin, typed layer over QSettings.

    ``path`` selects an INI file (tests pass a temporary one); without it the
    platform's usual place for user settings is used.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        if path is None:
            self._q = QSettings(QSettings.IniFormat, QSettings.UserScope, "allgui", "allgui")
        else:
            self._q = QSettings(str(path), QSettings.IniFormat)

    @property
    def file_name(self) -> str:
        return self._q.fileName()

    # -- window ---------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        value = self._q.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, geometry: QByteArray, state: QByteArray) -> None:
        self._q.setValue("window/geometry", geometry)
        self._q.setValue("window/state", state)

    def window_state(self) -> QByteArray | None:
        value = self._q.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    # -- projects -------------------------------------------------------
    def recent_projects(self) -> list[str]:
        value = self._q.value("projects/recent", [])
        if isinstance(value, str):  # QSettings returns a lone string for a one-item list
            value = [value]
        return [str(v) for v in (value or []) if str(v)]

    def add_recent_project(self, path: str | Path) -> None:
        path = str(Path(path).resolve())
        items = [p for p in self.recent_projects() if p != path]
        self._q.setValue("projects/recent", [path, *items][:MAX_RECENT])

    def remove_recent_project(self, path: str | Path) -> None:
        path = str(Path(path).resolve())
        self._q.setValue("projects/recent", [p for p in self.recent_projects() if p != path])

    def projects_dir(self) -> Path:
        """Where new projects (the demo among them) go unless the user says otherwise."""
        value = self._q.value("projects/dir", "")
        if value:
            return Path(str(value))
        docs = QStandardPaths.writableLocation(QStandardPaths.DocumentsLocation) or str(Path.home())
        return Path(docs) / "allgui"

    def set_projects_dir(self, path: str | Path) -> None:
        self._q.setValue("projects/dir", str(path))

    # -- choices --------------------------------------------------------
    def choice(self, key: str, default: Any = None) -> Any:
        value = self._q.value(f"choices/{key}", default)
        if isinstance(default, bool) and isinstance(value, str):
            return value.lower() == "true"
        if isinstance(default, int) and not isinstance(default, bool):
            try:
                return int(value)
            except (TypeError, ValueError):
                return default
        if isinstance(default, float):
            try:
                return float(value)
            except (TypeError, ValueError):
                return default
        return value

    def set_choice(self, key: str, value: Any) -> None:
        self._q.setValue(f"choices/{key}", value)

    def sync(self) -> None:
        self._q.sync()
