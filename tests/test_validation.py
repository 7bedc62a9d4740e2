"""A tiny validation batch end to end on demo data: runs, files, events,
Stop, and the bad inputs (no study, no finished trial, a class missing from
the test set, a diverging run)."""

from __future__ import annotations

import dataclasses
import json
import threading

import numpy as np
import pytest
import torch

from allgui.core.dataset.prepared import DataPart, prepare_project_data
from allgui.core.errors import AllguiError, DatasetError, ProjectError
from allgui.core.events import EpochEnded, EventLog, JobFinished, JobStarted, RunFinished
from allgui.core.model.checkpoint import load_checkpoint
from allgui.core.project import ModelSettings, Project
from allgui.core.validation import (
    BASELINE,
    TUNED,
    ValidationSettings,
    analyse,
    latest_batch,
    load_batch,
    parse_params,
    run_batch,
)
from allgui.core.validation.predictions import read_predictions

torch.set_num_threads(1)
TINY = {"lr": 3e-3, "hidden": 16, "batch_size": 16}


@pytest.fixture(scope="module")
def demo(tmp_path_factory, make_tiny_project):
    project = make_tiny_project(tmp_path_factory.mktemp("validation"))
    return project, prepare_project_data(project)


def _add_study(project, values, model=True):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="search", storage=project.storage_url,
                                direction="maximize", load_if_exists=True)
    if model:  # what allgui's search records: the model every trial trained
        m = project.settings.model
        study.set_user_attr("allgui", {"model": {
            "backbone": m.backbone, "weights": m.weights, "finetune_stages": m.finetune_stages}})
    dist = {"lr": optuna.distributions.FloatDistribution(1e-5, 1e-2, log=True),
            "hidden": optuna.distributions.CategoricalDistribution([8, 16])}
    for lr, hidden, value in values:
        state = optuna.trial.TrialState.COMPLETE if value is not None else \
            optuna.trial.TrialState.FAIL
        study.add_trial(optuna.trial.create_trial(
            params={"lr": lr, "hidden": hidden}, distributions=dist, value=value, state=state))
    return study


def test_batch_with_baseline_keeps_runs_files_and_events(demo):
    project, prepared = demo
    log = EventLog()
    batch = run_batch(project, ValidationSettings(runs=2, epochs=2, params=TINY,
                                                  baseline={"lr": 1e-3, "hidden": 8}),
                      sink=log, prepared=prepared)
    assert batch.status == "finished"
    assert batch.test_source == "official" and "official preliminary test set" in batch.test_set
    assert batch.seeds == (0, 1)
    assert len(batch.runs_of(TUNED)) == 2 and len(batch.runs_of(BASELINE)) == 2
    for run in batch.runs:
        assert run.finished and 1 <= run.best_epoch <= run.epochs_run <= 2
        model, info = load_checkpoint(run.checkpoint)
        assert info.class_names == ("all", "hem") and info.extra["seed"] == run.seed
        assert info.extra["test_set"] == batch.test_set
        card = info.card  # the model card: entered by hand, so from no trial
        assert (card.provenance.run, card.provenance.seed, card.provenance.trial) == (
            run.index, run.seed, None)
        assert card.synthetic and card.provenance.split_method == batch.split.method
        assert card.provenance.project == str(project.root) and card.classes == batch.classes
        saved = json.loads((run.checkpoint.parent / "metrics.json").read_text())
        assert saved["metrics"]["weighted_f1"] == pytest.approx(run.metrics.weighted_f1)
        preds = read_predictions(run.predictions_path, batch.classes)
        assert len(preds.paths) == len(prepared.test) == run.metrics.images
    # what is on disk is what was returned
    assert load_batch(batch.path) == batch
    assert latest_batch(project).batch_id == batch.batch_id
    chosen = latest_batch(project).chosen_run()
    assert chosen.checkpoint.is_file()
    assert chosen.kept_val_loss == min(r.kept_val_loss for r in batch.runs_of(TUNED))
    # events: started, epochs of every run, one RunFinished per run, finished
    assert isinstance(log.events[0], JobStarted)
    finished = log.of_type(RunFinished)
    assert [(e.label, e.run) for e in finished] == [(TUNED, 1), (BASELINE, 3), (TUNED, 2),
                                                    (BASELINE, 4)]
    assert {e.run for e in log.of_type(EpochEnded)} == {1, 2, 3, 4}
    assert isinstance(log.events[-1], JobFinished) and log.events[-1].ok
    # statistics over seeds, paired with the baseline
    analysis = analyse(batch, resamples=100)
    row = analysis.row("weighted_f1")
    assert row.tuned_summary.n == 2 and row.difference is not None
    assert row.difference.method.startswith("paired bootstrap")
    assert len(analysis.mcnemar) == 2 and len(analysis.auc_intervals) == 4
    # what the models saw is recorded, by content, for the exported model (issue 26 item 9)
    from allgui.core.export.from_run import training_images
    from allgui.core.validation.seen import read_seen

    seen = read_seen(batch.path)
    assert seen is not None and len(seen.train) == len(prepared.train)
    assert len(seen.val) == len(prepared.val) and all(h for _, _, h in seen.train + seen.val)
    record = training_images(batch)
    assert set(record["training_hashes"]) == {h for _, _, h in seen.train + seen.val}
    assert {p for p, _ in record["feature_images"]} <= {p for p, _, _ in seen.train}


