"""Plain helpers for the window tests (pytest-qt, offscreen): wait on the
event loop, drop files, fill the Optimize form. The window itself, its
settings and its captured dialogs are fixtures (tests/conftest.py)."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from allgui.core.project import Project

from support.tiny_project import TINY_BACKBONE


class Dialogs:
    """Captures the window's error dialogs; answers its questions."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []  # (message, details)
        self.answer = True

    def present(self, box) -> None:
        self.errors.append((box.text(), box.detailedText()))
        box.deleteLater()


def wait_until(condition, timeout: int = 60_000) -> None:
    """Run the event loop until ``condition()`` holds.

    A real QEventLoop (as the app runs) rather than QTest.qWait's polling,
    which holds the GIL long enough to slow worker threads many times over.
    """
    import time

    from PySide6.QtCore import QEventLoop, QTimer

    if condition():
        return
    loop = QEventLoop()
    deadline = time.monotonic() + timeout / 1000

    def check() -> None:
        if condition() or time.monotonic() > deadline:
            loop.quit()

    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(check)
    timer.start()
    loop.exec()
    timer.stop()
    if not condition():
        raise TimeoutError(f"waited {timeout} ms")


def wait_jobs(qtbot, window, timeout: int = 60_000) -> None:
    wait_until(lambda: not window.jobs, timeout)


def open_demo(window, qtbot, root, make_demo_project) -> Project:
    """A demo project made at ``root`` and opened in ``window``, its dataset shown
    and every job it started finished."""
    project = make_demo_project(root)
    window.open_project(project.root)
    wait_until(lambda: window.dataset_tab.view is not None, 60_000)
    wait_jobs(qtbot, window)
    return project


def drop_paths(widget, paths) -> QDropEvent:
    """Deliver a drop of local ``paths`` to ``widget`` as a file manager would."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(20, 20), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    widget.dropEvent(event)
    return event


def tiny_search_form(tab, trials: int = 2, epochs: int = 2) -> None:
    """Set the Optimize tab for a search that takes seconds on one CPU thread."""
    tab.trials.setValue(trials)
    tab.epochs.setValue(epochs)
    tab.device.setCurrentIndex(tab.device.findData("cpu"))
    tab.backbone.setCurrentText(TINY_BACKBONE)
    tab.weights.setCurrentIndex(tab.weights.findData("none"))
    tab.views.setValue(2)
    tab.startup_trials.setValue(1)


def replace_settings(project: Project, **sections) -> None:
    project.update(**{k: dataclasses.replace(getattr(project.settings, k), **v)
                      for k, v in sections.items()})
