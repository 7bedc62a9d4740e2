"""The TPE search: storage, resume, Stop, faults, events (tiny backbone, 32 px, CPU)."""

from __future__ import annotations

import threading

import numpy as np
import optuna
import pytest
import torch
from optuna.trial import TrialState

from allgui.core import events as ev
from allgui.core.errors import DatasetError
from allgui.core.events import EventLog
from allgui.core.project import ModelSettings, Project, ProjectSettings
from allgui.core.search.runner import SearchSettings, run_search
from allgui.core.train.loop import TrainingData

torch.set_num_threads(1)


def make_data(n_train=24, n_val=12, size=32) -> TrainingData:
    rng = np.random.default_rng(0)

    def part(n):
        y = np.arange(n) % 2
        x = rng.integers(0, 60, (n, size, size, 3)).astype(np.uint8)
        x[y == 1, 8:24, 8:24, 0] = 220
        return x, y.astype(np.int64)

    a, b = part(n_train)
    c, d = part(n_val)
    return TrainingData(a, b, c, d, ("all", "hem"), key="tiny")


DATA = make_data()


def new_project(tmp_path, name="p") -> Project:
    settings = ProjectSettings(model=ModelSettings(backbone="test_efficientnet", weights="none"))
    return Project.create(tmp_path / name, settings)


def tiny(**changes) -> SearchSettings:
    base = dict(trials=3, epochs=2, views=2, startup_trials=2, device="cpu")
    base.update(changes)
    return SearchSettings(**base)


def load(project, name="search"):
    return optuna.load_study(study_name=name, storage=project.storage_url)


def test_event_sequence_and_study_on_disk(tmp_path):
    project = new_project(tmp_path)
    log = EventLog()
    result = run_search(project, tiny(), log, data=DATA)
    kinds = [type(e).__name__ for e in log.events if not isinstance(e, ev.Progress)]
    per_trial = ["TrialStarted", "EpochEnded", "EpochEnded", "TrialFinished"]
    # One notice says how the images are augmented, one which path computed the
    # features, before the first trial.
    assert kinds == (["JobStarted", "Notice", "Notice"] + per_trial * 3
                     + ["StudyFinished", "JobFinished"])
    notices = [n.text for n in log.of_type(ev.Notice)]
    assert notices[0].startswith("Augmentation: each training image transformed with "
                                 "probability 0.5")
    assert notices[1].startswith(("features: onnxruntime (CPU, ", "features: OpenVINO (CPU, "))
    # Feature progress comes once, before the first epoch, and reaches its total.
    progress = log.of_type(ev.Progress)
    assert progress and progress[-1].done == progress[-1].total == 2 * 24 + 12
    first_epoch = log.events.index(log.of_type(ev.EpochEnded)[0])
    assert log.events.index(progress[-1]) < first_epoch
    finished = log.of_type(ev.StudyFinished)[0]
    assert finished.n_complete == 3 and not finished.stopped
    assert result.best is not None and finished.best_value == result.best.value

    from allgui.core.search.runner import best_configuration

    config, hp, number = best_configuration(project, n_classes=2)
    assert number == result.best.number
    assert hp.lr == result.best.params["lr"] and config.hidden == result.best.params["hidden"]
    assert config.backbone == "test_efficientnet"

    study = load(project)  # plain Optuna opens it
    assert len(study.trials) == 3
    t = study.trials[0]
    assert len(t.user_attrs["history"]) == 2
    assert t.user_attrs["settings"]["sampler"]["n_startup_trials"] == 2
    assert t.user_attrs["settings"]["seed"] == 0
    assert study.user_attrs["allgui"]["objective"] == "accuracy"
    # The settings were saved in project.toml and read back the same.
    assert SearchSettings.from_project(Project.open(project.root)) == tiny()


