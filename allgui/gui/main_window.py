"""The main window: menus, the notice, four tabs, the log panel and the status
bar; closing. What it holds open is in :mod:`session`, its jobs in
:mod:`jobs`, project actions in :mod:`projects`, drops in :mod:`drop`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
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

from allgui import RESEARCH_NOTICE
from allgui.core.project import Project
from allgui.gui import dialogs, errors, screen_fit
from allgui.gui.about import AboutDialog
from allgui.gui.binding_guard import guard_none
from allgui.gui.device import has_training_engine, probe
from allgui.gui.drop import DropRouting
from allgui.gui.jobs import Job, JobFunction, JobManager
from allgui.gui.log_relay import LogRelay, log_event
from allgui.gui.projects import ProjectActions
from allgui.gui.session import Session
from allgui.gui.settings import AppSettings
from allgui.gui.wheel import WheelGuard

log = logging.getLogger("allgui.gui")
RESOURCES = Path(__file__).resolve().parents[1] / "resources"
# The smallest the window gets: every tab's figures stay readable (the plots get
# 230 px, the tables a few rows); a 1280x800 screen has room to spare.
FIRST_SIZE = (1200, 820)  # the least first window, where the screen has the room
MINIMUM_SIZE = (960, 640)  # a floor: the tabs' own needs raise it (see __init__)


def app_icon() -> QIcon:
    return QIcon(str(RESOURCES / "allgui.png"))


class MainWindow(DropRouting, ProjectActions, QMainWindow):
    project_opened = Signal(object)  # Project | None
    job_started = Signal(object)
    job_finished = Signal(object)

    def __init__(self, settings: AppSettings | None = None, probe_device: bool = True) -> None:
        guard_none()  # PySide6 6.12 on Python 3.11 (binding_guard): also for a window made alone
        super().__init__()
        self.settings = settings or AppSettings()
        self.session = Session(self)
        self.session.changed.connect(self._show_project_label)
        self._wheel_guard = WheelGuard(self)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self._wheel_guard)
        self.job_manager = JobManager(self.show_error, log_event, self)
        self.job_manager.started.connect(self.job_started)
        self.job_manager.finished.connect(self.job_finished)
        self.job_manager.changed.connect(self._show_jobs)
        self.job_manager.idle.connect(self._jobs_ended_while_closing)
        self._closing = False  # a close is waiting for a job that could not stop
        # How long closing waits for jobs to answer Stop (within a second, as a
        # rule) before it keeps the window open until they end.
        self.stop_wait_ms = 10_000
        self.setWindowTitle("allgui")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setMinimumSize(*MINIMUM_SIZE)
        self._build_central()
        self._build_log()
        self._build_status()
        self._build_menus()
        # Never smaller than the tabs need: below it, their widgets would overlap.
        # What they need grows when a figure or a warning comes in later: looked
        # at again then (coalesced), as long as the screen has the room.
        self._minimum_timer = QTimer(self)
        self._minimum_timer.setSingleShot(True)
        self._minimum_timer.setInterval(100)
        self._minimum_timer.timeout.connect(self.hold_minimum)
        self.hold_minimum()
        self._restore_geometry()
        if probe_device:
            self.job_manager.start("Checking the device", probe, on_success=self._device_found,
                                   on_failure=lambda exc: None, background=True)

    def hold_minimum(self) -> None:
        """The window's minimum: MINIMUM_SIZE, raised to what the tabs need now
        (within the screen's room)."""
        need = self.minimumSizeHint()
        width, height = max(MINIMUM_SIZE[0], need.width()), max(MINIMUM_SIZE[1], need.height())
        room = screen_fit.room_for(self)
        if room is not None:  # but never below MINIMUM_SIZE
            width = max(MINIMUM_SIZE[0], min(width, room.width()))
            height = max(MINIMUM_SIZE[1], min(height, room.height()))
        if (width, height) != (self.minimumWidth(), self.minimumHeight()):
            self.setMinimumSize(width, height)

    def event(self, event) -> bool:
        if event.type() == QEvent.LayoutRequest:  # a tab's needs may have grown
            self._minimum_timer.start()
        return super().event(event)

    def _device_found(self, text: str) -> None:
        self.session.engine_ready = True
        self.device_label.setText(text)

    # -- what the window holds (tabs read these) ------------------------------------
    @property
    def project(self) -> Project | None:
        return self.session.project

    @property
    def synthetic(self) -> bool:
        return self.session.synthetic

    @property
    def engine_ready(self) -> bool:
        return self.session.engine_ready

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
        # Another study: the Validate tab's trials are that study's (it fills them anew).
        self.session.study_changed.connect(lambda _name: self.validate_tab.search_finished(None))
        if not has_training_engine():
            # The classify-only build: say why the other tabs are off.
            for tab in self.all_tabs():
                if tab.needs_training_engine:
                    i = self.tabs.indexOf(tab)
                    self.tabs.setTabEnabled(i, False)
                    self.tabs.setTabToolTip(
                        i, "This build of allgui only classifies images (torch is not installed).")
            self.tabs.setCurrentWidget(self.classify_tab)
        self._show_project_label()

    def all_tabs(self) -> list:
        return [self.dataset_tab, self.optimize_tab, self.validate_tab, self.classify_tab]

    def _build_log(self) -> None:
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(5000)
        # three lines at the least: the log gives the tabs its room at the smallest size
        self.log_view.setMinimumHeight(3 * self.log_view.fontMetrics().lineSpacing() + 12)
        self.log_dock = QDockWidget("Log", self)
        self.log_dock.setObjectName("logDock")
        self.log_dock.setWidget(self.log_view)
        self.log_dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetClosable)
        self.addDockWidget(Qt.BottomDockWidgetArea, self.log_dock)
        self._relay = LogRelay()
        self._relay.line.connect(self.log_view.appendPlainText)
        self._relay.install()

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
            "&New project…", self.new_project_form, QKeySequence.New, "Make a project folder"
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
                self._action(tab.title, lambda _=False, t=tab: self.tabs.setCurrentWidget(t),
                             f"Ctrl+{i + 1}")
            )
        view_menu.addSeparator()
        view_menu.addAction(self.log_dock.toggleViewAction())
        self.log_dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+L"))

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self._action("&User guide", self.show_user_guide,
                                         QKeySequence.HelpContents,
                                         "How to use the four tabs, step by step"))
        help_menu.addSeparator()
        help_menu.addAction(self._action("&About allgui", self.show_about))

    def _restore_geometry(self) -> None:
        geometry = self.settings.geometry()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(screen_fit.first_size(self, FIRST_SIZE))
        self.fit_to_screen()
        state = self.settings.window_state()
        if state is not None:
            self.restoreState(state)
        else:
            self.resizeDocks([self.log_dock], [110], Qt.Vertical)

    def fit_to_screen(self) -> None:
        """The window within the screen's free room (a laptop's 1280x800 less its
        panels and the window manager's frame), its title bar and status bar in
        view: a first size, or one saved on a larger screen, is shrunk to it."""
        screen_fit.fit_to_screen(self)

    # -- jobs (see JobManager) -----------------------------------------------------
    @property
    def jobs(self) -> list[Job]:
        return self.job_manager.jobs

    def busy(self) -> bool:
        return self.job_manager.busy()

    def project_job(self) -> Job | None:
        """The running job that trains, reads the data or changes the project, if any."""
        return self.job_manager.exclusive_job()

    def refuse_second_job(self, what: str) -> bool:
        return self.job_manager.refuse_second(what)

    def start_job(self, name: str, fn: JobFunction, *args: Any, **callbacks: Any) -> Job | None:
        return self.job_manager.start(name, fn, *args, **callbacks)

    def _show_jobs(self) -> None:
        if self._closing:
            return  # the status line says what closing waits for
        names = [j.name for j in self.jobs if j.is_running()]
        self.job_label.setText(("Running: " + ", ".join(names)) if names else "")

    # -- messages ----------------------------------------------------------
    def show_error(self, error: BaseException | str, title: str = "allgui") -> None:
        errors.show_error(self, error, title)

    def log(self, text: str) -> None:
        log.info(text)

    def show_user_guide(self):
        from allgui.gui.help import show_user_guide

        return show_user_guide(self)

    def show_about(self) -> None:
        dialog = AboutDialog(self)
        dialog.setAttribute(Qt.WA_DeleteOnClose, True)
        dialog.open()

    # -- closing ------------------------------------------------------------
    def save_state(self) -> None:
        self.settings.set_geometry(self.saveGeometry(), self.saveState())
        for tab in self.all_tabs():
            save = getattr(tab, "save_choices", None)
            if save is not None:
                save()
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Every job is stopped and joined before the window (and its Qt
        objects) goes: a thread destroyed while running aborts the process."""
        if self.busy() and not self._closing and not dialogs.ask_yes_no(
            self,
            "Stop the running job?",
            "A job is still running. Stop it and close allgui? Finished trials and runs "
            "are kept and the study can be resumed later.",
        ):
            event.ignore()
            return
        if self.job_manager.all_jobs:
            self.job_label.setText("Stopping…")
        if not self.job_manager.shutdown(self.stop_wait_ms):
            # A job that cannot stop midway (export, loading a model, a
            # download) is still running. Stay open, refusing new jobs, and
            # close by ourselves once it has ended.
            self._closing = True
            names = ", ".join(f"'{j.name}'" for j in self.job_manager.all_jobs)
            text = (f"Waiting for {names} to finish: it cannot stop midway. allgui closes "
                    "by itself as soon as it has ended; finished work is kept.")
            self.job_label.setText(text)
            log.info(text)
            event.ignore()
            return
        self._closing = False
        self.save_state()
        self._relay.uninstall()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self._wheel_guard)
        event.accept()

    def _jobs_ended_while_closing(self) -> None:
        if self._closing:  # the close the user asked for, now safe
            QTimer.singleShot(0, self.close)
