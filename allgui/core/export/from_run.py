"""Exporting a run of a validation batch: which run, what its file says about
it, and which images check it. One function for ``allgui export`` and the
window's "Export model" button, so both write the same file.

The run exported by default is :meth:`Batch.chosen_run` (lowest validation
loss at its kept epoch; the test set plays no part). The file carries that
run's own test figures, how it was chosen, and each figure's mean and 95%
interval over the batch's runs. The torch-vs-ONNX check uses a few of the
run's own test images (read from its predictions file) besides synthetic ones.

Torch is loaded only when an export runs (the window imports this module).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allgui.core.errors import ProjectError
from allgui.core.events import Sink, null_sink
from allgui.core.files.outputs import check_folder_writable, check_output
from allgui.core.project import Project
from allgui.core.validation.batch import BATCH_FILE, Batch
from allgui.core.validation.predictions import read_predictions
from allgui.core.validation.run_record import TUNED, RunRecord

SAMPLE_IMAGES = 4


@dataclass(frozen=True)
class ExportPlan:
    """What an export writes: the checkpoint, its metadata (an
    :class:`allgui.core.export.onnx.ExportMetadata`), check images and file name."""

    checkpoint: Path
    metadata: Any
    samples: tuple[str, ...] | None
    name: str  # file name without '.onnx'
    run: RunRecord | None = None
    batch: Batch | None = None


def choose_run(batch: Batch, index: int | None = None) -> RunRecord:
    """Tuned run ``index`` of ``batch``, or the batch's chosen run when None."""
    if index is None:
        run = batch.chosen_run()
        if run is None:
            raise ProjectError(f"Validation {batch.batch_id} has no finished run with a "
                               "checkpoint.")
        return run
    runs = {r.index: r for r in batch.runs_of(TUNED) if r.checkpoint.is_file()}
    if index not in runs:
        have = ", ".join(str(i) for i in sorted(runs)) or "none"
        raise ProjectError(f"Validation {batch.batch_id} has no finished run {index} "
                           f"(finished runs: {have}).")
    return runs[index]


def batch_metrics(batch: Batch, label: str = TUNED, run: RunRecord | None = None
                  ) -> dict[str, dict[str, float]]:
    """Each headline figure over the batch's finished runs: mean, runs, the
    spread over seeds (``ci_low``/``ci_high``: bounded, left out with fewer
    than three runs) and, for ``run``, its own interval over the test images
    (``test_low``/``test_high``: what a reader of the model should quote)."""
    from allgui.core.validation.intervals import seed_interval
    from allgui.core.validation.stats import summarize

    runs = [r for r in batch.runs_of(label) if r.metrics is not None]
    out: dict[str, dict[str, float]] = {}
    if not runs:
        return out
    tests = run_test_intervals(batch, run) if run is not None else {}
    headlines = [r.metrics.headline() for r in runs if r.metrics is not None]
    for key in headlines[0]:
        values = [h.get(key) for h in headlines]
        s = summarize([v for v in values if v is not None])
        if s.mean is None or not math.isfinite(s.mean):
            continue
        entry = {"mean": float(s.mean), "runs": float(s.n)}
        seeds = seed_interval(values)
        if seeds.low is not None and seeds.high is not None:
            entry.update(ci_low=float(seeds.low), ci_high=float(seeds.high))
        test = tests.get(key)
        if test is not None and test.low is not None and test.high is not None:
            entry.update(test_low=float(test.low), test_high=float(test.high))
        out[key] = entry
    return out


def run_test_intervals(batch: Batch, run: RunRecord) -> dict:
    """The run's interval for each figure over its test images (empty when its
    predictions cannot be read)."""
    from allgui.core.validation.bootstrap import run_intervals

    if not run.predictions_path.is_file():
        return {}
    try:
        p = read_predictions(run.predictions_path, batch.classes)
    except ProjectError:
        return {}
    return run_intervals(p.labels, p.probabilities, batch.classes,
                         batch.positive_class or batch.classes[-1], p.patients)


def interval_note(batch: Batch, run: RunRecord) -> str:
    """How the run's test intervals were made, in words for the model card."""
    from allgui.core.validation.bootstrap import unit_of

    if not run.predictions_path.is_file():
        return ""
    try:
        p = read_predictions(run.predictions_path, batch.classes)
    except ProjectError:
        return ""
    if unit_of(p.patients, len(p.paths)) == "patient":
        return (f"the {len(p.paths)} test images, a bootstrap resampling whole patients")
    return (f"the {len(p.paths)} test images; Wilson for shares of images, DeLong for a "
            "two-class AUC, a bootstrap within each class otherwise")


def run_metadata(batch: Batch, run: RunRecord, chosen_by: str = "",
                 decision_threshold: float = 0.5, uncertain_margin: float | None = None):
    """The :class:`ExportMetadata` of ``run``: its own test figures, how it was
    chosen (``chosen_by``; the batch's rule by default), and the batch's figures."""
    from allgui.core.export.onnx import ExportMetadata

    metrics = {}
    if run.metrics is not None:
        metrics = {k: float(v) for k, v in run.metrics.headline().items()
                   if isinstance(v, (int, float)) and math.isfinite(v)}
    return ExportMetadata(
        classes=tuple(batch.classes),
        positive_class=batch.positive_class,
        decision_threshold=decision_threshold,
        uncertain_margin=uncertain_margin,
        metrics=metrics,
        test_set=batch.test_set,
        study=batch.study.name,
        trial=batch.tuned.trial if run.label == TUNED else None,
        run=run.index,
        source=str(run.checkpoint),
        selection=chosen_by or batch.selection_note(run),
        batch_metrics=batch_metrics(batch, run.label, run),
        interval_note=interval_note(batch, run),
        **training_images(batch),
    )