def test_best_trial_is_chosen_and_stop_keeps_finished_runs(demo):
    project, prepared = demo
    _add_study(project, [(1e-3, 8, 0.6), (3e-3, 16, 0.9), (1e-4, 8, None)])
    cancel = threading.Event()

    def sink(event):
        if isinstance(event, RunFinished):
            cancel.set()  # the user presses Stop during the second run

    batch = run_batch(project, ValidationSettings(runs=3, epochs=2), sink=sink, cancel=cancel,
                      prepared=prepared)
    assert batch.tuned.trial == 1 and "best" in batch.tuned.source
    assert batch.tuned.params["lr"] == pytest.approx(3e-3) and batch.tuned.params["hidden"] == 16
    assert batch.status == "stopped" and len(batch.runs_of(TUNED)) == 1
    assert load_batch(batch.path).status == "stopped"
    chosen = run_batch(project, ValidationSettings(runs=1, epochs=1, trial=0), prepared=prepared)
    assert chosen.tuned.source == "trial 0" and chosen.tuned.params["hidden"] == 8
    with pytest.raises(ProjectError, match="not a finished trial"):
        run_batch(project, ValidationSettings(runs=1, epochs=1, trial=2), prepared=prepared)


def test_no_study_or_no_finished_trial_is_a_clear_error(demo, tmp_path):
    project, prepared = demo
    fresh = Project.create(tmp_path / "p", project.settings)
    with pytest.raises(ProjectError, match="no study yet"):
        run_batch(fresh, ValidationSettings(runs=1, epochs=1), prepared=prepared)
    _add_study(fresh, [(1e-3, 8, None)])
    with pytest.raises(ProjectError, match="no finished trials"):
        run_batch(fresh, ValidationSettings(runs=1, epochs=1), prepared=prepared)
    assert latest_batch(fresh) is None


def test_test_set_without_a_class_stops_before_training(demo):
    project, prepared = demo
    keep = np.flatnonzero(prepared.test.labels == 0)
    test = DataPart("test", tuple(prepared.test.indices[i] for i in keep),
                    prepared.test.images[keep], prepared.test.labels[keep],
                    tuple(prepared.test.patients[i] for i in keep))
    one_class = dataclasses.replace(prepared, test=test)
    before = len(list(project.runs_dir.glob("*"))) if project.runs_dir.exists() else 0
    with pytest.raises(DatasetError, match="no images of class 'hem'"):
        run_batch(project, ValidationSettings(runs=1, epochs=1, params=TINY), prepared=one_class)
    after = len(list(project.runs_dir.glob("*"))) if project.runs_dir.exists() else 0
    assert after == before


