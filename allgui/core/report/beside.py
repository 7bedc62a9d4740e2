"""The published study beside this run: every figure the study printed, with
this run's value and interval, computed from what this run recorded (the
study's trials, batch.json's curves, each run's predictions.csv), never typed.

The optimism row is the study's central failure in one line: the best trial's
validation accuracy, the final runs' validation accuracy and the test accuracy
of the same configuration."""

from __future__ import annotations

from dataclasses import dataclass

from allgui.core.model.params import label as param_label
from allgui.core.report.document import Block, Heading, Paragraph, table
from allgui.core.report.published import STUDY, PublishedStudy
from allgui.core.report.study_facts import StudyFacts
from allgui.core.search.record import StudyRecord
from allgui.core.validation.batch import Batch
from allgui.core.validation.recorded import RunFigures, run_figures, wilson
from allgui.core.validation.run_record import TUNED
from allgui.core.validation.stats import (
    Summary,
    format_interval,
    format_mean_sd,
    format_value,
    summarize,
)

NOT_REPORTED = "not reported"


@dataclass(frozen=True)
class Phases:
    """The objective in the startup (random) trials and in the TPE trials."""

    startup: Summary
    tpe: Summary
    u: float | None  # Mann-Whitney U of startup against TPE (two-sided)
    p_value: float | None
    note: str = ""


def phases(study: StudyFacts) -> Phases:
    start = [t.value for t in study.trials if t.number in study.startup_numbers]
    tpe = [t.value for t in study.trials if t.number not in study.startup_numbers]
    if study.startup_trials is None:
        note = "the study did not record its startup trials"
    elif len(start) < 2 or len(tpe) < 2:
        note = "fewer than two finished trials in a phase: no test"
    else:
        from scipy.stats import mannwhitneyu

        res = mannwhitneyu(start, tpe, alternative="two-sided")
        return Phases(summarize(start), summarize(tpe), float(res.statistic), float(res.pvalue))
    return Phases(summarize(start), summarize(tpe), None, None, note)


def _mean_sd(s: Summary) -> str:
    return format_mean_sd(s.mean, s.sd, s.n)


def _ci(s: Summary) -> str:
    """The t-interval of a figure bounded by 0 and 1, or why there is none: an
    interval past the bounds would print an accuracy of more than 100%."""
    if s.ci_low is None or s.ci_high is None:
        return s.note or ""
    if s.ci_low < 0 or s.ci_high > 1:
        return f"too few runs to say (n = {s.n}: the t-interval leaves 0..1)"
    return f"95% CI (t) {format_interval(s.ci_low, s.ci_high)}"


