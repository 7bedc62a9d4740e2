"""The study's record: every attribute allgui writes is read back by
TrialRecord / StudyRecord unchanged, and a project's own study and a shared
one run through the one trial loop."""

from __future__ import annotations

import datetime as dt
import threading
import time

import optuna
import pytest
import torch
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial
from test_search import DATA, new_project, tiny

from allgui.core import events as ev
from allgui.core.errors import Cancelled
from allgui.core.search import study as S
from allgui.core.search import study_write as W
from allgui.core.search.record import SharedStudy, StudyRecord, TrialRecord
from allgui.core.search.runner import run_search

torch.set_num_threads(1)
optuna.logging.set_verbosity(optuna.logging.WARNING)

DIST = {"lr": FloatDistribution(1e-5, 1e-2, log=True),
        "hidden": CategoricalDistribution([8, 16])}
START = dt.datetime(2026, 1, 1, 12, 0, 0)


def _add(study, record: TrialRecord, state: TrialState, value=None):
    study.add_trial(create_trial(
        params=record.params, distributions={k: DIST[k] for k in record.params},
        value=value, state=state, user_attrs=record.to_attrs(),
        intermediate_values={1: 0.5} if record.intermediate else None,
        ))
    return study.get_trials(deepcopy=False)[-1]


def test_a_trial_record_reads_back_what_it_writes():
    study = optuna.create_study(direction="maximize")
    records = [
        TrialRecord(number=0, state="complete", value=0.75, params={"lr": 1e-3, "hidden": 8},
                    settings={"mode": "cached", "seed": 0, "fixed": {"dropout1": 0.5}},
                    history=({"epoch": 1, "val_loss": 0.4}, {"epoch": 2, "val_loss": None}),
                    result={"epochs_run": 2, "best_epoch": 1, "duration_s": 1.5},
                    epochs_run=2, best_epoch=1, worker="host:12",
                    extra={"note": "another tool's attribute"}),
        TrialRecord(number=1, state="failed", value=None, params={"lr": 2e-3},
                    result={"fail_reason": "stopped by the user", "interrupted": True},
                    epochs_run=0, retry_of=0),
        TrialRecord(number=2, state="pruned", value=None, params={"hidden": 16},
                    result={"epochs_run": 1, "epochs_saved": 3}, epochs_run=1,
                    intermediate=1),
    ]
    states = {"complete": TrialState.COMPLETE, "failed": TrialState.FAIL,
              "pruned": TrialState.PRUNED}
    for record in records:
        frozen = _add(study, record, states[record.state], record.value)
        back = TrialRecord.from_trial(frozen)
        # Optuna's own timing is the one thing allgui does not write.
        assert back == TrialRecord(**{**record.__dict__, "duration_s": back.duration_s})
        assert back.to_attrs() == frozen.user_attrs
    got = S.trials(study)
    assert got[0].all_params == {"dropout1": 0.5, "lr": 1e-3, "hidden": 8}
    assert got[1].interrupted and got[1].fail_reason == "stopped by the user"
    # The interrupted trial runs again, so it does not count towards the budget.
    assert S.counted(got) == 2 == S.counted(study.trials)


def test_a_study_record_reads_back_what_it_writes():
    study = optuna.create_study(direction="minimize", study_name="s")
    record = StudyRecord(
        name="s", direction="minimize",
        allgui={"objective": "auc", "data_key": "k", "model": {"backbone": "b"}},
        shared=SharedStudy("fp", 32, {"seed": 0}, {"backbone": "b"}, {"trials": 4},
                           budget=4).to_dict(),
        workers={"host:1": {"state": "running", "trial": 3, "done": 1,
                            "seen": "2026-01-01T12:00:00+00:00"}},
        extra={"objective_label": "validation AUC, by hand"})
    for key, value in record.to_attrs().items():
        study.set_user_attr(key, value)
    assert StudyRecord.from_study(study) == record
    assert StudyRecord.from_attrs("s", record.to_attrs(), "minimize") == record
    assert record.objective == "auc" and record.objective_label() == "validation AUC, by hand"
    assert S.shared_of(study).budget == 4


def test_every_attribute_a_search_writes_belongs_to_the_records(tmp_path):
    project = new_project(tmp_path)
    run_search(project, tiny(trials=2, epochs=1), data=DATA)
    study = S.load_study(project)
    assert StudyRecord.from_study(study).extra == {}
    assert StudyRecord.from_study(study).to_attrs() == study.user_attrs
    for trial in study.trials:
        record = TrialRecord.from_trial(trial)
        assert record.extra == {}, "an attribute no record owns"
        assert record.to_attrs() == trial.user_attrs
        assert record.settings["seed"] == trial.number and record.epochs_run == 1
        assert len(record.history) == 1


def _kinds(log) -> list[str]:
    return [type(e).__name__ for e in log.events
            if not isinstance(e, (ev.Progress, ev.EpochEnded, ev.Notice))]


def test_the_local_and_the_shared_policy_run_the_one_loop(tmp_path):
    from allgui.core.search.loop import StudyPolicy, run_trials
    from allgui.core.search.runner import LocalPolicy
    from allgui.core.search.shared import SharedPolicy

    settings = tiny(trials=2, epochs=1)
    runs = {}
    for kind in ("local", "shared"):
        project = new_project(tmp_path, kind)
        study, _, _ = W.open_study(project, settings, DATA.key, DATA.class_names)
        log = ev.EventLog()
        if kind == "shared":
            shared = SharedStudy("", 32, {}, {}, settings.to_dict(), budget=2, heartbeat_s=1)
            W.set_shared(study, shared)
            policy: StudyPolicy = SharedPolicy(project, settings, shared, log, "Search")
        else:
            policy = LocalPolicy(study, settings, 0)
        result = run_trials(policy, project, settings, DATA, torch.device("cpu"), log,
                            threading.Event(), time.perf_counter())
        runs[kind] = (result, _kinds(log), log)
    (local, local_kinds, _), (shared, shared_kinds, shared_log) = runs["local"], runs["shared"]
    assert local.n_complete == shared.n_complete == 2
    assert local_kinds == shared_kinds == (
        ["JobStarted"] + ["TrialStarted", "TrialFinished"] * 2 + ["StudyFinished", "JobFinished"])
    assert "2 trials run here" in shared_log.of_type(ev.JobFinished)[0].message
    # The shared policy said who ran each trial; the local one has no worker.
    assert all(t.worker for t in shared.trials) and not any(t.worker for t in local.trials)


def test_a_job_keeps_what_its_body_said_when_it_re_raises():
    log = ev.EventLog()
    with pytest.raises(KeyboardInterrupt), ev.job(log, "j", "doing") as handle:
        handle.finish("Stopped; 1 kept", "stopped", ok=True)
        raise KeyboardInterrupt
    with pytest.raises(Cancelled), ev.job(log, "k") as handle:
        raise Cancelled("stop")
    ends = log.of_type(ev.JobFinished)
    assert [(e.job, e.ok, e.stopped, e.message) for e in ends] == [
        ("j", True, True, "Stopped; 1 kept"), ("k", False, True, "stop")]
    assert len(log.of_type(ev.JobStarted)) == 2
