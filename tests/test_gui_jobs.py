"""One training or data job at a time in the window, whichever tab starts it."""

from __future__ import annotations

import pytest

from support.gui import tiny_search_form, wait_jobs

pytestmark = pytest.mark.gui


def test_a_running_search_keeps_other_training_and_data_jobs_out(window, qtbot, tmp_path,
                                                                 captured, make_demo_project):
    project = make_demo_project(tmp_path / "demo")
    window.open_project(project.root)
    wait_jobs(qtbot, window)
    assert window.dataset_tab.view is not None and not captured.errors
    tiny_search_form(window.optimize_tab, trials=50, epochs=50)
    window.optimize_tab.start()
    search = window.optimize_tab.job
    assert search is not None and window.project_job() is search

    attempts = {
        "validation": window.validate_tab.start,
        "split change": window.dataset_tab.apply_split,
        "demo data": window.dataset_tab.make_demo,
        "dataset": lambda: window.dataset_tab.open_dataset(project.settings.dataset.path),
    }
    for what, attempt in attempts.items():
        before = len(captured.errors)
        attempt()
        assert len(captured.errors) == before + 1, what
        assert "'Search' is still running" in captured.errors[-1][0], what
        assert window.jobs == [search], what  # nothing else started
    assert window.validate_tab.job is None and window.dataset_tab.job is None

    search.stop()
    wait_jobs(qtbot, window, timeout=120_000)
    assert window.project_job() is None


def test_classifying_does_not_block_training(window, qtbot):
    job = window.start_job("Classifying", lambda sink, cancel: cancel.wait(10))
    assert window.busy() and window.project_job() is None
    assert not window.refuse_second_job("starting the search")
    job.stop()
    wait_jobs(qtbot, window)