def test_same_seed_same_trials(tmp_path):
    a = run_search(new_project(tmp_path, "a"), tiny(), data=DATA)
    b = run_search(new_project(tmp_path, "b"), tiny(), data=DATA)
    c = run_search(new_project(tmp_path, "c"), tiny(seed=1), data=DATA)
    assert [(t.params, t.value) for t in a.trials] == [(t.params, t.value) for t in b.trials]
    assert [t.params for t in a.trials] != [t.params for t in c.trials]


def test_resume_after_a_crash(tmp_path):
    project = new_project(tmp_path)
    run_search(project, tiny(trials=2), data=DATA)
    before = {t.number: t.value for t in load(project).trials}
    # A crash: a trial was asked for and never told (process killed).
    study = load(project)
    crashed = study.ask()
    crashed.suggest_float("lr", 1e-5, 1e-2, log=True)
    crashed_lr = crashed.params["lr"]
    assert load(project).trials[-1].state == TrialState.RUNNING

    log = EventLog()
    result = run_search(project, tiny(trials=4), log, data=DATA)
    trials = load(project).trials
    assert {t.number: t.value for t in trials if t.number in before} == before  # intact
    assert trials[2].state == TrialState.FAIL
    assert "interrupted" in trials[2].user_attrs["result"]["fail_reason"]
    retried = [t for t in trials if t.user_attrs.get("retry_of") == 2]
    assert len(retried) == 1 and retried[0].params["lr"] == crashed_lr
    assert result.n_complete == 4 and result.recovered == 1
    assert any(isinstance(e, ev.Notice) and "interrupted" in e.text for e in log.events)


def test_stop_during_a_trial_ends_it_at_the_next_batch(tmp_path):
    project = new_project(tmp_path)
    cancel = threading.Event()
    epoch_seen = threading.Event()
    after_stop: list[int] = []  # epochs that ended once Stop was pressed

    def sink(event):
        if isinstance(event, ev.EpochEnded) and event.trial == 0:
            if cancel.is_set():
                after_stop.append(event.epoch)
            if event.epoch == 2:
                epoch_seen.set()

    def press_stop():
        epoch_seen.wait(60)
        cancel.set()

    presser = threading.Thread(target=press_stop)
    presser.start()
    # 400 epochs: the trial would run for minutes if Stop did not end it.
    result = run_search(project, tiny(trials=3, epochs=400, mode="online"), sink, cancel,
                        data=DATA)
    presser.join()
    assert result.stopped
    # Stop is seen between batches: at most the epoch under way when it came ends.
    assert len(after_stop) <= 1
    trials = load(project).trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.WAITING]
    assert trials[0].user_attrs["result"]["fail_reason"] == "stopped by the user"
    assert trials[0].user_attrs["result"]["epochs_run"] >= 2
    # Its parameters are queued to run first when the search continues.
    assert trials[1].system_attrs["fixed_params"] == trials[0].params


def test_out_of_memory_fails_that_trial_and_the_study_goes_on(tmp_path):
    project = new_project(tmp_path)
    log = EventLog()

    def sink(event):  # the GPU runs out of memory during trial 1 (injected)
        log(event)
        if isinstance(event, ev.EpochEnded) and event.trial == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    result = run_search(project, tiny(trials=3), sink, data=DATA)
    failed = log.of_type(ev.TrialFailed)
    assert [f.number for f in failed] == [1]
    assert "out of GPU memory at batch size" in failed[0].reason
    assert result.n_complete == 2 and result.n_failed == 1
    assert load(project).trials[1].state == TrialState.FAIL


@pytest.mark.filterwarnings("ignore:Fixed parameter lr")
def test_nan_loss_fails_the_trial_not_the_study(tmp_path):
    project = new_project(tmp_path)
    study = optuna.create_study(storage=project.storage_url, study_name="search",
                                direction="maximize")
    study.enqueue_trial({"lr": 1e30})  # far outside the range: Optuna warns, and uses it
    log = EventLog()
    result = run_search(project, tiny(trials=2), log, data=DATA)
    failed = log.of_type(ev.TrialFailed)
    assert [f.number for f in failed] == [0] and "diverged" in failed[0].reason
    assert result.n_complete == 1 and result.n_failed == 1


