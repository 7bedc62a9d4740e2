"""Importances that say how sure they are (issue 23 item 4, issue 26 item 8,
issue 25 item 12): fANOVA over seeds (mean and SD) beside PED-ANOVA, one
computation for the window, the command line and the report, plain warnings
when the methods disagree or trials are few, and a bounded time with progress
on a large study. Tiny synthetic Optuna studies, no training."""

from __future__ import annotations

import threading

import numpy as np
import optuna
import pytest

from allgui.core.errors import Cancelled
from allgui.core.search.importance import (
    HEADLINE_LABEL,
    ParameterImportance,
    _importance_warnings,
    estimate_importances,
    format_estimate,
    importance_values,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


def synthetic_study(n: int, storage: str | None = None) -> optuna.Study:
    """lr drives the value, dropout1 a little, hidden not at all."""
    study = optuna.create_study(direction="maximize", storage=storage, study_name="search",
                                sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(lambda t: (t.suggest_float("lr", 0, 1)
                              + 0.2 * t.suggest_float("dropout1", 0, 1)
                              + 0 * t.suggest_categorical("hidden", [8, 16])), n_trials=n)
    return study


def test_fanova_over_seeds_beside_ped_anova():
    study = synthetic_study(14)
    steps = []
    est = estimate_importances(study, seeds=3, progress=lambda d, t, m: steps.append((d, t)))
    # the headline is fANOVA's mean over the seeds, its spread their SD
    runs = [dict(importance_values(study, "fanova", seed=k)) for k in range(3)]
    for p in est.values:
        per_seed = [r[p.name] for r in runs]
        assert p.mean == pytest.approx(np.mean(per_seed))
        assert p.sd == pytest.approx(np.std(per_seed, ddof=1))
    assert est.ped_anova() == pytest.approx(dict(importance_values(study, "ped-anova")))
    assert est.values[0].name == "lr" and est.n_used == est.n_trials == 14
    assert sum(est.as_dict().values()) == pytest.approx(1.0, abs=1e-6)
    assert est.method_label.startswith(HEADLINE_LABEL) and "3 seeds" in est.method_label
    assert steps == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]  # each seed, PED-ANOVA, done
    text = format_estimate(est)
    assert "fANOVA" in text and "PED-ANOVA" in text and "learning rate" in text


def test_few_trials_and_disagreement_are_said_plainly():
    est = estimate_importances(synthetic_study(6), seeds=2)
    assert any("Only 6 complete trials" in w for w in est.warnings)
    assert any(w in format_estimate(est) for w in est.warnings)
    # methods that name different top parameters, and a top two within one SD
    values = (ParameterImportance("hidden", 0.40, 0.10, 0.05),
              ParameterImportance("lr", 0.35, 0.08, 0.90))
    words = " ".join(_importance_warnings(values, 40, {"hidden": 0.05, "lr": 0.90}))
    assert "disagree" in words and "fANOVA names hidden units, PED-ANOVA learning rate" in words
    assert "within one SD" in words
    calm = (ParameterImportance("lr", 0.8, 0.01, 0.9), ParameterImportance("hidden", 0.2, 0.01, 0.1))
    assert _importance_warnings(calm, 40, {"lr": 0.9, "hidden": 0.1}) == []


def test_a_large_study_is_subsampled_said_and_can_be_stopped():
    study = synthetic_study(40)
    est = estimate_importances(study, seeds=2, cap=12)
    assert est.n_used == 12 and est.n_trials == 40
    assert any("random 12 of the 40" in w for w in est.warnings)
    assert est.values[0].name == "lr"
    cancel = threading.Event()

    def stop_after_first(done, total, message):
        if done == 1:
            cancel.set()

    with pytest.raises(Cancelled):
        estimate_importances(study, seeds=3, cap=12, progress=stop_after_first, cancel=cancel)


def test_report_and_window_show_the_same_estimate(tmp_path):
    """The report's figures and the window's come from one computation."""
    from allgui.core.events import EventLog, Progress
    from allgui.core.project import DatasetSettings, Project, ProjectSettings
    from allgui.core.report.build import write_report
    from allgui.core.report.study_facts import read_study
    from allgui.gui.optimize.work import compute_importances

    project = Project.create(tmp_path / "p", ProjectSettings(dataset=DatasetSettings(str(tmp_path))))
    synthetic_study(12, storage=project.storage_url)
    facts = read_study(project)
    seen = EventLog()
    window = compute_importances(project, "search", sink=seen, cancel=threading.Event())
    steps = [e for e in seen.events if isinstance(e, Progress)]
    assert [e.done for e in steps] == list(range(7)) and "fANOVA, seed 1 of 5" in steps[0].message
    assert facts.estimate.as_dict() == pytest.approx(window.as_dict())
    assert facts.estimate.ped_anova() == pytest.approx(window.ped_anova())
    assert facts.estimate.method_label == window.method_label
    log = EventLog()
    files = write_report(project, pdf=False, sink=log)
    phases = [e for e in log.events if isinstance(e, Progress) and e.phase == "importances"]
    assert phases and phases[-1].done == phases[-1].total  # progress while it computes
    html = files.html.read_text(encoding="utf-8")
    assert f"{HEADLINE_LABEL}, mean \u00b1 SD over" in html and "PED-ANOVA" in html
    top = facts.estimate.values[0]
    assert f"{top.mean:.3f}" in html and f"{top.sd:.3f}" in html


def test_a_5002_trial_study_reads_at_most_the_cap():
    """Issue 25 item 12: fANOVA over all 5,002 trials sat silent for 556 s. The
    estimate reads a random 200 (the default cap) and reports every step."""
    from allgui.core.search.importance import FANOVA_CAP

    study = optuna.create_study(direction="maximize")
    rng = np.random.default_rng(0)
    dists = {"lr": optuna.distributions.FloatDistribution(0, 1),
             "dropout1": optuna.distributions.FloatDistribution(0, 1)}
    trials = []
    for _ in range(5002):
        params = {"lr": float(rng.random()), "dropout1": float(rng.random())}
        trials.append(optuna.trial.create_trial(params=params, distributions=dists,
                                                value=params["lr"] + 0.1 * params["dropout1"]))
    study.add_trials(trials)
    steps = []
    est = estimate_importances(study, seeds=1, progress=lambda d, t, m: steps.append(m))
    assert est.n_trials == 5002 and est.n_used == FANOVA_CAP == 200
    assert any("random 200 of the 5002" in w for w in est.warnings)
    assert steps[0] == "fANOVA, seed 1 of 1 (200 trials)" and steps[-1] == "importances done"
    assert est.values[0].name == "lr"
