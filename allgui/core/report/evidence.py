"""The report's evidence sections: the tuned model against the simple
baselines a reviewer tries (the untuned head, the linear probe), and
calibration (ECE and reliability diagrams before and after temperature
scaling). Built from a batch's analysis; matplotlib through
:mod:`allgui.core.report.figures` only."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from allgui.core.model.measures import EVIDENCE, shown_in
from allgui.core.report.document import Block, Paragraph, Picture, table
from allgui.core.report.figures import COLOURS, _figure, plain_text
from allgui.core.validation.analysis import BatchAnalysis, comparison_note, comparison_rows
from allgui.core.validation.calibration import Calibration
from allgui.core.validation.run_record import BASELINE, PROBE, TUNED, RunRecord
from allgui.core.validation.stats import format_value

HEADLINE = shown_in(EVIDENCE)


def baselines_section(analysis: BatchAnalysis) -> list[Block]:
    """Side by side: tuned, untuned head and probe (means over seeds), then
    the paired comparison against the probe."""
    b = analysis.batch
    if not b.probe or not b.runs_of(PROBE):
        return []
    labels = [TUNED] + ([BASELINE] if b.baseline and b.runs_of(BASELINE) else []) + [PROBE]
    names = {TUNED: "Tuned", BASELINE: "Untuned head", PROBE: "Linear probe"}
    rows = []
    for row in analysis.rows:
        if row.key not in HEADLINE:
            continue
        cells = [row.label]
        for label in labels:
            s = {TUNED: row.tuned_summary, BASELINE: row.baseline_summary,
                 PROBE: row.probe_summary}[label]
            cells.append(format_value(s.mean if s is not None else None))
        rows.append(cells)
    ece = ["ECE before / after calibration"]
    for label in labels:
        cals = [c for r in b.runs_of(label) if (c := _calibration(r)) is not None]
        ece.append(" / ".join(format_value(sum(x) / len(cals)) for x in
                              zip(*[(c.before.ece, c.after.ece) for c in cals], strict=True))
                   if cals else "-")
    rows.append(ece)
    out: list[Block] = [table(
        f"Tuned model against the baselines, means over seeds ({b.test_set})",
        ["Figure"] + [names[x] for x in labels], rows,
        note=f"The probe: {b.probe.source} (C = {b.probe.params.get('C')}). It is scored on "
        "the same test images; it is deterministic, so the same probe pairs with every seed.")]
    header, crow = comparison_rows(analysis, PROBE)
    if crow:
        out.append(table(f"Tuned against the linear probe on the same test images "
                         f"({b.test_set})", header, crow, note=comparison_note(analysis)))
    return out


def _calibration(run: RunRecord) -> Calibration | None:
    try:
        return Calibration.from_dict(run.calibration) if run.calibration else None
    except (KeyError, TypeError, ValueError):
        return None


def calibration_lines(batch) -> list[str]:
    """Per tuned run: whether its temperature was kept and why, and its
    referral margin with what backs it (the window and the command line)."""
    from allgui.core.validation.referral import Referral

    lines = []
    for run in batch.runs_of(TUNED):
        cal = _calibration(run)
        if cal is None:
            continue
        line = f"Run {run.index}: {cal.line()}"
        raw = (run.calibration or {}).get("referral")
        if raw:
            line += "; " + Referral.from_dict(raw).line()
        lines.append(line + ".")
    return lines


def calibration_section(analysis: BatchAnalysis) -> list[Block]:
    b = analysis.batch
    runs = [(r, c) for r in b.runs_of(TUNED) + b.runs_of(BASELINE) + b.runs_of(PROBE)[:1]
            if (c := _calibration(r)) is not None]
    if not runs:
        return []
    kept = sum(c.kept for _, c in runs)
    out: list[Block] = [
        Paragraph("Calibration: a temperature T, fitted on the validation part (never the "
                  "test set), divides the model's logits; the predicted class does not change. "
                  "T is kept only when it lowers the log loss of validation images it was not "
                  "fitted on (5-fold cross-validation over the validation part); otherwise the "
                  "model's own probabilities are used, since a temperature fitted on a few "
                  "dozen images often makes calibration worse. The exported model carries the "
                  f"T applied. Kept in {kept} of {len(runs)} runs. Expected calibration error "
                  "(ECE, 15 equal-width bins of the top probability) on the test set:"),
        table("Calibration per run (test set)",
              ["Run", "Seed", "Fitted T", "Applied", "Held-out log loss without / with",
               "ECE before", "ECE after"],
              [[f"{r.label} {r.index}", r.seed,
                format_value(c.fitted if c.fitted is not None else c.temperature, 3),
                ("yes" if c.kept else "no (left off)") if c.cv_loss is not None or not c.kept
                else "yes (not checked)",
                " / ".join(format_value(x) for x in c.cv_loss) if c.cv_loss else "-",
                format_value(c.before.ece), format_value(c.after.ece)] for r, c in runs]),
    ]
    tuned = [(f"run {r.index}", c) for r, c in runs if r.label == TUNED]
    if tuned:
        out.append(Picture("Reliability diagrams of the tuned runs on the test set, before and "
                           "after the temperature (where it was kept): a calibrated model lies "
                           "on the diagonal. Bins hold about equal numbers of images; each "
                           "point is labelled with its count.", reliability_figure(tuned)))
    return out


def reliability_figure(runs: Sequence[tuple[str, Calibration]]) -> Figure:
    fig = _figure(7.6, 3.6)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, when in zip(axes, ("before", "after"), strict=True):
        ax.plot([0, 1], [0, 1], color="#888888", lw=1, ls="--")
        for k, (name, cal) in enumerate(runs):
            rel = cal.before if when == "before" else cal.after
            ece = rel.ece
            # equal-mass bins where recorded (older records: the equal-width ones)
            drawn = (cal.before_adaptive if when == "before" else cal.after_adaptive) or rel
            pts = [(c, a, n) for c, a, n in zip(drawn.confidence, drawn.accuracy, drawn.counts,
                                                strict=True)
                   if c is not None and a is not None]
            if pts:
                xs, ys, ns = zip(*pts, strict=True)
                colour = COLOURS[k % len(COLOURS)]
                ax.plot(xs, ys, marker="o", ms=3, color=colour,
                        label=plain_text(f"{name} (ECE {ece:.3f})"))
                for x, y, n in pts:
                    ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(2, -8),
                                fontsize=5, color=colour)
        ax.set_title(f"{when} calibration")
        ax.set_xlabel("confidence (top probability)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7, loc="upper left")
    axes[0].set_ylabel("accuracy")
    return fig


def referral_section(analysis: BatchAnalysis) -> list[Block]:
    """The margin chosen on validation per tuned run, and the coverage-accuracy curve."""
    from allgui.core.validation.referral import Referral, images_needed

    runs = []
    for r in analysis.batch.runs_of(TUNED):
        raw = (r.calibration or {}).get("referral")
        if raw:
            runs.append((r, Referral.from_dict(raw)))
    if not runs:
        return []
    target = runs[0][1].target
    return [
        table(f"Referral of uncertain cells: the margin chosen on validation for {target:.0%} "
              "accuracy on the cells not flagged",
              ["Run", "Seed", "Margin", "Validation images", "Validation kept",
               "Kept right (95% lower bound)", "Supports the target", "Test kept",
               "Test accuracy on kept"],
              [[r.index, r.seed, format_value(x.margin, 2), x.val_images or "-",
                f"{x.val_coverage:.0%}",
                f"{x.val_right} of {x.val_kept} ({format_value(x.val_lower, 3)})"
                if x.val_lower is not None else "-",
                "-" if x.supported is None else "yes" if x.supported else "NO: too few images",
                f"{x.test_coverage:.0%}", format_value(x.test_accuracy)] for r, x in runs],
              note="The margin is the top probability minus the second, after calibration; "
              "cells below it are flagged for a person. The model file stores it. A margin "
              "supports its target only when the Wilson lower bound of the kept validation "
              f"images' accuracy reaches it: for {target:.0%} that takes about "
              f"{images_needed(target)} kept images, all right."),
        Picture("Coverage against accuracy on the test set: each point a margin; the share "
                "of cells kept (not flagged) and the accuracy on them.",
                coverage_figure([(f"run {r.index}", x) for r, x in runs])),
    ]


def coverage_figure(runs) -> Figure:
    fig = _figure(5.0, 3.8)
    ax = fig.add_subplot()
    for k, (name, ref) in enumerate(runs):
        pts = [(c, a) for _, c, a in ref.curve if a is not None]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, marker="o", ms=3, color=COLOURS[k % len(COLOURS)],
                    label=plain_text(name))
    ax.axhline(runs[0][1].target, color="#888888", lw=1, ls="--")
    ax.set_xlabel("share of cells kept (not flagged)")
    ax.set_ylabel("accuracy on the kept cells")
    ax.invert_xaxis()
    ax.legend(fontsize=7)
    return fig
