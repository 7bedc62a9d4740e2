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

import dataclasses
import datetime as _dt
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from allgui.core.errors import AllguiError, Cancelled, DatasetError, ProjectError
from allgui.core.events import (
    JobFinished,
    JobStarted,
    Notice,
    Progress,
    RunFinished,
    Sink,
    null_sink,
)
from allgui.core.model.untuned import untuned_defaults, with_untuned
from allgui.core.project import Project
from allgui.core.search.record import StudyRecord, TrialRecord
from allgui.core.validation.batch import (
    BASELINE,
    TUNED,
    Batch,
    Configuration,
    Predictions,
    RunRecord,
    write_predictions,
)
from allgui.core.validation.record import environment_record, now_utc

JOB = "validate"
HPARAM_NAMES = ("lr", "weight_decay", "batch_size")
HEAD_NAMES = ("hidden", "dropout1", "dropout2")
KNOWN = HPARAM_NAMES + HEAD_NAMES + ("backbone",)
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
    device: str | None = None  # None = the GPU when there is one
    # Each run draws its own augmentation (its seed); False shares the search's
    # draws (its seed) across runs, so cached mode reuses the search's features.
    independent_views: bool = True


# -- choosing what to train ------------------------------------------------------


def parse_params(text: str) -> dict[str, Any]:
    """'lr=1e-3,hidden=512' -> {'lr': 0.001, 'hidden': 512}, checked."""
    out: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        if "=" not in item:
            raise AllguiError(f"'{item}' is not name=value (for example lr=0.001).")
        name, value = (s.strip() for s in item.split("=", 1))
        if name not in KNOWN:
            raise AllguiError(f"'{name}' is not a setting a run takes; use {', '.join(KNOWN)}.")
        if name == "backbone":
            out[name] = value
            continue
        try:
            out[name] = int(value) if name in ("hidden", "batch_size") else float(value)
        except ValueError as exc:
            raise AllguiError(f"{name} must be a number, not '{value}'.") from exc
    return out


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
                         ) -> tuple[Configuration, dict[str, Any]]:
    """The configuration to validate and what the study says about itself."""
    from allgui.core.search import study as S

    study = S.project_study(project)
    info: dict[str, Any] = {}
    record = S.study_record(study) if study is not None else None
    if record is not None:
        info = {"name": record.name, "direction": record.direction,
                "objective": record.objective_label(),
                "data_key": record.made("data_key", "")}
    if settings.params:
        return Configuration(dict(settings.params), "entered by the user"), info
    if study is None:
        raise ProjectError("This project has no study yet: run a search first "
                           "(allgui optimize), or enter a configuration to validate.")
    done = S.finished(S.trials(study))
    if not done:
        raise ProjectError("The study has no finished trials yet: let the search finish at "
                           "least one trial, or enter a configuration to validate.")
    if settings.trial is None:
        best = S.best_trial(done, maximize=record is None or record.direction == "maximize")
        assert best is not None
        return Configuration(_trial_params(best, record),
                             f"trial {best.number} (best of the study)", best.number), info
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
    from allgui.core.model.classifier import ModelConfig
    from allgui.core.train.loop import HyperParams

    m = project.settings.model
    full = with_untuned(params)
    config = ModelConfig(
        backbone=str(full.get("backbone") or m.backbone),
        weights=str(full.get("weights") or m.weights),
        hidden=int(full["hidden"]), dropout1=float(full["dropout1"]),
        dropout2=float(full["dropout2"]), n_classes=n_classes,
        finetune_stages=int(full.get("finetune_stages", m.finetune_stages)),
    )
    hp = HyperParams(lr=float(full["lr"]), weight_decay=float(full["weight_decay"]),
                     batch_size=int(full["batch_size"]))
    return config, hp


# -- the test set -------------------------------------------------------------------


def describe_test_set(prepared) -> tuple[str, str]:
    """('official' | 'held-out', the words every table uses)."""
    test = prepared.test
    n_img = len(test)
    pts = {p for p in test.patients if p}
    who = f", {len(pts)} patients" if pts else ""
    if prepared.split.test_source == "official":
        name = ("C-NMC 2019 official preliminary test set" if prepared.index.layout == "cnmc"
                else "the dataset's own test set")
        return "official", f"{name} ({n_img:,} images{who})"
    if prepared.split.leaky:
        return "held-out", (f"image-level held-out test part ({n_img:,} images{who}; LEAKY: "
                            "patients also in training)")
    kind = "patient-held-out" if pts else "held-out"
    return "held-out", f"{kind} test part ({n_img:,} images{who}), not used by the search"