def test_too_few_images_said_before_any_trial(tmp_path):
    project = new_project(tmp_path)
    few = TrainingData(DATA.train_images[:5], np.array([0, 0, 0, 0, 1]), DATA.val_images,
                       DATA.val_labels, DATA.class_names)
    log = EventLog()
    with pytest.raises(DatasetError, match="class 'hem' has 1 image"):
        run_search(project, tiny(), log, data=few)
    assert not log.of_type(ev.TrialStarted)


@pytest.mark.parametrize("pruning, objective", [("hyperband", "accuracy"), ("median", "auc")])
def test_pruning_records_epochs_saved(tmp_path, pruning, objective):
    project = new_project(tmp_path)
    log = EventLog()
    result = run_search(project, tiny(trials=8, epochs=4, pruning=pruning, objective=objective),
                        log, data=DATA)
    pruned = log.of_type(ev.TrialPruned)
    assert result.n_pruned == len(pruned) >= 1
    assert result.epochs_saved_by_pruning == sum(4 - p.epoch for p in pruned)
    study = load(project)
    results = [t.user_attrs["result"] for t in study.trials if t.state == TrialState.PRUNED]
    assert all(r["epochs_saved"] == 4 - r["epochs_run"] for r in results)
    assert all(len(t.intermediate_values) == len(t.user_attrs["history"]) for t in study.trials)


def test_importances_name_their_method():
    from allgui.core.errors import AllguiError
    from allgui.core.search.importance import format_importances, parameter_importances

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("lr", 0, 1) + 0.1 * t.suggest_float("dropout1", 0, 1),
                   n_trials=12)
    for method in ("ped-anova", "fanova"):
        imp = parameter_importances(study, method)
        assert imp.method == method and imp.n_trials == 12
        assert imp.values[0][0] == "lr"  # the parameter that drives the value comes first
        assert sum(imp.as_dict().values()) == pytest.approx(1.0, abs=1e-6)
        assert imp.method_label.split()[0] in format_importances(imp)
    flat = optuna.create_study(direction="maximize")
    flat.optimize(lambda t: t.suggest_float("lr", 0, 1) * 0 + 0.5, n_trials=3)
    with pytest.raises(AllguiError, match="same value"):
        parameter_importances(flat, "fanova")


def test_backbone_as_a_searched_choice(tmp_path):
    from allgui.core.search.space import PAPER_SPACE, Param

    project = new_project(tmp_path)
    space = PAPER_SPACE.with_param(Param("backbone", choices=("test_efficientnet",
                                                              "test_resnet")))
    result = run_search(project, tiny(trials=4, epochs=1, startup_trials=4, seed=3, space=space),
                        data=DATA)
    used = {t.params["backbone"] for t in result.trials}
    assert used == {"test_efficientnet", "test_resnet"} and result.n_complete == 4
    # One feature cache entry per backbone, shared by that backbone's trials (beside
    # the store of plain features, one file per backbone for the validation part).
    entries = sorted(p.name.split("-")[0] for p in (project.cache_dir / "features").iterdir()
                     if p.name != "plain")
    assert entries == ["test_efficientnet", "test_resnet"]


def test_other_objective_needs_its_own_study(tmp_path):
    from allgui.core.search.runner import SearchError

    project = new_project(tmp_path)
    run_search(project, tiny(trials=1, epochs=1), data=DATA)
    with pytest.raises(SearchError, match="own study name"):
        run_search(project, tiny(trials=2, epochs=1, objective="auc"), data=DATA)
    auc = run_search(project, tiny(trials=1, epochs=1, objective="auc", study_name="auc"),
                     data=DATA)
    assert auc.n_complete == 1 and 0.0 <= auc.best.value <= 1.0


