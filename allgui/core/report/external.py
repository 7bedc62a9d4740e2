"""The external-validation report: one model on another source's labelled
images (figures with intervals, per class, per patient, calibration), as
HTML beside a JSON record and the predictions CSV; and where it may go
(:func:`check_report_folder`: never over an input, never inside the
labelled images, over an earlier report only when the user said so)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from matplotlib.figure import Figure

from allgui import RESEARCH_NOTICE
from allgui.core.files.atomic import atomic_write_text
from allgui.core.files.outputs import (
    Inputs,
    OutputError,
    check_folder_writable,
    check_output,
)
from allgui.core.files.text import count, terminal_text
from allgui.core.report.document import Block, Document, Heading, Paragraph, Picture, table
from allgui.core.report.figures import _figure
from allgui.core.validation.calibration import Reliability
from allgui.core.validation.external import ExternalResult, figure_rows
from allgui.core.validation.predictions import Predictions, write_predictions
from allgui.core.validation.stats import format_interval, format_value

NAMES = {"accuracy": "Accuracy", "balanced_accuracy": "Balanced accuracy",
         "weighted_f1": "F1, weighted by class support", "auc_roc": "AUC-ROC"}
REPORT_FILES = ("evaluation.html", "evaluation.json", "predictions.csv")


def default_report_folder(model: str | Path, data: str | Path | None = None) -> Path:
    """``evaluation-<model name>`` beside the model: never inside the labelled
    data (``evaluate MODEL .`` included), whatever folder it is run from. The
    command line claims a fresh one (``-2``, ``-3``...) with
    :func:`allgui.core.files.fresh.fresh_folder`."""
    model = Path(model).resolve()
    return model.parent / f"evaluation-{model.stem}"


def _in_a_batch(folder: Path) -> Path | None:
    """The validation batch folder ``folder`` is (or lies in), if any."""
    from allgui.core.validation.batch import BATCH_FILE

    real = Path(os.path.realpath(folder))
    for candidate in (real, *real.parents):
        if (candidate / BATCH_FILE).is_file():
            return candidate
    return None


def earlier_report(folder: str | Path) -> tuple[Path, ...]:
    """The files of a report that ``folder`` already holds."""
    return tuple(p for p in (Path(folder) / n for n in REPORT_FILES) if os.path.lexists(p))


def check_report_folder(folder: str | Path, model: str | Path, data: str | Path, *,
                        replace: bool = False) -> Path:
    """``folder``, made and checked for writing, or OutputError: when a report file
    would replace the model or the manifest (always), when the folder lies in the
    labelled folder (its report would read as one more class next time), or when
    it holds an earlier report and ``replace`` is not given."""
    out = Path(folder)
    shown = terminal_text(out)
    data_path = Path(data)
    if data_path.is_dir():
        inside = os.path.realpath(out) + os.sep
        if inside.startswith(os.path.realpath(data_path) + os.sep):
            raise OutputError(f"{shown} is inside the labelled folder; choose a folder for "
                              "the report outside it, so the images stay as they are.")
    if (batch := _in_a_batch(out)) is not None:  # its predictions are a run's own
        raise OutputError(f"{shown} is part of the validation batch {terminal_text(batch.name)}; "
                          "an evaluation never writes over a run's files. Choose another "
                          "folder.")
    inputs = Inputs([model, data])
    for name in REPORT_FILES:
        check_output(out / name, inputs=inputs, force=True, what="the report")
    old = earlier_report(out)
    if old and not replace:
        raise OutputError(f"{shown} already holds an earlier report ("
                          + ", ".join(p.name for p in old) + "); choose another folder, or "
                          "agree to replace it (--force on the command line).")
    return check_folder_writable(out, "the report")


def reliability_picture(rel: Reliability) -> Figure:
    fig = _figure(4.2, 3.8)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="#888888", lw=1, ls="--")
    pts = [(c, a) for c, a in zip(rel.confidence, rel.accuracy, strict=True)
           if c is not None and a is not None]
    if pts:
        xs, ys = zip(*pts, strict=True)
        ax.plot(xs, ys, marker="o", color="#0072B2", label=f"ECE {rel.ece:.3f}")
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    return fig


def with_interval(row) -> str:
    """'0.8123 [0.7510, 0.8650]': a figure and its interval in one cell."""
    if row is None:
        return "n/a"
    interval = format_interval(row.low, row.high)
    return format_value(row.value) + ("" if interval == "n/a" else f" {interval}")


def checks_blocks(result: ExternalResult) -> list[Block]:
    """The figures beside the model's own test set and what no skill scores,
    then what the checks found (seen images, distance, warnings)."""
    from allgui.core.validation.external import FIGURES
    from allgui.core.validation.external_checks import check_lines, side_by_side

    header, rows = side_by_side(FIGURES, result.metrics.headline(), result.intervals,
                                result.checks, NAMES)
    own = result.checks.internal_set
    return [table("Beside the model's own test set" + (f" ({own})" if own else "")
                  + " and what no skill scores", header, rows,
                  note="No skill: always answering the most common class here (accuracy), "
                  "or guessing (balanced accuracy 1/classes, AUC 0.5)."),
            *(Paragraph(line) for line in check_lines(result.checks, len(result.paths)))]


def external_document(result: ExternalResult) -> Document:
    rows = figure_rows(result)
    by_key = {r.key: r for r in rows}
    unit = ("whole patients resampled" if result.interval_unit == "patient"
            else "images resampled within each class")
    n_pat = len({p for p in result.patients if p})
    blocks: list[Block] = [
        Heading("External validation"),
        Paragraph(f"Model {Path(result.model).name} scored, without any training, on "
                  f"{len(result.paths)} labelled images under {result.data}"
                  + (f" from {n_pat} patients" if n_pat else " (patients unknown)")
                  + (f"; {count(len(result.skipped), 'file')} could not be read and "
                     f"{'was' if len(result.skipped) == 1 else 'were'} left out"
                     if result.skipped else "") + ". Each answer is the model's own "
                  f"decision rule, as allgui classify gives it: "
                  f"{result.rule.describe(result.classes)}."),
        table("Figures on the external images", ["Figure", "Value", "95% interval"],
              [[r.label, format_value(r.value), format_interval(r.low, r.high)]
               for r in rows if r.of_class is None],
              note=f"Percentile bootstrap, {unit}; n/a where no interval can be given."),
        *checks_blocks(result),
        table("Per class", ["Class", "Images", "Sensitivity (recall)", "Specificity",
                            "Precision", "F1"],
              [[c.name, c.support] + [with_interval(by_key.get(f"{k}[{c.name}]"))
                                      for k in ("recall", "specificity", "precision", "f1")]
               for c in result.metrics.per_class],
              note="Each figure with its 95% interval in brackets."),
    ]
    if result.metrics.patients:
        blocks.append(table(
            "Per patient", ["Patient", "Class", "Images", "Accuracy"],
            [[p.patient, p.label, p.images, format_value(p.accuracy)]
             for p in result.metrics.patients],
            note="Mean over patients: " + format_value(result.metrics.patient_accuracy)))
    if result.calibration is not None:
        blocks.append(Paragraph(
            f"Calibration of the probabilities the classifier reports (temperature "
            f"{result.temperature:.3f} stored in the model): expected calibration error "
            f"{result.calibration.ece:.4f} (15 bins)."))
        blocks.append(Picture("Reliability diagram on the external images.",
                              reliability_picture(result.calibration)))
    return Document(f"allgui external validation: {Path(result.model).name}", RESEARCH_NOTICE,
                    tuple(blocks))


def write_external_report(result: ExternalResult, out_dir: str | Path) -> dict[str, Path]:
    """evaluation.html, evaluation.json and predictions.csv in ``out_dir``."""
    from allgui.core.report.html import write_html

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"html": write_html(external_document(result), out / "evaluation.html"),
             "json": out / "evaluation.json", "csv": out / "predictions.csv"}
    atomic_write_text(files["json"], json.dumps(result.to_dict(), indent=1))
    write_predictions(files["csv"], Predictions(result.paths, result.patients, result.labels,
                                                result.probabilities, result.classes,
                                                result.rule))
    return files
