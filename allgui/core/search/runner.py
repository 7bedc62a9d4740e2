"""The hyperparameter search: Optuna TPE over a project's study.

One SQLite study per project (``project.storage_url``; optuna-dashboard
opens it as it is), named in project.toml's ``[search]`` section.
:func:`run_search` runs trials until the study holds ``settings.trials``
finished ones (complete, pruned, or failed by a fault), so running it again
continues where it stopped.

- Sampler: ``TPESampler`` with its settings explicit and recorded (seed,
  startup trials, multivariate), since Optuna's defaults change between
  versions. On resume the sampler's seed is the study seed plus the number
  of trials already there, so resumed random draws do not repeat old ones.
- The value of a trial is the objective on validation at the epoch with the
  lowest validation loss (the weights such a run keeps). Each trial keeps
  its per-epoch curve, settings, seed and timings as user attributes.
- Crash: trials left RUNNING (the process died) are marked FAIL with the
  reason, and their parameters queued again.
- Stop (``cancel`` set): the running trial ends at the next batch, is marked
  FAIL ('stopped by the user'), and its parameters are queued again.
- CUDA out of memory: that trial fails with the reason (no retry at a
  smaller batch: the sampler must see the batch size it chose), and the
  study goes on. A NaN loss likewise fails the trial, not the study.
"""

from __future__ import annotations

import dataclasses
import gc
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import torch

from allgui import __version__
from allgui.core.errors import AllguiError, Cancelled, ProjectError
from allgui.core.events import (
    JobFinished,
    JobStarted,
    Notice,
    Progress,
    Sink,
    StudyFinished,
    TrialFailed,
    TrialFinished,
    TrialPruned,
    TrialStarted,
    null_sink,
)
from allgui.core.model import params as registry
from allgui.core.model.classifier import AllClassifier, ModelConfig, build_model
from allgui.core.project import Project
from allgui.core.search.lock import study_lock
from allgui.core.search.settings import (  # noqa: F401 - re-exported (torch-free home)
    MODES,
    PRUNERS,
    SearchError,
    SearchSettings,
    _optuna_version,
    check_resume,
)
from allgui.core.search.space import SearchSpace
from allgui.core.search.storage import mask_url
from allgui.core.train.device import resolve_device
from allgui.core.train.features import FeatureSet, build_feature_set
from allgui.core.train.loop import (
    FitConfig,
    HyperParams,
    TrainingDiverged,
    TrainSettings,
    fit,
    seed_everything,
)
from allgui.core.train.sources import TrainingData, check_class_counts, source_for

JOB = "search"
INTERRUPTED = "interrupted"  # trial user attribute: True when a crash or Stop ended it


@dataclass(frozen=True)
class TrialSummary:
    """One trial as a table row."""

    number: int
    state: str  # 'complete', 'pruned', 'failed', 'running', 'waiting'
    value: float | None
    params: dict[str, Any]
    epochs_run: int = 0
    best_epoch: int = 0
    duration_s: float = 0.0
    val_accuracy: float | None = None
    val_balanced_accuracy: float | None = None
    reason: str = ""
    worker: str = ""  # host:pid of the worker that ran it (shared studies)


@dataclass(frozen=True)
class SearchResult:
    study_name: str
    storage_url: str
    objective: str
    settings: SearchSettings
    trials: tuple[TrialSummary, ...]
    best: TrialSummary | None
    n_complete: int
    n_pruned: int
    n_failed: int
    stopped: bool
    recovered: int  # trials found interrupted by a crash and queued again
    epochs_saved_by_pruning: int
    duration_s: float
    features_s: float  # time spent computing cached features in this run

    def top(self, n: int = 5) -> list[TrialSummary]:
        done = [t for t in self.trials if t.state == "complete" and t.value is not None]
        return sorted(done, key=lambda t: -t.value)[:n]


# -- opening the study -----------------------------------------------------
def _storage(url: str):
    from allgui.core.search.storage import open_storage

    return open_storage(url)  # SQLite or a database server; errors never show a password


