"""The external-validation report: one model on another source's labelled
images (figures with intervals, per class, per patient, calibration), as
HTML beside a JSON record and the predictions CSV."""

from __future__ import annotations

import json
from pathlib import Path

from matplotlib.figure import Figure

from allgui import RESEARCH_NOTICE
from allgui.core.files.atomic import atomic_write_text
from allgui.core.report.document import Block, Document, Heading, Paragraph, Picture, table
from allgui.core.report.figures import _figure
from allgui.core.validation.batch import Predictions, write_predictions
from allgui.core.validation.calibration import Reliability
from allgui.core.validation.external import FIGURES, ExternalResult
from allgui.core.validation.stats import format_interval, format_value

NAMES = {"accuracy": "Accuracy", "balanced_accuracy": "Balanced accuracy",
         "f1_weighted": "F1, weighted by class support", "auc_roc": "AUC-ROC"}


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


def external_document(result: ExternalResult) -> Document:
    head = result.metrics.headline()
    unit = ("whole patients resampled" if result.interval_unit == "patient"
            else "images resampled within each class")
    n_pat = len({p for p in result.patients if p})
    blocks: list[Block] = [
        Heading("External validation"),
        Paragraph(f"Model {Path(result.model).name} scored, without any training, on "
                  f"{len(result.paths)} labelled images under {result.data}"
                  + (f" from {n_pat} patients" if n_pat else " (patients unknown)")
                  + (f"; {len(result.skipped)} files could not be read and were left out"
                     if result.skipped else "") + "."),
        table("Figures on the external images", ["Figure", "Value", "95% interval"],
              [[NAMES[k], format_value(head.get(k)),
                format_interval(*result.intervals.get(k, (None, None)))]
               for k in FIGURES if head.get(k) is not None],
              note=f"Percentile bootstrap, {unit}."),
        table("Per class", ["Class", "Images", "Sensitivity (recall)", "Precision", "F1"],
              [[c.name, c.support, format_value(c.recall), format_value(c.precision),
                format_value(c.f1)] for c in result.metrics.per_class]),
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
                                                result.probabilities, result.classes))
    return files
