"""The confusion matrix and the ROC are drawn once (core/report/figures.py)
for the window and the report; with more than two classes the ROC shows each
class against the rest, in both."""

from __future__ import annotations

import numpy as np
import pytest

from allgui.core.report import figures as F

CLASSES = ("ALL", "HEM", "other")
LABELS = np.array([0, 0, 1, 1, 2, 2])
PROBA = np.array([[.7, .2, .1], [.4, .5, .1], [.2, .7, .1], [.3, .3, .4], [.1, .2, .7],
                  [.5, .1, .4]])


def _lines(ax):
    return [(tuple(np.round(line.get_xdata(), 6)), tuple(np.round(line.get_ydata(), 6)))
            for line in ax.get_lines()]


def test_more_than_two_classes_give_one_curve_per_class_against_the_rest():
    from sklearn.metrics import roc_auc_score

    curves = F.roc_curves([("run 1", LABELS[:3], PROBA[:3], 0.9),
                           ("run 2", LABELS[3:], PROBA[3:], 0.8)], CLASSES, "ALL")
    assert [c.label for c in curves] == ["ALL vs rest", "HEM vs rest", "other vs rest"]
    for k, c in enumerate(curves):  # the runs pooled, each class's own AUC
        assert c.auc == pytest.approx(roc_auc_score(LABELS == k, PROBA[:, k]))
    two = F.roc_curves([("run 1", [0, 1, 1], [[.8, .2], [.3, .7], [.6, .4]], 0.5)],
                       ("ALL", "HEM"), "HEM")
    assert [c.label for c in two] == ["run 1"]


@pytest.mark.gui
def test_the_window_and_the_report_draw_the_same_pictures(qtbot):
    from allgui.gui.validate.figures import ConfusionView, roc_canvas

    curves = F.roc_curves([("run 1", LABELS, PROBA, 0.9)], CLASSES, "ALL")
    window = roc_canvas(curves, "ALL", "test set", CLASSES).figure.axes[0]
    report = F.roc_figure(curves, "ALL", "test set", CLASSES).axes[0]
    assert len(curves) == 3 and _lines(window) == _lines(report)
    assert "each class against the rest" in window.get_title()
    assert "each class against the rest" in report.get_title()

    matrix = [[2, 1, 0], [0, 3, 0], [1, 0, 2]]
    run = type("Run", (), {"label": "tuned", "index": 1, "seed": 0,
                           "metrics": type("M", (), {"confusion": matrix})()})()
    view = ConfusionView()
    qtbot.addWidget(view)
    view.set_runs([run], CLASSES, "test set")
    drawn = [t.get_text() for t in view.figure.axes[0].texts]
    printed = [t.get_text() for t in F.confusion_figure([("r", matrix)], CLASSES, "t").axes[0].texts]
    assert drawn == printed and drawn[0] == "2\n67%"


@pytest.mark.gui
def test_the_windows_roc_takes_the_width_of_a_narrow_pane(qtbot):
    # The Validate tab gives the ROC a pane about 320 px wide: with the legend
    # beside it the plot was about 110 px and its axis words ran into the ticks.
    from allgui.gui.validate.figures import roc_canvas

    curves = F.roc_curves([(f"run {i}", LABELS, PROBA, 0.9) for i in (1, 2)], CLASSES, "ALL")
    canvas = roc_canvas(curves, "ALL", "test set", CLASSES)
    qtbot.addWidget(canvas)
    canvas.resize(320, 470)
    canvas.show()
    canvas.draw()
    ax = canvas.figure.axes[0]
    renderer = canvas.get_renderer()
    plot = ax.get_window_extent(renderer)
    assert plot.width >= 0.6 * canvas.figure.bbox.width
    low, high = ax.get_ylim()
    ticks = [t.get_window_extent(renderer) for t in ax.get_yticklabels()
             if t.get_text() and low <= t.get_position()[1] <= high]  # those drawn
    ylabel = ax.yaxis.label.get_window_extent(renderer)
    assert all(ylabel.x1 <= t.x0 + 1 for t in ticks)  # the axis words clear the tick labels