FEATURE_SAMPLE = 400  # training images whose features make the reference (per model)
REFERENCE_SAMPLE = 200  # held-out images whose distances make the yardstick


def training_images(batch: Batch) -> dict[str, Any]:
    """The batch's training images for the model file: every content hash,
    and a fixed sample of paths for the feature reference (nothing for a
    batch from before they were recorded)."""
    import numpy as np

    from allgui.core.validation.seen import read_seen

    seen = read_seen(batch.path)
    if seen is None:
        return {}
    rng = np.random.default_rng(0)

    def sample(rows, n):
        pick = sorted(rng.permutation(len(rows))[:n].tolist())
        return [rows[i] for i in pick]

    return {"training_hashes": seen.hashes,
            "feature_images": tuple((p, c) for p, c, _ in sample(seen.train, FEATURE_SAMPLE)),
            "reference_images": tuple(p for p, _, _ in sample(seen.val, REFERENCE_SAMPLE))}


def run_samples(batch: Batch, run: RunRecord, count: int = SAMPLE_IMAGES
                ) -> tuple[str, ...] | None:
    """A few of the run's own test images (those still on disk), or None."""
    if not run.predictions_path.is_file():
        return None
    try:
        paths = read_predictions(run.predictions_path, batch.classes).paths
    except ProjectError:
        return None
    found = [p for p in paths if Path(p).is_file()]
    return tuple(found[:count]) or None


def plan_run_export(batch: Batch, run: int | None = None, decision_threshold: float = 0.5,
                    uncertain_margin: float | None = None) -> ExportPlan:
    """The export of tuned run ``run`` of ``batch`` (its chosen run when None)."""
    record = choose_run(batch, run)
    chosen_by = "" if run is None else (f"run {record.index} (seed {record.seed}) chosen by "
                                        "the user")
    meta = run_metadata(batch, record, chosen_by, decision_threshold, uncertain_margin)
    return ExportPlan(record.checkpoint, meta, run_samples(batch, record),
                      f"{batch.batch_id}-{record.name}", record, batch)


def plan_checkpoint_export(checkpoint: str | Path, decision_threshold: float = 0.5,
                           uncertain_margin: float | None = None) -> ExportPlan:
    """The export of a checkpoint file: with its batch's record when it is a
    run of a validation batch, else with what the checkpoint itself holds."""
    from allgui.core.export.onnx import ExportMetadata
    from allgui.core.validation.batch import load_batch

    ckpt = Path(checkpoint)
    if not ckpt.is_file():
        raise ProjectError(f"The checkpoint {ckpt} does not exist.")
    batch_dir = ckpt.resolve().parent.parent
    if (batch_dir / BATCH_FILE).is_file():
        batch = load_batch(batch_dir)
        for record in batch.runs:
            if record.finished and record.checkpoint.resolve() == ckpt.resolve():
                chosen_by = ("" if record == batch.chosen_run(record.label) else
                             f"run {record.index} (seed {record.seed}) chosen by the user")
                meta = run_metadata(batch, record, chosen_by, decision_threshold,
                                    uncertain_margin)
                return ExportPlan(ckpt, meta, run_samples(batch, record),
                                  f"{batch.batch_id}-{record.name}", record, batch)
    meta = ExportMetadata(source=str(ckpt), decision_threshold=decision_threshold,
                          uncertain_margin=uncertain_margin)
    return ExportPlan(ckpt, meta, None, ckpt.parent.name or ckpt.stem)


def export_plan(plan: ExportPlan, out: str | Path, force: bool = False, sink: Sink = null_sink):
    """Write ``plan`` to ``out`` (refused when it exists, unless ``force``);
    returns the :class:`~allgui.core.export.onnx.ExportResult`."""
    from allgui.core.export.onnx import export_onnx

    # Never over the checkpoint, its batch's record or a check image (not even
    # with force); over another model or a foreign file only with force.
    out = check_output(out, inputs=plan_inputs(plan), force=force, what="the model")
    check_folder_writable(out.parent, "the model")
    return export_onnx(plan.checkpoint, out, plan.metadata, plan.samples, sink=sink)


def plan_inputs(plan: ExportPlan) -> list[Path]:
    """The files an export reads."""
    paths = [plan.checkpoint, *(Path(p) for p in plan.samples or ())]
    if plan.batch is not None:
        paths.append(plan.batch.path / BATCH_FILE)
    if plan.run is not None:
        paths += [plan.run.predictions_path, plan.run.checkpoint.parent / "metrics.json"]
    return paths


def export_run(project: Project, batch: Batch, run: int | None = None,
               out: str | Path | None = None, *, decision_threshold: float = 0.5,
               uncertain_margin: float | None = None, force: bool = False, sink: Sink = null_sink):
    """Export tuned run ``run`` of ``batch`` (its chosen run when None) to
    ``out`` (default: ``<project>/models/<batch>-run-<k>.onnx``)."""
    plan = plan_run_export(batch, run, decision_threshold, uncertain_margin)
    target = Path(out) if out else project.models_dir / f"{plan.name}.onnx"
    return export_plan(plan, target, force=force, sink=sink)