def test_diverging_runs_are_recorded_and_the_others_kept(demo):
    project, prepared = demo
    log = EventLog()
    batch = run_batch(project, ValidationSettings(
        runs=1, epochs=3, params={"lr": 1e30, "hidden": 16}, baseline=TINY), sink=log,
        prepared=prepared)
    tuned = batch.runs_of(TUNED, finished_only=False)[0]
    assert tuned.status == "failed" and "diverged" in tuned.reason
    assert batch.status == "partial" and batch.runs_of(BASELINE)[0].checkpoint.is_file()
    assert "failed" in batch.message
    errors = [e.text for e in log.events if getattr(e, "level", "") == "error"]
    assert errors and ". The other runs go on." in errors[0]
    assert ". 1 finished run kept in" in batch.message  # sentences, not run together
    with pytest.raises(AllguiError, match="No run of the batch finished"):
        run_batch(project, ValidationSettings(runs=1, epochs=3, params={"lr": 1e30}),
                  prepared=prepared)
    failed = [b for b in project.runs_dir.iterdir() if (b / "batch.json").is_file()]
    assert any(load_batch(b).runs and not load_batch(b).runs[0].finished for b in failed)


def test_parse_params():
    assert parse_params("lr=0.001, hidden=512,backbone=resnet18") == {
        "lr": 0.001, "hidden": 512, "backbone": "resnet18"}
    with pytest.raises(AllguiError):
        parse_params("learning_rate=1")
    with pytest.raises(AllguiError):
        parse_params("hidden=many")


def test_validates_what_the_real_search_chose(demo, tmp_path):
    """The engine's search records fixed parameters apart from searched ones;
    the batch must train exactly the configuration the trial trained."""
    from allgui.core.search.runner import SearchSettings, run_search
    from allgui.core.search.space import Param, SearchSpace
    from allgui.core.train.loop import training_data_from_prepared

    project, prepared = demo
    fresh = Project.create(tmp_path / "searched", project.settings)
    space = SearchSpace().with_param(Param("batch_size", search=False, fixed=8)) \
        .with_param(Param("hidden", choices=(8, 16)))
    result = run_search(fresh, SearchSettings(trials=2, epochs=1, views=1, startup_trials=2,
                                              device="cpu", space=space),
                        data=training_data_from_prepared(prepared))
    best = result.best
    batch = run_batch(fresh, ValidationSettings(runs=1, epochs=1), prepared=prepared)
    assert batch.tuned.trial == best.number
    assert batch.tuned.params["batch_size"] == 8
    for name in ("lr", "weight_decay", "dropout1", "dropout2", "hidden"):
        assert batch.tuned.params[name] == pytest.approx(best.params[name])
    assert batch.study.name == "search" and batch.study.objective == "validation accuracy"


def test_missing_weights_fail_before_anything_is_written(demo, tmp_path):
    from allgui.core.errors import WeightsError

    project, prepared = demo
    settings = dataclasses.replace(project.settings, model=ModelSettings(
        backbone="mobilenetv3_small_050", weights=str(tmp_path / "missing.safetensors")))
    fresh = Project.create(tmp_path / "noweights", settings)
    log = EventLog()
    with pytest.raises(WeightsError, match="does not exist"):
        run_batch(fresh, ValidationSettings(runs=1, epochs=1, params=TINY), sink=log,
                  prepared=prepared)
    assert not fresh.runs_dir.exists()
    assert isinstance(log.events[-1], JobFinished) and not log.events[-1].ok


def test_a_changed_split_cannot_leak_search_data_into_the_test(demo, tmp_path):
    from allgui.core.project import SplitSettings
    from allgui.core.search.runner import SearchSettings, run_search

    project, _ = demo
    settings = dataclasses.replace(project.settings, split=SplitSettings(
        use_official_test=False, test_fraction=0.2))
    fresh = Project.create(tmp_path / "heldout", settings)
    run_search(fresh, SearchSettings(trials=1, epochs=1, views=1, device="cpu"))
    same = run_batch(fresh, ValidationSettings(runs=1, epochs=1))
    assert same.test_source == "held-out" and "patient-held-out" in same.test_set
    fresh.update(dataset=dataclasses.replace(fresh.settings.dataset, image_size=40))
    with pytest.raises(DatasetError, match="changed since the search"):
        run_batch(fresh, ValidationSettings(runs=1, epochs=1))
    # a configuration entered by hand makes no claim about the search
    entered = run_batch(fresh, ValidationSettings(runs=1, epochs=1, params=TINY))
    assert entered.tuned.source == "entered by the user"