def _check_test_set(prepared) -> None:
    if prepared.split.test_source == "none" or len(prepared.test) == 0:
        raise DatasetError(
            "This split has no test part, so the runs could not be evaluated on unseen data. "
            "Use the dataset's official test set or give the split a test fraction."
        )
    counts = np.bincount(prepared.test.labels, minlength=len(prepared.classes))
    missing = [c for c, n in zip(prepared.classes, counts, strict=True) if n == 0]
    if missing:
        raise DatasetError(
            "The test set has no images of class " + ", ".join(f"'{m}'" for m in missing)
            + ", so sensitivity, specificity and AUC cannot be measured. Choose a split whose "
            "test part holds every class (a larger test fraction or another seed).",
            f"test images per class: {dict(zip(prepared.classes, counts.tolist(), strict=True))}",
        )


def _check_search_split(prepared, tuned: Configuration, study_info: dict[str, Any]) -> None:
    """A test part drawn from the training images must be the one the search
    left out: if the split (or image size) changed since, it may hold images
    the search trained or chose on."""
    from allgui.core.train.loop import training_data_from_prepared

    key = study_info.get("data_key")
    if tuned.trial is None or not key or prepared.split.test_source == "official":
        return
    if training_data_from_prepared(prepared).key != key:
        raise DatasetError(
            "The split or image size has changed since the search, so the test part may hold "
            "images the search used to choose this configuration. Restore the project's split "
            "settings, or run a new search (with its own study name) on the new split.",
            f"search data key {key}; now {training_data_from_prepared(prepared).key}",
        )


def _dataset_record(prepared) -> dict[str, Any]:
    from allgui.core.dataset.summary import summarize as summarize_dataset

    summary = summarize_dataset(prepared.index, inspect=False).to_dict()
    summary.pop("per_patient", None)
    parts = {}
    for name in ("train", "val", "test"):
        part = prepared.part(name)
        counts = Counter(prepared.classes[int(v)] for v in part.labels)
        pts = {p for p in part.patients if p}
        parts[name] = {"images": {c: counts.get(c, 0) for c in prepared.classes},
                       "patients": len(pts) if pts else "unknown"}
    return {
        "root": prepared.index.root,
        "layout": prepared.index.layout,
        "synthetic": prepared.index.synthetic,
        "summary": summary,
        "parts": parts,
        "audit": prepared.audit.to_dict(),
        "bad_files": len(prepared.index.bad_files) + len(prepared.bad_files),
    }


# -- the batch -------------------------------------------------------------------


def new_batch_id(runs_dir: Path) -> str:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    batch_id, n = stamp, 1
    while (runs_dir / batch_id).exists():
        n += 1
        batch_id = f"{stamp}-{n}"
    return batch_id