def beside_section(study: StudyFacts | None, batch: Batch | None,
                   published: PublishedStudy = STUDY) -> list[Block]:
    out: list[Block] = [Heading("The study beside this run"), Paragraph(
        f"Each figure {published.name} printed, beside this run's value and its interval. "
        "This run's figures are computed here from what it recorded (the study's trials, "
        "batch.json and each run's predictions.csv); the study's are its published numbers.")]
    if study is None and batch is None:
        out.append(Paragraph("Nothing to compare yet: run a search and a validation batch."))
        return out
    rows: list[list[str]] = []
    accuracy_objective = study is not None and StudyRecord.from_attrs(
        study.name, study.settings).objective == "accuracy"
    figures = run_figures(batch) if batch is not None and batch.runs_of(TUNED) else None
    best = study.best if study is not None else None
    if study is not None:
        epochs = sorted({t.epochs for t in study.trials if t.epochs is not None})
        rows.append(["Search", f"{published.trials} trials x {published.trial_epochs} epochs",
                     f"{study.n_complete} trials x {'/'.join(map(str, epochs)) or '?'} epochs",
                     "", "study.db"])
    if best is not None:
        interval = ""
        if accuracy_objective and figures is not None and figures.n_val:
            interval = "Wilson 95% " + format_interval(*wilson(best.value, figures.n_val)) \
                + f" over {figures.n_val} validation images"
        rows.append([f"Best trial's {study.objective}" if study else "Best trial",
                     format_value(published.best_val_accuracy),
                     f"trial {best.number}: {format_value(best.value)}", interval, "study.db"])
    if study is not None:
        ph = phases(study)
        test = ("Mann-Whitney U " + format_value(ph.u, 1) + ", p = " + format_value(ph.p_value, 4)
                if ph.p_value is not None else ph.note)
        rows.append(["Startup (random) trials, mean \u00b1 SD", NOT_REPORTED,
                     _mean_sd(ph.startup), _ci(ph.startup), "study.db"])
        rows.append(["TPE trials, mean \u00b1 SD", NOT_REPORTED, _mean_sd(ph.tpe),
                     test, "study.db"])
        est = study.estimate
        study_top = ", ".join(f"{param_label(n)} {v:.0%}" for n, v in published.importances)
        mine = ", ".join(f"{param_label(p.name)} {p.mean:.0%} \u00b1 {p.sd:.0%}"
                         for p in est.top(2)) if est is not None else "not available"
        rows.append(["Top importances (fANOVA)", study_top, mine,
                     f"SD over {est.seeds} seeds" if est is not None else "", "study.db"])
    if batch is not None:
        rows.append(["Validation runs", f"{published.runs} runs x {published.run_epochs} epochs",
                     f"{len(batch.runs_of(TUNED))} runs x up to {batch.max_epochs} epochs", "",
                     "batch.json"])
    if figures is not None:
        rows.append(["Test accuracy", format_value(published.test_accuracy),
                     _mean_sd(figures.test_accuracy), _ci(figures.test_accuracy),
                     "predictions.csv"])
        rows.append(["Test AUC-ROC, mean \u00b1 SD",
                     f"{published.test_auc:.3f} \u00b1 {published.test_auc_sd:.3f}",
                     _mean_sd(figures.test_auc), _ci(figures.test_auc), "predictions.csv"])
        rows.append(["Test AUC-ROC, CV (SD / mean)", f"{published.test_auc_cv:.2%}",
                     "n/a" if figures.test_auc.cv is None else f"{figures.test_auc.cv:.2%}",
                     "", "predictions.csv"])
    out.append(table("The published study and this run, figure by figure",
                     ["Figure", "Study", "This run", "Interval or test", "From"], rows,
                     note="SD and CV are over the independent runs (or trials); t-intervals "
                     "with few runs are wide. Where the study printed no figure it says so."))
    if best is not None or figures is not None:
        out.append(_optimism_table(best.value if best is not None else None,
                                   accuracy_objective, figures, published))
    return out


def _optimism_table(best_value: float | None, accuracy_objective: bool,
                    figures: RunFigures | None, published: PublishedStudy):
    best = format_value(best_value) if best_value is not None and accuracy_objective else (
        "search objective is not accuracy" if best_value is not None else "no study")
    val = _mean_sd(figures.val_accuracy) if figures is not None else "no batch"
    test = _mean_sd(figures.test_accuracy) if figures is not None else "no batch"
    gap = "n/a"
    if (best_value is not None and accuracy_objective and figures is not None
            and figures.test_accuracy.mean is not None):
        gap = format_value(best_value - figures.test_accuracy.mean)
    return table(
        "Optimism: one configuration measured three ways (accuracy)",
        ["", "Best trial, validation", "Final runs, validation", "Test", "Best trial - test"],
        [["Study", format_value(published.best_val_accuracy), NOT_REPORTED,
          format_value(published.test_accuracy), format_value(published.optimism)],
         ["This run", best, val, test, gap]],
        note="The best trial's validation accuracy was chosen as the maximum over all trials "
        "on the same validation images, so it is biased upwards; the final runs' validation "
        "accuracy (at the epoch each kept) and the test accuracy say how much of it holds.")