def test_weights_that_cannot_be_had_stop_the_search_once(tmp_path):
    import dataclasses

    from allgui.core.errors import WeightsError

    project = new_project(tmp_path)
    project.update(model=dataclasses.replace(project.settings.model,
                                             weights=str(tmp_path / "missing.safetensors")))
    log = EventLog()
    with pytest.raises(WeightsError, match="does not exist"):
        run_search(project, tiny(), log, data=DATA)
    assert not log.of_type(ev.TrialStarted)
    assert log.of_type(ev.JobFinished)[0].ok is False
    # The failed start left an empty study: other weights may use its name.
    project.update(model=dataclasses.replace(project.settings.model, weights="none"))
    assert run_search(project, tiny(trials=1, epochs=1), data=DATA).n_complete == 1
    assert load(project).user_attrs["allgui"]["model"]["weights"] == "none"


def test_resume_with_other_epochs_mode_views_or_space_is_refused(tmp_path):
    from allgui.core.search.runner import SearchError
    from allgui.core.search.space import SearchSpace

    project = new_project(tmp_path)
    run_search(project, tiny(trials=1, epochs=1), data=DATA)
    space = SearchSpace.from_dict({"lr": {"low": 1e-4, "high": 1e-2, "log": True}})
    for changed, words in ((dict(epochs=2), "epochs 1 -> 2"), (dict(views=3), "views 2 -> 3"),
                           (dict(mode="online"), "mode cached -> online"),
                           (dict(space=space), "the search space")):
        with pytest.raises(SearchError, match="own study name") as info:
            run_search(project, tiny(**{"trials": 2, "epochs": 1, **changed}), data=DATA)
        assert words in info.value.message
    assert len(load(project).trials) == 1  # nothing ran under the other settings
    more = run_search(project, tiny(trials=2, epochs=1), data=DATA)
    assert more.n_complete == 2  # the same settings (more trials) resume


def test_untuned_defaults_have_one_source(tmp_path):
    import dataclasses

    from allgui.core.model.classifier import ModelConfig
    from allgui.core.model.params import UNTUNED
    from allgui.core.search.trial import trial_configuration
    from allgui.core.train.loop import HyperParams
    from allgui.core.validation.run import DEFAULT_BASELINE

    made = {**dataclasses.asdict(ModelConfig()), **dataclasses.asdict(HyperParams())}
    assert {k: made[k] for k in UNTUNED} == dict(UNTUNED) == DEFAULT_BASELINE
    config, hp = trial_configuration({"lr": 5e-3}, new_project(tmp_path), 2)
    searched = {**dataclasses.asdict(config), **dataclasses.asdict(hp)}
    assert {k: searched[k] for k in UNTUNED} == {**UNTUNED, "lr": 5e-3}


@pytest.mark.parametrize("changed, words", [
    (dict(multivariate=False), "multivariate TPE True -> False"),
    (dict(startup_trials=1), "random start trials 2 -> 1"),
    (dict(augment_probability=1.0), "augmentation probability 0.5 -> 1.0"),
    (dict(augment_shear=0.2), "shear range 0.1 -> 0.2"),
    (dict(precision="fp16"), "precision bf16 -> fp16"),
    (dict(val_loss="weighted"), "validation loss unweighted -> weighted"),
    (dict(trial_value="last_epoch"), "value of a trial kept_epoch -> last_epoch"),
])
def test_resume_with_another_training_setting_is_refused_by_name(tmp_path, changed, words):
    from allgui.core.search.runner import SearchError

    project = new_project(tmp_path)
    run_search(project, tiny(trials=1, epochs=1), data=DATA)
    with pytest.raises(SearchError, match="own study name") as info:
        run_search(project, tiny(**{"trials": 2, "epochs": 1, **changed}), data=DATA)
    assert words in info.value.message
    assert len(load(project).trials) == 1  # nothing ran under the other setting


