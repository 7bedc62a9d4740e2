"""What every tab shares: the window it lives in, the open project, jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget

from allgui.core.project import Project
from allgui.gui.jobs import JobManager, JobsMixin

if TYPE_CHECKING:
    from allgui.gui.main_window import MainWindow


class ProjectTab(JobsMixin, QWidget):
    """A tab of the main window. Subclasses override :meth:`project_changed`,
    and run their work with :meth:`run_job` / :meth:`start_job` (see JobsMixin)."""

    title = ""
    # Off in the classify-only build, which has no torch to train with.
    needs_training_engine = True

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window_ = window
        self.job = None
        # Esc stops the tab's job, in every tab, as its Stop button does
        # (a window-wide shortcut: only the shown tab's is active)
        QShortcut(QKeySequence(Qt.Key_Escape), self, self.stop)

    @property
    def project(self) -> Project | None:
        return self.window_.project

    @property
    def settings(self):
        return self.window_.settings

    @property
    def job_manager(self) -> JobManager:  # type: ignore[override]
        return self.window_.job_manager

    def project_changed(self, project: Project | None) -> None:
        """The window opened another project (or closed it)."""

    def show_error(self, error: BaseException | str, title: str = "allgui") -> None:
        self.window_.show_error(error, title)

    def log(self, text: str) -> None:
        self.window_.log(text)