def _make_sampler(settings: SearchSettings, seed_offset: int):
    import optuna

    s = settings.sampler_settings(seed_offset)
    return optuna.samplers.TPESampler(
        seed=s["seed"], n_startup_trials=s["n_startup_trials"], multivariate=s["multivariate"],
        n_ei_candidates=s["n_ei_candidates"],
    )


def _make_pruner(settings: SearchSettings):
    import optuna

    p = settings.pruner_settings()
    if p["pruner"] == "MedianPruner":
        return optuna.pruners.MedianPruner(n_startup_trials=p["n_startup_trials"],
                                           n_warmup_steps=p["n_warmup_steps"],
                                           interval_steps=p["interval_steps"])
    if p["pruner"] == "HyperbandPruner":
        return optuna.pruners.HyperbandPruner(min_resource=p["min_resource"],
                                              max_resource=p["max_resource"],
                                              reduction_factor=p["reduction_factor"])
    return optuna.pruners.NopPruner()


_NEW_STUDY = ("give the new search its own study name (Study name in the window, "
              "--study on the command line).")


def open_study(project: Project, settings: SearchSettings, data_key: str = "",
               class_names: tuple[str, ...] = ()):
    """Create or load the project's study, checking it was made for the same
    objective, data and backbone. Returns ``(study, storage, seed_offset)``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = _storage(project.storage_url)
    name = settings.study_name
    existing = {s.study_name: s for s in optuna.get_all_study_summaries(storage)}
    seed_offset = existing[name].n_trials if name in existing else 0
    study = optuna.create_study(
        storage=storage, study_name=name, direction="maximize", load_if_exists=True,
        sampler=_make_sampler(settings, seed_offset), pruner=_make_pruner(settings),
    )
    m = project.settings.model
    model = {"backbone": m.backbone, "weights": m.weights, "finetune_stages": m.finetune_stages}
    recorded = study.user_attrs.get("allgui")
    # A study whose first start failed (hub unreachable, say) holds no trial:
    # nothing would be mixed, so it takes the new settings instead of refusing.
    if recorded and seed_offset:  # seed_offset: the trials the study already holds
        if recorded.get("objective") != settings.objective:
            raise SearchError(
                f"The study '{name}' searched for {recorded.get('objective')}; to search for "
                f"{settings.objective}, " + _NEW_STUDY
            )
        if data_key and recorded.get("data_key") and recorded["data_key"] != data_key:
            raise SearchError(
                f"The study '{name}' was run on other images or another split; " +
                _NEW_STUDY
            )
        if recorded.get("model") and recorded["model"] != model:
            raise SearchError(
                f"The study '{name}' was run with backbone {recorded['model'].get('backbone')} "
                f"(weights {recorded['model'].get('weights')}); for another backbone or "
                "weights, " + _NEW_STUDY
            )
        check_resume(name, recorded.get("settings"), settings)
    else:
        study.set_user_attr("allgui", {
            "allgui_version": __version__,
            "objective": settings.objective,
            "data_key": data_key,
            "model": model,
            "class_names": list(class_names),
            "settings": _plain(settings.to_dict()),
            "sampler": settings.sampler_settings(),
            "pruner": settings.pruner_settings(),
        })
    return study, storage, seed_offset


def recover_interrupted(study, storage) -> int:
    """Mark trials left RUNNING by a crash as FAIL and queue their
    parameters again. Call only while holding the project's study lock."""
    from optuna.trial import TrialState

    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_user_attr(t._trial_id, "result", {
            "fail_reason": "interrupted: allgui stopped while this trial ran", INTERRUPTED: True})
        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        if t.params:
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
        n += 1
    return n


def finished_count(study) -> int:
    """Trials that count towards the target: complete, pruned, or failed by a
    fault (not those a crash or Stop interrupted: their parameters run again)."""
    from optuna.trial import TrialState

    n = 0
    for t in study.get_trials(deepcopy=False):
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
            n += 1
        elif t.state == TrialState.FAIL and not trial_result(t).get(INTERRUPTED):
            n += 1
    return n


