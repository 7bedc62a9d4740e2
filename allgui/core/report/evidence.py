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
from allgui.core.validation.analysis import BatchAnalysis, comparison_rows
from allgui.core.validation.batch import BASELINE, PROBE, TUNED, RunRecord
from allgui.core.validation.calibration import Calibration
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
        out.append(table(f"Tuned against the linear probe, paired by seed ({b.test_set})",
                         header, crow, note="Difference = tuned - probe over the seeds."))
    return out


def _calibration(run: RunRecord) -> Calibration | None:
    try:
        return Calibration.from_dict(run.calibration) if run.calibration else None
    except (KeyError, TypeError, ValueError):
        return None


def calibration_section(analysis: BatchAnalysis) -> list[Block]:
    b = analysis.batch
    runs = [(r, c) for r in b.runs_of(TUNED) + b.runs_of(BASELINE) + b.runs_of(PROBE)[:1]
            if (c := _calibration(r)) is not None]
    if not runs:
        return []
    out: list[Block] = [
        Paragraph("Calibration: a temperature T, fitted on the validation part (never the "
                  "test set), divides the model's logits; the predicted class does not change, "
                  "the probabilities then mean what they say. The exported model carries T and "
                  "the classifier applies it. Expected calibration error (ECE, 15 equal-width "
                  "bins of the top probability) on the test set:"),
        table("Calibration per run (test set)",
              ["Run", "Seed", "Temperature", "ECE before", "ECE after"],
              [[f"{r.label} {r.index}", r.seed, format_value(c.temperature, 3),
                format_value(c.before.ece), format_value(c.after.ece)] for r, c in runs]),
    ]
    tuned = [(f"run {r.index}", c) for r, c in runs if r.label == TUNED]
    if tuned:
        out.append(Picture("Reliability diagrams of the tuned runs on the test set, before and "
                           "after temperature scaling: a calibrated model lies on the diagonal.",
                           reliability_figure(tuned)))
    return out


def reliability_figure(runs: Sequence[tuple[str, Calibration]]) -> Figure:
    fig = _figure(7.6, 3.6)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, when in zip(axes, ("before", "after"), strict=True):
        ax.plot([0, 1], [0, 1], color="#888888", lw=1, ls="--")
        for k, (name, cal) in enumerate(runs):
            rel = cal.before if when == "before" else cal.after
            pts = [(c, a) for c, a in zip(rel.confidence, rel.accuracy, strict=True)
                   if c is not None and a is not None]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, marker="o", ms=3, color=COLOURS[k % len(COLOURS)],
                        label=plain_text(f"{name} (ECE {rel.ece:.3f})"))
        ax.set_title(f"{when} calibration")
        ax.set_xlabel("confidence (top probability)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7, loc="upper left")
    axes[0].set_ylabel("accuracy")
    return fig


def referral_section(analysis: BatchAnalysis) -> list[Block]:
    """The margin chosen on validation per tuned run, and the coverage-accuracy curve."""
    from allgui.core.validation.referral import Referral

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
              "accuracy on the cells not flagged", ["Run", "Seed", "Margin", "Validation kept",
                                                    "Test kept", "Test accuracy on kept"],
              [[r.index, r.seed, format_value(x.margin, 2), f"{x.val_coverage:.0%}",
                f"{x.test_coverage:.0%}", format_value(x.test_accuracy)] for r, x in runs],
              note="The margin is the top probability minus the second, after calibration; "
              "cells below it are flagged for a person. The model file stores it."),
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
