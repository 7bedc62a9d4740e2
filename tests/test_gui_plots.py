"""The search plots' contents: real values on the parallel axes (log where the
parameter is log), the colour bar, the best trial on top, the learning
curves' legend, the history's hover and click, importances naming their
evaluator; and the trials table's text and sorting."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from allgui.core.events import EpochEnded, TrialFinished, TrialStarted

pytestmark = pytest.mark.gui

TRIALS = [  # lr, hidden, value
    (1e-5, 256, 0.61), (3e-4, 512, 0.74), (1e-2, 768, 0.52), (2e-3, 1024, 0.88),
]


def make_plots(qtbot, running: bool = True):
    from allgui.gui.optimize.plots import OptimizePlots
    from allgui.gui.optimize.trials_model import TrialBook

    book = TrialBook()
    for n, (lr, hidden, value) in enumerate(TRIALS):
        params = {"lr": lr, "hidden": hidden}
        book.apply(TrialStarted("search", number=n, params=params))
        for epoch in (1, 2):
            book.apply(EpochEnded("search", trial=n, epoch=epoch, epochs=2, train_loss=0.7 - 0.1 * epoch,
                                  val_loss=0.8 - 0.1 * epoch, objective=value - 0.1 / epoch))
        book.apply(TrialFinished("search", number=n, value=value, params=params,
                                 duration_s=12.0743 + n))
    if running:
        book.apply(TrialStarted("search", number=4, params={"lr": 1e-3, "hidden": 256}))
        book.apply(EpochEnded("search", trial=4, epoch=1, epochs=2, train_loss=0.6, val_loss=0.7,
                              objective=0.5))
    book.running = 4 if running else None
    plots = OptimizePlots(book)
    qtbot.addWidget(plots)
    plots.resize(900, 520)
    plots.show()
    return plots


def test_parallel_coordinates_show_real_values_a_colour_bar_and_the_best_on_top(qtbot):
    plots = make_plots(qtbot)
    plots.setCurrentWidget(plots.parallel)
    plots._update_parallel()
    drawn = plots.parallel_drawn
    lr, hidden, objective = drawn["scales"]
    assert lr.kind == "log" and hidden.kind == "linear"  # the registry: lr is searched on log
    assert [w for _, w in lr.ticks()] == ["1e-05", "1e-04", "1e-03", "1e-02"]
    positions = [p for p, _ in lr.ticks()]
    assert positions == pytest.approx([0, 1 / 3, 2 / 3, 1])  # decades equally spaced: a log axis
    assert [w for _, w in hidden.ticks()] == ["256", "512", "768", "1024"]  # its choices
    texts = {t.get_text() for t in plots.parallel.ax.texts}
    assert "1e-04" in texts and "0.88" not in {w for _, w in lr.ticks()}
    bar = drawn["colorbar"]
    assert bar.ax.get_ylabel() == "objective" and plots._cax.get_visible()
    assert bar.mappable.norm.vmin == pytest.approx(0.52) and bar.mappable.norm.vmax == 0.88
    assert drawn["best"] == 3
    legend = [t.get_text() for t in plots.parallel.ax.get_legend().get_texts()]
    assert legend == ["best: trial 3 (0.8800)"]
    top = max(plots.parallel.ax.lines, key=lambda line: line.get_zorder())
    assert top.get_label().startswith("best: trial 3")


def test_parallel_keeps_the_users_zoom_until_fit(qtbot):
    plots = make_plots(qtbot)
    plots.setCurrentWidget(plots.parallel)
    plots._update_parallel()
    plots.parallel.ax.set_xlim(0.5, 1.5)  # the user zooms
    plots._update_parallel()  # a new trial arrives
    assert plots.parallel.ax.get_xlim() == (0.5, 1.5)
    plots.parallel.fit()
    assert plots.parallel.ax.get_xlim() != (0.5, 1.5)


def test_learning_curves_of_several_trials_with_a_legend(qtbot):
    plots = make_plots(qtbot)
    plots.curve_trial = 0
    plots._update_curves()
    assert plots.curve_trials == [4, 0, 3, 1]  # running, selected (also 3rd best), the best
    legend = [t.get_text() for t in plots.curves.axes[1].get_legend().get_texts()]
    assert legend == ["running", "selected", "best", "2nd best", "3rd best"]  # fixed: no redraw
    assert plots.curve_words.text() == (
        "Trials shown: running 4, selected 0, best 3, 2nd best 1, 3rd best 0.")
    styles = [t.get_text() for t in plots.curves.axes[0].get_legend().get_texts()]
    assert styles == ["train", "validation"]
    assert list(plots._curve_lines[2][2].get_ydata()) == pytest.approx([0.78, 0.83])  # trial 3
    assert list(plots._curve_lines[0][1].get_xdata()) == [1]  # the running trial's one epoch


def test_history_hover_and_click_select_a_trial(qtbot):
    plots = make_plots(qtbot, running=False)
    plots.history.redraw_now()
    chosen = []
    plots.trial_selected.connect(chosen.append)
    ax = plots.history.ax
    x, y = ax.transData.transform((3, 0.88))
    ratio = plots.history.canvas.device_pixel_ratio
    height = plots.history.figure.bbox.height
    from PySide6.QtCore import QPoint

    pos = QPoint(int(x / ratio), int((height - y) / ratio))
    qtbot.mouseMove(plots.history.canvas, pos)
    # a move while the figure is drawn on the worker thread is taken once it is done
    qtbot.waitUntil(plots._hover.get_visible, timeout=5000)
    words = plots._hover.get_text()
    assert words.startswith("trial 3: objective 0.8800, 15.1 s") and "learning rate = 2.00e-03" in words
    qtbot.mouseClick(plots.history.canvas, Qt.LeftButton, pos=pos)
    assert chosen == [3] and plots.curve_trial == 3
    plots.history.redraw_now()
    assert list(plots._chosen.get_xdata()) == [3] and list(plots._best_point.get_xdata()) == [3]
    assert ax.get_title() == "4 complete trials, best 0.8800"


def test_importance_names_its_evaluator(qtbot):
    plots = make_plots(qtbot)
    plots.importances = {"lr": 0.7, "hidden": 0.3}
    plots.importance_method = "PED-ANOVA"
    plots._update_importance()
    assert "PED-ANOVA" in plots.importance.ax.get_title()
    assert "4 complete trials" in plots.importance.ax.get_title()
    assert {t.get_text() for t in plots.importance.ax.texts} >= {"0.70", "0.30"}


def test_importance_shows_fanova_spread_beside_ped_anova_and_its_warnings(qtbot):
    """The window shows the report's estimate: fANOVA mean with its SD over
    seeds, PED-ANOVA beside it, and the warnings in words (issue 26 item 8)."""
    import optuna

    from allgui.core.search.importance import estimate_importances
    from allgui.gui.optimize.importances import ImportancesMixin

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(lambda t: t.suggest_float("lr", 0, 1) + 0 * t.suggest_int("hidden", 8, 16),
                   n_trials=6)
    est = estimate_importances(study, seeds=2)
    plots = make_plots(qtbot)

    class Tab(ImportancesMixin):  # what the Optimize tab gives the mixin
        def __init__(self):
            self.plots = plots
            self.session = type("S", (), {"study": "search"})()

    from allgui.core.events import Progress

    Tab()._importance_progress(Progress("importances", done=2, total=3,
                                        message="fANOVA, seed 2 of 2"), "search")
    assert plots.importance_words.text() == "Computing importances: fANOVA, seed 2 of 2\u2026"
    Tab()._show_importances(est, "search")
    plots._update_importance()
    ax = plots.importance.ax
    assert plots.importance_words.text() == "\n".join(est.warnings)
    assert "Only 6 complete trials" in plots.importance_words.text()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["fANOVA", "PED-ANOVA"]
    assert "fANOVA, mean \u00b1 SD over 2 seeds" in ax.get_title()
    shown = {t.get_text() for t in ax.texts}
    assert {f"{v:.2f}" for v in est.as_dict().values()} <= shown
    assert {f"{v:.2f}" for v in est.ped_anova().values()} <= shown
    assert len(ax.containers) == 2 + 1  # two bar sets and the SD error bars


def test_trials_table_text_sorting_and_detail(qtbot):
    from allgui.gui.optimize.trials_table import TrialsTable, duration_text

    assert duration_text(12.0743) == "12.1 s"
    assert duration_text(245) == "4 min 05 s" and duration_text(3720) == "1 h 02 min"
    assert duration_text(None) == "" and duration_text(math.nan) == ""
    plots = make_plots(qtbot)
    table = TrialsTable()
    qtbot.addWidget(table)
    for rec in plots.book.trials.values():
        table.show_trial(rec)
    assert table.item(table.find_row(0), 3).text() == "12.1 s"
    assert table.item(table.find_row(1), 4).text() == "learning rate 3.00e-04, hidden units 512"
    assert "hidden units 512" in table.item(table.find_row(1), 4).toolTip()
    table.sortByColumn(2, Qt.DescendingOrder)  # by value, the best first, the running last
    values = [table.item(r, 2).text() for r in range(table.rowCount())]
    assert values == ["0.8800", "0.7400", "0.6100", "0.5200", ""]
    assert table.horizontalHeader().sortIndicatorSection() == 2
    table.sortByColumn(0, Qt.AscendingOrder)  # 10 after 9, as numbers
    table.select_trial(3)
    assert table.selected_trial() == 3
    assert table.detail.text().startswith("Trial 3 (complete, value 0.8800, 15.1 s): learning rate")


def test_a_full_draw_is_done_off_the_gui_thread_while_the_window_answers(qtbot, monkeypatch):
    import threading
    import time

    from matplotlib.figure import Figure
    from PySide6.QtCore import QTimer

    plots = make_plots(qtbot)
    plots.setCurrentWidget(plots.parallel)
    qtbot.waitUntil(lambda: not plots.parallel._rendering and "best" in plots.parallel_drawn,
                    timeout=10_000)
    threads, real, during = [], Figure.draw, []

    def slow(self, renderer):  # a draw as long as one on a busy CPU
        threads.append(threading.current_thread())
        before = len(ticks)
        time.sleep(0.3)
        during.append(len(ticks) - before)  # timer ticks the GUI thread ran meanwhile
        return real(self, renderer)

    monkeypatch.setattr(Figure, "draw", slow)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(10)
    plots.parallel.request_redraw()  # a new trial: rebuilt and drawn on the worker
    qtbot.waitUntil(lambda: bool(threads) and not plots.parallel._rendering, timeout=10_000)
    timer.stop()
    assert threading.main_thread() not in threads
    assert during and min(during) > 0  # the GUI thread went on ticking through every draw
    assert plots.parallel.canvas.renderer is not None and plots.parallel_drawn["best"] == 3


def test_the_trials_table_shows_why_and_worker_only_when_a_trial_has_one(qtbot):
    from allgui.gui.optimize.trials_model import TrialRecord
    from allgui.gui.optimize.trials_table import NO_SELECTION, TrialsTable

    table = TrialsTable()
    qtbot.addWidget(table)
    table.show_trial(TrialRecord(0, "complete", 0.8, {"lr": 1e-3}))
    assert table.isColumnHidden(5) and table.isColumnHidden(6)  # the settings get the room
    table.show_trial(TrialRecord(1, "pruned", None, {"lr": 1e-2}, reason="pruned after epoch 2"))
    assert not table.isColumnHidden(5) and table.isColumnHidden(6)
    table.select_trial(1)
    assert "pruned after epoch 2" in table.detail.text()
    table.clear_rows()  # another study: no trial, nor its settings, stays
    assert table.rowCount() == 0 and table.detail.text() == NO_SELECTION
    assert table.isColumnHidden(5)
