"""Opening and making projects in the window, and passing what one tab
learnt (the dataset read, the search ended, a model exported) to the others."""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

from allgui import __version__
from allgui.core.errors import AllguiError, ProjectError
from allgui.core.project import Project, ProjectSettings
from allgui.gui import dialogs
from allgui.gui.new_project import NewProjectForm

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
        uses = html.escape(w.session.describe())
        w.project_label.setText(f"Project: <b>{html.escape(str(project.root))}</b>{synthetic}"
                                f"<br><small>In use: {uses}</small>")
        w.setWindowTitle(f"{project.root.name}{synthetic} – allgui")

    def set_synthetic(self, synthetic: bool) -> None:
        """The dataset tab found that the project's data are generated, not real."""
        w: Any = self
        w.session.set_synthetic(synthetic)

    def set_project(self, project: Project | None) -> None:
        w: Any = self
        if project is not None:
            w.settings.add_recent_project(project.root)
            log.info("Opened project %s", project.root)
        w.session.open(project)  # everything of the last project goes
        for tab in w.all_tabs():
            if w.tabs.isTabEnabled(w.tabs.indexOf(tab)):  # classify-only: the others stay off
                tab.project_changed(project)
        w.project_opened.emit(project)

    def dataset_changed(self, view) -> None:
        """The Dataset tab read the project's data (a DatasetView)."""
        w: Any = self
        w.session.set_dataset(view)
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

    def discard_project(self, root: Path) -> None:
        """Close and remove a project made moments ago for a folder that turned
        out unusable; only while it holds nothing but what making it wrote."""
        import shutil

        w: Any = self
        if w.project is not None and w.project.root == root:
            self.set_project(None)
        kept = [p for p in root.rglob("*") if p.is_file() and p.name != "project.toml"
                and "cache" not in p.relative_to(root).parts]
        if not kept:
            shutil.rmtree(root, ignore_errors=True)
            w.settings.remove_recent_project(root)
            log.info("Removed %s: its dataset could not be read", root)

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

    def new_project_form(self) -> NewProjectForm | None:
        """File > New: the form; the project is made when it is accepted."""
        w: Any = self
        if w.busy():
            w.show_error("Stop the running job before making another project.")
            return None
        form = NewProjectForm(w, w.settings.projects_dir())
        form.accepted.connect(lambda: self._new_from_form(form))
        form.finished.connect(form.deleteLater)
        form.open()
        return form

    def _new_from_form(self, form: NewProjectForm) -> None:
        try:
            path, settings = form.values()
        except AllguiError as exc:  # the folder changed since the form checked it
            w: Any = self
            w.show_error(exc, "Cannot make the project")
            return
        self.new_project(path, settings)

    def _fill_recent(self) -> None:
        w: Any = self
        w.recent_menu.clear()
        recent = w.settings.recent_projects()
        if not recent:
            w.recent_menu.addAction("(none yet)").setEnabled(False)
        for path in recent:
            w.recent_menu.addAction(path, lambda p=path: self.open_project(p))
