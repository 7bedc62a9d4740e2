"""Calibration: does a probability of 0.9 mean right 9 times in 10?

- :func:`fit_temperature`: temperature scaling (Guo et al., 2017), one
  number T > 0 fitted on the validation part by minimising the negative
  log-likelihood of softmax(log p / T). Dividing every logit by T keeps the
  ranking of classes, so the predicted class (and accuracy, F1, AUC) stays
  the same; only how sure the probabilities sound changes.
- :func:`expected_calibration_error` and :func:`reliability`: the top
  probability binned in equal-width bins; ECE is the image-weighted mean gap
  between confidence and accuracy over the bins.

Numpy only. The classifier applies T itself (:mod:`allgui.core.infer.classifier`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

BINS = 15
# T is searched on a log scale in this range: beyond it the model is useless
# or the validation part too small to say anything.
T_RANGE = (0.05, 20.0)


def log_probabilities(proba: np.ndarray) -> np.ndarray:
    """log p, clipped so that a probability rounded to 0 stays finite."""
    return np.log(np.clip(np.asarray(proba, dtype=np.float64), 1e-12, 1.0))


def scaled(proba: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T): the probabilities after temperature scaling."""
    z = log_probabilities(proba) / float(temperature)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _nll(proba: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    p = scaled(proba, temperature)[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(p, 1e-12, 1.0))))


def fit_temperature(proba: np.ndarray, labels: np.ndarray) -> float:
    """The T minimising the validation NLL (a grid on log T, then golden-section
    refinement); 1.0 when there is nothing to fit on."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) < 2 or len(np.unique(labels)) < 2:
        return 1.0
    lo, hi = np.log(T_RANGE[0]), np.log(T_RANGE[1])
    grid = np.linspace(lo, hi, 41)
    losses = [_nll(proba, labels, float(np.exp(g))) for g in grid]
    k = int(np.argmin(losses))
    a, b = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(40):  # golden section on the bracket around the grid's best
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if _nll(proba, labels, float(np.exp(c))) < _nll(proba, labels, float(np.exp(d))):
            b = d
        else:
            a = c
    return float(np.exp((a + b) / 2))


@dataclass(frozen=True)
class Reliability:
    """The reliability diagram's bins: per bin, its images, mean confidence and accuracy."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    confidence: tuple[float | None, ...]
    accuracy: tuple[float | None, ...]
    ece: float

    def to_dict(self) -> dict[str, Any]:
        return {"edges": list(self.edges), "counts": list(self.counts),
                "confidence": list(self.confidence), "accuracy": list(self.accuracy),
                "ece": self.ece}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reliability:
        return cls(tuple(d["edges"]), tuple(int(c) for c in d["counts"]),
                   tuple(d["confidence"]), tuple(d["accuracy"]), float(d["ece"]))


def reliability(labels: np.ndarray, proba: np.ndarray, bins: int = BINS) -> Reliability:
    labels = np.asarray(labels, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    conf = proba.max(axis=1)
    right = (proba.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    counts: list[int] = []
    confs: list[float | None] = []
    accs: list[float | None] = []
    gap = 0.0
    for b in range(bins):
        m = which == b
        n = int(m.sum())
        counts.append(n)
        if n:
            confs.append(float(conf[m].mean()))
            accs.append(float(right[m].mean()))
            gap += n * abs(float(conf[m].mean()) - float(right[m].mean()))
        else:
            confs.append(None)
            accs.append(None)
    ece = gap / len(labels) if len(labels) else float("nan")
    return Reliability(tuple(float(e) for e in edges), tuple(counts), tuple(confs),
                       tuple(accs), float(ece))


def expected_calibration_error(labels: np.ndarray, proba: np.ndarray, bins: int = BINS) -> float:
    return reliability(labels, proba, bins).ece


@dataclass(frozen=True)
class Calibration:
    """One run's calibration: T (fitted on validation) and the test set before and after."""

    temperature: float
    before: Reliability
    after: Reliability
    val_images: int

    def to_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "val_images": self.val_images,
                "before": self.before.to_dict(), "after": self.after.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        return cls(float(d["temperature"]), Reliability.from_dict(d["before"]),
                   Reliability.from_dict(d["after"]), int(d.get("val_images", 0)))

    def line(self) -> str:
        return (f"temperature {self.temperature:.3f} (fitted on {self.val_images} validation "
                f"images): ECE on the test set {self.before.ece:.4f} before, "
                f"{self.after.ece:.4f} after")


def calibrate(val_labels: np.ndarray, val_proba: np.ndarray, test_labels: np.ndarray,
              test_proba: np.ndarray) -> Calibration:
    """T fitted on validation, and the test set's reliability before and after."""
    t = fit_temperature(val_proba, val_labels)
    return Calibration(t, reliability(test_labels, test_proba),
                       reliability(test_labels, scaled(test_proba, t)), len(val_labels))
