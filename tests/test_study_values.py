"""What a study holds, read as untrusted (issue 25, cases 10 and 14): an
infinite value is never "best" and is said, not skipped silently; a plain
Optuna study with other parameters is refused with a sentence before
anything is written to it."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from allgui.cli import main
from allgui.core.report.study_facts import read_study
from allgui.core.search import record as R
from allgui.core.search import study as S
from allgui.core.search.settings import SearchSettings
from allgui.core.validation.run import ValidationSettings, choose_configuration

MODEL = {"backbone": "mobilenetv3_small_050", "weights": "none", "finetune_stages": 0}


def _allgui_study(project, values):
    study = optuna.create_study(storage=project.storage_url, study_name="search",
                                direction="maximize")
    study.set_user_attr(R.ALLGUI, {"objective": "accuracy", "model": MODEL})
    for v in values:
        study.add_trial(create_trial(
            params={"lr": 1e-3}, distributions={"lr": FloatDistribution(1e-5, 1e-1, log=True)},
            value=v, user_attrs={R.SETTINGS: MODEL}))
    return study


def test_an_infinite_value_is_never_best_and_is_said(tmp_path, make_tiny_project):
    project = make_tiny_project(tmp_path)
    study = _allgui_study(project, [0.6, math.inf, 0.8])
    result = S.search_result(project, SearchSettings.from_project(project), study)
    assert result.best.number == 2 and math.isfinite(result.best.value)
    assert "not a finite number" in result.trials[1].reason
    chosen, _ = choose_configuration(project, ValidationSettings())
    assert chosen.trial == 2 and "not a finite number" in chosen.source
    facts = read_study(project, importances=False)
    assert facts.best.number == 2 and facts.not_finite == (1,)


def test_a_plain_optuna_study_is_refused_before_anything_is_written(tmp_path,
                                                                    make_tiny_project, capsys):
    project = make_tiny_project(tmp_path)
    theirs = optuna.create_study(storage=project.storage_url, study_name="search",
                                 direction="maximize")
    theirs.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("n", 1, 3),
                    n_trials=3)
    for command in (["optimize", str(project.root), "--trials", "4", "--epochs", "1",
                     "--views", "1", "--quiet"],
                    ["validate", str(project.root), "--runs", "1", "--epochs", "1"]):
        assert main(command) != 0
        err = capsys.readouterr().err
        assert "not made by allgui" in err and "x" in err, command
        assert "Traceback" not in err
    after = optuna.load_study(study_name="search", storage=project.storage_url)
    assert [t.state for t in after.trials] == [TrialState.COMPLETE] * 3  # nothing added
    assert after.user_attrs == {}
    assert not project.runs_dir.exists() or not any(project.runs_dir.iterdir())


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_optimize_prints_no_infinite_best(tmp_path, make_tiny_project, value):
    project = make_tiny_project(tmp_path)
    study = _allgui_study(project, [0.5, value])
    result = S.search_result(project, SearchSettings.from_project(project), study)
    assert result.best.number == 0 and result.n_complete == 1
