"""The main window's shell: notice, About, projects, settings, errors, jobs, closing."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from PySide6.QtCore import QThread

from allgui import RESEARCH_NOTICE
from allgui.core.errors import Cancelled, DatasetError
from allgui.core.events import Notice, Progress
from allgui.core.project import Project, ProjectSettings

from support.gui import wait_until
from support.processes import until_stopped

pytestmark = pytest.mark.gui


def test_notice_tabs_and_about(window, qtbot):
    assert window.notice.isVisible() and RESEARCH_NOTICE in window.notice.text()
    titles = [window.tabs.tabText(i).replace("&", "") for i in range(window.tabs.count())]
    assert titles == ["Dataset", "Optimize", "Validate", "Classify"]
    window.show_about()
    from allgui.gui.about import AboutDialog

    about = window.findChild(AboutDialog)
    text = about.text.toPlainText()
    assert "10.7937/tcia.2019.dc64i46r" in text and RESEARCH_NOTICE in text
    assert "LGPL" in text and "onnxruntime" in text
    about.close()


def test_projects_recent_and_geometry_remembered(window, qtbot, tmp_path, app_settings):
    Project.create(tmp_path / "p1", ProjectSettings())
    assert window.open_project(tmp_path / "p1")
    assert window.project.root == (tmp_path / "p1").resolve()
    assert "p1" in window.project_label.text()
    size = (window.minimumWidth(), window.minimumHeight() + 6)  # not the default size
    window.resize(*size)
    window.optimize_tab.objective.setCurrentIndex(
        window.optimize_tab.objective.findData("weighted_f1"))
    window.close()

    from allgui.gui.main_window import MainWindow

    again = MainWindow(app_settings, probe_device=False)
    qtbot.addWidget(again)
    assert (again.size().width(), again.size().height()) == size
    assert app_settings.recent_projects()[0] == str((tmp_path / "p1").resolve())
    assert again.optimize_tab.objective.currentData() == "weighted_f1"
    again.close()


def test_bad_project_folder_is_a_plain_dialog(window, captured, tmp_path):
    assert not window.open_project(tmp_path)
    message, _ = captured.errors[-1]
    assert "not an allgui project" in message and "Traceback" not in message
    assert window.project is None


def test_events_cross_into_the_gui_thread_queued(window, qtbot):
    seen = []
    gui_thread = QThread.currentThread()

    def work(sink, cancel):
        for i in range(5):
            sink(Progress("t", phase="p", done=i + 1, total=5))
        sink(Notice("t", level="warning", text="careful: a test notice"))
        return threading.get_ident()

    results = []
    window.start_job("test", work,
                     on_event=lambda e: seen.append((e, QThread.currentThread() is gui_thread)),
                     on_success=results.append)
    wait_until(lambda: not window.jobs, 10_000)
    assert [e.done for e, _ in seen if isinstance(e, Progress)] == [1, 2, 3, 4, 5]
    assert all(on_gui for _, on_gui in seen)
    assert results and results[0] != threading.get_ident()  # ran on another thread
    assert "careful: a test notice" in window.log_view.toPlainText()


def test_job_failure_is_a_dialog_and_cancel_is_quiet(window, qtbot, captured):
    def bad(sink, cancel):
        raise DatasetError("No images were found in that folder.", "searched /x")

    window.start_job("scan", bad)
    wait_until(lambda: not window.jobs, 10_000)
    assert captured.errors[-1] == ("No images were found in that folder.", "searched /x")

    def stopped(sink, cancel):
        raise Cancelled()

    n = len(captured.errors)
    window.start_job("scan", stopped)
    wait_until(lambda: not window.jobs, 10_000)
    assert len(captured.errors) == n


def test_close_during_a_job_asks_then_stops_and_waits(window, qtbot, captured):
    job = window.start_job("long", until_stopped)
    captured.answer = False
    assert not window.close()  # the user said no: nothing stops
    assert window.isVisible() and job.is_running() and not job.cancel.is_set()
    captured.answer = True
    assert window.close()
    assert job.cancel.is_set() and not job._thread.isRunning()


def test_close_waits_for_a_job_that_cannot_stop_then_closes_by_itself(window, qtbot, captured):
    """A job that never checks Stop (an export, a model download) is not destroyed
    with the window: the window stays open, says why, and closes once it ends."""
    release = threading.Event()
    job = window.start_job("Export", lambda sink, cancel: release.wait(30))
    window.stop_wait_ms = 200
    captured.answer = True
    assert not window.close()
    assert window.isVisible() and job.is_running()
    assert "closes by itself" in window.job_label.text()
    release.set()
    wait_until(lambda: not window.isVisible(), 10_000)
    assert not job._thread.isRunning()


def test_last_resort_handler_reports_and_keeps_running(window, qtbot, captured, tmp_path):
    from allgui.gui.errors import LastResortHandler

    saved = []
    handler = LastResortHandler(lambda: window, lambda: saved.append(1), tmp_path / "crash")
    handler.install()
    try:
        try:
            raise ZeroDivisionError("boom in a slot")
        except ZeroDivisionError:
            sys.excepthook(*sys.exc_info())
        wait_until(lambda: len(handler.reports) == 1, 5000)

        def thread_body():
            raise ValueError("boom in a thread")

        t = threading.Thread(target=thread_body, name="worker-x")
        t.start()
        t.join()
        wait_until(lambda: len(handler.reports) == 2, 5000)
    finally:
        handler.uninstall()
    assert saved == [1, 1]
    texts = [p.read_text() for p in handler.reports]
    assert "boom in a slot" in texts[0] and "worker-x" in texts[1]
    message, details = captured.errors[-1]
    assert "keeps running" in message and "Traceback" not in message
    assert "boom in a thread" in details
    assert window.isVisible()


def test_error_words_for_common_failures():
    from allgui.gui.errors import plain_message

    disk = OSError(28, "No space left on device")
    assert "disk is full" in plain_message(disk)[0]
    assert "memory" in plain_message(RuntimeError("CUDA out of memory. Tried"))[0]
    assert plain_message(DatasetError("plain", "d")) == ("plain", "d")


def test_window_modules_do_not_import_torch():
    code = ("import sys, allgui.gui.main_window, allgui.gui.app; "
            "print('torch' in sys.modules, 'optuna' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]


def test_questions_show_names_as_written_never_as_markup(qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    from allgui.gui import dialogs

    # A project or folder name from elsewhere can hold markup; the question names it.
    box = dialogs.question_box(None, "Replace?", "<b>x</b><img src=y> already holds a report")
    qtbot.addWidget(box)
    assert box.textFormat() == Qt.PlainText
    assert box.text() == "<b>x</b><img src=y> already holds a report"
    assert box.defaultButton() is box.button(QMessageBox.No)  # Enter keeps things as they are
