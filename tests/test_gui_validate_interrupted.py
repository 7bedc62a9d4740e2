"""The Validate tab shows a batch whose process was killed as interrupted,
not as running for ever (issue 13, case 24)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support.gui import wait_jobs

pytestmark = pytest.mark.gui


def test_a_killed_batch_shows_as_interrupted(window, qtbot, tmp_path, captured, make_demo_project):
    from allgui.core.validation.batch import BATCH_FILE
    from allgui.core.validation.process import this_process
    from allgui.core.validation.run import ValidationSettings, run_batch

    project = make_demo_project(tmp_path / "demo")
    batch = run_batch(project, ValidationSettings(
        runs=1, epochs=1, params={"lr": 3e-3, "hidden": 16, "batch_size": 16}))
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    data = json.loads((batch.path / BATCH_FILE).read_text())
    data.update(status="running", process={**this_process(), "pid": child.pid, "started": None})
    (batch.path / BATCH_FILE).write_text(json.dumps(data))  # what kill -9 in run 2 leaves

    window.open_project(project.root)
    wait_jobs(qtbot, window)
    assert not captured.errors, captured.errors
    tab = window.validate_tab
    assert f"Batch {batch.batch_id}</b> (interrupted)" in tab.summary.text()
    assert "running" not in tab.summary.text()