def run_batch(
    project: Project,
    settings: ValidationSettings = ValidationSettings(),  # noqa: B008 - frozen
    sink: Sink = null_sink,
    cancel: threading.Event | None = None,
    prepared=None,
) -> Batch:
    """Train and evaluate every run of a batch; see the module docstring.

    ``prepared`` (a :class:`~allgui.core.dataset.prepared.PreparedData`) saves
    reading the data again when the caller has it. Raises
    :class:`AllguiError` before any training when the input cannot work (no
    finished trials, no test set, a class missing from it), and when no run
    finished; returns the batch otherwise (``status`` 'finished', 'stopped'
    or 'partial', ``message`` saying what happened).
    """
    from allgui.core.dataset.prepared import prepare_project_data
    from allgui.core.model.classifier import build_model
    from allgui.core.train.loop import (
        TrainSettings,
        resolve_device,
        training_data_from_prepared,
    )

    if settings.runs < 1 or settings.epochs < 1:
        raise AllguiError("A batch needs at least one run of at least one epoch.")
    tuned, study_info = choose_configuration(project, settings)
    # The baseline trains the tuned configuration's model (unless it names its own).
    tuned_model = {k: tuned.params[k] for k in MODEL_NAMES if k in tuned.params}
    baseline = (Configuration({**tuned_model, **settings.baseline}, settings.baseline_source)
                if settings.baseline else None)
    total = settings.runs * (2 if baseline else 1)
    sink(JobStarted(JOB, description=f"Validating {tuned.source}: {total} runs", total=total))
    try:
        if prepared is None:
            prepared = prepare_project_data(project, sink, cancel)
        _check_test_set(prepared)
        _check_search_split(prepared, tuned, study_info)
    except Cancelled:
        sink(JobFinished(JOB, ok=False, stopped=True, message="Stopped before any run."))
        raise
    except AllguiError as exc:
        sink(JobFinished(JOB, ok=False, message=exc.message))
        raise
    classes = tuple(prepared.classes)
    positive = prepared.positive_class if prepared.positive_class in classes else classes[-1]
    test_source, test_set = describe_test_set(prepared)
    search = project.settings.search
    mode = settings.mode or str(search.get("mode") or "cached")
    tuned_cfg, tuned_hp = _model_and_hparams(project, tuned.params, len(classes))
    if tuned_cfg.finetune_stages:
        mode = "online"
    views = settings.views or int(search.get("views") or 10)
    device = resolve_device(settings.device)
    seeds = tuple(settings.first_seed + k for k in range(settings.runs))
    train_settings = TrainSettings(early_stopping_patience=settings.patience, views=views)

    base_cfg, base_hp = (_model_and_hparams(project, baseline.params, len(classes))
                         if baseline else (None, None))
    # Frozen backbones are built once and shared by the runs; built before
    # anything is written, so missing weights fail the batch cleanly.
    shared: dict[str, Any] = {}
    try:
        for cfg in filter(None, (tuned_cfg, base_cfg)):
            if not cfg.finetune_stages and cfg.backbone not in shared:
                shared[cfg.backbone] = build_model(cfg)
    except AllguiError as exc:
        sink(JobFinished(JOB, ok=False, message=exc.message))
        raise
    runs_dir = project.runs_dir
    batch_id = new_batch_id(runs_dir)
    batch = Batch(
        batch_id=batch_id, folder=str((runs_dir / batch_id).resolve()), created=now_utc(),
        status="running",
        tuned=Configuration(_recorded(tuned.params, tuned_cfg), tuned.source, tuned.trial),
        baseline=(Configuration(_recorded(baseline.params, base_cfg), baseline.source)
                  if baseline else None),
        seeds=seeds, max_epochs=settings.epochs, patience=settings.patience,
        test_source=test_source, test_set=test_set, classes=classes, positive_class=positive,
        model={"backbone": tuned_cfg.backbone, "weights": tuned_cfg.weights,
               "image_size": prepared.image_size, "mode": mode, "views": views,
               "finetune_stages": tuned_cfg.finetune_stages},
        dataset_fingerprint=prepared.index.fingerprint(),
        split={**prepared.split.to_dict(), "val_fraction": prepared.split.val_fraction},
        environment=environment_record(str(device)), study=study_info,
        dataset=_dataset_record(prepared),
    )
    batch.path.mkdir(parents=True, exist_ok=True)
    batch.save()
    data = training_data_from_prepared(prepared)
    test_paths = tuple(prepared.index.records[i].path for i in prepared.test.indices)
    test_patients = tuple(p or "" for p in prepared.test.patients)

    plan = []
    for k, seed in enumerate(seeds, 1):
        plan.append((TUNED, k, k, seed, tuned_cfg, tuned_hp, batch.tuned))
        if baseline is not None:
            plan.append((BASELINE, k, settings.runs + k, seed, base_cfg, base_hp,
                         batch.baseline))

    failures: list[str] = []
    stopped = False
    try:
        batch, stopped = _run_plan(
            plan, batch, shared, failures, project, settings, prepared, data, mode,
            train_settings, device, search, sink, cancel, study_info, test_set, test_paths,
            test_patients, positive)
    except BaseException as exc:  # an unexpected failure: say so on disk, keep finished runs
        text = exc.message if isinstance(exc, AllguiError) else f"{type(exc).__name__}: {exc}"
        kept = sum(r.finished for r in batch.runs)
        message = f"The batch stopped on an error: {text} {kept} finished run(s) kept."
        batch = dataclasses.replace(batch, status="failed", message=message,
                                    finished_at=now_utc())
        batch.save()
        sink(JobFinished(JOB, ok=False, message=message))
        if isinstance(exc, AllguiError):
            raise AllguiError(message, exc.details) from exc
        raise
    return _finish(batch, failures, stopped, sink)


def _recorded(params: dict[str, Any], cfg) -> dict[str, Any]:
    """What a configuration trains, in full, for batch.json."""
    return {**with_untuned(params), "backbone": cfg.backbone, "weights": cfg.weights,
            "finetune_stages": cfg.finetune_stages}


