"""The window at scale (issue 25, case 11): a study of 5,000 trials opens
and sorts by every column, blank cells included, without the abort
PySide6 6.12 gave (``none_dealloc``: each read of a table item holding None
dropped a reference to None)."""

from __future__ import annotations

import json
import sqlite3

import optuna
import pytest
from optuna.distributions import FloatDistribution, distribution_to_json
from optuna.trial import create_trial
from PySide6.QtCore import Qt

from support.gui import wait_jobs, wait_until

pytestmark = pytest.mark.gui

TRIALS = 5002


def _big_study(project, n: int) -> None:
    """``n`` trials in the project's study.db, in one transaction: a complete
    trial with a value, every fifth failed (blank value, reason and worker)."""
    study = optuna.create_study(storage=project.storage_url, study_name="search",
                                direction="maximize")
    dist = FloatDistribution(1e-5, 1e-1, log=True)
    study.add_trial(create_trial(params={"lr": 1e-3}, distributions={"lr": dist}, value=0.5))
    with sqlite3.connect(project.study_path) as db:
        (study_id,) = db.execute("select study_id from studies").fetchone()
        for number in range(1, n):
            failed = number % 5 == 0
            cur = db.execute(
                "insert into trials (number, study_id, state, datetime_start, datetime_complete)"
                " values (?, ?, ?, '2026-01-01 00:00:00', '2026-01-01 00:00:01')",
                (number, study_id, "FAIL" if failed else "COMPLETE"))
            db.execute("insert into trial_params (trial_id, param_name, param_value, "
                       "distribution_json) values (?, 'lr', ?, ?)",
                       (cur.lastrowid, 1e-4 * (1 + number % 90), distribution_to_json(dist)))
            if not failed:
                db.execute("insert into trial_values (trial_id, objective, value, value_type) "
                           "values (?, 0, ?, 'FINITE')", (cur.lastrowid, (number % 97) / 97))
            else:
                db.execute("insert into trial_user_attributes (trial_id, key, value_json) "
                           "values (?, 'result', ?)", (cur.lastrowid, json.dumps({})))


def test_a_5000_trial_study_opens_and_sorts(window, qtbot, tmp_path, make_demo_project):
    project = make_demo_project(tmp_path / "big")
    _big_study(project, TRIALS)
    window.open_project(project.root)
    table = window.optimize_tab.trials_table
    wait_until(lambda: table.rowCount() == TRIALS, 600_000)
    wait_jobs(qtbot, window)
    header = table.horizontalHeader()
    for _ in range(5):  # 35 sorts: the old table aborted after about 34 sorts of 302 trials
        for col in range(table.columnCount()):
            header.sectionClicked.emit(col)
            table.sortByColumn(col, header.sortIndicatorOrder())
    table.sortByColumn(2, Qt.DescendingOrder)
    values = [table.item(r, 2).text() for r in range(table.rowCount())]
    filled = [v for v in values if v]
    assert filled == sorted(filled, key=float, reverse=True)
    assert values[len(filled):] == [""] * (TRIALS - len(filled))  # blanks last
    table.select_trial(TRIALS - 1)
    assert table.selected_trial() == TRIALS - 1
