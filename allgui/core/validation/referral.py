"""Referral of uncertain cells: the margin (top probability minus the
second) below which a cell is flagged for a person to look at, chosen on
the validation part for a target accuracy on the cells that are not
flagged, and the coverage-accuracy curve on the test set.

The margin is read from the calibrated probabilities (the classifier applies
the temperature before it computes the margin), so it is chosen on those.

A target can only be as sure as the images behind it: a margin chosen for 99%
on 52 validation images is backed by no more than 52 answers. Each margin
records how many validation images it kept and the Wilson lower bound of
their accuracy, and says when that bound falls short of the target (with
the number of kept images, all right, that would be needed).
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


def images_needed(target: float, confidence: float = 0.95) -> int:
    """Kept images, every one right, whose Wilson lower bound reaches ``target``."""
    from allgui.core.validation.intervals import z_value

    z2 = z_value(confidence) ** 2
    return int(np.ceil(z2 * target / (1 - target))) if target < 1 else 0


@dataclass(frozen=True)
class Referral:
    target: float  # accuracy wanted on the cells not flagged
    margin: float  # chosen on validation; cells below it are flagged
    reached_on_validation: bool  # False: even the largest margin fell short
    val_coverage: float
    test_coverage: float
    test_accuracy: float | None  # on the test cells kept
    curve: tuple[tuple[float, float, float | None], ...]  # on the test set
    # what backs the margin (None / 0 in records written before they were kept)
    val_images: int = 0  # validation images the margin was chosen on
    val_kept: int = 0  # of them, not flagged at the margin
    val_right: int = 0  # of those, answered right
    val_lower: float | None = None  # 95% Wilson lower bound of their accuracy

    @property
    def supported(self) -> bool | None:
        """Does the kept validation images' lower bound reach the target? None: not recorded."""
        if self.val_lower is None:
            return None
        return self.val_lower >= self.target

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "margin": self.margin,
                "reached_on_validation": self.reached_on_validation,
                "val_coverage": self.val_coverage, "test_coverage": self.test_coverage,
                "test_accuracy": self.test_accuracy, "curve": [list(c) for c in self.curve],
                "val_images": self.val_images, "val_kept": self.val_kept,
                "val_right": self.val_right, "val_lower": self.val_lower}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Referral:
        return cls(float(d["target"]), float(d["margin"]), bool(d["reached_on_validation"]),
                   float(d["val_coverage"]), float(d["test_coverage"]),
                   None if d.get("test_accuracy") is None else float(d["test_accuracy"]),
                   tuple((float(c[0]), float(c[1]), None if c[2] is None else float(c[2]))
                         for c in d.get("curve", ())),
                   int(d.get("val_images", 0)), int(d.get("val_kept", 0)),
                   int(d.get("val_right", 0)),
                   None if d.get("val_lower") is None else float(d["val_lower"]))

    def backing(self, flag: str = "WARNING: ") -> str:
        """How many validation images stand behind the margin, and whether they can
        (``flag`` opens the warning; '' where the line is already a warning)."""
        if self.supported is None:
            return ""
        text = (f"chosen on {self.val_images} validation images ({self.val_kept} kept, "
                f"{self.val_right} right; 95% lower bound {self.val_lower:.3f})")
        if not self.supported:
            text += (f". {flag}too few validation images to support {self.target:.0%}: "
                     f"about {images_needed(self.target)} kept images, all right, would be "
                     "needed; expect lower accuracy on new cells")
        return text

    def line(self) -> str:
        kept = "-" if self.test_accuracy is None else f"{self.test_accuracy:.3f}"
        short = "" if self.reached_on_validation else " (target not reached on validation)"
        backing = self.backing()
        return (f"margin {self.margin:.2f} for {self.target:.0%} accuracy on the rest{short}"
                + (f", {backing}" if backing else "")
                + f": test cells kept {self.test_coverage:.0%}, accuracy on them {kept}")


def choose_referral(val_labels: np.ndarray, val_proba: np.ndarray, test_labels: np.ndarray,
                    test_proba: np.ndarray, target: float = DEFAULT_TARGET) -> Referral:
    """The smallest margin whose kept validation cells reach ``target``
    accuracy (the largest margin tried when none does)."""
    val = coverage_accuracy(val_labels, val_proba)
    chosen = next(((t, c) for t, c, a in val if a is not None and a >= target), None)
    reached = chosen is not None
    if chosen is None:
        chosen = (val[-1][0], val[-1][1])
    from allgui.core.validation.intervals import wilson

    test = coverage_accuracy(test_labels, test_proba)
    keep = margins_of(test_proba) >= chosen[0]
    right = np.asarray(test_proba).argmax(1) == np.asarray(test_labels)
    val_keep = margins_of(val_proba) >= chosen[0]
    val_right = int((np.asarray(val_proba).argmax(1) == np.asarray(val_labels))[val_keep].sum())
    lower = wilson(val_right, int(val_keep.sum()))[0]
    return Referral(target, chosen[0], reached, chosen[1], float(keep.mean()),
                    float(right[keep].mean()) if keep.any() else None, tuple(test),
                    int(len(val_labels)), int(val_keep.sum()), val_right,
                    0.0 if lower is None else float(lower))
