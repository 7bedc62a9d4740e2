"""The Validate tab continues a stopped batch as ``allgui validate`` does,
shows each run as it finishes, and clears the last batch when a new one
starts (issue 26, items 1 and 2)."""

from __future__ import annotations

import threading

import pytest

from support.gui import wait_jobs, wait_until

pytestmark = pytest.mark.gui

PARAMS = {"lr": 3e-3, "hidden": 16, "batch_size": 16}


def _form(tab, runs: int) -> None:
    tab.params.setText("lr=0.003, hidden=16, batch_size=16")
    tab.runs.setValue(runs)
    tab.epochs.setValue(1)
    tab.baseline.setCurrentIndex(tab.baseline.findData("none"))


def test_a_stopped_batch_resumes_in_the_window(window, qtbot, tmp_path, captured,
                                               make_demo_project):
    from allgui.core.events import RunFinished
    from allgui.core.validation.batch import list_batches
    from allgui.core.validation.run import ValidationSettings, run_batch

    project = make_demo_project(tmp_path / "demo")
    cancel = threading.Event()

    def stop_after_first(event) -> None:  # what closing the window after run 1 leaves
        if isinstance(event, RunFinished):
            cancel.set()

    stopped = run_batch(project, ValidationSettings(runs=2, epochs=1, params=PARAMS),
                        sink=stop_after_first, cancel=cancel)
    assert stopped.state == "stopped" and len(stopped.runs_of("tuned")) == 1
    first = stopped.runs_of("tuned")[0]
    first_written = first.checkpoint.stat().st_mtime_ns

    window.open_project(project.root)
    wait_jobs(qtbot, window)
    tab = window.validate_tab
    _form(tab, runs=2)
    assert tab.run_button.text() == "Resume validation (1 of 2 done)"
    _form(tab, runs=3)  # other settings: a new batch, and the button says so
    assert tab.run_button.text() == "Run validation (new batch)"
    _form(tab, runs=2)

    tab.start()
    wait_jobs(qtbot, window, timeout=180_000)
    assert not captured.errors, captured.errors
    batches = list_batches(project)
    assert [b.batch_id for b in batches] == [stopped.batch_id]  # continued, not started again
    done = batches[0]
    assert done.state == "finished" and len(done.runs_of("tuned")) == 2
    kept = done.runs_of("tuned")[0]
    assert kept.checkpoint.stat().st_mtime_ns == first_written  # run 1 not trained again
    assert tab.view is not None and tab.view.batch.batch_id == stopped.batch_id
    assert tab.run_button.text() == "Run validation"  # nothing left to continue


def test_each_run_shows_as_it_finishes_and_a_new_batch_clears_the_last(
        window, qtbot, tmp_path, captured, make_demo_project, monkeypatch):
    from allgui.core.events import RunFinished
    from allgui.gui.validate import tab as tab_module

    project = make_demo_project(tmp_path / "demo")
    window.open_project(project.root)
    wait_jobs(qtbot, window)
    tab = window.validate_tab
    _form(tab, runs=2)
    tab.start()
    wait_jobs(qtbot, window, timeout=180_000)
    assert tab.view is not None and tab.table.rowCount() > 0
    first_batch = tab.view.batch.batch_id

    # The second batch holds after its first run until the window has shown that
    # run, so the test sees the batch mid-way whatever the machine's speed.
    shown = threading.Event()
    real = tab_module.run_and_analyse

    def held(project, settings, sink, cancel):
        def relay(event) -> None:
            sink(event)
            if isinstance(event, RunFinished) and event.run == 1:
                shown.wait(120)
        return real(project, settings, relay, cancel)

    monkeypatch.setattr(tab_module, "run_and_analyse", held)
    tab.start()
    # the last batch leaves the view at once
    assert tab.view is None and tab.table.rowCount() == 0
    assert first_batch not in tab.summary.text()
    wait_until(lambda: tab.view is not None, 120_000)
    assert tab.job is not None  # still running: run 1 shown while run 2 waits
    live = tab.view.batch
    assert live.batch_id != first_batch and len(live.runs_of("tuned")) == 1
    assert tab.table.rowCount() > 0 and tab._cm_holder.itemAt(0).widget() is tab.confusion
    assert not tab.export_button.isEnabled()  # a running batch is not exported
    shown.set()
    wait_jobs(qtbot, window, timeout=180_000)
    assert not captured.errors, captured.errors
    assert len(tab.view.batch.runs_of("tuned")) == 2 and tab.view.batch.state == "finished"


def test_a_running_batch_s_runs_are_read_without_the_bootstrap(tmp_path, make_demo_project,
                                                               monkeypatch):
    # The live read of a running batch waited for the test-image bootstrap
    # (70 s on 800 real smears) before a finished run reached the table; now
    # the runs come at once, the intervals said to come at the batch's end.
    from allgui.core.validation import analysis, bootstrap
    from allgui.core.validation.run import ValidationSettings, run_batch
    from allgui.gui.validate.work import load_folder

    project = make_demo_project(tmp_path / "demo")
    batch = run_batch(project, ValidationSettings(runs=1, epochs=1, params=PARAMS))
    drawn = []
    real = bootstrap.bootstrap_figures
    monkeypatch.setattr(analysis, "bootstrap_figures",
                        lambda *a, **k: drawn.append(1) or real(*a, **k))
    view = load_folder(str(batch.path), sink=lambda e: None, cancel=threading.Event())
    assert view is not None and drawn == []
    assert view.rows and all(row[-1] == analysis.LATER for row in view.rows)
    assert "computed once the batch has ended" in view.note
