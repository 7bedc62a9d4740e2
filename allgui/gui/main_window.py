"""The main window: one project at a time, four tabs, a log, the device."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QCoreApplication,
    QObject,
    QRunnable,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from allgui import RESEARCH_NOTICE, __version__
from allgui.core.errors import AllguiError, Cancelled, ProjectError
from allgui.core.events import JobFinished, JobStarted, Notice
from allgui.core.project import Project, ProjectSettings
from allgui.gui import dialogs, errors
from allgui.gui.about import AboutDialog
from allgui.gui.device import describe_devices, has_training_engine, warm_up_engine
from allgui.gui.jobs import Job, JobFunction
from allgui.gui.settings import AppSettings

log = logging.getLogger("allgui.gui")
RESOURCES = Path(__file__).resolve().parents[1] / "resources"


def app_icon() -> QIcon:
    return QIcon(str(RESOURCES / "allgui.png"))


class _LogRelay(QObject, logging.Handler):
    """A logging handler that appends records to the log panel, from any thread."""

    line = Signal(str)

    def __init__(self) -> None:
        QObject.__init__(self)
        logging.Handler.__init__(self, logging.INFO)
        self.setFormatter(logging.Formatter("%(asctime)s  %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:  # logging.Handler.emit
        try:
            self.line.emit(self.format(record))
        except RuntimeError:  # the panel is gone (window closed)
            pass


class _DeviceProbe(QRunnable):
    """Finds the device off the GUI thread (importing torch takes seconds)."""

    class Signals(QObject):
        found = Signal(str)
        warmed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.signals = self.Signals()

    def run(self) -> None:
        try:
            text = describe_devices()
        except Exception as exc:  # noqa: BLE001 - a status line must never crash the app
            text = f"Device unknown ({exc})"
        try:
            warm_up_engine()
        except Exception:  # noqa: BLE001, S110 - only a head start; the job imports again
            pass
        try:
            self.signals.warmed.emit()
        except RuntimeError:
            pass
        try:
            self.signals.found.emit(text)
        except RuntimeError:  # the window closed meanwhile
            pass


class MainWindow(QMainWindow):
    project_opened = Signal(object)  # Project | None
    job_started = Signal(object)
    job_finished = Signal(object)

    def __init__(self, settings: AppSettings | None = None, probe_device: bool = True) -> None:
        super().__init__()
        self.settings = settings or AppSettings()
        self.project: Project | None = None
        self.synthetic = False
        self.engine_ready = False  # the engine's libraries are imported (see warm_up_engine)
        self.jobs: list[Job] = []
        self._closing = False  # a close is waiting for a job that could not stop
        # How long closing waits for jobs to answer Stop (within a second, as a
        # rule) before it keeps the window open until they end.
        self.stop_wait_ms = 10_000
        self.setWindowTitle("allgui")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setMinimumSize(760, 520)
        self._build_central()
        self._build_log()
        self._build_status()
        self._build_menus()
        self._restore_geometry()
        if probe_device:
            self._probe = _DeviceProbe()
            self._probe.signals.found.connect(self.device_label.setText)
            self._probe.signals.warmed.connect(self._engine_warmed)
            QThreadPool.globalInstance().start(self._probe)

    def _engine_warmed(self) -> None:
        self.engine_ready = True

    # -- construction --------------------------------------------------
    def _build_central(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        self.notice = QLabel(f"⚠  {RESEARCH_NOTICE}")
        self.notice.setObjectName("researchNotice")
        self.notice.setWordWrap(True)
        self.notice.setFrameShape(QFrame.StyledPanel)
        self.notice.setStyleSheet(
            "#researchNotice { background: #fff4ce; color: #5c4400; padding: 4px 8px;"
            " border: 1px solid #e0c060; border-radius: 3px; }"
        )
        layout.addWidget(self.notice)
        row = QHBoxLayout()
        self.project_label = QLabel()
        self.project_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        row.addWidget(self.project_label, 1)
        layout.addLayout(row)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        from allgui.gui.classify.tab import ClassifyTab
        from allgui.gui.dataset.tab import DatasetTab
        from allgui.gui.optimize.tab import OptimizeTab
        from allgui.gui.validate.tab import ValidateTab

        self.dataset_tab = DatasetTab(self)
        self.optimize_tab = OptimizeTab(self)
        self.validate_tab = ValidateTab(self)
        self.classify_tab = ClassifyTab(self)
        for tab in self.all_tabs():
            self.tabs.addTab(tab, tab.title)
        if not has_training_engine():
            # The classify-only build: say why the other tabs are off.
            for i in range(3):
                self.tabs.setTabEnabled(i, False)
                self.tabs.setTabToolTip(
                    i, "This build of allgui only classifies images (torch is not installed)."
                )
            self.tabs.setCurrentWidget(self.classify_tab)
        self._show_project_label()

    def all_tabs(self) -> list:
        return [self.dataset_tab, self.optimize_tab, self.validate_tab, self.classify_tab]

    def _build_log(self) -> None:
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(5000)
        self.log_dock = QDockWidget("Log", self)
        self.log_dock.setObjectName("logDock")
        self.log_dock.setWidget(self.log_view)
        self.log_dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetClosable)
        self.addDockWidget(Qt.BottomDockWidgetArea, self.log_dock)
        self._relay = _LogRelay()
        self._relay.line.connect(self.log_view.appendPlainText)
        for name in ("allgui", "optuna"):
            logging.getLogger(name).addHandler(self._relay)
        logging.getLogger("allgui").setLevel(logging.INFO)

    def _build_status(self) -> None:
        self.device_label = QLabel("Device: checking…")
        self.job_label = QLabel("")
        self.statusBar().addWidget(self.job_label, 1)
        self.statusBar().addPermanentWidget(self.device_label)

    def _action(self, text: str, slot: Callable, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.new_action = self._action(
            "&New project…", self.new_project_dialog, QKeySequence.New, "Make a project folder"
        )
        self.open_action = self._action(
            "&Open project…", self.open_project_dialog, QKeySequence.Open, "Open a project folder"
        )
        self.demo_action = self._action(
            "Try with &demo data", self.dataset_tab.make_demo, "Ctrl+D",
            "Make a small synthetic data set and a project for it",
        )
        self.recent_menu = QMenu("Open &recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addActions([self.new_action, self.open_action])
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.demo_action)
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", self.close, QKeySequence.Quit))

        view_menu = bar.addMenu("&View")
        for i, tab in enumerate(self.all_tabs()):
            view_menu.addAction(
                self._action(tab.title, lambda _=False, i=i: self.tabs.setCurrentIndex(i),
                             f"Ctrl+{i + 1}")
            )
        view_menu.addSeparator()
        view_menu.addAction(self.log_dock.toggleViewAction())
        self.log_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+L"))

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self._action("&About allgui", self.show_about, QKeySequence.HelpContents))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_projects()
        if not recent:
            self.recent_menu.addAction("(none yet)").setEnabled(False)
        for path in recent:
            self.recent_menu.addAction(path, lambda p=path: self.open_project(p))

    def _restore_geometry(self) -> None:
        geometry = self.settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 820)
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)
        else:
            self.resizeDocks([self.log_dock], [110], Qt.Vertical)

    # -- projects --------------------------------------------------------
    def _show_project_label(self) -> None:
        if self.project is None:
            self.project_label.setText(
                "No project open. Open a project (Ctrl+O), make one (Ctrl+N), or press "
                "“Try with demo data” on the Dataset tab."
            )
            self.setWindowTitle(f"allgui {__version__}")
            return
        synthetic = " (SYNTHETIC demo data, not real cells)" if self.synthetic else ""
        self.project_label.setText(f"Project: <b>{self.project.root}</b>{synthetic}")
        self.setWindowTitle(f"{self.project.root.name}{synthetic} – allgui")

    def set_synthetic(self, synthetic: bool) -> None:
        """The dataset tab found that the project's data are generated, not real."""
        self.synthetic = synthetic
        self._show_project_label()

    def set_project(self, project: Project | None) -> None:
        self.project = project
        self.synthetic = False
        if project is not None:
            self.settings.add_recent_project(project.root)
            log.info("Opened project %s", project.root)
        self._show_project_label()
        for i, tab in enumerate(self.all_tabs()):
            if self.tabs.isTabEnabled(i):  # the classify-only build: the others stay off
                tab.project_changed(project)
        self.project_opened.emit(project)

    def dataset_changed(self, view) -> None:
        """The Dataset tab read the project's data (a DatasetView)."""
        for tab in self.all_tabs():
            hook = getattr(tab, "dataset_changed", None)
            if hook is not None:
                hook(view)

    def search_finished(self, result) -> None:
        """The Optimize tab's search ended (a SearchResult)."""
        hook = getattr(self.validate_tab, "search_finished", None)
        if hook is not None:
            hook(result)

    def model_exported(self, path: Path) -> None:
        """The Validate tab exported a model: the Classify tab takes it."""
        self.classify_tab.load_model(str(path))

    def open_project(self, path: str | Path) -> bool:
        if self.busy():
            self.show_error("Stop the running job before opening another project.")
            return False
        try:
            project = Project.open(path)
        except AllguiError as exc:
            if isinstance(exc, ProjectError):
                self.settings.remove_recent_project(path)
            self.show_error(exc, "Cannot open the project")
            return False
        self.set_project(project)
        return True

    def open_project_dialog(self) -> None:
        path = dialogs.choose_directory(self, "Open an allgui project folder",
                                        str(self.settings.projects_dir()))
        if path:
            self.open_project(path)

    def new_project(self, path: str | Path, settings: ProjectSettings | None = None) -> bool:
        try:
            project = Project.create(path, settings or ProjectSettings())
        except AllguiError as exc:
            self.show_error(exc, "Cannot make the project")
            return False
        self.set_project(project)
        return True

    def new_project_dialog(self) -> None:
        if self.busy():
            self.show_error("Stop the running job before making another project.")
            return
        path = dialogs.choose_directory(self, "Choose an empty folder for the new project",
                                        str(self.settings.projects_dir()))
        if path:
            self.new_project(path)

    # -- jobs ------------------------------------------------------------
    def busy(self) -> bool:
        return any(job.is_running() for job in self.jobs)

    def project_job(self) -> Job | None:
        """The running job that trains, reads the data or changes the project, if any."""
        return next((j for j in self.jobs if j.exclusive and j.is_running()), None)

    def refuse_second_job(self, what: str) -> bool:
        """One training or data job at a time in a window (they would share the
        GPU and torch's random state, and change the project together): True,
        after saying so in plain words, when one is running already."""
        running = self.project_job()
        if running is None:
            return False
        self.show_error(
            f"'{running.name}' is still running. Wait for it to end, or stop it, before "
            f"{what}: allgui runs one training or data job at a time.",
            "One job at a time",
        )
        return True

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
        """Run ``fn`` on a worker thread. ``exclusive``: a training or data job
        (see :meth:`refuse_second_job`, which its tab calls first)."""
        job = Job(name, fn, self)
        job.exclusive = exclusive
        job.event.connect(self._log_event)
        if on_event is not None:
            job.event.connect(on_event)
        if on_success is not None:
            job.succeeded.connect(on_success)

        def failed(exc: BaseException) -> None:
            if on_failure is not None:
                on_failure(exc)
            elif isinstance(exc, Cancelled):
                log.info("%s: %s", name, exc.message)
            else:
                self.show_error(exc, f"{name} failed")

        job.failed.connect(failed)

        def done() -> None:
            if job in self.jobs:
                self.jobs.remove(job)
            self._show_jobs()
            if on_done is not None:
                on_done()
            self.job_finished.emit(job)
            job.deleteLater()
            if self._closing and not self.busy():  # the close the user asked for, now safe
                QTimer.singleShot(0, self.close)

        job.done.connect(done)
        self.jobs.append(job)
        job.start()
        self._show_jobs()
        self.job_started.emit(job)
        return job

    def _show_jobs(self) -> None:
        names = [j.name for j in self.jobs if j.is_running()]
        self.job_label.setText(("Running: " + ", ".join(names)) if names else "")

    @Slot(object)
    def _log_event(self, event: Any) -> None:
        if isinstance(event, Notice):
            level = {"warning": logging.WARNING, "error": logging.ERROR}.get(event.level, logging.INFO)
            log.log(level, event.text)
        elif isinstance(event, JobStarted) and event.description:
            log.info(event.description)
        elif isinstance(event, JobFinished) and event.message:
            log.log(logging.INFO if event.ok else logging.WARNING, event.message)

    def _wait_for_jobs(self, timeout_ms: int) -> bool:
        """Wait up to ``timeout_ms`` in all for the jobs' threads; True when all ended."""
        deadline = time.monotonic() + timeout_ms / 1000
        for job in list(self.jobs):
            left = int(max(0.0, deadline - time.monotonic()) * 1000)
            if not job.wait(left):
                return False
        return True

    def stop_all_jobs(self, wait: bool = True) -> bool:
        """Ask every job to stop and (by default) wait for its thread; True when all ended."""
        jobs = list(self.jobs)
        for job in jobs:
            job.stop()
        if not wait:
            return True
        return all(job.wait(60_000) for job in jobs)

    # -- messages ----------------------------------------------------------
    def show_error(self, error: BaseException | str, title: str = "allgui") -> None:
        errors.show_error(self, error, title)

    def log(self, text: str) -> None:
        log.info(text)

    def show_about(self) -> None:
        dialog = AboutDialog(self)
        dialog.setAttribute(Qt.WA_DeleteOnClose, True)
        dialog.open()

    # -- drag and drop ----------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.handle_dropped_paths(paths)

    def handle_dropped_paths(self, paths: list[str]) -> None:
        """A folder dropped on the Dataset tab opens as a dataset (or project);
        anything else goes to the Classify tab."""
        if len(paths) == 1 and Path(paths[0]).is_dir():
            folder = Path(paths[0])
            if (folder / "project.toml").is_file():
                self.open_project(folder)
                return
            if self.tabs.currentWidget() is self.dataset_tab and self.tabs.isTabEnabled(0):
                self.dataset_tab.open_dataset(str(folder))
                return
        self.tabs.setCurrentWidget(self.classify_tab)
        self.classify_tab.classify_paths(paths)

    # -- closing ------------------------------------------------------------
    def save_state(self) -> None:
        self.settings.set_geometry(self.saveGeometry(), self.saveState())
        for tab in self.all_tabs():
            save = getattr(tab, "save_choices", None)
            if save is not None:
                save()
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.busy():
            if not self._closing and not dialogs.ask_yes_no(
                self,
                "Stop the running job?",
                "A job is still running. Stop it and close allgui? Finished trials and runs "
                "are kept and the study can be resumed later.",
            ):
                event.ignore()
                return
            self.job_label.setText("Stopping…")
            self.stop_all_jobs(wait=False)
            ended = self._wait_for_jobs(self.stop_wait_ms)
            QCoreApplication.processEvents()  # deliver the jobs' last signals
            if not ended:
                # A job that cannot stop midway (export, loading a model, a
                # download) is still running: destroying its thread would abort
                # the app. Stay open and close by ourselves once it has ended.
                self._closing = True
                names = ", ".join(f"'{j.name}'" for j in self.jobs if j.is_running())
                text = (f"Waiting for {names} to finish: it cannot stop midway. allgui closes "
                        "by itself as soon as it has ended; finished work is kept.")
                self.job_label.setText(text)
                log.info(text)
                event.ignore()
                return
        self._closing = False
        self.save_state()
        for name in ("allgui", "optuna"):
            logging.getLogger(name).removeHandler(self._relay)
        event.accept()
