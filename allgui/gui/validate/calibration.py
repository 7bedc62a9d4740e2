"""What the Validate tab says about calibration, referral and the linear probe
(plain text from the batch; the report holds the diagrams)."""

from __future__ import annotations


def evidence_text(batch) -> str:
    from allgui.core.validation.batch import PROBE, TUNED

    lines = []
    for run in batch.runs_of(TUNED):
        cal = run.calibration or {}
        if not cal:
            continue
        line = (f"Run {run.index}: calibrated with temperature {cal['temperature']:.2f}; "
                f"ECE on the test set {cal['before']['ece']:.3f} before, "
                f"{cal['after']['ece']:.3f} after")
        ref = cal.get("referral")
        if ref:
            line += (f"; cells flagged uncertain below margin {ref['margin']:.2f} "
                     f"(for {ref['target']:.0%} on the rest: {ref['test_coverage']:.0%} of test "
                     "cells kept)")
        lines.append(line + ".")
    probe = batch.runs_of(PROBE)
    if probe and probe[0].metrics is not None:
        m = probe[0].metrics.headline()
        lines.append(f"Linear probe (C = {batch.probe.params.get('C')}): balanced accuracy "
                     f"{m.get('balanced_accuracy', float('nan')):.3f}, weighted F1 "
                     f"{m.get('weighted_f1', float('nan')):.3f} on the same test set.")
    lines.append(batch.model.views_note())
    return "\n".join(lines)
