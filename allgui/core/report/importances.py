"""The report's parameter importances: the shared estimate of
:mod:`allgui.core.search.importance` (fANOVA over seeds, the headline, beside
PED-ANOVA), as a table, a picture and its warnings in plain words, the same
figures the window and ``allgui optimize`` show."""

from __future__ import annotations

from allgui.core.model.params import label as param_label
from allgui.core.report.document import Block, Paragraph, Picture, table
from allgui.core.report.study_facts import StudyFacts
from allgui.core.report.study_figures import importance_estimate_figure
from allgui.core.search.importance import HEADLINE_LABEL
from allgui.core.validation.stats import format_value


def importance_blocks(study: StudyFacts) -> list[Block]:
    est = study.estimate
    if est is None:
        return ([Paragraph("Parameter importances: " + " ".join(study.importance_notes))]
                if study.importance_notes else [])
    used = (f"all {est.n_trials}" if est.n_used == est.n_trials
            else f"a random {est.n_used} of the {est.n_trials}")
    out: list[Block] = [table(
        f"Parameter importances: {est.method_label} (the headline), PED-ANOVA beside it",
        ["Parameter", f"{HEADLINE_LABEL} mean", f"{HEADLINE_LABEL} SD", "PED-ANOVA"],
        [[param_label(p.name), format_value(p.mean, 3), format_value(p.sd, 3),
          format_value(p.ped_anova, 3)] for p in est.values],
        note=f"fANOVA read {used} complete trials, once per seed (its random forests differ "
        "by seed; the SD says how much); PED-ANOVA read every complete trial. Each column "
        "sums to 1.",
    )]
    for warning in est.warnings:
        out.append(Paragraph("Importances: " + warning, emphasis=True))
    out.append(Picture(
        f"Parameter importances by {HEADLINE_LABEL} (mean \u00b1 SD over {est.seeds} seeds) "
        "beside PED-ANOVA.",
        importance_estimate_figure([(param_label(p.name), p.mean, p.sd, p.ped_anova)
                                    for p in est.values], HEADLINE_LABEL)))
    return out