def test_validation_trains_the_model_the_trial_trained(demo, tmp_path):
    """Model settings changed after the search do not leak into the validation;
    a trial whose model was never recorded is refused."""
    from allgui.core.search.runner import SearchSettings, run_search
    from allgui.core.train.loop import training_data_from_prepared

    project, prepared = demo
    fresh = Project.create(tmp_path / "changed", project.settings)
    run_search(fresh, SearchSettings(trials=1, epochs=1, views=1, device="cpu"),
               data=training_data_from_prepared(prepared))
    fresh.update(model=ModelSettings(backbone="resnet18",
                                     weights=str(tmp_path / "other.safetensors")))
    batch = run_batch(fresh, ValidationSettings(runs=1, epochs=1,
                                                baseline={"lr": 1e-3, "hidden": 8}),
                      prepared=prepared)
    for conf in (batch.tuned, batch.baseline):
        assert conf.params["backbone"] == "mobilenetv3_small_050"
        assert conf.params["weights"] == "none" and conf.params["finetune_stages"] == 0
    assert batch.model.backbone == "mobilenetv3_small_050" and batch.model.weights == "none"
    # The report says how the runs were augmented: half the draws exact.
    assert batch.model.augment_probability == 0.5
    assert "probability 0.5 and otherwise only flipped" in batch.model.views_note()
    _, info = load_checkpoint(batch.runs_of(TUNED)[0].checkpoint)
    assert info.model_config.backbone == "mobilenetv3_small_050"

    bare = Project.create(tmp_path / "bare", project.settings)
    _add_study(bare, [(1e-3, 8, 0.7)], model=False)
    with pytest.raises(ProjectError, match="does not record which model trial 0 trained"):
        run_batch(bare, ValidationSettings(runs=1, epochs=1), prepared=prepared)
    assert not bare.runs_dir.exists() or not any(bare.runs_dir.iterdir())


def test_a_failing_batch_ends_its_job_once_and_keeps_finished_runs(demo):
    """An unexpected failure after a run (here the caller's sink) ends the job
    with exactly one JobFinished, and batch.json keeps the run that finished."""
    project, prepared = demo
    events = []

    def sink(event):
        events.append(event)
        if isinstance(event, RunFinished):
            raise RuntimeError("the window went away")

    with pytest.raises(RuntimeError, match="the window went away"):
        run_batch(project, ValidationSettings(runs=2, epochs=1, params=TINY), sink=sink,
                  prepared=prepared)
    ends = [e for e in events if isinstance(e, JobFinished)]
    assert len(ends) == 1 and not ends[0].ok and not ends[0].stopped
    saved = latest_batch(project, with_finished_runs=False)
    assert saved.status == "failed" and "1 finished run kept" in saved.message
    assert [r.finished for r in saved.runs] == [True]


def test_a_batch_where_no_run_finished_ends_its_job_once(demo):
    project, prepared = demo
    log = EventLog()
    with pytest.raises(AllguiError, match="No run of the batch finished"):
        run_batch(project, ValidationSettings(runs=1, epochs=2, params={"lr": 1e30}), sink=log,
                  prepared=prepared)
    ends = log.of_type(JobFinished)
    assert len(ends) == 1 and not ends[0].ok and "No run of the batch finished" in ends[0].message


def test_a_stop_before_any_run_ends_the_job_as_stopped(demo):
    project, prepared = demo
    cancel = threading.Event()
    cancel.set()
    log = EventLog()
    batch = run_batch(project, ValidationSettings(runs=1, epochs=1, params=TINY), sink=log,
                      cancel=cancel, prepared=prepared)
    assert batch.status == "stopped" and not batch.runs
    ends = log.of_type(JobFinished)
    assert len(ends) == 1 and ends[0].stopped and not ends[0].ok
