"""Opening and making projects in the window, and passing what one tab
learnt (the dataset read, the search ended, a model exported) to the others."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from allgui import __version__
from allgui.core.errors import AllguiError, ProjectError
from allgui.core.project import Project, ProjectSettings
from allgui.gui import dialogs

log = logging.getLogger("allgui.gui")


class ProjectActions:
    """Mixed into the main window, which provides ``session``, ``settings``,
    the tabs, ``project_label``, ``busy``, ``show_error`` and ``project_opened``."""

    def _show_project_label(self) -> None:
        w: Any = self
        project = w.session.project
        if project is None:
            w.project_label.setText(
                "No project open. Open a project (Ctrl+O), make one (Ctrl+N), or press "
                "“Try with demo data” on the Dataset tab."
            )
            w.setWindowTitle(f"allgui {__version__}")
            return
        synthetic = " (SYNTHETIC demo data, not real cells)" if w.session.synthetic else ""
        w.project_label.setText(f"Project: <b>{project.root}</b>{synthetic}")
        w.setWindowTitle(f"{project.root.name}{synthetic} – allgui")

    def set_synthetic(self, synthetic: bool) -> None:
        """The dataset tab found that the project's data are generated, not real."""
        w: Any = self
        w.session.synthetic = synthetic
        self._show_project_label()

    def set_project(self, project: Project | None) -> None:
        w: Any = self
        w.session.open(project)
        if project is not None:
            w.settings.add_recent_project(project.root)
            log.info("Opened project %s", project.root)
        self._show_project_label()
        for i, tab in enumerate(w.all_tabs()):
            if w.tabs.isTabEnabled(i):  # the classify-only build: the others stay off
                tab.project_changed(project)
        w.project_opened.emit(project)

    def dataset_changed(self, view) -> None:
        """The Dataset tab read the project's data (a DatasetView)."""
        w: Any = self
        for tab in w.all_tabs():
            hook = getattr(tab, "dataset_changed", None)
            if hook is not None:
                hook(view)

    def search_finished(self, result) -> None:
        """The Optimize tab's search ended (a SearchResult)."""
        w: Any = self
        hook = getattr(w.validate_tab, "search_finished", None)
        if hook is not None:
            hook(result)

    def model_exported(self, path: Path) -> None:
        """The Validate tab exported a model: the Classify tab takes it."""
        w: Any = self
        w.classify_tab.load_model(str(path))

    def open_project(self, path: str | Path) -> bool:
        w: Any = self
        if w.busy():
            w.show_error("Stop the running job before opening another project.")
            return False
        try:
            project = Project.open(path)
        except AllguiError as exc:
            if isinstance(exc, ProjectError):
                w.settings.remove_recent_project(path)
            w.show_error(exc, "Cannot open the project")
            return False
        self.set_project(project)
        return True

    def open_project_dialog(self) -> None:
        w: Any = self
        path = dialogs.choose_directory(w, "Open an allgui project folder",
                                        str(w.settings.projects_dir()))
        if path:
            self.open_project(path)

    def new_project(self, path: str | Path, settings: ProjectSettings | None = None) -> bool:
        try:
            project = Project.create(path, settings or ProjectSettings())
        except AllguiError as exc:
            w: Any = self
            w.show_error(exc, "Cannot make the project")
            return False
        self.set_project(project)
        return True

    def new_project_dialog(self) -> None:
        w: Any = self
        if w.busy():
            w.show_error("Stop the running job before making another project.")
            return
        path = dialogs.choose_directory(w, "Choose an empty folder for the new project",
                                        str(w.settings.projects_dir()))
        if path:
            self.new_project(path)

    def _fill_recent(self) -> None:
        w: Any = self
        w.recent_menu.clear()
        recent = w.settings.recent_projects()
        if not recent:
            w.recent_menu.addAction("(none yet)").setEnabled(False)
        for path in recent:
            w.recent_menu.addAction(path, lambda p=path: self.open_project(p))
