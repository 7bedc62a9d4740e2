"""One training or data job at a time in the window, whichever tab starts it."""

from __future__ import annotations

import threading
import warnings

import pytest

from allgui.gui.jobs import stateless

from support.gui import tiny_search_form, wait_jobs, wait_until

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


def test_a_job_is_given_its_state_explicitly_never_by_parameter_name(window, captured):
    # A function that calls its flag "stop" would never see Stop; it is refused
    # at once, by the job's fixed call, instead of running unstoppable.
    ran = []

    def work(sink, stop=None):
        ran.append(True)
        (stop or threading.Event()).wait(5)

    window.start_job("Unstoppable", work)
    wait_until(lambda: not window.jobs, 10_000)
    assert ran == []
    assert captured.errors and "cancel" in " ".join(captured.errors[-1])
    # A function that takes no state says so where it starts.
    results = []
    window.start_job("Plain", stateless(lambda a, b: a + b), 2, 3, on_success=results.append)
    wait_until(lambda: not window.jobs, 10_000)
    assert results == [5]


def test_a_warning_raised_in_a_job_reaches_the_log_panel(window):
    def work(sink, cancel):
        warnings.warn("the model was exported by an older allgui", UserWarning, stacklevel=1)

    window.start_job("Loading the model", work)
    wait_until(lambda: not window.jobs, 10_000)
    assert "the model was exported by an older allgui (UserWarning)" in \
        window.log_view.toPlainText()


def test_a_job_without_stop_says_its_steps_and_stop_keeps_stopping(qtbot):
    """Issue 26: an export cannot stop midway, so its Stop is off, and its
    progress line then showed none of its steps' words (20 s of one line on the
    real smears). The words show whatever the button; after Stop, "Stopping…" stays."""
    from allgui.core.events import Progress
    from allgui.gui.widgets.progress import JobProgress

    line = JobProgress()
    qtbot.addWidget(line)
    line.set_running(True, "Exporting the model…")
    line.stop_button.setEnabled(False)  # as the Validate tab does for an export
    line.on_event(Progress("export", "export", 1, 3, "checking onnxruntime against torch (4 s)"))
    assert line.label.text() == "checking onnxruntime against torch (4 s)"
    line.set_running(True, "Validating…")
    line.show_stopping()
    line.on_event(Progress("Validation", "runs", 1, 2, "run 2 of 2"))
    assert line.label.text() == "Stopping…"

