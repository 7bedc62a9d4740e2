"""The Optimize tab: a tiny search on demo data, Stop, the space form, live plots."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt

from allgui.core.events import EpochEnded, StudyFinished

from support.gui import open_demo, tiny_search_form, wait_jobs, wait_until

pytestmark = pytest.mark.gui


def test_search_runs_live_and_fills_table_and_plots(window, qtbot, tmp_path, captured, make_demo_project):
    open_demo(window, qtbot, tmp_path / "demo", make_demo_project)
    tab = window.optimize_tab
    tiny_search_form(tab, trials=3, epochs=2)
    events = []
    window.job_started.connect(lambda job: job.event.connect(events.append))
    qtbot.mouseClick(tab.start_button, Qt.LeftButton)
    assert tab.stop_button.isEnabled() and not tab.start_button.isEnabled()
    wait_jobs(qtbot, window, timeout=120_000)
    assert not captured.errors, captured.errors
    assert any(isinstance(e, EpochEnded) for e in events)
    assert isinstance([e for e in events if isinstance(e, StudyFinished)][-1], StudyFinished)
    assert tab.result is not None and tab.result.n_complete == 3
    assert tab.trials_table.rowCount() == 3
    states = {tab.trials_table.item(r, 1).text() for r in range(3)}
    assert states == {"complete"}
    tab.plots.history.redraw_now()
    xs, ys = tab.plots._points.get_data()
    assert list(xs) == [0, 1, 2] and len(ys) == 3
    assert "3 complete" in tab.study_label.text()
    # Importances were computed once there were enough trials (or say why not).
    wait_until(lambda: bool(tab.plots.importances or tab.plots.importance_note), 30_000)
    wait_jobs(qtbot, window)
    # The Validate tab now offers each complete trial.
    assert window.validate_tab.configuration.count() == 1 + 3
    # Selecting a trial shows its learning curves.
    tab.trials_table.selectRow(0)
    tab.plots.curves.redraw_now()
    selected = tab.trials_table.selected_trial()
    assert selected in tab.plots.curve_trials
    slot = tab.plots.curve_roles().index(selected)  # no "running" slot once the search is over
    assert tab.plots.curve_roles()[0] is None
    assert len(tab.plots._curve_lines[slot][1].get_xdata()) == 2  # its validation loss


def test_refused_search_keeps_the_projects_model_settings(window, qtbot, tmp_path, captured, make_demo_project):
    """A study made with one backbone refuses another; the project keeps the
    backbone its study was made with (as the CLI does)."""
    project = open_demo(window, qtbot, tmp_path / "demo", make_demo_project)
    tab = window.optimize_tab
    tiny_search_form(tab, trials=1, epochs=1)
    tab.start()
    wait_jobs(qtbot, window, timeout=120_000)
    assert not captured.errors, captured.errors
    before = window.project.settings.model
    tab.backbone.setCurrentText("test_resnet")
    tab.trials.setValue(2)
    tab.start()
    wait_jobs(qtbot, window, timeout=120_000)
    assert captured.errors and "own study name" in str(captured.errors[-1])
    assert window.project.settings.model == before
    from allgui.core.project import Project

    assert Project.open(project.root).settings.model == before  # on disk too


def test_stop_during_a_search_answers_quickly_and_keeps_the_study(window, qtbot, tmp_path, make_demo_project):
    project = open_demo(window, qtbot, tmp_path / "demo", make_demo_project)
    tab = window.optimize_tab
    tiny_search_form(tab, trials=50, epochs=30)
    epochs = []
    window.job_started.connect(lambda job: job.event.connect(
        lambda e: isinstance(e, EpochEnded) and epochs.append(e)))
    tab.start()
    wait_until(lambda: len(epochs) >= 1, 120_000)
    pressed = time.monotonic()
    qtbot.mouseClick(tab.stop_button, Qt.LeftButton)
    wait_jobs(qtbot, window, timeout=30_000)
    took = time.monotonic() - pressed
    print(f"Stop answered in {took:.2f} s")
    assert tab.result is not None and tab.result.stopped
    assert "Resume" in tab.start_button.text()
    # Reopening the project shows the study as it stands, ready to resume.
    window.open_project(project.root)
    wait_jobs(qtbot, window)
    assert tab.trials_table.rowCount() >= 1


def test_space_form_is_checked_as_typed(window, qtbot, tmp_path, make_demo_project):
    open_demo(window, qtbot, tmp_path / "demo", make_demo_project)
    tab = window.optimize_tab
    editor = tab.space_editor
    assert tab.start_button.isEnabled()
    row = next(r for r in range(editor.table.rowCount())
               if editor.table.item(r, 0).data(Qt.UserRole) == "lr")
    editor.table.item(row, 2).setText("0.5")  # low above high
    assert "must be below" in editor.problem.text()
    assert not tab.start_button.isEnabled()
    editor.table.item(row, 2).setText("abc")
    assert "not a number" in editor.problem.text()
    editor.reset()
    assert editor.problem.text() == "" and tab.start_button.isEnabled()
    settings = tab.search_settings()
    assert settings.space.get("lr").low == 1e-5 and settings.space.get("hidden").choices


def test_live_plot_keeps_the_users_zoom(qtbot):
    from allgui.gui.widgets.plots import LivePlot

    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.show()
    (line,) = plot.ax.plot([], [])
    line.set_data([0, 1, 2], [0.5, 0.6, 0.7])
    plot.redraw_now()
    assert plot.ax.get_xlim()[1] >= 2
    plot.ax.set_xlim(0.5, 1.5)  # the user zooms
    line.set_data([0, 1, 2, 3, 4], [0.5, 0.6, 0.7, 0.8, 0.9])
    plot.redraw_now()
    assert plot.ax.get_xlim() == (0.5, 1.5) and plot.user_zoomed()
    plot.fit()
    assert plot.ax.get_xlim()[1] >= 4 and not plot.user_zoomed()
    for _ in range(20):  # many requests, one redraw
        plot.request_redraw()
    before = plot.draw_count
    wait_until(lambda: plot.draw_count > before and not plot.redraw_pending(), 2000)
    assert plot.draw_count == before + 1


def test_live_plot_repaints_only_the_changing_lines(qtbot):
    from allgui.gui.widgets.plots import LivePlot

    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.resize(500, 300)
    plot.show()
    (line,) = plot.ax.plot([], [])
    plot.animate(line)
    line.set_data([0, 1, 2, 3], [0.5, 0.6, 0.7, 0.8])
    plot.redraw_now()  # limits change: a full draw
    wait_until(lambda: plot._background is not None, 5000)
    full = plot.canvas.grab().toImage()
    line.set_data([0, 1, 2, 3], [0.8, 0.7, 0.6, 0.5])  # inside the limits
    plot.redraw_now()
    assert plot.blit_count == 1
    assert plot.canvas.grab().toImage() != full  # the new line is painted
    line.set_data(range(50), range(50))  # outside: a full draw again
    plot.redraw_now()
    assert plot.blit_count == 1 and plot.ax.get_xlim()[1] >= 49


def test_live_plot_follows_a_dark_palette(qtbot):
    from matplotlib.colors import to_hex
    from PySide6.QtGui import QColor, QPalette

    from allgui.gui.widgets.plots import LivePlot

    plot = LivePlot()
    qtbot.addWidget(plot)
    dark = QPalette(plot.palette())
    dark.setColor(QPalette.Base, QColor("#202124"))
    dark.setColor(QPalette.Text, QColor("#e8eaed"))
    plot.setPalette(dark)
    assert to_hex(plot.figure.get_facecolor()) == "#202124"
    assert to_hex(plot.ax.xaxis.label.get_color()) == "#e8eaed"


def test_new_limits_redraw_everything_not_a_stale_background(qtbot):
    from allgui.gui.widgets.plots import LivePlot

    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.resize(500, 300)
    plot.show()
    (line,) = plot.ax.plot([], [])
    plot.animate(line)
    plot.set_view(0, xlim=(0.5, 10.5), ylim=(0, 1))
    line.set_data([1, 2], [0.5, 0.6])
    plot.redraw_now()
    wait_until(lambda: plot._background is not None, 5000)
    line.set_data([1, 2, 3], [0.5, 0.6, 0.7])
    plot.redraw_now()
    assert plot.blit_count == 1  # same limits: the lines alone
    plot.set_view(0, xlim=(0.5, 30.5))  # another number of epochs: new ticks
    plot.redraw_now()
    assert plot.blit_count == 1 and plot.ax.get_xlim() == (0.5, 30.5)
    plot.set_view(0, xlim=(0.5, 30.5))  # unchanged: nothing more to draw
    plot.redraw_now()
    assert plot.blit_count == 2


def test_toolbar_icons_are_rendered_once_and_again_for_a_dark_palette(qtbot, monkeypatch):
    from PySide6.QtGui import QColor, QPalette

    from allgui.gui.widgets.plots import LivePlot

    plot = LivePlot()
    qtbot.addWidget(plot)
    plot.show()
    zoom = plot.toolbar._actions["zoom"]
    assert not zoom.icon().isNull() and zoom.icon().availableSizes()
    from matplotlib.backends import backend_qt

    engine = getattr(backend_qt, "_IconEngine", None)
    if engine is None:
        pytest.skip("this matplotlib makes plain icons, rendered once anyway")
    renders = []
    real = engine.pixmap

    def counting(self, *args):
        renders.append(args)
        return real(self, *args)

    monkeypatch.setattr(engine, "pixmap", counting)
    for _ in range(3):
        plot.toolbar.repaint()  # painting uses the pixmaps made at start
    assert renders == []
    before = zoom.icon().cacheKey()
    dark = QPalette(plot.palette())
    dark.setColor(QPalette.Window, QColor("#202124"))
    dark.setColor(QPalette.Base, QColor("#202124"))
    plot.setPalette(dark)
    assert renders and zoom.icon().cacheKey() != before  # made anew for the dark palette


def test_pressing_start_finds_the_plots_drawn(window, qtbot, tmp_path, make_demo_project):
    open_demo(window, qtbot, tmp_path / "demo", make_demo_project)
    tab = window.optimize_tab
    window.tabs.setCurrentWidget(tab)
    tab.plots.setCurrentWidget(tab.plots.curves)
    tab.trials.setValue(2)
    tab.epochs.setValue(2)
    # the form's throttled redraw, drawn and nothing more asked for
    wait_until(lambda: tab.plots.curves._background is not None
               and not tab.plots.curves.redraw_pending(), 5000)
    full_before = tab.plots.curves.draw_count - tab.plots.curves.blit_count
    tab.plots.prepare(tab.trials.value(), tab.epochs.value())  # what Start does first
    assert tab.plots.curves.draw_count - tab.plots.curves.blit_count == full_before
    assert tab.plots.curves.ax.get_xlim() == (0.5, 2.5)


def test_importances_wait_for_their_tab_during_a_search(window, qtbot, tmp_path, captured, make_demo_project):
    open_demo(window, qtbot, tmp_path / "demo", make_demo_project)
    tab = window.optimize_tab
    window.tabs.setCurrentWidget(tab)
    tab.plots.setCurrentWidget(tab.plots.curves)
    for number in range(4):
        record = tab.book.record(number)
        record.state, record.value = "complete", 0.5 + number / 10
    computed = []
    tab.start_job = lambda *a, **k: computed.append(a[0])
    tab._maybe_importances()
    assert computed == []  # hidden: not computed
    tab.plots.setCurrentWidget(tab.plots.importance)
    assert computed == ["Importances"]  # shown: computed now


def test_space_form_and_plots_say_the_registrys_labels(qtbot):
    """The window names each parameter as the CLI and the report do."""
    from allgui.core.model import params
    from allgui.core.search.space import PAPER_SPACE
    from allgui.gui.optimize.plots import OptimizePlots
    from allgui.gui.optimize.space_editor import SpaceEditor
    from allgui.gui.optimize.trials_model import TrialBook

    editor = SpaceEditor()
    qtbot.addWidget(editor)
    rows = [editor.table.item(r, 0) for r in range(editor.table.rowCount())]
    assert [r.data(Qt.UserRole) for r in rows] == [p.name for p in PAPER_SPACE.params]
    assert [r.text() for r in rows] == [params.label(p.name) for p in PAPER_SPACE.params]

    book = TrialBook()
    for number, (lr, hidden) in enumerate([(1e-3, 256), (1e-2, 512), (1e-4, 768)]):
        record = book.record(number)
        record.state, record.value, record.params = "complete", 0.5 + number / 10, {
            "lr": lr, "hidden": hidden}
    plots = OptimizePlots(book)
    qtbot.addWidget(plots)
    plots.importances = {"lr": 0.7, "hidden": 0.3}
    plots._update_importance()
    shown = {t.get_text() for t in plots.importance.ax.get_yticklabels()}
    assert shown == {"learning rate", "hidden units"}
    plots._update_parallel()
    ticks = [t.get_text() for t in plots.parallel.ax.get_xticklabels()]
    assert ticks == ["learning\nrate", "hidden\nunits", "objective"]  # two lines: narrow columns


def test_the_form_keeps_the_settings_it_does_not_show(window, qtbot, tmp_path, captured,
                                                      make_demo_project):
    """``[search] multivariate = false`` and the augmentation survive opening the
    project in the window and starting a search from it."""
    from allgui.core.project import Project

    project = make_demo_project(tmp_path / "demo")
    project.update(search={"multivariate": False, "augment_probability": 1.0,
                           "val_loss": "weighted", "precision": "fp16"})
    window.open_project(project.root)
    wait_jobs(qtbot, window)
    tab = window.optimize_tab
    assert "every training image transformed" in tab.form.augmentation.text()
    assert not tab.form.multivariate.isChecked()
    tiny_search_form(tab, trials=1, epochs=1)
    tab.start()
    wait_jobs(qtbot, window, timeout=120_000)
    assert not captured.errors, captured.errors
    search = Project.open(project.root).settings.search
    assert (search["multivariate"], search["augment_probability"], search["val_loss"],
            search["precision"]) == (False, 1.0, "weighted", "fp16")
    assert tab.result is not None and tab.result.settings.multivariate is False


def test_file_new_offers_the_two_protocols(qtbot, tmp_path):
    from allgui.gui.new_project import NewProjectForm

    form = NewProjectForm(None, tmp_path)
    qtbot.addWidget(form)
    assert form.protocol.currentData() == "recommended"
    _, settings = form.values()
    assert settings.protocol == "recommended" and settings.split.method == "patient"
    form.protocol.setCurrentIndex(form.protocol.findData("paper"))
    _, settings = form.values()
    assert settings.protocol == "paper" and settings.split.method == "image"
    assert settings.search["augment_probability"] == 1.0
    assert settings.validation["baseline"] == "none"
