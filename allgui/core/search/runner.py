"""The hyperparameter search: Optuna TPE over a project's study.

:func:`run_search` runs trials until the study holds ``settings.trials``
finished ones (complete, pruned, or failed by a fault), so running it again
continues where it stopped. A project whose study lives on a database
server runs it shared with workers (:mod:`allgui.core.search.shared`); both
go through the one trial loop of :mod:`allgui.core.search.loop`, each with
its policy (:class:`LocalPolicy` here).

- Sampler: ``TPESampler`` with its settings explicit and recorded (seed,
  startup trials, multivariate), since Optuna's defaults change between
  versions (:func:`~allgui.core.search.settings.make_sampler`).
- Crash: trials left RUNNING (the process died) are marked FAIL with the
  reason, and their parameters queued again.
"""

from __future__ import annotations

import dataclasses
import threading
import time

from allgui.core.errors import ProjectError
from allgui.core.events import Notice, Sink, null_sink
from allgui.core.files.text import count
from allgui.core.model.check import check_model_settings
from allgui.core.model.classifier import ModelConfig
from allgui.core.project import ModelSettings, Project
from allgui.core.search import study as S
from allgui.core.search import study_write as W
from allgui.core.search.lock import study_lock
from allgui.core.search.loop import JOB, StudyPolicy, run_trials
from allgui.core.search.record import plain
from allgui.core.search.settings import MODES, PRUNERS, SearchError, SearchSettings, check_resume
from allgui.core.search.shared import run_shared_search
from allgui.core.search.storage import is_database_url
from allgui.core.search.study import (
    SearchResult,
    TrialSummary,
    load_search_result,
    load_study,
)
from allgui.core.search.study_write import open_study
from allgui.core.search.trial import trial_configuration
from allgui.core.train.loop import HyperParams, TrainingData, check_class_counts, resolve_device

__all__ = [  # the names front ends and scripts import from here
    "JOB", "MODES", "PRUNERS", "LocalPolicy", "SearchError", "SearchResult", "SearchSettings",
    "TrialSummary", "best_configuration", "check_resume", "load_search_result", "load_study",
    "open_study", "run_search", "search_with_model", "training_data_for",
]


class LocalPolicy(StudyPolicy):
    """The project's own study: this process alone runs it (the project's
    study lock says so), until it holds ``settings.trials`` counted trials."""

    def __init__(self, study, settings: SearchSettings, recovered: int) -> None:
        self.study, self.settings, self.recovered = study, settings, recovered

    def start(self) -> tuple[str, int]:
        s = self.settings
        remaining = max(s.trials - S.counted(S.trials(self.study)), 0)
        return (f"Search '{s.study_name}': {count(remaining, 'trial')} to run "
                f"({s.mode} mode, {s.epochs} epochs each)", remaining)

    def reached(self) -> bool:
        return S.counted(S.trials(self.study)) >= self.settings.trials

    def claim(self):
        return self.study.ask()


def run_search(
    project: Project,
    settings: SearchSettings | None = None,
    sink: Sink = null_sink,
    cancel: threading.Event | None = None,
    data: TrainingData | None = None,
) -> SearchResult:
    """Run (or continue) the project's search until the study holds
    ``settings.trials`` finished trials, or until ``cancel`` is set.

    ``settings`` defaults to the project's ``[search]`` section and is saved
    back to it. ``data`` defaults to the project's prepared data (its train
    and validation parts).
    """
    settings = settings if settings is not None else SearchSettings.from_project(project)
    cancel = cancel if cancel is not None else threading.Event()
    if is_database_url(project.storage_url):  # shared with workers: heartbeats, shared budget
        return run_shared_search(project, settings, sink, cancel, data)
    settings.check_model(project.settings.model.finetune_stages)
    device = resolve_device(settings.device)
    started = time.perf_counter()
    with study_lock(project.root / ".search.lock"):
        if data is None:
            data = training_data_for(project, sink, cancel)
        check_class_counts(data)  # before any training, in plain words
        study, storage, _ = open_study(project, settings, data.key, tuple(data.class_names))
        project.update(search=plain(settings.to_dict()))  # once the study accepts them
        recovered = W.recover_interrupted(study, storage)
        if recovered:
            sink(Notice(JOB, level="info", text=f"{count(recovered, 'trial')} interrupted earlier "
                                                 "(allgui closed or crashed) will run again."))
        return run_trials(LocalPolicy(study, settings, recovered), project, settings, data,
                          device, sink, cancel, started)


def search_with_model(project: Project, settings: SearchSettings,
                      model: ModelSettings | None = None, sink: Sink = null_sink,
                      cancel: threading.Event | None = None) -> SearchResult:
    """:func:`run_search` with the project's model settings set to ``model``
    first (the backbone, weights and fine-tuning a front end asked for). A
    study that refuses them (made with another backbone, say) leaves the
    project's model settings as they were, and settings timm or the disk
    cannot serve (an unknown backbone, a missing weights file, more stages
    than the backbone has) are refused before they are saved."""
    before = project.settings.model
    # Before any training, and before they are saved: a backbone that cannot
    # serve the whole path (a transformer's tokens, no heatmap, no export).
    check_model_settings(model or before)
    if model is not None and model != before:
        project.update(model=model)
    try:
        return run_search(project, settings, sink, cancel)
    except SearchError:
        if project.settings.model != before:
            project.update(model=before)  # the study refused them: keep the old ones
        raise


def best_configuration(project: Project, n_classes: int,
                       study_name: str | None = None) -> tuple[ModelConfig, HyperParams, int]:
    """The best complete trial's configuration, ready for
    :func:`~allgui.core.train.loop.train_configuration`: ``(model_config,
    hparams, trial_number)``. Parameters the space held fixed are included."""
    study = load_study(project, study_name)
    best = load_search_result(
        project, dataclasses.replace(SearchSettings.from_project(project),
                                     study_name=study.study_name)).best
    if best is None:
        raise ProjectError(f"The study '{study.study_name}' has no finished trial yet.")
    config, hp = trial_configuration(best.params, project, n_classes)
    return config, hp, best.number


def training_data_for(project: Project, sink: Sink = null_sink,
                      cancel: threading.Event | None = None) -> TrainingData:
    """The project's training and validation parts, prepared (through the cache)."""
    from allgui.core.dataset.prepared import prepare_project_data
    from allgui.core.train.loop import training_data_from_prepared

    return training_data_from_prepared(prepare_project_data(project, sink, cancel))
