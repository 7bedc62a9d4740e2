"""A batch's tuned runs' figures recomputed from what they recorded: test
accuracy and AUC from each run's predictions.csv, validation accuracy from
batch.json's curve at the epoch each run kept. What the report's study
comparison and the leak measurement both read, so they cannot disagree."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from allgui.core.validation.batch import Batch
from allgui.core.validation.predictions import read_predictions
from allgui.core.validation.run_record import TUNED
from allgui.core.validation.stats import Summary, summarize


@dataclass(frozen=True)
class RunFigures:
    test_accuracy: Summary  # from predictions.csv
    test_auc: Summary  # from predictions.csv, the batch's positive class (two classes only)
    val_accuracy: Summary  # batch.json's curve, at the epoch each run kept
    n_val: int | None  # validation images, for an interval on one validation accuracy


def run_figures(batch: Batch) -> RunFigures:
    from sklearn.metrics import roc_auc_score

    accs, aucs, vals = [], [], []
    pos = batch.classes.index(batch.positive_class)
    for r in batch.runs_of(TUNED):
        curve = r.curves.get("val_accuracy") or []
        if 1 <= r.best_epoch <= len(curve):
            vals.append(curve[r.best_epoch - 1])
        if not r.predictions_path.is_file():
            continue
        p = read_predictions(r.predictions_path, batch.classes)
        accs.append(float(np.mean(p.correct)))
        y = p.labels == pos
        if len(batch.classes) == 2 and 0 < y.sum() < len(y):
            aucs.append(float(roc_auc_score(y, p.probabilities[:, pos])))
    part = batch.dataset.parts.get("val")
    n_val = sum(part.images.values()) if part is not None and part.images else None
    return RunFigures(summarize(accs), summarize(aucs), summarize(vals), n_val)


def wilson(p: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson's 95% interval for a proportion ``p`` of ``n`` (stays within 0..1)."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)
