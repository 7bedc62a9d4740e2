"""Every trial's per-epoch objective is stored as Optuna intermediate values
(optuna-dashboard's learning curves), with and without a pruner."""

from __future__ import annotations

import pytest

from allgui.core.search.runner import run_search
from tests.test_search import DATA, load, new_project, tiny


@pytest.mark.parametrize("pruning", ["none", "median"])
def test_intermediate_values_hold_each_epoch(tmp_path, pruning):
    project = new_project(tmp_path)
    run_search(project, tiny(trials=2, epochs=3, pruning=pruning), data=DATA)
    study = load(project)
    for t in study.trials:
        history = t.user_attrs["history"]
        assert t.intermediate_values == {h["epoch"]: pytest.approx(h["objective"])
                                         for h in history}
        assert len(t.intermediate_values) == t.user_attrs["epochs_run"] >= 1
