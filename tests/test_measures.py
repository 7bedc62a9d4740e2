"""The measures registry is the one place a figure's name, label, direction
and objective live: every list of objectives and headline figures is read
from it, and files written under an earlier name read under today's."""

from __future__ import annotations

import numpy as np
import pytest

from allgui.core.model import measures
from allgui.core.model.card import ModelCard
from allgui.core.search.settings import SearchSettings
from allgui.core.train.objective import objective_value


def test_every_objective_is_computed_and_every_name_is_one():
    labels = np.array([0, 0, 1, 1, 1])
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    values = {name: objective_value(name, labels, proba, 2) for name in measures.OBJECTIVES}
    assert values == pytest.approx({"accuracy": 0.6, "balanced_accuracy": 7 / 12,
                                    "weighted_f1": 0.6, "auc_roc": 5 / 6})
    names = [m.name for m in measures.MEASURES]
    old = [o for m in measures.MEASURES for o in m.old_names]
    assert len(set(names + old)) == len(names) + len(old)  # no figure under two names


def test_the_window_and_the_command_line_offer_the_registrys_objectives():
    import argparse

    from allgui.cli import optimize
    from allgui.gui.optimize import form

    assert [name for name, _ in form.OBJECTIVES] == list(measures.OBJECTIVES)
    parser = argparse.ArgumentParser()
    optimize.register(parser.add_subparsers())
    sub = parser._subparsers._group_actions[0].choices["optimize"]
    (action,) = [a for a in sub._actions if a.dest == "objective"]
    assert tuple(action.choices) == measures.OBJECTIVES


def test_files_written_under_an_earlier_name_read_under_todays():
    card = ModelCard.from_dict({"classes": ["all", "hem"], "metrics": {"f1_weighted": 0.75}})
    assert dict(card.metrics) == {"weighted_f1": 0.75}
    assert SearchSettings(objective="auc").objective == "auc_roc"  # a project.toml of before
    assert measures.label("f1_weighted") == measures.BY_NAME["weighted_f1"].label
