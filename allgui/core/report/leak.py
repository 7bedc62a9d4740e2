"""The report's "leak, measured" section: the image split against the patient
split on the same data and protocol (:mod:`allgui.core.validation.leak`),
read from ``PROJECT/leak/leak.json``; the same table ``allgui leak`` prints."""

from __future__ import annotations

from allgui.core.project import Project
from allgui.core.report.document import Block, Heading, Paragraph, Table, table
from allgui.core.validation.batch import Batch
from allgui.core.validation.leak import Figure, LeakResult, load_leak
from allgui.core.validation.stats import format_mean_sd, format_value


def _fig(f: Figure) -> str:
    return format_mean_sd(f.mean, f.sd, f.n)


def leak_table(result: LeakResult) -> Table:
    i, p = result.image, result.patient
    rows = [[o.split, f"trial {o.best_trial}: {format_value(o.best_value)}",
             _fig(o.val_accuracy), _fig(o.test_accuracy), _fig(o.test_auc),
             o.patients_in_two_parts] for o in (i, p)]
    test = result.test_difference
    rows.append(["image - patient", f"{result.validation_inflation:+.4f}",
                 "n/a" if i.val_accuracy.mean is None or p.val_accuracy.mean is None
                 else f"{i.val_accuracy.mean - p.val_accuracy.mean:+.4f}",
                 "n/a" if test is None else f"{test:+.4f}",
                 "n/a" if i.test_auc.mean is None or p.test_auc.mean is None
                 else f"{i.test_auc.mean - p.test_auc.mean:+.4f}", ""])
    s = result.settings
    return table(
        f"The leak, measured: one protocol, one dataset, two splits (test set: {i.test_set})",
        ["Split", f"Best trial, {i.objective}", "Final runs, validation accuracy",
         "Test accuracy", "Test AUC-ROC", "Patients on both sides"], rows,
        note=f"Each split searched {s.get('trials', '?')} trials x {s.get('epochs', '?')} "
        f"epochs ({s.get('views', '?')} views, {s.get('startup_trials', '?')} random at the "
        f"start) and trained the best {s.get('runs', '?')} times x up to "
        f"{s.get('run_epochs', '?')} epochs, same seeds; mean \u00b1 SD over the runs. "
        f"Measured {result.written}; each split's project: {i.folder}, {p.folder}.")


def leak_section(project: Project, batch: Batch | None) -> list[Block]:
    result = load_leak(project)
    if result is None:
        if batch is not None and batch.split.leaky:
            return [Heading("The leak, measured"), Paragraph(
                "This run used an image-level split on data with patient IDs, so its "
                "validation figures may be inflated by patients on both sides. 'allgui leak' "
                "runs the same protocol with the patient split and measures by how much.",
                emphasis=True)]
        return []
    return [Heading("The leak, measured"), Paragraph(result.summary()), leak_table(result)]
