"""What the Validate tab's jobs run, off the GUI thread: a batch trained and
analysed, the latest batch read back, the chosen run exported, the report
written. The engine is imported inside each function (the window opens
without torch)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from allgui.core.events import Sink
from allgui.core.project import Project


@dataclass(frozen=True)
class BatchView:
    """A batch and what the tab draws from it, computed on a worker thread."""

    batch: object  # allgui.core.validation.batch.Batch
    header: list[str]
    rows: list[list[str]]
    note: str
    comparison: tuple[list[str], list[list[str]]]
    roc: list  # allgui.core.report.figures.RocCurve


def analyse_batch(batch, sink: Sink | None = None, cancel: threading.Event | None = None,
                  live: bool = False) -> BatchView | None:
    """What the tab draws of ``batch``; ``sink`` hears the statistics' progress,
    ``cancel`` stops them (closing the window does not wait for their end);
    ``live``: a running batch, its test-image intervals left to its end."""
    from allgui.core.report.figures import roc_curves
    from allgui.core.validation.analysis import (
        RESAMPLES,
        analyse,
        comparison_rows,
        metrics_note,
        metrics_rows,
    )
    from allgui.core.validation.batch import TUNED, read_predictions

    if batch is None or not batch.runs_of(TUNED):
        return None
    analysis = analyse(batch, resamples=0 if live else RESAMPLES, sink=sink, cancel=cancel)
    header, rows = metrics_rows(analysis)
    runs = []
    for r in batch.runs_of(TUNED):
        if r.metrics is not None and r.predictions_path.is_file():
            p = read_predictions(r.predictions_path, batch.classes)
            runs.append((f"run {r.index}", p.labels, p.probabilities, r.metrics.auc_roc))
    roc = roc_curves(runs, batch.classes, batch.positive_class)
    return BatchView(batch, header, rows, metrics_note(analysis), comparison_rows(analysis), roc)


def run_and_analyse(project: Project, settings, sink: Sink, cancel: threading.Event) -> BatchView:
    """A batch run as ``allgui validate`` runs it: the project's stopped or
    interrupted batch with these settings is continued, not started again."""
    from allgui.core.validation.run import run_batch

    return analyse_batch(run_batch(project, settings, sink, cancel, resume=True), sink, cancel)


def load_folder(folder: str, sink: Sink, cancel: threading.Event) -> BatchView | None:
    """The batch in ``folder`` as it stands now (while it runs: its finished runs);
    its progress is not shown (the running batch's is), Stop and closing end it."""
    from allgui.core.validation.batch import load_batch

    return analyse_batch(load_batch(folder), cancel=cancel, live=True)


def read_resumable(project: Project):
    """The project's batch that did not end and misses a run, or None."""
    from allgui.core.validation.resume import resumable

    return resumable(project)


def load_latest(project: Project, sink: Sink, cancel: threading.Event) -> BatchView | None:
    from allgui.core.validation.batch import latest_batch

    return analyse_batch(latest_batch(project), cancel=cancel)


def export_chosen_run(project: Project, batch, sink: Sink, cancel: threading.Event):
    """Export the batch's chosen run (lowest validation loss at its kept epoch;
    the test set plays no part) into the project's models/, as ``allgui export`` does."""
    from allgui.core.export.from_run import export_run

    return export_run(project, batch, force=True, sink=sink)  # the same run: same file


def write_reports(project: Project, batch, sink: Sink, cancel: threading.Event):
    from allgui.core.report.build import write_report

    return write_report(project, batch=batch, sink=sink, cancel=cancel)
