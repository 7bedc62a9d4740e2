"""The project report: dataset and split audit, search, validation batch
with statistics and pictures, and the reproducibility record, as one
:class:`~allgui.core.report.document.Document` written to HTML and PDF."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allgui import RESEARCH_NOTICE
from allgui.core.errors import Cancelled
from allgui.core.events import Progress, Sink, job, null_sink
from allgui.core.files.text import count
from allgui.core.model.params import label as param_label
from allgui.core.model.params import ordered
from allgui.core.project import Project
from allgui.core.report import figures as F
from allgui.core.report.beside import beside_section
from allgui.core.report.deviations import deviations_section
from allgui.core.report.document import Block, Document, Heading, Paragraph, Picture, table
from allgui.core.report.evidence import (
    baselines_section,
    calibration_section,
    referral_section,
)
from allgui.core.report.importances import importance_blocks
from allgui.core.report.leak import leak_section
from allgui.core.report.methods import as_run, methods_section, search_augmentation
from allgui.core.report.study_facts import StudyFacts, plain_value, read_study, settings_rows
from allgui.core.report.study_figures import phased_history_figure
from allgui.core.search.study import not_finite_note
from allgui.core.validation.analysis import (
    RESAMPLES,
    BatchAnalysis,
    analyse,
    comparison_note,
    comparison_rows,
    metrics_note,
    metrics_rows,
)
from allgui.core.validation.batch import BASELINE, TUNED, Batch, latest_batch, read_predictions
from allgui.core.validation.record import environment_record, now_utc
from allgui.core.validation.stats import format_interval, format_value

JOB = "report"
PART_NAMES = {"train": "training", "val": "validation", "test": "test"}


@dataclass(frozen=True)
class ReportFiles:
    html: Path | None
    pdf: Path | None
    document: Document


def _or_unknown(value: Any) -> Any:
    return "?" if value is None else value


# -- sections ---------------------------------------------------------------------


def _dataset_section(batch: Batch | None) -> list[Block]:
    out: list[Block] = [Heading("Dataset and split")]
    if batch is None or batch.dataset.empty:
        out.append(Paragraph("No validation batch yet: the dataset is described by the batch "
                             "that uses it. Run a validation batch first."))
        return out
    d = batch.dataset
    classes = list(batch.classes)
    out.append(Paragraph(
        f"Dataset folder: {d.root or '?'} (layout: {d.layout or '?'}); classes: "
        f"{', '.join(classes)}; positive class: '{batch.positive_class}'. "
        f"Content hash (relative paths, labels, patients): {batch.dataset_fingerprint}."
    ))
    if d.synthetic:
        out.append(Paragraph("SYNTHETIC DEMO DATA: generated cells, not real patients. These "
                             "figures show that allgui works, nothing about leukemia.",
                             emphasis=True))
    summary = d.summary
    per_subset = summary.get("per_subset") or {}
    patients = summary.get("patients_per_subset") or {}
    if per_subset:
        rows = []
        for subset, row in per_subset.items():
            pts = sum((patients.get(subset) or {}).values()) if patients.get(subset) else "unknown"
            rows.append([subset] + [row.get(c, 0) for c in classes] + [sum(row.values()), pts])
        out.append(table("Images in the dataset, by the dataset's own subsets and class",
                         ["Subset"] + classes + ["Total", "Patients"], rows,
                         note=f"Unreadable files left out: {d.bad_files}."))
    if d.parts:
        rows = []
        for name, p in d.parts.items():
            imgs = p.images
            rows.append([PART_NAMES.get(name, name)] + [imgs.get(c, 0) for c in classes]
                        + [sum(imgs.values()), "unknown" if p.patients is None else p.patients])
        split = batch.split
        out.append(table(
            f"Split used: method '{split.method or '?'}', seed {_or_unknown(split.seed)}",
            ["Part"] + classes + ["Total", "Patients"], rows,
            note=("Test part: " + batch.test_set + ". "
                  + ("Leaky by design (image-level split). " if split.leaky else "")
                  + " ".join(split.warnings)).strip(),
        ))
    audit = d.audit
    if audit.get("verdict"):
        out.append(Heading("Leakage audit", 2))
        out.append(Paragraph(audit["verdict"], emphasis=bool(audit.get("leaky"))))
    return out


def _search_section(study: StudyFacts | None, project: Project, batch: Batch | None
                    ) -> list[Block]:
    out: list[Block] = [Heading("Hyperparameter search")]
    if study is None:
        out.append(Paragraph("This project has no study yet."))
        return out
    out.append(Paragraph(
        f"Optuna study '{study.name}' in {project.storage_url.split('://')[0]} storage: "
        f"{study.n_complete} trials finished, {study.n_pruned} pruned, {study.n_failed} failed. "
        f"Objective: {study.objective} ({study.direction}), measured on the validation part, "
        "never on the test set."
        + (" " + not_finite_note(study.not_finite) if study.not_finite else "")
    ))
    out.append(Paragraph(search_augmentation(project, study)))
    rows = [list(r) for r in settings_rows(study, project.settings.search)]
    if rows:
        out.append(table("Search space and sampler settings, as recorded with the study",
                         ["Setting", "Value"], rows))
    top = study.top(10)
    if top:
        names = ordered(top[0].params)
        out.append(table(
            f"Best trials (as the paper's Table 2), by {study.objective}",
            ["Rank", "Trial", study.objective] + [param_label(n) for n in names]
            + ["Best epoch", "Epochs run"],
            [[i + 1, t.number, format_value(t.value)] + [plain_value(t.params.get(n)) for n in names]
             + [t.best_epoch or "?", t.epochs if t.epochs is not None else "?"]
             for i, t in enumerate(top)],
            note="Each trial's objective on the validation part at its best epoch (lowest "
            "validation loss: the weights a run keeps); the test set is never used here.",
        ))
    out.append(Picture(
        f"Optimisation history: each finished trial's {study.objective} by trial number and the "
        "best so far; startup (random) trials as squares, TPE trials as dots, the dashed line "
        "where TPE took over, the best trial starred.",
        phased_history_figure([(t.number, t.value) for t in study.trials], study.objective,
                              study.maximize, study.startup_numbers),
    ))
    out += importance_blocks(study)
    return out


def _validation_section(analysis: BatchAnalysis | None) -> list[Block]:
    out: list[Block] = [Heading("Validation runs")]
    if analysis is None:
        out.append(Paragraph("No validation batch with a finished run yet."))
        return out
    b = analysis.batch
    tuned_runs = b.runs_of(TUNED)
    out.append(Paragraph(
        f"Batch {b.batch_id} ({b.state}), started {b.created}. {count(len(b.seeds), 'independent run')} "
        f"per configuration with seeds {', '.join(map(str, b.seeds))}; up to "
        f"{b.max_epochs} epochs, early stopping when the validation loss has not improved for "
        f"{b.patience} epochs, the weights of the best epoch kept. Every figure below comes "
        f"from the test set: {b.test_set}. No trial of the search saw it. "
        + b.model.views_note()
    ))
    if b.message:
        out.append(Paragraph(b.message, emphasis=b.status != "finished"))
    chosen = b.chosen_run()
    if chosen is not None:
        out.append(Paragraph(
            f"The model to export is {b.selection_note(chosen)}. Its own test figures are "
            f"those of its column (Run {chosen.index}) below; the mean and interval over the "
            "runs describe the configuration."))
    configs = [("Tuned", b.tuned)] + ([("Baseline", b.baseline)] if b.baseline else [])
    names = ordered({k: 1 for _, c in configs for k in c.params})
    out.append(table(
        "Configurations trained",
        ["Setting"] + [n for n, _ in configs],
        [["Source"] + [c.source for _, c in configs]]
        + [[param_label(p)] + [plain_value(c.params.get(p, "")) for _, c in configs] for p in names],
    ))
    header, rows = metrics_rows(analysis, TUNED)
    out.append(table(f"Test-set figures of the tuned configuration ({b.test_set})", header, rows,
                     note=metrics_note(analysis, TUNED)))
    if b.baseline and b.runs_of(BASELINE):
        header, rows = metrics_rows(analysis, BASELINE)
        out.append(table(f"Test-set figures of the baseline ({b.test_set})", header, rows,
                         note=metrics_note(analysis, BASELINE)))
        header, rows = comparison_rows(analysis)
        if rows:
            out.append(table(
                f"Tuned against baseline on the same test images: paired bootstrap "
                f"({b.test_set})", header, rows, note=comparison_note(analysis)))
    if analysis.mcnemar or analysis.probe_mcnemar:
        out.append(table(
            f"McNemar's test, tuned against baseline or probe on the same test images "
            f"({b.test_set})",
            ["Seed", "Against", "Images", "Only tuned right", "Only other right", "Statistic",
             "p", "Method"],
            [[c.seed, c.against, c.test.images, c.test.only_a, c.test.only_b,
              format_value(c.test.statistic, 3), format_value(c.test.p_value, 4), c.test.method]
             for c in analysis.mcnemar + analysis.probe_mcnemar],
        ))
    if analysis.auc_intervals:
        out.append(table(
            f"AUC-ROC of each run with its 95% interval over the test images ({b.test_set})",
            ["Run", "Seed", "Class against the rest", "AUC", "Interval", "Method", "Note"],
            [[r.run, r.seed, r.of_class or b.positive_class or "", format_value(
                r.interval.estimate), format_interval(r.interval.low, r.interval.high),
              r.interval.method, r.interval.note] for r in analysis.auc_intervals],
            note="The interval covers the sampling of test images, not the variation between "
            "training runs (see the spread over seeds above).",
        ))
    out += baselines_section(analysis)
    out += calibration_section(analysis)
    out += referral_section(analysis)
    patient_rows = _patient_rows(tuned_runs)
    if patient_rows:
        out.append(table(
            f"Accuracy per test patient, tuned runs ({b.test_set})",
            ["Patient", "Class", "Images"] + [f"Run {r.index}" for r in tuned_runs],
            patient_rows,
            note="Share of each patient's cells classified correctly.",
        ))
    out.append(table(
        "Runs",
        ["Run", "Seed", "Status", "Epochs run", "Best epoch", "Minutes", "Note"],
        [[r.name, r.seed, r.status, r.epochs_run, r.best_epoch or "", f"{r.duration_s / 60:.1f}",
          r.reason] for r in b.runs],
    ))
    out += _pictures(analysis)
    return out


def _patient_rows(runs) -> list[list[str]]:
    if not runs or not runs[0].metrics.patients:
        return []
    per_run = [{p.patient: p for p in r.metrics.patients} for r in runs]
    rows = []
    for p in runs[0].metrics.patients:
        rows.append([p.patient, p.label, str(p.images)] + [
            format_value(m[p.patient].accuracy, 3) if p.patient in m else "n/a" for m in per_run
        ])
    return rows


def _pictures(analysis: BatchAnalysis) -> list[Block]:
    b = analysis.batch
    out: list[Block] = []
    runs = b.runs_of(TUNED) + b.runs_of(BASELINE)
    tuned = []
    for r in b.runs_of(TUNED):
        if r.metrics is not None and r.predictions_path.is_file():
            p = read_predictions(r.predictions_path, b.classes)
            tuned.append((f"run {r.index} (seed {r.seed})", p.labels, p.probabilities,
                          r.metrics.auc_roc))
    curves = F.roc_curves(tuned, b.classes, b.positive_class)
    if curves:
        out.append(Picture(
            f"ROC curves of the tuned runs on the test set ({b.test_set})"
            + (", with their mean." if len(b.classes) == 2 else ", each class against the rest."),
            F.roc_figure(curves, b.positive_class, b.test_set, b.classes)))
    out.append(Picture(
        f"Confusion matrices on the test set ({b.test_set}); rows are the true class.",
        F.confusion_figure([(f"{r.label} run {r.index} (seed {r.seed})", r.metrics.confusion)
                            for r in runs if r.metrics is not None], b.classes,
                           b.test_set)))
    learning = [
        F.Curves(f"{r.label} run {r.index} (seed {r.seed})", r.curves.get("train_loss", []), r.curves.get("val_loss", []),
                 r.curves.get("train_accuracy", []), r.curves.get("val_accuracy", []),
                 r.best_epoch or None)
        for r in runs if r.curves
    ]
    if learning:
        out.append(Picture("Learning curves: loss and accuracy on the training and validation "
                           "parts per epoch; the dashed line marks the epoch kept.",
                           F.learning_curves_figure(learning)))
    return out


def _record_section(project: Project, batch: Batch | None, study: StudyFacts | None
                    ) -> list[Block]:
    env = dict(batch.environment) if batch else environment_record()
    rows = [["Report written", now_utc()], ["Project folder", str(project.root)]]
    rows += [[k, v] for k, v in env.items() if k != "date"]
    if batch:
        rows += [
            ["Batch", f"{batch.batch_id} ({batch.folder})"],
            ["Batch started / ended", f"{batch.created} / {batch.finished_at or 'not ended'}"],
            ["Seeds", ", ".join(map(str, batch.seeds))],
            ["Split", f"{batch.split.method or '?'}, seed {_or_unknown(batch.split.seed)}"],
            ["Test set", batch.test_set],
            ["Dataset content hash", batch.dataset_fingerprint],
            ["Model", plain_value(batch.model.to_dict())],
        ]
        chosen = batch.chosen_run()
        if chosen:
            rows.append(["Run for export", f"{batch.selection_note(chosen)}: "
                                           f"{chosen.checkpoint}"])
    if study:
        from allgui.core.search.storage import mask_url

        rows.append(["Study", f"{study.name} ({mask_url(project.storage_url)})"])
        recorded = study.settings.get("allgui") or {}
        if isinstance(recorded, dict) and recorded.get("sampler"):
            rows.append(["Sampler", plain_value(recorded["sampler"])])
    return [Heading("Reproducibility record"),
            table("Software, machine, seeds and data behind these figures",
                  ["Item", "Value"], rows)]


# -- the whole report -----------------------------------------------------------


def build_document(
    project: Project,
    batch: Batch | None = None,
    study: StudyFacts | None = None,
    resamples: int = RESAMPLES,
) -> Document:
    analysis = analyse(batch, resamples=resamples) if batch and batch.runs_of(TUNED) else None
    blocks: list[Block] = []
    if batch:
        blocks.append(Paragraph(f"Figures of the validation runs come from the test set: "
                                f"{batch.test_set}."))
    blocks += _dataset_section(batch)
    recorded = as_run(project, batch, study)
    blocks += methods_section(recorded) + deviations_section(recorded)
    blocks += _search_section(study, project, batch)
    blocks += _validation_section(analysis)
    blocks += beside_section(study, batch)
    blocks += leak_section(project, batch)
    from allgui.core.report.samplers import load_comparison, sampler_section

    comparison = load_comparison(project)
    if comparison is not None:
        blocks += sampler_section(comparison)
    blocks += _record_section(project, batch, study)
    return Document(f"allgui report: {project.root.name}", RESEARCH_NOTICE, tuple(blocks))


def write_report(
    project: Project,
    *,
    html: bool = True,
    pdf: bool = True,
    batch: Batch | None = None,
    out_dir: str | Path | None = None,
    resamples: int = RESAMPLES,
    sink: Sink = null_sink,
    cancel: threading.Event | None = None,
    force: bool = False,
) -> ReportFiles:
    """Write the report of ``batch`` (default: the project's latest batch with a
    finished run) into ``out_dir`` (default: the project's ``reports/``). A file
    of the same name that allgui did not write is replaced only with ``force``."""
    from allgui.core.report.html import write_html
    from allgui.core.report.pdf import write_pdf
    from allgui.core.report.targets import report_targets

    with job(sink, JOB, "Writing the report", 3) as j:
        def step(done: int, message: str) -> None:
            if cancel is not None and cancel.is_set():
                j.finish("Report stopped.")  # the job ends as stopped, with this message
                raise Cancelled("Report stopped by the user; nothing was written.")
            sink(Progress(JOB, phase="report", done=done, total=3, message=message))

        batch = batch or latest_batch(project)
        step(0, "reading the study")

        def importance_progress(done: int, total: int, message: str) -> None:
            sink(Progress(JOB, phase="importances", done=done, total=total, message=message))

        study = read_study(project, progress=importance_progress, cancel=cancel)
        step(1, "computing statistics and pictures")
        folder = Path(out_dir) if out_dir else project.reports_dir
        stem = f"report-{batch.batch_id}" if batch else "report"
        html_path, pdf_path = report_targets(folder, stem, html, pdf, force)  # before the work
        doc = build_document(project, batch, study, resamples=resamples)
        step(2, "writing files")
        html_path = write_html(doc, html_path) if html_path else None
        pdf_path = write_pdf(doc, pdf_path) if pdf_path else None
        written = ", ".join(str(p) for p in (html_path, pdf_path) if p)
        sink(Progress(JOB, phase="report", done=3, total=3, message="written"))
        j.finish(f"Report written: {written}")
    return ReportFiles(html_path, pdf_path, doc)
