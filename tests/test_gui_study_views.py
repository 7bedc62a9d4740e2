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
    from allgui.core.search.study_write import open_study

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
    # every trial's point whole: none on the edge of the axes, half cut off
    ax = plots.contour.plot.ax
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    for x, y in ax.collections[-1].get_offsets():
        assert x0 < x < x1 and y0 < y < y1, ((x, y), (x0, x1), (y0, y1))


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


@pytest.mark.gui
def test_the_parameter_boxes_show_their_whole_names(plots, qtbot):
    """The slice and contour views' boxes were sized when first shown, empty,
    and then cut their parameters' names ("learning" for "learning rate")."""
    from PySide6.QtWidgets import QStyle, QStyleOptionComboBox

    from allgui.core.model.params import label

    for view in (plots.slice, plots.contour):
        plots.setCurrentWidget(view)
        qtbot.wait(20)  # shown first, with its boxes still empty, as in the window
        view.plot.redraw_now()
        qtbot.wait(20)  # the layout's pass
        boxes = (view.x, view.y) if view.two else (view.x,)
        for box in boxes:
            option = QStyleOptionComboBox()
            box.initStyleOption(option)
            field = box.style().subControlRect(QStyle.CC_ComboBox, option,
                                               QStyle.SC_ComboBoxEditField, box)
            widest = max(box.fontMetrics().horizontalAdvance(label(n)) for n in ("lr", "hidden"))
            assert box.count() == 2 and field.width() >= widest, (field.width(), widest)


@pytest.mark.gui
def test_trials_of_one_value_are_still_drawn_and_none_is_called_best(qtbot):
    """Every trial the same value: importances cannot be computed (their tab
    says why), but the slice and parallel views draw the trials in the search
    space's order, and no trial is marked best among equals."""
    from allgui.core.events import TrialFinished, TrialStarted
    from allgui.gui.optimize.plots import OptimizePlots
    from allgui.gui.optimize.trials_model import TrialBook

    book = TrialBook()
    for n, (params, _value) in enumerate(PARAMS):
        book.apply(TrialStarted("search", number=n, params=params))
        book.apply(TrialFinished("search", number=n, value=0.5, params=params))
    view = OptimizePlots(book)
    view.set_objective("accuracy")
    view.importance_note = "Every finished trial has the same value, so parameter importances " \
                           "cannot tell the parameters apart."
    qtbot.addWidget(view)
    view.resize(800, 500)
    view.show()
    qtbot.waitExposed(view)

    view.setCurrentWidget(view.slice)
    view.slice.plot.redraw_now()
    ax = view.slice.plot.ax
    assert view.slice.drawn == len(PARAMS)
    assert "same value" in ax.get_title() and ax.get_legend() is None
    assert not any("importance" in t.get_text() for t in ax.texts)

    view.setCurrentWidget(view.parallel)
    view.parallel.redraw_now()
    drawn = view.parallel_drawn
    assert sorted(drawn["kept"]) == list(range(len(PARAMS))) and drawn["best"] is None
    assert [s.name for s in drawn["scales"][:-1]] == ["lr", "hidden"]  # the search space's order
    assert "same accuracy" in view.parallel.ax.get_title(loc="right")
    assert view.parallel.ax.get_legend() is None
