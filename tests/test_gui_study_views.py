"""The study's views beside optuna-dashboard's (issue 26, item 13): the
objective's name on the study, slice and contour views, and a filter on the
parallel coordinates by a range dragged along an axis."""

from __future__ import annotations

import pytest

PARAMS = [  # four trials over two parameters, as a study holds them
    ({"lr": 1e-4, "hidden": 256}, 0.61),
    ({"lr": 1e-3, "hidden": 512}, 0.74),
    ({"lr": 3e-3, "hidden": 1024}, 0.82),
    ({"lr": 3e-4, "hidden": 768}, 0.69),
]


def test_the_study_carries_its_metric_name(tmp_path, make_tiny_project):
    from allgui.core.search.settings import SearchSettings
    from allgui.core.search.study import open_study

    project = make_tiny_project(tmp_path)
    study, _storage, _offset = open_study(project, SearchSettings(study_name="s",
                                                                  objective="balanced_accuracy"))
    assert study.metric_names == ["validation balanced accuracy"]  # not "Objective 0"


@pytest.fixture
def plots(qtbot):
    from allgui.core.events import TrialFinished, TrialStarted
    from allgui.gui.optimize.plots import OptimizePlots
    from allgui.gui.optimize.trials_model import TrialBook

    book = TrialBook()
    for n, (params, value) in enumerate(PARAMS):
        book.apply(TrialStarted("search", number=n, params=params))
        book.apply(TrialFinished("search", number=n, value=value, params=params))
    view = OptimizePlots(book)
    view.set_objective("accuracy")
    qtbot.addWidget(view)
    view.resize(800, 500)
    view.show()
    qtbot.waitExposed(view)
    return view


@pytest.mark.gui
def test_slice_and_contour_views_draw_the_trials(plots):
    plots.setCurrentWidget(plots.slice)
    plots.slice.plot.redraw_now()
    assert plots.slice.x.currentData() == "lr" and plots.slice.drawn == len(PARAMS)
    assert plots.slice.plot.ax.get_xscale() == "log"  # lr is searched on a log scale
    plots.setCurrentWidget(plots.contour)
    plots.contour.plot.redraw_now()
    assert {plots.contour.x.currentData(), plots.contour.y.currentData()} == {"lr", "hidden"}
    assert plots.contour.drawn == len(PARAMS)
    assert "too few" not in plots.contour.plot.ax.get_title()  # four trials fill an area


@pytest.mark.gui
def test_a_range_dragged_on_an_axis_filters_the_parallel_view(plots):
    from matplotlib.backend_bases import MouseEvent

    plots.setCurrentWidget(plots.parallel)
    plots.parallel.redraw_now()
    scales = plots.parallel_drawn["scales"]
    assert sorted(plots.parallel_drawn["kept"]) == [0, 1, 2, 3]
    column = len(scales) - 1  # the objective's axis: keep the upper half
    ax, canvas = plots.parallel.ax, plots.parallel.canvas
    for kind, y in (("button_press_event", 1.0), ("button_release_event", 0.5)):
        x_px, y_px = ax.transData.transform((column, y))
        MouseEvent(kind, canvas, x_px, y_px, button=1)._process()
    plots.parallel.redraw_now()
    lo, hi = scales[-1].lo, scales[-1].hi
    upper = [n for n, (_p, v) in enumerate(PARAMS) if (v - lo) / (hi - lo) >= 0.5]
    assert sorted(plots.parallel_drawn["kept"]) == upper and len(upper) < len(PARAMS)
    # a click on the axis (no drag) clears its range
    for kind in ("button_press_event", "button_release_event"):
        x_px, y_px = ax.transData.transform((column, 0.3))
        MouseEvent(kind, canvas, x_px, y_px, button=1)._process()
    plots.parallel.redraw_now()
    assert sorted(plots.parallel_drawn["kept"]) == [0, 1, 2, 3]
