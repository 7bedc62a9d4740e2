"""One model's output on every test image, and ``predictions.csv``, the file
that keeps it beside each run (one row per test image, cells escaped)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from allgui.core.errors import ProjectError
from allgui.core.files.atomic import atomic_write_text
from allgui.core.files.text import csv_row, csv_value
from allgui.core.model.decision import ARGMAX, DecisionRule


@dataclass(frozen=True)
class Predictions:
    """One model's output on every test image, in the test set's order."""

    paths: tuple[str, ...]
    patients: tuple[str, ...]
    labels: np.ndarray  # true class ids
    probabilities: np.ndarray  # images x classes
    classes: tuple[str, ...]
    rule: DecisionRule = ARGMAX  # how probabilities became answers (a model's threshold)

    @property
    def predicted(self) -> np.ndarray:
        return self.rule.predict(self.probabilities)

    @property
    def correct(self) -> np.ndarray:
        return self.predicted == self.labels


def write_predictions(path: Path, preds: Predictions) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    # cells escaped (no spreadsheet formulas from file or class names); read back by csv_value
    w.writerow(csv_row(["path", "patient", "true", "predicted"]
                       + [f"p_{c}" for c in preds.classes]))
    for i, p in enumerate(preds.paths):
        w.writerow(csv_row(
            [p, preds.patients[i], preds.classes[int(preds.labels[i])],
             preds.classes[int(preds.predicted[i])]]
            + [f"{v:.6f}" for v in preds.probabilities[i]]
        ))
    atomic_write_text(path, buf.getvalue())


def read_predictions(path: Path, classes: Sequence[str]) -> Predictions:
    classes = tuple(classes)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [{csv_value(k): csv_value(v) for k, v in r.items()} for r in csv.DictReader(fh)]
        labels = np.asarray([classes.index(r["true"]) for r in rows], dtype=np.int64)
        proba = np.asarray([[float(r[f"p_{c}"]) for c in classes] for r in rows], dtype=float)
    except (OSError, KeyError, ValueError) as exc:
        raise ProjectError(f"The predictions file {path} cannot be read.", str(exc)) from exc
    return Predictions(
        paths=tuple(r["path"] for r in rows),
        patients=tuple(r["patient"] for r in rows),
        labels=labels,
        probabilities=proba.reshape(len(rows), len(classes)),
        classes=classes,
    )
