"""What the Validate tab says about calibration, referral and the linear probe
(plain text from the batch; the report holds the diagrams)."""

from __future__ import annotations


def evidence_text(batch) -> str:
    from allgui.core.report.evidence import calibration_lines
    from allgui.core.validation.batch import PROBE

    lines = calibration_lines(batch)
    probe = batch.runs_of(PROBE)
    if probe and probe[0].metrics is not None:
        m = probe[0].metrics.headline()
        lines.append(f"Linear probe (C = {batch.probe.params.get('C')}): balanced accuracy "
                     f"{m.get('balanced_accuracy', float('nan')):.3f}, weighted F1 "
                     f"{m.get('weighted_f1', float('nan')):.3f} on the same test set.")
    lines.append(batch.model.views_note())
    return "\n".join(lines)