def test_a_parameter_added_to_the_registry_refuses_to_resume(tmp_path, monkeypatch):
    """A new hyperparameter must not silently join a running study: the
    search space is recorded with the study and compared whole."""
    from allgui.core.model import params as registry
    from allgui.core.search import space as space_module
    from allgui.core.search.runner import SearchError

    project = new_project(tmp_path)
    run_search(project, tiny(trials=1, epochs=1), data=DATA)
    extra = registry.Hyperparameter("label_smoothing", "label smoothing", float, "optimiser",
                                    0.0, 0.0, 0.2)
    # The registry grows by one parameter (as its 3 files would make it), read
    # wherever the space module took its copies.
    params = registry.PARAMS + (extra,)
    by_name = {p.name: p for p in params}
    labels = {p.name: p.label for p in params}
    for module in (registry, space_module):
        monkeypatch.setattr(module, "PARAMS", params)
        monkeypatch.setattr(module, "BY_NAME", by_name)
        monkeypatch.setattr(module, "LABELS", labels)
    monkeypatch.setattr(space_module, "PARAM_NAMES", tuple(by_name))
    grown = tiny(trials=2, epochs=1)
    assert grown.space.get("label_smoothing") is not None  # the registry's new parameter
    with pytest.raises(SearchError, match="own study name") as info:
        run_search(project, grown, data=DATA)
    assert "parameter label smoothing (label_smoothing) added" in info.value.message
    assert len(load(project).trials) == 1


def test_a_changed_or_removed_parameter_range_is_named(tmp_path):
    from allgui.core.search.runner import SearchError
    from allgui.core.search.space import Param

    project = new_project(tmp_path)
    run_search(project, tiny(trials=1, epochs=1), data=DATA)
    base = tiny(trials=2, epochs=1)
    narrower = base.space.with_param(Param("lr", 1e-4, 1e-2, log=True))
    fewer = dataclasses_replace(base.space, params=tuple(
        p for p in base.space.params if p.name != "hidden"))
    for space, words in ((narrower, "parameter learning rate (lr) changed"),
                         (fewer, "parameter hidden units (hidden) removed")):
        with pytest.raises(SearchError) as info:
            run_search(project, dataclasses_replace(base, space=space), data=DATA)
        assert words in info.value.message


def dataclasses_replace(obj, **changes):
    import dataclasses

    return dataclasses.replace(obj, **changes)


def test_startup_trials_that_leave_tpe_nothing_are_warned(tmp_path):
    log = EventLog()
    run_search(new_project(tmp_path), tiny(trials=2, epochs=1, startup_trials=2), log, data=DATA)
    warnings = [e.text for e in log.of_type(ev.Notice) if e.level == "warning"]
    assert any("TPE never runs" in w for w in warnings), warnings


def test_the_augmentation_set_for_the_search_is_the_one_it_trains_with(tmp_path):
    """The share of transformed images is the project's setting, recorded and
    said, never a constant: the cached views are drawn with it."""
    import json

    project = new_project(tmp_path)
    log = EventLog()
    run_search(project, tiny(trials=1, epochs=1, augment_probability=1.0, augment_rotation=5.0),
               log, data=DATA)
    metas = [json.loads(p.read_text()) for p in (project.cache_dir / "features").glob("*/meta.json")]
    assert [m["augmentation"]["probability"] for m in metas] == [1.0]
    assert [m["augmentation"]["rotation_deg"] for m in metas] == [5.0]
    said = [e.text for e in log.of_type(ev.Notice) if e.text.startswith("Augmentation:")]
    assert said and "every training image transformed" in said[0] and "5 degrees" in said[0]
    settings = load(project).trials[0].user_attrs["settings"]
    assert settings["training"]["augmentation"]["probability"] == 1.0
    assert settings["class_weights"] == {"all": 1.0, "hem": 1.0}
    assert settings["weights_tag"] == "random initialisation (seed 0)"
    made = load(project).user_attrs["allgui"]["settings"]
    assert made["augment_probability"] == 1.0 and made["precision"] == "bf16"
