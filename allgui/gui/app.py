"""Starting the window: ``allgui`` with no command runs :func:`run_app`."""

from __future__ import annotations

import sys

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from allgui import __version__


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication, created once, with the app's names and high-DPI policy."""
    from allgui.gui.binding_guard import guard_none

    guard_none()  # before the window makes its first thousands of Qt calls
    app = QApplication.instance()
    if app is not None:
        return app
    # Fractional scale factors (125%, 150%) rendered as they are, not rounded.
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    QCoreApplication.setOrganizationName("allgui")
    QCoreApplication.setApplicationName("allgui")
    QCoreApplication.setApplicationVersion(__version__)
    app = QApplication([sys.argv[0] if sys.argv else "allgui", *(argv or [])])
    app.setApplicationDisplayName("allgui")
    return app


def run_app(argv: list[str] | None = None) -> int:
    """Open the main window and run until it is closed; returns the exit code.

    ``argv`` may name a project folder to open.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    from allgui.gui.platform_check import window_problem

    problem = window_problem()
    if problem is not None and QApplication.instance() is None:
        print(f"allgui: {problem}", file=sys.stderr)  # Qt would abort with less
        return 2
    app = make_application([a for a in argv if a.startswith("-")])
    from allgui.gui.errors import LastResortHandler
    from allgui.gui.main_window import MainWindow, app_icon

    app.setWindowIcon(app_icon())
    window = MainWindow()
    handler = LastResortHandler(lambda: window, window.save_state)
    handler.install()
    projects = [a for a in argv if not a.startswith("-")]
    if projects:
        window.open_project(projects[0])
    window.show()
    try:
        return app.exec()
    finally:
        # Closing the window has joined every job; should the loop end some
        # other way, join them here: a thread still running at exit aborts.
        window.job_manager.shutdown(60_000)
        handler.uninstall()
