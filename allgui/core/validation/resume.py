"""Continuing a validation batch that did not end: the same command trains
only the runs it is missing.

A running batch records the process that writes it (PID, host, start time)
in ``batch.json``. A batch still marked 'running' whose process is gone on
this computer (``kill -9``, a power cut, a full disk that stopped even the
last save) reads as 'interrupted'. Such a batch, or one that was stopped or
failed, is continued when the settings asked for now are the ones it was
started with (configuration, seeds, epochs, patience, model, mode, data and
test set): its finished runs are kept and only the others run. Other
settings start a new batch, so no run is ever mixed with runs of another
protocol.
"""

from __future__ import annotations

import dataclasses

from allgui.core.events import Notice, Sink
from allgui.core.project import Project
from allgui.core.validation.batch import Batch, list_batches
from allgui.core.validation.plan import JOB, BatchPlan
from allgui.core.validation.process import this_process

CONTINUABLE = ("interrupted", "stopped", "failed")


PROTOCOL_WORDS = ("the configuration", "the trial", "the baseline", "the seeds", "the epochs",
                  "the patience", "the model", "the dataset", "the split", "the test set",
                  "the classes", "the positive class")


def _protocol(batch: Batch) -> tuple:
    """What must match for two batches' runs to belong together (named in PROTOCOL_WORDS)."""
    base = batch.baseline
    return (batch.tuned.params, batch.tuned.trial,
            base.params if base else None, batch.seeds, batch.max_epochs, batch.patience,
            batch.model, batch.dataset_fingerprint, batch.split, batch.test_set,
            batch.classes, batch.positive_class)


def differences(old: Batch, new: Batch) -> list[str]:
    """What differs between two batches' settings, in words; training settings
    (augmentation, precision, validation loss, views) by name."""
    out = [w for w, a, b in zip(PROTOCOL_WORDS, _protocol(old), _protocol(new), strict=True)
           if a != b and w != "the model"]
    if old.model != new.model:
        was, now = old.model.to_dict(), new.model.to_dict()
        was.update(was.pop("training", {}) or {})
        now.update(now.pop("training", {}) or {})
        out += [f"{k.replace('_', ' ')} {was.get(k)} -> {now.get(k)}"
                for k in sorted(set(was) | set(now)) if was.get(k) != now.get(k)]
    return out


def continuable(project: Project, planned: Batch) -> Batch | None:
    """The newest interrupted, stopped or failed batch of the project started
    with ``planned``'s settings and still missing a run; None when there is none."""
    want = _protocol(planned)
    expected = expected_runs(planned)
    for old in reversed(list_batches(project)):
        if old.state not in CONTINUABLE or _protocol(old) != want:
            continue
        if sum(r.kept for r in old.runs) < expected:
            return old
    return None


def expected_runs(batch: Batch) -> int:
    """How many runs ``batch`` was started to train (each seed, tuned and baseline)."""
    return len(batch.seeds) * (2 if batch.baseline else 1)


def resumable(project: Project) -> Batch | None:
    """The project's newest batch when it did not end and still misses a run
    (what the same settings would continue); None otherwise. The window's
    "Resume validation (k of n done)" reads it."""
    batches = list_batches(project)
    if not batches:
        return None
    last = batches[-1]
    if last.state in CONTINUABLE and sum(r.kept for r in last.runs) < expected_runs(last):
        return last
    return None


def prepare(project: Project, plan: BatchPlan, batch: Batch, sink: Sink,
            resume: bool) -> tuple[BatchPlan, Batch, bool]:
    """The plan and record to run, and whether it continues a batch: with
    ``resume``, the matching unfinished batch (its finished runs kept, only
    the others planned) in place of the new one. The record carries this
    process either way."""
    old = continuable(project, batch) if resume else None
    if old is None:
        unfinished = [b for b in list_batches(project) if b.state in CONTINUABLE] if resume else []
        changed = differences(unfinished[-1], batch) if unfinished else []
        if changed:  # say why the newest unfinished batch is not continued
            sink(Notice(JOB, level="info", text=(
                f"Batch {unfinished[-1].batch_id} did not finish but was run with other "
                f"settings ({'; '.join(changed)}), so a new batch starts; its runs are kept "
                "apart.")))
        return plan, dataclasses.replace(batch, process=this_process()), False
    kept = tuple(r for r in old.runs if r.kept)
    done = {(r.label, r.index) for r in kept}
    todo = tuple(run for run in plan.runs if (run.label, run.k) not in done)
    sink(Notice(JOB, level="info", text=(
        f"Continuing batch {old.batch_id}: {len(kept)} of {len(plan.runs)} runs already "
        f"finished; {len(todo)} to run.")))
    resumed = dataclasses.replace(old, status="running", runs=kept, message="", finished_at="",
                                  process=this_process())
    return dataclasses.replace(plan, runs=todo), resumed, True
