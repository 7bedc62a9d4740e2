"""Following a study shared with workers on other machines: the storage is
read every few seconds off the GUI thread, and the Optimize tab shows every
worker's trials and the workers seen recently."""

from __future__ import annotations

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

from allgui.core.errors import AllguiError
from allgui.core.project import Project
from allgui.core.search.storage import is_database_url, mask_url

POLL_MS = 3000
RECENT_S = 600  # workers shown: those seen in the last ten minutes


class _Read(QRunnable):
    """One read of the study, on the thread pool."""

    class Signals(QObject):
        done = Signal(object)
        failed = Signal(str)

    def __init__(self, project: Project, study_name: str) -> None:
        super().__init__()
        self.project, self.study_name = project, study_name
        self.signals = self.Signals()

    def run(self) -> None:
        from allgui.core.search.shared import snapshot

        try:
            result = snapshot(self.project, self.study_name)
        except AllguiError as exc:
            self._emit(self.signals.failed, exc.message)
        except Exception as exc:  # noqa: BLE001 - a failed read must never crash the window
            self._emit(self.signals.failed, mask_url(f"{type(exc).__name__}: {exc}"))
        else:
            self._emit(self.signals.done, result)

    @staticmethod
    def _emit(signal, value) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the window closed meanwhile
            pass


class StudyFollower(QObject):
    """Reads the project's shared study every ``POLL_MS`` while it follows
    one; at most one read at a time. ``updated`` carries a
    :class:`~allgui.core.search.shared.StudySnapshot`."""

    updated = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.project: Project | None = None
        self.study_name = ""
        self._reading: _Read | None = None
        self._last_error = ""

    def follow(self, project: Project | None, study_name: str) -> None:
        """Follow ``project``'s study when it lives on a database; else stop."""
        self.project, self.study_name = project, study_name
        if project is not None and is_database_url(project.storage_url) and study_name:
            self.timer.start()
            self.poll()
        else:
            self.timer.stop()

    @property
    def following(self) -> bool:
        return self.timer.isActive()

    def poll(self) -> None:
        if self._reading is not None or self.project is None:
            return
        read = _Read(self.project, self.study_name)
        read.setAutoDelete(False)
        read.signals.done.connect(self._done)
        read.signals.failed.connect(self._failed)
        self._reading = read
        QThreadPool.globalInstance().start(read)

    def _done(self, snap) -> None:
        self._reading = None
        self._last_error = ""
        self.updated.emit(snap)

    def _failed(self, message: str) -> None:
        self._reading = None
        if message != self._last_error:  # said once, not every few seconds
            self._last_error = message
            self.failed.emit(message)


def describe_workers(snap, within_s: float = RECENT_S) -> str:
    """The workers seen recently, one per line, for the Optimize tab."""
    recent = [w for w in snap.workers if w.age_s() <= within_s]
    if not recent:
        return "No worker seen in the last ten minutes."
    lines = [f"Workers seen in the last ten minutes ({len(recent)}):"]
    lines += ["  " + w.describe() for w in recent]
    return "\n".join(lines)


def ask_storage(parent: QWidget, project: Project) -> str | None:
    """Ask for the study storage; returns the URL to keep ('' = the project's
    study.db), or None when the user cancels. Raises AllguiError when the
    URL cannot be used."""
    from allgui.core.search.storage import normalize_storage_url

    current = mask_url(project.settings.storage)
    text, ok = QInputDialog.getText(
        parent, "Study storage",
        "Database URL of a study shared with workers, e.g.\n"
        "postgresql://user@server:5432/allgui\n"
        "(leave empty for this project's own study.db; keep the password in\n"
        "~/.pgpass or PGPASSWORD rather than in the URL)",
        QLineEdit.Normal, current)
    if not ok or text.strip() == current:
        return None
    if "***" in text:
        raise AllguiError("Type the password again (or leave it out of the URL and keep it in "
                          "~/.pgpass).")
    return normalize_storage_url(text)