def _run_plan(plan, batch, shared, failures, project, settings, prepared, data, mode,
              train_settings, device, search, sink, cancel, study_info, test_set, test_paths,
              test_patients, positive) -> tuple[Batch, bool]:
    """Every run of the plan, in order; returns the batch and whether Stop ended it."""
    import torch

    from allgui.core.files.atomic import atomic_write_text
    from allgui.core.model.checkpoint import save_checkpoint
    from allgui.core.model.classifier import build_model
    from allgui.core.train.loop import TrainingDiverged, predict_proba, train_configuration
    from allgui.core.validation.metrics import compute_metrics

    classes = batch.classes
    batch_id = batch.batch_id
    stopped = False
    for done, (label, k, number, seed, cfg, hp, conf) in enumerate(plan):
        if cancel is not None and cancel.is_set():
            stopped = True
            break
        sink(Progress(JOB, phase="runs", done=done, total=len(plan),
                      message=f"{label} run {k} of {settings.runs} (seed {seed})"))
        folder = batch.path / f"{'run' if label == TUNED else 'baseline'}-{k}"
        started = time.perf_counter()
        try:
            base = None
            if not cfg.finetune_stages:
                base = shared.get(cfg.backbone)
                if base is None:
                    base = shared[cfg.backbone] = build_model(cfg)
            result = train_configuration(
                data, cfg, hp, mode=mode, epochs=settings.epochs, seed=seed,
                views_seed=seed if settings.independent_views else int(search.get("seed", 0)),
                sink=sink, cancel=cancel, device=device, settings=train_settings,
                cache_dir=project.cache_dir, base_model=base, job=JOB, run=number,
            )
            proba = predict_proba(result.model, prepared.test.images, device=device,
                                  cancel=cancel)
            if not np.all(np.isfinite(proba)):
                raise TrainingDiverged("The trained model gives invalid outputs (not numbers) "
                                       "on the test images: training diverged.")
            metrics = compute_metrics(prepared.test.labels, proba, classes, positive,
                                      patients=test_patients)
            folder.mkdir(parents=True, exist_ok=True)
            write_predictions(folder / "predictions.csv", Predictions(
                test_paths, test_patients, prepared.test.labels, proba, classes))
            curves = {name: [float(getattr(e, name)) for e in result.history]
                      for name in ("train_loss", "val_loss", "train_accuracy", "val_accuracy",
                                   "train_balanced_accuracy", "val_balanced_accuracy", "lr")}
            save_checkpoint(
                folder / "checkpoint.pt", result.model, cfg,
                extra={"seed": seed, "run": k, "label": label, "batch": batch_id,
                       "params": conf.params, "source": conf.source,
                       "trial": conf.trial if conf.trial is not None else -1,
                       "study": study_info.get("name", ""), "test_set": test_set,
                       "metrics": metrics.headline(), "best_epoch": result.best_epoch,
                       "positive_class": positive},
                class_names=classes, image_size=prepared.image_size,
            )
            record = RunRecord(label, k, seed, "finished", str(folder), len(result.history),
                               result.best_epoch, time.perf_counter() - started, "", metrics,
                               curves)
            atomic_write_text(folder / "metrics.json", _json(record))
        except Cancelled:
            stopped = True
            break
        except (TrainingDiverged, torch.cuda.OutOfMemoryError) as exc:
            reason = exc.message if isinstance(exc, AllguiError) else (
                f"the GPU ran out of memory at batch size {hp.batch_size} (a smaller batch "
                "size, backbone or image size needs less)")
            record = RunRecord(label, k, seed, "failed", str(folder), 0, 0,
                               time.perf_counter() - started, reason)
            failures.append(f"{label} run {k} (seed {seed}): {reason}")
            sink(Notice(JOB, level="error", text=f"{label} run {k} (seed {seed}) failed: "
                        f"{_sentence(reason)} The other runs go on."))
        if not record.finished:  # after the except block, which held the failed frames
            result = proba = None  # the failed run's model and outputs
            _free_gpu()
        batch = batch.with_run(record)
        batch.save()
        if record.finished:
            sink(RunFinished(JOB, run=number, seed=seed, label=label,
                             metrics=record.metrics.headline()))

    return batch, stopped


def _free_gpu() -> None:
    """Give the memory of a failed run back, so the next run starts clean."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _sentence(text: str) -> str:
    """``text`` ending with a full stop, so that another sentence can follow."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _finish(batch: Batch, failures: list[str], stopped: bool, sink: Sink) -> Batch:
    finished = [r for r in batch.runs if r.finished]
    if stopped:
        status, message = "stopped", (f"Stopped by the user; {len(finished)} finished run(s) "
                                      f"kept in {batch.folder}.")
    elif failures:
        status = "partial"
        message = (_sentence(f"{len(failures)} run(s) failed: " + "; ".join(failures))
                   + f" {len(finished)} finished run(s) kept in {batch.folder}.")
    else:
        status, message = "finished", f"{len(finished)} runs finished; kept in {batch.folder}."
    batch = dataclasses.replace(batch, status=status, message=message, finished_at=now_utc())
    batch.save()
    if not finished and not stopped:
        sink(JobFinished(JOB, ok=False, message=message))
        raise AllguiError("No run of the batch finished. " + message,
                          "\n".join(failures))
    sink(JobFinished(JOB, ok=status == "finished", stopped=stopped, message=message))
    return batch


def _json(record: RunRecord) -> str:
    import json

    return json.dumps(record.to_dict(), indent=1)
