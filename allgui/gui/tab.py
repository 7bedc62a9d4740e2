"""What every tab shares: the window it lives in, the open project, jobs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QWidget

from allgui.core.project import Project

if TYPE_CHECKING:
    from allgui.gui.jobs import Job, JobFunction
    from allgui.gui.main_window import MainWindow


class ProjectTab(QWidget):
    """A tab of the main window. Subclasses override :meth:`project_changed`."""

    title = ""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window_ = window

    @property
    def project(self) -> Project | None:
        return self.window_.project

    @property
    def settings(self):
        return self.window_.settings

    def project_changed(self, project: Project | None) -> None:
        """The window opened another project (or closed it)."""

    def start_job(
        self,
        name: str,
        fn: JobFunction,
        on_event: Callable[[Any], None] | None = None,
        on_success: Callable[[Any], None] | None = None,
        on_failure: Callable[[BaseException], None] | None = None,
        on_done: Callable[[], None] | None = None,
        exclusive: bool = False,
    ) -> Job:
        return self.window_.start_job(name, fn, on_event, on_success, on_failure, on_done,
                                      exclusive=exclusive)

    def show_error(self, error: BaseException | str, title: str = "allgui") -> None:
        self.window_.show_error(error, title)

    def log(self, text: str) -> None:
        self.window_.log(text)
