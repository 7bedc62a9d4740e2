"""Closing the window while jobs run: every job is stopped and joined before
Qt objects go, so the process ends with code 0 and no thread left running.

The window runs in a child process: a QThread destroyed while running aborts
the whole process (exit 134), which a test in this process could not report.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from allgui.gui.jobs import stateless

from support.gui import wait_until
from support.processes import until_stopped

pytestmark = pytest.mark.gui

HERE = Path(__file__).resolve().parent


def test_closing_during_a_search_exits_cleanly(tmp_path):
    out = subprocess.run([sys.executable, __file__, str(tmp_path)], capture_output=True,
                         text=True, timeout=400)
    print(out.stdout[-3000:], out.stderr[-3000:])
    assert "QThread: Destroyed" not in out.stderr
    assert out.returncode == 0, out.stderr[-3000:]
    complete = re.search(r"closed during the search, (\d+) trials complete", out.stdout)
    assert complete and int(complete.group(1)) >= 3
    assert "'Search'" in out.stdout and "'Checking the device'" in out.stdout
    assert "threads running after close: []" in out.stdout
    assert "errors shown: []" in out.stdout


def test_shutdown_stops_and_joins_every_job_and_refuses_new_ones(window, qtbot):
    from allgui.gui.jobs import JobManager

    manager: JobManager = window.job_manager
    started_after = []

    def after(_result):  # a job's callback that would start another as the window goes
        started_after.append(manager.start("Too late", until_stopped))

    jobs = [manager.start("one", until_stopped), manager.start("two", until_stopped, on_success=after),
            manager.start("quiet", until_stopped, background=True),
            manager.start("slow to stop", stateless(lambda: time.sleep(0.5)), on_success=after)]
    assert all(j is not None and j.is_running() for j in jobs)
    assert manager.busy() and len(manager.all_jobs) == 4 and len(manager.jobs) == 3
    assert manager.shutdown(timeout_ms=10_000)
    assert started_after == [None]  # refused: nothing new starts once shutdown began
    assert all(j.cancel.is_set() and not j._thread.isRunning() for j in jobs)
    assert manager.all_jobs == [] and not manager.busy()
    assert manager.start("after", until_stopped) is None


def test_shutdown_says_when_a_job_cannot_stop_in_time(window, qtbot):
    manager = window.job_manager
    release = threading.Event()
    job = manager.start("Export", lambda sink, cancel: release.wait(30))
    assert not manager.shutdown(timeout_ms=200)  # it ignores Stop: still running
    assert job.is_running() and job in manager.jobs
    release.set()
    wait_until(lambda: not manager.jobs, 10_000)
    assert not job._thread.isRunning()


# -- the child process -------------------------------------------------------------------------


def close_during_search(work: Path) -> int:
    sys.path.insert(0, str(HERE))
    from PySide6.QtCore import QTimer

    from allgui.gui import dialogs, errors
    from allgui.gui.app import make_application
    from allgui.gui.main_window import MainWindow
    from allgui.gui.settings import AppSettings

    from support.gui import tiny_search_form
    from support.tiny_project import make_demo_project

    app = make_application()
    shown: list[str] = []
    errors.present = lambda box: shown.append(box.text())
    dialogs.ask_yes_no = lambda *a: True  # "Stop the running job?": yes
    settings = AppSettings(work / "settings.ini")
    settings.set_projects_dir(work / "projects")
    project = make_demo_project(work / "demo")
    w = MainWindow(settings)  # the device probe too is one of the jobs to join
    started = list(w.job_manager.all_jobs)  # the device probe, started with the window
    w.job_started.connect(started.append)
    w.show()
    w.open_project(project.root)
    wait_until(lambda: not w.jobs, 120_000)
    tab = w.optimize_tab
    tiny_search_form(tab, trials=50, epochs=2)
    tab.start()
    # Three complete trials: enough for the importances, which the search's end starts.
    wait_until(lambda: len(tab.book.complete()) >= 3 or tab.job is None, 300_000)
    print(f"closed during the search, {len(tab.book.complete())} trials complete", flush=True)
    QTimer.singleShot(0, w.close)
    QTimer.singleShot(120_000, lambda: app.exit(3))  # a close that never came
    code = app.exec()
    print("jobs started:", sorted({j.name for j in started}))
    print("threads running after close:", [j.name for j in started if j._thread.isRunning()])
    print("errors shown:", shown, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(close_during_search(Path(sys.argv[1])))
