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
import threading
import time
from dataclasses import dataclass
from typing import Any

from allgui.core.errors import AllguiError, Cancelled
from allgui.core.events import Notice, Progress, RunFinished, Sink, job, null_sink
from allgui.core.files.text import count
from allgui.core.model.params import parse_params as parse_params  # its old home
from allgui.core.project import Project
from allgui.core.train.views import SHARE_VIEWS
from allgui.core.validation import resume as resume_batch
from allgui.core.validation.batch import Batch, BatchWriter
from allgui.core.validation.configuration import (  # the first two: their old home
    DEFAULT_BASELINE as DEFAULT_BASELINE,
)
from allgui.core.validation.configuration import MODEL_NAMES
from allgui.core.validation.configuration import choose_configuration as choose_configuration
from allgui.core.validation.evaluate import free_gpu, train_and_evaluate
from allgui.core.validation.plan import JOB, BatchPlan, plan_batch
from allgui.core.validation.run_record import Configuration, RunRecord
from allgui.core.validation.seen import prepare_project_data, seen_from_prepared, write_seen
from allgui.core.validation.settings_check import check_settings


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
    # What it trains on: 'view' (the runs' first view, no pass of its own), 'views' (every
    # view the runs read) or 'plain' (plain training features: a pass per training image).
    probe_features: str = "view"
    # The "uncertain" margin is chosen on validation for this accuracy on the rest.
    referral_target: float = 0.99

    def __post_init__(self) -> None:
        check_settings(self)  # before anything runs or is written


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
        plan, batch, shared = plan_batch(project, settings, tuned, baseline, study_info, sink,
                                          cancel, prepared)
        plan, batch, resumed = resume_batch.prepare(project, plan, batch, sink, resume)
        probe = (settings.probe and not batch.probe_runs
                 and not plan.runs[0].model_config.finetune_stages) if plan.runs else False
        if probe and settings.probe_features == "plain":
            from allgui.core.validation.probe import plain_training_cost

            sink(Notice(JOB, level="info", text=plain_training_cost(len(plan.data.train_images))))
        written = BatchWriter(batch, runs_dir=None if resumed else project.runs_dir)
        write_seen(batch.path, seen_from_prepared(prepared))  # for the exported model
        try:
            stopped, failures = False, list[str]()
            if probe:  # a continued batch keeps the probe it ran before
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
