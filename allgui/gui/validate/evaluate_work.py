"""What "Evaluate on other data" runs on its jobs' threads, and the words it
shows: plain functions of the torch-free engine (an exported model scored on
labelled images from another source, :mod:`allgui.core.validation.external`)
and of its report (:mod:`allgui.core.report.external`). No Qt here."""

from __future__ import annotations

import datetime as _dt
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allgui.core.events import Sink
from allgui.core.files.text import count, terminal_text

JOB = "evaluate"
UNIT_WORDS = {"patient": "per patient", "image": "per image"}
UNIT_NOTES = {"patient": "whole patients resampled (the images of one patient are not "
                         "independent)",
              "image": "images resampled within each class (no patient IDs known)"}


@dataclass(frozen=True)
class Evaluation:
    """One evaluation as the engine ran it: which model file, which labelled
    images, when, and its result (an ExternalResult)."""

    model: str
    data: str
    started: str  # local time, to the second
    finished: str
    result: Any  # allgui.core.validation.external.ExternalResult


def now() -> str:
    return _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")


def default_model(project, exported: Path | None = None) -> Path | None:
    """The model just exported by the Validate tab, else the project's latest one."""
    from allgui.gui.classify.work import latest_model

    if exported is not None and exported.is_file():
        return exported
    return latest_model(project)


def evaluate_in_window(model: str, data: str, resamples: int, sink: Sink,
                       cancel: threading.Event) -> Evaluation:
    """Score ``model`` on the labelled images at ``data`` (class folders or a
    manifest CSV), as ``allgui evaluate`` does."""
    from allgui.core.validation.external import evaluate_model

    started = now()
    result = evaluate_model(model, data, resamples=resamples, sink=sink, cancel=cancel)
    return Evaluation(model, data, started, now(), result)


def write_report_in_window(evaluation: Evaluation, folder: str, replace: bool
                           ) -> dict[str, Path]:
    """The report of ``evaluation`` in ``folder``, checked again just before
    writing (an earlier report that appeared meanwhile is not replaced
    unless the user agreed)."""
    from allgui.core.report.external import check_report_folder, write_external_report

    check_report_folder(folder, evaluation.model, evaluation.data, replace=replace)
    return write_external_report(evaluation.result, folder)


def free_folder(folder: Path) -> Path:
    """``folder``, or the first ``folder-2``, ``folder-3``... holding no report."""
    from allgui.core.report.external import earlier_report

    n = 2
    candidate = folder
    while earlier_report(candidate):
        candidate = folder.with_name(f"{folder.name}-{n}")
        n += 1
    return candidate


# -- the words the dialog shows ------------------------------------------------------------


def used_text(ev: Evaluation) -> str:
    """What the engine used, in one paragraph (plain text: the names are untrusted)."""
    return (f"Model file: {terminal_text(ev.model)}\n"
            f"Labelled images: {terminal_text(ev.data)}\n"
            f"Evaluated {ev.started} to {ev.finished}, without any training.")


def summary_text(ev: Evaluation) -> str:
    r = ev.result
    n_patients = len({p for p in r.patients if p})
    classes = ", ".join(terminal_text(c) for c in r.classes)
    skipped = len(r.skipped)
    text = (f"{count(len(r.paths), 'image')} scored"
            + (f" from {count(n_patients, 'patient')}" if n_patients else
               " (patients unknown)")
            + f"; the model's classes: {classes}.")
    if skipped:
        text += (f" {count(skipped, 'file')} could not be used and "
                 f"{'was' if skipped == 1 else 'were'} left out (see 'Left out').")
    # images the model already saw, images unlike its training data, no skill
    from allgui.core.validation.external_checks import check_lines

    lines = check_lines(r.checks, len(r.paths))
    text += "\n" + "\n".join(line.replace(" Keep them with --include-seen.", "")
                              for line in lines)
    return text


def interval_note(unit: str) -> str:
    return f"95% percentile bootstrap intervals, {UNIT_NOTES.get(unit, unit)}."


def skipped_lines(skipped) -> list[str]:
    """One line per file left out: its name, then why."""
    return [f"{terminal_text(path)}: {terminal_text(why)}" for path, why in skipped]
