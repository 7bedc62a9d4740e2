"""The validation batch: the chosen configuration trained N times with
different seeds (and, optionally, a baseline on the same seeds), each run
evaluated on a test set no trial of the search saw.

Run numbers in events are unique in the batch: tuned runs are 1..N,
baseline runs N+1..2N (``RunFinished.label`` says which). Runs alternate
tuned / baseline seed by seed, so a batch stopped half-way still holds
pairs. After every run ``batch.json`` is rewritten, so nothing finished is
ever lost: Stop keeps the finished runs and returns a 'stopped' batch; a
run that diverges is recorded as failed with its reason and the others go
on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Any

from allgui.core.errors import AllguiError, Cancelled, ProjectError
from allgui.core.events import Notice, Progress, RunFinished, Sink, job, null_sink
from allgui.core.files.text import count
from allgui.core.model import params as registry
from allgui.core.model.params import parse_params as parse_params  # its old home
from allgui.core.model.params import untuned_defaults, with_untuned
from allgui.core.project import Project
from allgui.core.search.record import StudyRecord, TrialRecord
from allgui.core.train.views import DEFAULT_VIEWS, SHARE_VIEWS, fresh_views_cost, views_read
from allgui.core.validation import resume as resume_batch
from allgui.core.validation.batch import (
    Batch,
    BatchWriter,
    Configuration,
    RunRecord,
    new_batch_id,
)
from allgui.core.validation.evaluate import free_gpu, train_and_evaluate
from allgui.core.validation.plan import (
    JOB,
    BatchPlan,
    TestSet,
    check_search_split,
    check_test_set,
    dataset_record,
    describe_test_set,
    planned_runs,
)
from allgui.core.validation.provenance import ModelRecord, SplitRecord, StudySummary
from allgui.core.validation.record import now_utc, run_environment
from allgui.core.validation.seen import prepare_project_data, seen_from_prepared, write_seen
from allgui.core.validation.settings_check import check_settings

KNOWN = registry.NAMES  # the settings a run takes
# The baseline a user gets with --baseline default: allgui's untuned defaults.
DEFAULT_BASELINE = untuned_defaults()
# The model settings a trial recorded, rebuilt for its validation runs.
MODEL_NAMES = ("backbone", "weights", "finetune_stages")


@dataclass(frozen=True)
class ValidationSettings:
    """How a batch runs (the paper's protocol by default: 3 runs x 40 epochs)."""

    runs: int = 3
    epochs: int = 40
    patience: int = 10  # early stopping on validation loss
    first_seed: int = 0  # run k uses seed first_seed + k - 1
    trial: int | None = None  # a trial of the study; None = the study's best
    params: dict[str, Any] | None = None  # a configuration entered by the user (wins over trial)
    baseline: dict[str, Any] | None = None  # a baseline on the same seeds; None = none
    baseline_source: str = "entered by the user"
    mode: str = ""  # 'cached' or 'online'; '' = the project's search setting, else 'cached'
    views: int = 0  # K augmented views in cached mode; 0 = the project's setting, else 10
    fresh_views: bool = False  # one view per epoch (K = epochs): a fresh draw every epoch
    device: str | None = None  # None = the GPU when there is one
    # False (the default, allgui.core.train.views.SHARE_VIEWS): the runs share the
    # search's augmentation draws (its seed), so cached mode reuses the search's
    # features; True: each run draws its own (its seed), at a cost said when it starts.
    independent_views: bool = not SHARE_VIEWS
    features: str = "auto"  # cached features: 'auto', 'onnxruntime', 'openvino' or 'torch'
    feature_precision: str = ""  # a CPU engine's: 'fp32', 'bf16', 'int8'; '' = the search's

    # A linear probe on the same frozen features beside the runs (frozen backbones only).
    probe: bool = True
    # The "uncertain" margin is chosen on validation for this accuracy on the rest.
    referral_target: float = 0.99

    def __post_init__(self) -> None:
        check_settings(self)  # before anything runs or is written


# -- choosing what to train ------------------------------------------------------


def _trial_params(trial: TrialRecord, study: StudyRecord | None = None) -> dict[str, Any]:
    """A trial's full configuration: its searched parameters over whatever
    fixed values the search recorded with it, and the model it trained
    (backbone, weights, finetune_stages) as the trial (else its study)
    recorded it. Raises ProjectError when the model cannot be known: the
    project's settings may have changed since, and validating another model
    than the one the search chose would mislead."""
    params: dict[str, Any] = {}
    recorded = trial.settings
    study_model = study.model if study is not None else {}
    for name in MODEL_NAMES:
        value = recorded.get(name, study_model.get(name))
        if value is None or value == "":
            raise ProjectError(
                f"The study does not record which model trial {trial.number} trained "
                f"(its {name.replace('_', ' ')}), so the validation could train another model "
                "than the one the search chose. Validate a configuration entered by hand "
                "instead, or run a new search.",
                f"trial settings: {sorted(recorded)}; study model: {study_model}",
            )
        params[name] = value
    params.update({k: x for k, x in trial.fixed.items() if k in KNOWN and x is not None})
    params.update({k: v for k, v in trial.params.items() if k in KNOWN})
    return params


def choose_configuration(project: Project, settings: ValidationSettings
                         ) -> tuple[Configuration, StudySummary]:
    """The configuration to validate and what the study says about itself."""
    from allgui.core.search import study as S

    study = S.project_study(project)
    info = StudySummary()
    record = S.study_record(study) if study is not None else None
    if record is not None:
        made_settings = record.made("settings") or {}
        seed = made_settings.get("seed") if isinstance(made_settings, dict) else None
        info = StudySummary(name=record.name, direction=record.direction,
                            objective=record.objective_label(),
                            data_key=str(record.made("data_key", "") or ""),
                            seed=seed if isinstance(seed, int) else None)
    if settings.params:
        return Configuration(dict(settings.params), "entered by the user"), info
    if study is None:
        raise ProjectError("This project has no study yet: run a search first "
                           "(the Optimize tab's Start search, or allgui optimize), or enter a configuration to validate.")
    S.check_made_by_allgui(study)  # a plain Optuna study names no model allgui can train
    done = S.finished(S.trials(study))
    if not done:
        raise ProjectError("The study has no finished trials yet: let the search finish at "
                           "least one trial, or enter a configuration to validate.")
    if settings.trial is None:
        best = S.best_trial(done, maximize=record is None or record.direction == "maximize")
        assert best is not None
        odd = S.not_finite(S.trials(study))  # said, never skipped silently
        return Configuration(_trial_params(best, record),
                             f"trial {best.number} (best of the study"
                             + (f"; {S.not_finite_note(odd)[:-1]}" if odd else "") + ")",
                             best.number), info
    match = [t for t in done if t.number == settings.trial]
    if not match:
        raise ProjectError(f"Trial {settings.trial} is not a finished trial of the study; "
                           f"finished trials: {', '.join(str(t.number) for t in done[:30])}.")
    return (Configuration(_trial_params(match[0], record), f"trial {settings.trial}",
                          settings.trial), info)


def _model_and_hparams(project: Project, params: dict[str, Any], n_classes: int):
    """The model and optimiser settings of ``params``: a trial's own model
    settings when it recorded them, else the project's (a configuration
    entered by hand); the untuned defaults for anything not given."""
    from allgui.core.train.hparams import configuration  # torch: on the job's thread

    m = project.settings.model
    stages = params.get("finetune_stages")

    return configuration(
        params, backbone=m.backbone, weights=str(params.get("weights") or m.weights),
        finetune_stages=int(m.finetune_stages if stages is None else stages),
        n_classes=n_classes)


# -- the batch -------------------------------------------------------------------


def run_batch(
    project: Project,
    settings: ValidationSettings = ValidationSettings(),  # noqa: B008 - frozen
    sink: Sink = null_sink,
    cancel: threading.Event | None = None,
    prepared=None,
    resume: bool = False,
) -> Batch:
    """Train and evaluate every run of a batch; see the module docstring.

    With ``resume`` an interrupted, stopped or failed batch started with the
    same settings is continued (:mod:`~allgui.core.validation.resume`).

    ``prepared`` (a :class:`~allgui.core.dataset.prepared.PreparedData`) saves
    reading the data again when the caller has it. Raises
    :class:`AllguiError` before any training when the input cannot work (no
    finished trials, no test set, a class missing from it), and when no run
    finished; returns the batch otherwise (``status`` 'finished', 'stopped'
    or 'partial', ``message`` saying what happened).
    """
    tuned, study_info = choose_configuration(project, settings)
    # The baseline trains the tuned configuration's model (unless it names its own).
    tuned_model = {k: tuned.params[k] for k in MODEL_NAMES if k in tuned.params}
    baseline = (Configuration({**tuned_model, **settings.baseline}, settings.baseline_source)
                if settings.baseline else None)
    total = settings.runs * (2 if baseline else 1)
    with job(sink, JOB, f"Validating {tuned.source}: {total} runs", total) as j:
        j.finish("Stopped before any run.")  # what a Stop says until the runs start
        prepared = prepared or prepare_project_data(project, sink, cancel)
        plan, batch, shared = _plan_batch(project, settings, tuned, baseline, study_info, sink,
                                          cancel, prepared)
        plan, batch, resumed = resume_batch.prepare(project, plan, batch, sink, resume)
        written = BatchWriter(batch, runs_dir=None if resumed else project.runs_dir)
        write_seen(batch.path, seen_from_prepared(prepared))  # for the exported model
        try:
            stopped, failures = False, list[str]()
            # a continued batch keeps the probe it ran before
            if (settings.probe and not batch.probe_runs
                    and not plan.runs[0].model_config.finetune_stages):
                stopped = _probe(plan, written, shared, sink, cancel)
            if not stopped:
                stopped, failures = _run_plan(plan, written, shared, sink, cancel)
        except BaseException as exc:  # Ctrl+C, a full disk, a bug: keep the finished runs
            message = _ended_early(written, exc)
            if isinstance(exc, AllguiError):
                raise AllguiError(message, exc.details) from exc
            raise
        batch = _finish(written, failures, stopped)
        j.finish(batch.message, "ok" if batch.status == "finished" else
                 "stopped" if stopped else "error")
    return batch


def _plan_batch(project: Project, settings: ValidationSettings, tuned: Configuration,
                baseline: Configuration | None, study_info: StudySummary, sink: Sink,
                cancel: threading.Event | None, prepared) -> tuple[BatchPlan, Batch, dict]:
    """The batch's plan, its record before any run, and the frozen backbones the
    runs share. Backbones are built here, before anything is written, so missing
    weights fail the batch cleanly."""
    from allgui.core.train.device import resolve_device
    from allgui.core.train.loop import build_seeded
    from allgui.core.train.sources import training_data_from_prepared

    check_test_set(prepared)
    check_search_split(prepared, tuned, study_info)
    classes = tuple(prepared.classes)
    positive = prepared.positive_class if prepared.positive_class in classes else classes[-1]
    test_source, test_set = describe_test_set(prepared)
    search = project.settings.search
    mode = settings.mode or str(search.get("mode") or "cached")
    tuned_cfg, tuned_hp = _model_and_hparams(project, tuned.params, len(classes))
    if tuned_cfg.finetune_stages:
        mode = "online"
    views = (settings.epochs if settings.fresh_views
             else settings.views or int(search.get("views") or DEFAULT_VIEWS))
    feature_precision = settings.feature_precision or str(
        search.get("feature_precision") or "fp32")
    device = resolve_device(settings.device)
    seeds = tuple(settings.first_seed + k for k in range(settings.runs))
    base_cfg, base_hp = (_model_and_hparams(project, baseline.params, len(classes))
                         if baseline else (None, None))
    # The search's seed built its (randomly initialised) backbone: the same one here.
    backbone_seed = study_info.seed if study_info.seed is not None else int(
        search.get("seed") or 0)
    shared: dict[str, Any] = {}
    for cfg in filter(None, (tuned_cfg, base_cfg)):
        if not cfg.finetune_stages and cfg.backbone not in shared:
            shared[cfg.backbone] = build_seeded(cfg, backbone_seed)
    from allgui.core.model.classifier import weights_tag
    from allgui.core.search.loop import search_train_settings
    from allgui.core.search.settings import SearchSettings
    from allgui.core.train.loop import class_weight_record, recipe

    train_settings = dataclasses.replace(
        search_train_settings(SearchSettings.from_project(project)),
        early_stopping_patience=settings.patience, views=views, features=settings.features,
        feature_precision=feature_precision)
    data = training_data_from_prepared(prepared)
    tuned_model = shared.get(tuned_cfg.backbone)
    training = {
        **recipe(train_settings, device), "epochs": settings.epochs,
        "views": views if mode == "cached" else None, "fresh_views": mode == "online" or views >= settings.epochs,
        "class_weights": class_weight_record(data.train_labels, classes),
        "weights_tag": (weights_tag(tuned_model, backbone_seed) if tuned_model is not None
                        else tuned_cfg.weights),
        "normalisation": ({"mean": list(tuned_model.mean), "std": list(tuned_model.std)}
                          if tuned_model is not None else {}),
        "protocol": project.settings.protocol, "baseline": baseline is not None,
        "probe": settings.probe and not tuned_cfg.finetune_stages,
    }

    runs_dir = project.runs_dir
    batch_id = new_batch_id()  # claimed (numbered when taken) by BatchWriter
    batch = Batch(
        batch_id=batch_id, folder=str((runs_dir / batch_id).resolve()), created=now_utc(),
        status="running",
        tuned=Configuration(_recorded(tuned.params, tuned_cfg), tuned.source, tuned.trial),
        baseline=(Configuration(_recorded(baseline.params, base_cfg), baseline.source)
                  if baseline else None),
        seeds=seeds, max_epochs=settings.epochs, patience=settings.patience,
        test_source=test_source, test_set=test_set, classes=classes, positive_class=positive,
        model=ModelRecord(tuned_cfg.backbone, tuned_cfg.weights, prepared.image_size, mode,
                          views, tuned_cfg.finetune_stages, not settings.independent_views,
                          train_settings.augmentation.probability, training),
        dataset_fingerprint=prepared.index.fingerprint(),
        split=SplitRecord.from_dict(prepared.split.to_dict()),
        environment=run_environment(str(device), mode, tuned_cfg, shared, prepared, settings,
                                     project, feature_precision),
        study=study_info,
        dataset=dataset_record(prepared),
    )
    plan = BatchPlan(
        runs=planned_runs(seeds, (tuned_cfg, tuned_hp, batch.tuned),
                          (base_cfg, base_hp, batch.baseline) if batch.baseline else None),
        runs_per_label=settings.runs, epochs=settings.epochs, mode=mode,
        train_settings=train_settings,
        device=device, cache_dir=project.cache_dir, data=data,
        test=TestSet.from_prepared(prepared, test_set), classes=classes, positive=positive,
        image_size=prepared.image_size, study_name=study_info.name,
        shared_views_seed=None if settings.independent_views else int(search.get("seed", 0)),
        project_root=str(project.root), referral_target=settings.referral_target,
    )
    if mode == "cached" and settings.independent_views and not tuned_cfg.finetune_stages:
        sink(Notice(JOB, level="info", text=fresh_views_cost(
            len(plan.runs), views_read(views, settings.epochs), len(prepared.train.images))))
    return plan, batch, shared


def _probe(plan: BatchPlan, written: BatchWriter, shared: dict, sink: Sink,
           cancel: threading.Event | None) -> bool:
    """The linear probe, first: it takes seconds and pairs with every run.
    True when Stop ended it."""
    from dataclasses import replace

    from allgui.core.validation.probe import run_probe

    sink(Progress(JOB, phase="probe", done=0, total=len(plan.runs),
                  message="Linear probe on the frozen features"))
    try:
        conf, records = run_probe(plan, shared[plan.runs[0].model_config.backbone],
                                  written.batch.path, sink, cancel)
    except Cancelled:
        return True
    written.batch = replace(written.batch, probe=conf, probe_runs=tuple(records))
    written.batch.save()
    return False


def _recorded(params: dict[str, Any], cfg) -> dict[str, Any]:
    """What a configuration trains, in full, for batch.json."""
    return {**with_untuned(params), "backbone": cfg.backbone, "weights": cfg.weights,
            "finetune_stages": cfg.finetune_stages}


def _run_plan(plan: BatchPlan, written: BatchWriter, shared: dict, sink: Sink,
              cancel: threading.Event | None) -> tuple[bool, list[str]]:
    """Every run of the plan, in order: (whether Stop ended it, the failures)."""
    import torch

    from allgui.core.model.classifier import build_model
    from allgui.core.train.loop import TrainingDiverged

    failures: list[str] = []
    for done, run in enumerate(plan.runs):
        if cancel is not None and cancel.is_set():
            return True, failures
        sink(Progress(JOB, phase="runs", done=done, total=len(plan.runs),
                      message=f"{run.title} of {plan.runs_per_label} (seed {run.seed})"))
        folder = written.batch.path / run.folder_name
        started = time.perf_counter()
        try:
            base = None
            if not run.model_config.finetune_stages:
                base = shared.get(run.model_config.backbone)
                if base is None:
                    base = shared[run.model_config.backbone] = build_model(run.model_config)
            record = train_and_evaluate(plan, run, base, folder, written.batch,
                                        plan.project_root, started, sink, cancel)
        except Cancelled:
            return True, failures
        except (TrainingDiverged, torch.cuda.OutOfMemoryError) as exc:
            reason = exc.message if isinstance(exc, AllguiError) else (
                f"the GPU ran out of memory at batch size {run.hparams.batch_size} (a smaller "
                "batch size, backbone or image size needs less)")
            record = RunRecord(run.label, run.k, run.seed, "failed", str(folder), 0, 0,
                               time.perf_counter() - started, reason)
            failures.append(f"{run.title} (seed {run.seed}): {reason}")
            sink(Notice(JOB, level="error", text=f"{run.title} (seed {run.seed}) failed: "
                        f"{_sentence(reason)} The other runs go on."))
        if not record.finished:  # after the except block, which held the failed run's frames
            free_gpu()
        written.add(record)
        if record.finished and record.metrics is not None:
            sink(RunFinished(JOB, run=run.number, seed=run.seed, label=run.label,
                             metrics=record.metrics.headline(),
                             folder=written.batch.folder))
    return False, failures


def _ended_early(written: BatchWriter, exc: BaseException) -> str:
    """Record on disk how the batch ended early, its finished runs listed;
    the message. When even that save fails (the disk is full) the last one
    stands: it lists every run finished before, and the batch reads as
    interrupted once this process has gone."""
    kept = sum(r.finished for r in written.batch.runs)
    again = "allgui validate with the same settings continues it."
    if isinstance(exc, KeyboardInterrupt):
        status, message = "stopped", f"Interrupted; {count(kept, 'finished run')} kept: {again}"
    else:
        text = exc.message if isinstance(exc, AllguiError) else f"{type(exc).__name__}: {exc}"
        status = "failed"
        message = f"The batch stopped on an error: {text} {count(kept, 'finished run')} kept; {again}"
    with contextlib.suppress(OSError):
        written.end(status, message)
    return message


def _sentence(text: str) -> str:
    """``text`` ending with a full stop, so that another sentence can follow."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _finish(written: BatchWriter, failures: list[str], stopped: bool) -> Batch:
    finished = [r for r in written.batch.runs if r.finished]
    folder = written.batch.folder
    if stopped:
        status, message = "stopped", (f"Stopped by the user; {count(len(finished), 'finished run')} "
                                      f"kept in {folder}.")
    elif failures:
        status = "partial"
        message = (_sentence(f"{count(len(failures), 'run')} failed: " + "; ".join(failures))
                   + f" {count(len(finished), 'finished run')} kept in {folder}.")
    else:
        status, message = "finished", f"{len(finished)} runs finished; kept in {folder}."
    batch = written.end(status, message)
    if not finished and not stopped:
        raise AllguiError("No run of the batch finished. " + message, "\n".join(failures))
    return batch
