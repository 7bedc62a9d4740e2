"""Referral of uncertain cells: the margin (top probability minus the
second) below which a cell is flagged for a person to look at, chosen on
the validation part for a target accuracy on the cells that are not
flagged, and the coverage-accuracy curve on the test set.

The margin is read from the calibrated probabilities (the classifier applies
the temperature before it computes the margin), so it is chosen on those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_TARGET = 0.99
MARGINS = tuple(float(m) for m in np.round(np.linspace(0.0, 0.95, 20), 3))


def margins_of(proba: np.ndarray) -> np.ndarray:
    top2 = np.sort(np.asarray(proba, dtype=np.float64), axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def coverage_accuracy(labels: np.ndarray, proba: np.ndarray,
                      margins: tuple[float, ...] = MARGINS) -> list[tuple[float, float, float | None]]:
    """(margin, share of cells kept, accuracy on them) for each margin."""
    m = margins_of(proba)
    right = np.asarray(proba).argmax(1) == np.asarray(labels)
    out = []
    for t in margins:
        keep = m >= t
        out.append((t, float(keep.mean()), float(right[keep].mean()) if keep.any() else None))
    return out


@dataclass(frozen=True)
class Referral:
    target: float  # accuracy wanted on the cells not flagged
    margin: float  # chosen on validation; cells below it are flagged
    reached_on_validation: bool  # False: even the largest margin fell short
    val_coverage: float
    test_coverage: float
    test_accuracy: float | None  # on the test cells kept
    curve: tuple[tuple[float, float, float | None], ...]  # on the test set

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "margin": self.margin,
                "reached_on_validation": self.reached_on_validation,
                "val_coverage": self.val_coverage, "test_coverage": self.test_coverage,
                "test_accuracy": self.test_accuracy, "curve": [list(c) for c in self.curve]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Referral:
        return cls(float(d["target"]), float(d["margin"]), bool(d["reached_on_validation"]),
                   float(d["val_coverage"]), float(d["test_coverage"]),
                   None if d.get("test_accuracy") is None else float(d["test_accuracy"]),
                   tuple((float(c[0]), float(c[1]), None if c[2] is None else float(c[2]))
                         for c in d.get("curve", ())))

    def line(self) -> str:
        kept = "-" if self.test_accuracy is None else f"{self.test_accuracy:.3f}"
        short = "" if self.reached_on_validation else " (target not reached on validation)"
        return (f"margin {self.margin:.2f} for {self.target:.0%} accuracy on the rest{short}: "
                f"test cells kept {self.test_coverage:.0%}, accuracy on them {kept}")


def choose_referral(val_labels: np.ndarray, val_proba: np.ndarray, test_labels: np.ndarray,
                    test_proba: np.ndarray, target: float = DEFAULT_TARGET) -> Referral:
    """The smallest margin whose kept validation cells reach ``target``
    accuracy (the largest margin tried when none does)."""
    val = coverage_accuracy(val_labels, val_proba)
    chosen = next(((t, c) for t, c, a in val if a is not None and a >= target), None)
    reached = chosen is not None
    if chosen is None:
        chosen = (val[-1][0], val[-1][1])
    test = coverage_accuracy(test_labels, test_proba)
    keep = margins_of(test_proba) >= chosen[0]
    right = np.asarray(test_proba).argmax(1) == np.asarray(test_labels)
    return Referral(target, chosen[0], reached, chosen[1], float(keep.mean()),
                    float(right[keep].mean()) if keep.any() else None, tuple(test))
