"""Shared set-up for the window tests (pytest-qt, offscreen).

Each test gets a main window with its own temporary settings file and
projects folder, dialogs captured instead of shown, and a check on teardown
that every job's thread has ended.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: F401 - Qt for tests
from PySide6.QtGui import QDropEvent

from allgui.core.project import DatasetSettings, ModelSettings, Project, ProjectSettings
from allgui.gui import dialogs, errors
from allgui.gui.settings import AppSettings

TINY_BACKBONE = "test_efficientnet"
DEMO_SMALL = dict(patients_all=4, patients_hem=3, images_per_patient=5, size=48,
                  test_patients_all=1, test_patients_hem=1, unlabelled_images=2)


class Dialogs:
    """Captures the window's error dialogs; answers its questions."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []  # (message, details)
        self.answer = True

    def present(self, box) -> None:
        self.errors.append((box.text(), box.detailedText()))
        box.deleteLater()


@pytest.fixture
def captured(monkeypatch) -> Dialogs:
    d = Dialogs()
    monkeypatch.setattr(errors, "present", d.present)
    monkeypatch.setattr(dialogs, "ask_yes_no", lambda *a: d.answer)
    return d


@pytest.fixture
def app_settings(tmp_path) -> AppSettings:
    s = AppSettings(tmp_path / "settings.ini")
    s.set_projects_dir(tmp_path / "projects")
    return s


@pytest.fixture
def window(qtbot, app_settings, captured):
    from allgui.gui.main_window import MainWindow

    w = MainWindow(app_settings, probe_device=False)
    w.dataset_tab.demo_options = dict(DEMO_SMALL)
    qtbot.addWidget(w)
    started = []
    w.job_started.connect(started.append)
    w.show()
    yield w
    for job in list(w.jobs):
        job.stop()
    for job in started:
        assert job.wait(30_000), f"job {job.name} did not end"
        assert not job._thread.isRunning()
    qtbot.waitUntil(lambda: not w.jobs, timeout=10_000)


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


def drop_paths(widget, paths) -> QDropEvent:
    """Deliver a drop of local ``paths`` to ``widget`` as a file manager would."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(20, 20), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    widget.dropEvent(event)
    return event


def make_demo_project(root: Path, image_size: int = 32) -> Project:
    from allgui.core.dataset.demo import make_demo_dataset

    data = make_demo_dataset(root / "data", **DEMO_SMALL)
    return Project.create(root, ProjectSettings(
        dataset=DatasetSettings(path=str(data), image_size=image_size),
        model=ModelSettings(backbone=TINY_BACKBONE, weights="none"),
    ))


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
