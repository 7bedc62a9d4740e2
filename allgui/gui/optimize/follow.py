"""Following a study shared with workers on other machines: the storage is
read every few seconds off the GUI thread (a background job of the window),
and the Optimize tab shows every worker's trials and the workers seen
recently."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

from allgui.core.errors import AllguiError
from allgui.core.project import Project
from allgui.core.search.storage import is_database_url, mask_url
from allgui.gui.jobs import Job, JobManager, stateless

POLL_MS = 3000
RECENT_S = 600  # workers shown: those seen in the last ten minutes


def read_snapshot(project: Project, study_name: str):
    """One read of the study (on a job's thread)."""
    from allgui.core.search.shared import snapshot

    return snapshot(project, study_name)


def _words(exc: BaseException) -> str:
    if isinstance(exc, AllguiError):
        return exc.message
    return mask_url(f"{type(exc).__name__}: {exc}")  # a URL in the error keeps no password


class StudyFollower(QObject):
    """Reads the project's shared study every ``POLL_MS`` while it follows
    one, as a background job of the window; at most one read at a time.
    ``updated`` carries a :class:`~allgui.core.search.shared.StudySnapshot`."""

    updated = Signal(object)
    failed = Signal(str)

    def __init__(self, jobs: JobManager, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.project: Project | None = None
        self.study_name = ""
        self._reading: Job | None = None
        self._last_error = ""

    def follow(self, project: Project | None, study_name: str) -> None:
        """Follow ``project``'s study when it lives on a database; else stop."""
        self.project, self.study_name = project, study_name
        try:
            url = project.storage_url if project is not None else ""
        except AllguiError:  # a storage no one chose here: the Optimize tab says so
            url = ""
        if project is not None and is_database_url(url) and study_name:
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
        self._reading = self.jobs.start(
            "Following the study", stateless(read_snapshot), self.project, self.study_name,
            on_success=self._done, on_failure=self._failed, on_done=self._read_ended,
            background=True)

    def _read_ended(self) -> None:
        self._reading = None

    def _done(self, snap) -> None:
        self._last_error = ""
        self.updated.emit(snap)

    def _failed(self, exc: BaseException) -> None:
        message = _words(exc)
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