# -- the search ------------------------------------------------------------
def _suggest(trial, space: SearchSpace) -> tuple[dict[str, Any], dict[str, Any]]:
    """(searched, fixed) parameter values for this trial."""
    searched, fixed = {}, {}
    for p in space.params:
        if not p.search:
            fixed[p.name] = p.fixed
        elif p.choices:
            searched[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        else:
            searched[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
    return searched, fixed


def _configuration(values: dict[str, Any], project: Project, n_classes: int):
    model = project.settings.model  # what the trial does not set stays untuned
    return registry.configuration(values, backbone=model.backbone, weights=model.weights,
                                  finetune_stages=model.finetune_stages, n_classes=n_classes)


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


def _plain(value: Any) -> Any:
    """JSON-safe copy (Optuna stores attributes as JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _Backbones:
    """Built backbones (and, cached mode, their features), one per backbone
    name, made on first use and shared by every trial."""

    def __init__(self, project, settings, data, device, sink, cancel):
        self.project, self.settings, self.data = project, settings, data
        self.device, self.sink, self.cancel = device, sink, cancel
        self.models: dict[str, AllClassifier] = {}
        self.features: dict[str, FeatureSet] = {}
        self.features_s = 0.0

    def get(self, config: ModelConfig) -> tuple[AllClassifier | None, FeatureSet | None]:
        if config.finetune_stages:
            return None, None  # fine-tuning trains its own copy of the backbone
        name = config.backbone
        if name not in self.models:
            seed_everything(self.settings.seed)  # random-init backbones are the same each run
            self.models[name] = build_model(dataclasses.replace(config, hidden=8))
        model = self.models[name]
        if self.settings.mode == "cached" and name not in self.features:
            started = time.perf_counter()
            model.to(self.device)

            def progress(done: int, total: int) -> None:
                self.sink(Progress(job=JOB, phase="features", done=done, total=total,
                                   message=f"Backbone features ({name}, "
                                           f"{self.settings.views} views), once for all trials"))

            self.features[name] = build_feature_set(
                model, self.data.train_images, self.data.val_images,
                views=self.settings.views, seed=self.settings.seed, device=self.device,
                cache_dir=self.project.cache_dir, data_key=self.data.key,
                batch_size=self.settings.extract_batch_size, cancel=self.cancel,
                progress=progress,
            )
            self.features_s += time.perf_counter() - started
        return model, self.features.get(name)


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
    from allgui.core.search.storage import is_database_url

    if is_database_url(project.storage_url):  # shared with workers: heartbeats, shared budget
        from allgui.core.search.shared import run_shared_search

        return run_shared_search(project, settings, sink, cancel, data)
    model_settings = project.settings.model
    if settings.mode == "cached" and model_settings.finetune_stages:
        raise SearchError("The cached mode needs a frozen backbone (finetune_stages = 0); "
                          "use the online mode to fine-tune.")
    device = resolve_device(settings.device)
    started = time.perf_counter()
    with study_lock(project.root / ".search.lock"):
        if data is None:
            data = training_data_for(project, sink, cancel)
        check_class_counts(data)  # before any training, in plain words
        study, storage, _ = open_study(project, settings, data.key, tuple(data.class_names))
        project.update(search=_plain(settings.to_dict()))  # once the study accepts them
        recovered = recover_interrupted(study, storage)
        if recovered:
            sink(Notice(JOB, level="info", text=f"{recovered} trial(s) interrupted earlier "
                                                 "(allgui closed or crashed) will run again."))
        remaining = settings.trials - finished_count(study)
        sink(JobStarted(JOB, description=f"Search '{settings.study_name}': "
                                         f"{max(remaining, 0)} trial(s) to run "
                                         f"({settings.mode} mode, {settings.epochs} epochs each)",
                        total=max(remaining, 0)))
        backbones = _Backbones(project, settings, data, device, sink, cancel)
        train_settings = trial_training_settings(settings)
        stopped = False
        error: BaseException | None = None
        try:
            if remaining > 0 and not _prepare_backbone(project, settings, data, backbones):
                stopped = True
            while not stopped and finished_count(study) < settings.trials:
                if cancel.is_set():
                    stopped = True
                    break
                trial = study.ask()
                if not _run_trial(study, trial, project, settings, train_settings, data,
                                  backbones, device, sink, cancel):
                    stopped = True
                    break
        except BaseException as exc:
            error = exc
            stopped = isinstance(exc, KeyboardInterrupt)
            raise
        finally:
            result = _result(project, settings, study, stopped, recovered,
                             time.perf_counter() - started, backbones.features_s)
            announce_end(sink, result, stopped, error)
    return result


def trial_training_settings(settings: SearchSettings) -> TrainSettings:
    """How every trial of a search trains (the same for plain and shared studies)."""
    return TrainSettings(objective=settings.objective, views=settings.views,
                         extract_batch_size=settings.extract_batch_size)


def announce_end(sink: Sink, result: SearchResult, stopped: bool,
                 error: BaseException | None, run_here: int | None = None) -> None:
    """Emit StudyFinished and JobFinished for a search that ended (finished,
    stopped or failed); ``run_here`` counts a shared study's trials this
    process ran. Storage URLs in an error's text are masked."""
    best = result.best
    sink(StudyFinished(JOB, best_number=best.number if best else None,
                       best_value=best.value if best else None,
                       n_complete=result.n_complete, n_pruned=result.n_pruned,
                       n_failed=result.n_failed, stopped=stopped))
    if error is not None and not stopped:
        message = f"The search ended on an error: {mask_url(str(error))}"
    else:
        here = f"{run_here} trial(s) run here; " if run_here is not None else ""
        message = (("Stopped; " if stopped else "Finished; ") + here
                   + f"{result.n_complete} complete, {result.n_pruned} pruned, "
                   f"{result.n_failed} failed trials in the study.")
    sink(JobFinished(JOB, ok=error is None or stopped, message=message, stopped=stopped))


def _prepare_backbone(project, settings, data, backbones) -> bool:
    """Build the backbone (and, cached mode, its features) before the first
    trial, so that weights that cannot be had stop the search with one plain
    message rather than failing every trial. False when stopped meanwhile."""
    choice = settings.space.get("backbone")
    if choice is not None and choice.search:
        return True  # several backbones: each is built when a trial first asks for it
    values = {"backbone": choice.fixed} if choice is not None else {}
    config, _ = _configuration(values, project, len(data.class_names))
    try:
        if config.finetune_stages:
            build_model(config)  # fine-tuning builds per trial; check the weights once
        else:
            backbones.get(config)
    except Cancelled:
        return False
    return True


def _run_trial(study, trial, project, settings, train_settings, data, backbones, device, sink,
               cancel) -> bool:
    """Run one asked trial and tell Optuna how it ended; False when stopped."""
    import optuna
    from optuna.trial import TrialState

    number = trial.number
    searched: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    epochs_run = 0
    try:
        searched, fixed = _suggest(trial, settings.space)
        values = {**fixed, **searched}
        config, hp = _configuration(values, project, len(data.class_names))
        seed = settings.seed + number
        trial.set_user_attr("settings", _plain({
            "mode": settings.mode, "epochs": settings.epochs, "views": settings.views,
            "objective": settings.objective, "seed": seed, "views_seed": settings.seed,
            "backbone": config.backbone, "weights": config.weights,
            "finetune_stages": config.finetune_stages, "device": str(device),
            "fixed": fixed, "sampler": settings.sampler_settings(),
            "pruner": settings.pruner_settings(), "allgui_version": __version__,
        }))
        sink(TrialStarted(JOB, number=number, params=dict(values)))
        base, features = backbones.get(config)

        def on_epoch(record) -> None:
            nonlocal epochs_run
            epochs_run = record.epoch
            history.append(_plain(dataclasses.asdict(record)))
            # Reported only for a pruner: each report is one write to the study
            # (tens of ms on SQLite); the curve is kept in the 'history' attribute.
            if settings.pruning != "none":
                trial.report(record.objective, record.epoch)
                if trial.should_prune():
                    raise optuna.TrialPruned()

        result = fit(
            FitConfig(config, hp, epochs=settings.epochs, seed=seed, views_seed=settings.seed,
                      settings=train_settings, job=JOB, trial=number),
            source_for(settings.mode, data, features=features, cache_dir=project.cache_dir),
            device=device, base_model=base, sink=sink, cancel=cancel, on_epoch=on_epoch,
        )
        best = result.best
        _set_attrs(trial, history, epochs_run=len(result.history),
                   best_epoch=result.best_epoch, duration_s=result.duration_s,
                   val_accuracy=best.val_accuracy,
                   val_balanced_accuracy=best.val_balanced_accuracy,
                   val_loss=best.val_loss, stopped_early=result.stopped_early)
        if not math.isfinite(result.value):
            raise TrainingDiverged(f"The objective ({settings.objective}) could not be computed.")
        study.tell(trial, result.value)
        sink(TrialFinished(JOB, number=number, value=result.value, params=dict(values),
                           duration_s=result.duration_s, epochs_run=len(result.history)))
        return True
    except optuna.TrialPruned:
        _set_attrs(trial, history, epochs_run=epochs_run,
                   epochs_saved=settings.epochs - epochs_run)
        study.tell(trial, state=TrialState.PRUNED)
        sink(TrialPruned(JOB, number=number, epoch=epochs_run,
                         reason=f"{settings.pruning} pruner: below others at epoch {epochs_run}",
                         params=dict(searched)))
        return True
    except Cancelled:
        _fail(study, trial, "stopped by the user", history, epochs_run, interrupted=True)
        if searched:
            study.enqueue_trial(searched, user_attrs={"retry_of": number})
        sink(TrialFailed(JOB, number=number, reason="stopped by the user", params=dict(searched)))
        return False
    except KeyboardInterrupt:
        _fail(study, trial, "interrupted (Ctrl+C)", history, epochs_run, interrupted=True)
        if searched:
            study.enqueue_trial(searched, user_attrs={"retry_of": number})
        raise
    except Exception as exc:
        if _is_oom(exc):
            reason = (f"out of GPU memory at batch size {searched.get('batch_size', '?')} "
                      "(not retried; the study goes on)")
            _free_gpu()
        elif isinstance(exc, AllguiError):
            reason = exc.message
        else:
            reason = f"unexpected error: {type(exc).__name__}: {exc}"
        _fail(study, trial, reason, history, epochs_run, interrupted=False)
        sink(TrialFailed(JOB, number=number, reason=reason, params=dict(searched)))
        if isinstance(exc, AllguiError) or _is_oom(exc):
            return True
        raise


def _set_attrs(trial, history: list, **result) -> None:
    """Few writes (each is one transaction on the study, tens of ms on
    SQLite): the per-epoch curve ('history'), the outcome ('result'), and
    'epochs_run' / 'best_epoch' also at the top level, where reports read them."""
    trial.set_user_attr("history", _plain(history))
    trial.set_user_attr("result", _plain(result))
    for key in ("epochs_run", "best_epoch"):
        if key in result:
            trial.set_user_attr(key, int(result[key]))


def trial_result(trial) -> dict[str, Any]:
    """The 'result' attribute of a (frozen) trial: epochs_run, best_epoch,
    duration_s, val_accuracy, val_balanced_accuracy, val_loss, fail_reason..."""
    return dict(trial.user_attrs.get("result") or {})


def _fail(study, trial, reason, history, epochs_run, interrupted: bool) -> None:
    from optuna.trial import TrialState

    _set_attrs(trial, history, fail_reason=reason, epochs_run=epochs_run,
               **({INTERRUPTED: True} if interrupted else {}))
    study.tell(trial, state=TrialState.FAIL)


def _free_gpu() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


# -- results ---------------------------------------------------------------
_STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed",
           "RUNNING": "running", "WAITING": "waiting"}


def trial_summaries(study) -> tuple[TrialSummary, ...]:
    out = []
    trials = study.get_trials(deepcopy=False)
    # A trial whose worker died is failed by heartbeat and run again under a new number.
    retried = {n: t.number for t in trials for n in (t.system_attrs.get("retry_history") or [])}
    for t in trials:
        attrs = trial_result(t)
        if t.number in retried and not attrs.get("fail_reason"):
            attrs["fail_reason"] = (f"its worker stopped answering; run again as trial "
                                    f"{retried[t.number]}")
        fixed = (t.user_attrs.get("settings") or {}).get("fixed") or {}
        out.append(TrialSummary(
            number=t.number,
            state=_STATES.get(t.state.name, t.state.name.lower()),
            value=t.value if t.state.name == "COMPLETE" else None,
            params={**fixed, **t.params},
            epochs_run=int(attrs.get("epochs_run") or 0),
            best_epoch=int(attrs.get("best_epoch") or 0),
            duration_s=float(attrs.get("duration_s") or (
                t.duration.total_seconds() if t.duration else 0.0)),
            val_accuracy=attrs.get("val_accuracy"),
            val_balanced_accuracy=attrs.get("val_balanced_accuracy"),
            reason=str(attrs.get("fail_reason") or ""),
            worker=str(t.user_attrs.get("worker") or ""),
        ))
    return tuple(out)


def _result(project, settings, study, stopped, recovered, duration_s, features_s):
    trials = trial_summaries(study)
    done = [t for t in trials if t.state == "complete" and t.value is not None]
    best = max(done, key=lambda t: t.value) if done else None
    saved = sum(max(settings.epochs - t.epochs_run, 0) for t in trials if t.state == "pruned")
    return SearchResult(
        study_name=settings.study_name, storage_url=project.storage_url,
        objective=settings.objective, settings=settings, trials=trials, best=best,
        n_complete=len(done), n_pruned=sum(t.state == "pruned" for t in trials),
        n_failed=sum(t.state == "failed" for t in trials), stopped=stopped,
        recovered=recovered, epochs_saved_by_pruning=saved, duration_s=duration_s,
        features_s=features_s,
    )


def load_study(project: Project, study_name: str | None = None):
    """The project's Optuna study (read it, plot it, compute importances)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = study_name or SearchSettings.from_project(project).study_name
    try:
        return optuna.load_study(study_name=name, storage=_storage(project.storage_url))
    except KeyError as exc:
        raise ProjectError(f"This project has no study named '{name}' yet.") from exc


def load_search_result(project: Project, settings: SearchSettings | None = None) -> SearchResult:
    """The project's study as it stands, without running anything."""
    settings = settings if settings is not None else SearchSettings.from_project(project)
    study = load_study(project, settings.study_name)
    return _result(project, settings, study, False, 0, 0.0, 0.0)


def best_configuration(project: Project, n_classes: int,
                       study_name: str | None = None) -> tuple[ModelConfig, HyperParams, int]:
    """The best complete trial's configuration, ready for
    :func:`~allgui.core.train.loop.fit`'s ``FitConfig``: ``(model_config,
    hparams, trial_number)``. Parameters the space held fixed are included."""
    study = load_study(project, study_name)
    best = load_search_result(
        project, dataclasses.replace(SearchSettings.from_project(project),
                                     study_name=study.study_name)).best
    if best is None:
        raise ProjectError(f"The study '{study.study_name}' has no finished trial yet.")
    config, hp = _configuration(best.params, project, n_classes)
    return config, hp, best.number


def training_data_for(project: Project, sink: Sink = null_sink,
                      cancel: threading.Event | None = None) -> TrainingData:
    """The project's training and validation parts, prepared (through the cache)."""
    from allgui.core.dataset.prepared import prepare_project_data
    from allgui.core.train.sources import training_data_from_prepared

    return training_data_from_prepared(prepare_project_data(project, sink, cancel))
