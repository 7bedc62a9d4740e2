"""The counts and labels of the window tell the truth (issue 26, item 12):
time left near the end, trials counted as Resume counts them, failed apart
from stopped, a study searched in is not 'new', no readout of another
project, a legend without entries for curves not drawn, Stop only where a
job can stop, classify results A to Z."""

from __future__ import annotations

import pytest

from support.gui import wait_jobs

pytestmark = pytest.mark.gui


class FakeClock:
    """Seconds the test sets (the estimate is checked against known durations)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_time_left_falls_as_the_last_trial_goes_on(window):
    from allgui.core.events import EpochEnded, JobStarted, TrialFinished, TrialStarted

    tab = window.optimize_tab
    clock = tab.clock = FakeClock()
    tab.study_started = 0.0
    events = [(0, JobStarted("search", total=2)),
              (60, TrialStarted("search", number=0))]  # a minute of features first
    events += [(60 + 20 * e, EpochEnded("search", trial=0, epoch=e, epochs=5))
               for e in range(1, 6)]
    events += [(160, TrialFinished("search", number=0, value=0.8)),
               (160, TrialStarted("search", number=1))]
    events += [(160 + 20 * e, EpochEnded("search", trial=1, epoch=e, epochs=5))
               for e in range(1, 5)]
    for t, event in events:
        clock.now = t
        tab.on_event(event)
    # 4 of 5 epochs of the last trial done, 100 s a trial: one epoch, 20 s, is left
    assert tab.progress.eta.text() == "study: about 20 s left"


def test_the_study_list_counts_what_resume_counts():
    from allgui.core.search.study import StudyInfo
    from allgui.gui.optimize.studies import describe_study

    words = describe_study(StudyInfo(name="s2", n_trials=7, n_counted=5, best_value=0.9,
                                     objective="accuracy", last_change=None))
    assert words.startswith("s2: 5 trials done (and 2 stopped or running)")  # "Resume (5 of 6)"


def test_a_stopped_trial_is_not_called_failed():
    from allgui.core.search.loop import end_message
    from allgui.core.search.settings import SearchSettings
    from allgui.core.search.study import SearchResult

    result = SearchResult(study_name="s", storage_url="", objective="accuracy",
                          settings=SearchSettings(), trials=(), best=None, n_complete=0,
                          n_pruned=0, n_failed=1, stopped=True, recovered=0,
                          epochs_saved_by_pruning=0, duration_s=1.0, features_s=0.0,
                          n_counted=0, n_stopped=1)
    text = end_message(result, stopped=True, error=None)
    assert "1 failed" not in text and "0 failed, 1 stopped" in text


def test_a_study_being_searched_is_not_listed_as_new(window, qtbot, tmp_path, make_demo_project):
    from allgui.core.events import JobStarted, TrialFinished, TrialStarted

    window.open_project(make_demo_project(tmp_path / "demo").root)
    wait_jobs(qtbot, window)
    tab = window.optimize_tab
    tab.pick_study("s3")
    assert "new study, no trial yet" in tab.study_picker.currentText()
    tab.on_event(JobStarted("search", total=3))
    for n in range(2):
        tab.on_event(TrialStarted("search", number=n))
        tab.on_event(TrialFinished("search", number=n, value=0.5 + n / 10))
    assert tab.study_picker.currentText().startswith("s3: searching, 2 complete so far")


def test_no_plot_readout_stays_from_another_project(window, qtbot, tmp_path, make_demo_project):
    window.open_project(make_demo_project(tmp_path / "a").root)
    wait_jobs(qtbot, window)
    plots = window.optimize_tab.plots
    plots.history.toolbar.set_message("x=3 y=0.91")  # what pointing at a trial leaves
    window.open_project(make_demo_project(tmp_path / "b").root)
    wait_jobs(qtbot, window)
    assert plots.history.toolbar.locLabel.text() == ""


def test_the_curve_legend_names_only_curves_drawn(qtbot):
    from allgui.core.events import EpochEnded, TrialStarted
    from allgui.gui.optimize.plots import OptimizePlots
    from allgui.gui.optimize.trials_model import TrialBook

    book = TrialBook()
    plots = OptimizePlots(book)
    qtbot.addWidget(plots)
    book.apply(TrialStarted("search", number=0))
    book.apply(EpochEnded("search", trial=0, epoch=1, epochs=3, val_loss=0.6, objective=0.7))
    plots._update_curves()
    legend = plots.curves.axes[1].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["running"]


def test_classify_results_start_sorted_a_to_z(window, qtbot, tiny_models, tmp_path):
    import numpy as np
    from PIL import Image

    model = tmp_path / "tiny.onnx"
    tiny_models.export(model)
    tab = window.classify_tab
    tab.load_model(str(model))
    wait_jobs(qtbot, window)
    folder = tmp_path / "smear"
    folder.mkdir()
    rng = np.random.default_rng(0)
    # as a file manager lists them: numbers by value, letters without case
    expected = ["1.png", "2.png", "10.png", "a.png", "B.png", "c.png"]
    for name in ("10.png", "B.png", "c.png", "2.png", "a.png", "1.png"):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(folder / name)
    tab.classify_paths([str(folder)])  # the Classify tab's "Choose folder…"
    wait_jobs(qtbot, window)
    names = [tab.table.item(r, 0).text() for r in range(tab.table.rowCount())]
    assert names == expected
    assert tab.progress.label.text() == "6 images classified."
    tab.classify_paths([str(folder / "a.png"), str(folder / "c.png")])  # added to the table
    wait_jobs(qtbot, window)
    assert tab.table.rowCount() == 8
    # the words name the table's rows too ("2 images classified." beside 8 rows)
    assert tab.progress.label.text() == "2 images classified. 8 images in the table."


def test_the_command_line_says_stopped_apart_from_failed():
    import io

    from allgui.cli.optimize import SearchPrinter
    from allgui.core.events import JobFinished, StudyFinished

    out = io.StringIO()
    printer = SearchPrinter(epochs=3, stream=out)
    printer(StudyFinished("search", n_complete=0, n_pruned=0, n_failed=1, stopped=True,
                          n_stopped=1))
    printer(JobFinished("search", ok=True, stopped=True))
    assert "0 failed, 1 stopped" in out.getvalue() and "1 failed" not in out.getvalue()


def test_an_opened_study_shows_its_trials_on_the_bar(window, qtbot, tmp_path, make_demo_project):
    """A finished study, opened, showed an empty bar ("0%") beside "6 complete"."""
    from allgui.core.search.settings import SearchSettings
    from allgui.core.search.study import SearchResult, TrialSummary

    window.open_project(make_demo_project(tmp_path / "demo").root)
    wait_jobs(qtbot, window)
    tab = window.optimize_tab
    tab.trials.setValue(4)
    trials = tuple(TrialSummary(number=n, state="complete", value=0.5 + n / 10, params={})
                   for n in range(3))
    result = SearchResult(study_name=window.session.study, storage_url="", objective="accuracy",
                          settings=SearchSettings(), trials=trials, best=trials[-1],
                          n_complete=3, n_pruned=0, n_failed=0, stopped=False, recovered=0,
                          epochs_saved_by_pruning=0, duration_s=3.0, features_s=0.0, n_counted=3)
    tab._study_loaded(result)
    wait_jobs(qtbot, window)
    bar = tab.progress.bar
    assert (bar.value(), bar.maximum()) == (3, 4)
    assert "3 of 4 trials done" in tab.progress.label.text()
    assert tab.start_button.text() == "Resume search (3 of 4 done)"


def test_the_search_s_bar_follows_the_data_s_preparation(window, qtbot):
    # Before its trials a search prepares the data: a cache job of 800 images,
    # then the look for near-duplicates. The study's bar took the cache's
    # total for the study's and held it at 0 of 800: 11 s unmoving on 800
    # real smears (issue 26's window flow).
    import threading

    from allgui.core.events import JobStarted, Progress

    from support.gui import wait_until

    go = threading.Event()

    def search_like(sink, cancel) -> str:
        sink(JobStarted("cache", description="Preparing 800 images at 224 px", total=800))
        sink(Progress("cache", phase="preparing images", done=400, total=800))
        sink(Progress("prepare-data", phase="near-duplicates", done=40, total=800,
                      message="Looking for near-duplicates"))
        go.wait(60)
        return "done"

    tab = window.optimize_tab
    tab.run_job("Search", search_like, text="Preparing the data…", on_event=tab.on_event)
    bar = tab.progress.bar
    try:
        wait_until(lambda: bar.value() == 40, timeout=20_000)
        assert (bar.maximum(), tab.progress.label.text()) == (800, "Looking for near-duplicates")
    finally:
        go.set()
        wait_jobs(qtbot, window)
