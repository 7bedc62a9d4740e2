"""The Dataset tab: pick a folder (or the demo), read its summary, choose
the split and see its leakage audit, glance at a few images per class."""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFont, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from allgui.core.demo_project import DEMO_OPTIONS, make_demo_project
from allgui.core.errors import DatasetError
from allgui.core.project import Project, ProjectSettings, SplitSettings
from allgui.gui import dialogs
from allgui.gui.dataset.explain import folder_problem
from allgui.gui.dataset.split_form import SplitForm
from allgui.gui.dataset.work import (
    THUMB_SIZE,
    DatasetView,
    SplitView,
    scan_dataset,
    split_near,
)
from allgui.gui.tab import ProjectTab
from allgui.gui.widgets.progress import JobProgress


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888)
    return QPixmap.fromImage(image.copy())  # copy: the array may go away


def unique_folder(parent: Path, name: str) -> Path:
    candidate = parent / name
    n = 2
    while candidate.exists():
        candidate = parent / f"{name}-{n}"
        n += 1
    return candidate


class DatasetTab(ProjectTab):
    title = "&Dataset"

    def __init__(self, window) -> None:
        super().__init__(window)
        self.view: DatasetView | None = None
        self.demo_options = dict(DEMO_OPTIONS)
        self._open_after_job: Path | None = None
        self._made_for_scan: Path | None = None  # a project made just now for a folder
        outer = QVBoxLayout(self)

        top = QHBoxLayout()
        self.choose_button = QPushButton("Choose dataset folder…")
        self.choose_button.setToolTip(
            "A C-NMC 2019 folder, one subfolder per class, or a CSV manifest. "
            "You can also drop a folder on the window."
        )
        self.choose_button.clicked.connect(self.choose_dataset)
        self.demo_button = QPushButton("Try with demo data")
        self.demo_button.setToolTip(
            "Make a small synthetic data set (generated cells, not real patients) and a "
            "project for it, fast enough to search on a laptop CPU (Ctrl+D)"
        )
        self.demo_button.clicked.connect(self.make_demo)
        self.path_label = QLabel("No dataset yet.")
        self.path_label.setWordWrap(True)
        top.addWidget(self.choose_button)
        top.addWidget(self.demo_button)
        top.addWidget(self.path_label, 1)
        outer.addLayout(top)

        self.synthetic_label = QLabel(
            "SYNTHETIC DEMO DATA: generated cells, not real patients. Figures from it mean "
            "nothing about leukemia."
        )
        self.synthetic_label.setStyleSheet("color: #b00020; font-weight: bold;")
        self.synthetic_label.setWordWrap(True)
        keep = self.synthetic_label.sizePolicy()
        keep.setRetainSizeWhenHidden(True)  # its line is kept: showing it squeezes nothing
        self.synthetic_label.setSizePolicy(keep)
        self.synthetic_label.setVisible(False)
        outer.addWidget(self.synthetic_label)

        splitter = QSplitter(Qt.Horizontal)
        self.summary_text = QPlainTextEdit()
        self.summary_text.setReadOnly(True)
        self.summary_text.setFont(QFont("monospace"))
        # its tables keep their columns: scrolled sideways rather than wrapped
        self.summary_text.setLineWrapMode(QPlainTextEdit.NoWrap)
        self.summary_text.setPlaceholderText(
            "The summary of the dataset appears here: classes, patients, folds, test set, "
            "image sizes, identical images, and files that cannot be used (with the reason)."
        )
        box = QGroupBox("Summary")
        QVBoxLayout(box).addWidget(self.summary_text)
        splitter.addWidget(box)
        splitter.addWidget(self._build_split_box())
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        outer.addWidget(splitter, 1)

        thumbs_box = QGroupBox("A few images of each class")
        self.thumbs = QListWidget()
        self.thumbs.setViewMode(QListWidget.IconMode)
        self.thumbs.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        self.thumbs.setFlow(QListWidget.LeftToRight)
        self.thumbs.setWrapping(False)
        self.thumbs.setFixedHeight(THUMB_SIZE + 46)
        self.thumbs.setMovement(QListWidget.Static)
        self.thumbs.setToolTip("Double-click an image to open it large")
        self.thumbs.itemActivated.connect(self._open_thumb)
        thumbs_layout = QHBoxLayout(thumbs_box)
        thumbs_layout.addWidget(self.thumbs, 1)
        self.browse_button = QPushButton("Browse all images…")
        self.browse_button.setToolTip("Every image of the class of the selected thumbnail")
        self.browse_button.clicked.connect(self.browse)
        thumbs_layout.addWidget(self.browse_button, 0, Qt.AlignTop)
        outer.addWidget(thumbs_box)

        self.progress = JobProgress()
        self.progress.stop_requested.connect(self.stop)
        outer.addWidget(self.progress)

    def _build_split_box(self) -> QWidget:
        self.split_form = SplitForm()
        for name in ("method", "seed", "val_fraction", "test_fraction", "official_test",
                     "leaky_warning", "unapplied_label", "apply_split_button",
                     "discard_button", "audit_text"):
            setattr(self, name, getattr(self.split_form, name))
        self.split_form.edited.connect(self._split_edited)
        self.apply_split_button.clicked.connect(self.apply_split)
        self.discard_button.clicked.connect(self.discard_split)
        self.apply_split_button.setEnabled(False)  # until a project's data are read
        return self.split_form

    # -- split form: proposed here, applied through the session ---------------------
    def split_settings(self) -> SplitSettings:
        """The split the form proposes (not applied until Apply)."""
        return self.split_form.settings()

    def _split_edited(self) -> None:
        session = self.window_.session
        words = self.split_form.show_unapplied(session.split)
        session.set_unapplied("split", words)

    def discard_split(self) -> None:
        if self.project is not None:
            self.split_form.set_settings(self.project.settings.split)

    # -- project ---------------------------------------------------------------
    def project_changed(self, project: Project | None) -> None:
        self.view = None
        self.job_changed()
        self.summary_text.clear()
        self.audit_text.clear()
        self.thumbs.clear()
        self.synthetic_label.setVisible(False)
        if project is None:
            self.path_label.setText("No dataset yet.")
            self.split_form.set_settings(SplitSettings())
            return
        self.split_form.set_settings(project.settings.split)
        path = project.settings.dataset.path
        self.path_label.setText(path or "This project has no dataset yet: choose a folder.")
        if path:
            self.scan(path)

    def _project_for(self, folder: Path) -> bool:
        """A project whose dataset is ``folder``: the open one when it has no
        dataset yet, else (asked) a new one; never re-points an open project."""
        project = self.project
        if project is not None and not project.settings.dataset.path:
            self.window_.session.set_dataset_path(str(folder))
            return True
        if project is not None:
            if Path(project.settings.dataset.path) == folder:
                return True
            if not dialogs.ask_yes_no(
                self, "Make a new project for this dataset?",
                f"The open project {project.root.name} uses the dataset "
                f"{project.settings.dataset.path}; its study, runs and models belong to those "
                f"images. Make a new project for {folder}? (The open one stays as it is.)"):
                return False
        root = unique_folder(self.settings.projects_dir(), f"{folder.name or 'dataset'}-project")
        self.log(f"Making {root} for the dataset {folder}.")
        base = project.settings if project is not None else ProjectSettings()
        settings = dataclasses.replace(base, dataset=dataclasses.replace(
            base.dataset, path=str(folder)), search={}, storage="")
        if not self.window_.new_project(root, settings):
            return False
        self._made_for_scan = self.project.root
        return True

    # -- actions ------------------------------------------------------------------
    def choose_dataset(self) -> None:
        start = self.project.settings.dataset.path if self.project else ""
        path = dialogs.choose_directory(self, "Choose the dataset folder", start)
        if path:
            self.open_dataset(path)

    def open_dataset(self, path: str) -> None:
        """Use the folder at ``path`` as the project's dataset, and scan it."""
        if self.job_refused("reading a dataset",
                            if_busy="A dataset is being read already; stop it first."):
            return
        folder = Path(path).expanduser()
        problem = folder_problem(folder)
        if problem:  # said before any project is made for it: nothing left behind
            self.show_error(DatasetError(problem.splitlines()[0], problem),
                            "Cannot open the dataset")
            return
        folder = folder.resolve()
        if not self._project_for(folder):
            return
        self.path_label.setText(str(folder))
        self.scan(str(folder))

    def scan(self, path: str) -> None:
        split = self.project.settings.split if self.project is not None else SplitSettings()
        self.run_job("Reading the dataset", scan_dataset, path, split,
                     text=f"Reading {path}…", on_success=self._show_view,
                     on_failure=self._scan_failed, exclusive=True, what="reading a dataset")

    def apply_split(self) -> None:
        if self.view is None or self.job_refused("changing the split"):
            return
        settings = self.split_settings()
        if self.project is not None:
            self.window_.session.apply_split(settings)
        self._split_edited()
        self.run_job("Splitting", split_near, self.view.index, settings,
                     self.view.summary.hashes, self.view.summary.near,
                     text="Splitting and auditing…",
                     on_success=self._show_split, exclusive=True, what="changing the split")

    def job_changed(self) -> None:
        for w in (self.choose_button, self.demo_button):
            w.setEnabled(self.job is None)
        # a split is the project's: nothing to apply it to without one, or without its data
        self.apply_split_button.setEnabled(self.job is None and self.project is not None
                                           and getattr(self, "view", None) is not None)

    def job_ended(self) -> None:
        root, self._open_after_job = self._open_after_job, None
        if root is not None:
            self.window_.open_project(root)

    def _scan_failed(self, exc: BaseException) -> None:
        self.progress.set_running(False, "Could not read the dataset.")
        made, self._made_for_scan = self._made_for_scan, None
        from allgui.core.errors import Cancelled as _Cancelled

        if made is not None and not isinstance(exc, _Cancelled):
            self.window_.discard_project(made)  # made for this folder: nothing left behind
        self.summary_text.setPlainText(getattr(exc, "message", str(exc)))
        from allgui.core.errors import Cancelled

        if isinstance(exc, Cancelled):
            self.log(exc.message)
        else:
            self.show_error(exc, "Cannot read the dataset")

    # -- showing results ------------------------------------------------------------
    def _show_view(self, view: DatasetView) -> None:
        self._made_for_scan = None
        self.view = view
        self.job_changed()
        self.progress.set_running(False, f"{view.summary.n_images} images read.")
        self.summary_text.setPlainText(view.text)
        self.synthetic_label.setVisible(view.index.synthetic)
        self.window_.set_synthetic(view.index.synthetic)
        self._show_split(view.split)
        self.thumbs.clear()
        for label, items in view.thumbnails.items():
            for path, rgb in items:
                item = QListWidgetItem(QIcon(to_pixmap(rgb)), label)
                item.setToolTip(f"{label}: {Path(path).name}")
                item.setData(Qt.UserRole, path)
                self.thumbs.addItem(item)
        self.window_.dataset_changed(view)

    def _open_thumb(self, item: QListWidgetItem):
        from allgui.gui.dataset.browse import open_image

        return open_image(self, item.data(Qt.UserRole), title=f"{item.text()}: "
                          f"{Path(item.data(Qt.UserRole)).name}")

    def browse(self):
        """Every image of the selected thumbnail's class (the first class without one)."""
        from allgui.gui.dataset.browse import browse_class

        if self.view is None or not self.view.index.classes:
            return None
        item = self.thumbs.currentItem()
        return browse_class(self, item.text() if item else self.view.index.classes[0])

    def _show_split(self, split_view: SplitView) -> None:
        if self.view is not None:
            self.view = dataclasses.replace(self.view, split=split_view)
        self.progress.set_running(False, self.progress.label.text())
        if split_view.split is None:
            self.audit_text.setPlainText(f"This split cannot be made: {split_view.error}")
            return
        split = split_view.split
        lines = [
            f"Train: {len(split.train)} images   Validation: {len(split.val)}   "
            f"Test: {len(split.test)} ({split.test_source})"
        ]
        lines += [f"Warning: {w}" for w in split.warnings]
        if split_view.audit is not None:
            lines += ["", split_view.audit.verdict()]
        self.audit_text.setPlainText("\n".join(lines))
        self.leaky_warning.setVisible(split.leaky or self.method.currentData() == "image")
        self._split_edited()

    # -- demo --------------------------------------------------------------------------
    def make_demo(self) -> None:
        """Make the synthetic demo set and a project for it, then open it."""
        if self.window_.busy():
            if not self.window_.refuse_second_job("making the demo data"):
                self.show_error("Wait for the running job to end (or stop it) first.")
            return
        root = unique_folder(self.settings.projects_dir(), "allgui-demo")
        self.run_job("Making demo data", partial(make_demo_project, root, options=self.demo_options),
                     text="Making the synthetic demo data…", on_success=self._demo_ready,
                     on_failure=self._scan_failed, exclusive=True, what="making the demo data")

    def _demo_ready(self, root: Path) -> None:
        self.progress.set_running(False, "Demo data made.")
        self._open_after_job = root  # once this job's thread has ended
