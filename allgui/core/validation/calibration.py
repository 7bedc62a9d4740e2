"""Calibration: does a probability of 0.9 mean right 9 times in 10?

- :func:`fit_temperature`: temperature scaling (Guo et al., 2017), one
  number T > 0 fitted on the validation part by minimising the negative
  log-likelihood of softmax(log p / T). Dividing every logit by T keeps the
  ranking of classes, so the predicted class (and accuracy, F1, AUC) stays
  the same; only how sure the probabilities sound changes.
- :func:`calibrate`: T is kept only when it lowers the log loss of
  validation images it was not fitted on (cross-validated over the
  validation part); otherwise the model stays as trained, and says so.
  Fitted on a few dozen images, T made test calibration worse in most runs.
- :func:`expected_calibration_error` and :func:`reliability`: the top
  probability binned in equal-width bins; ECE is the image-weighted mean gap
  between confidence and accuracy over the bins. Diagrams use equal-mass
  bins (every bin holds about as many images) and show each bin's count.

Numpy only. The classifier applies T itself (:mod:`allgui.core.infer.classifier`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

BINS = 15
ADAPTIVE_BINS = 10  # equal-mass bins of a reliability diagram
MIN_BIN_IMAGES = 10  # an equal-mass bin holds at least this many images (fewer bins if not)
CV_FOLDS = 5  # folds of the validation part that decide whether T is kept
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


def reliability(labels: np.ndarray, proba: np.ndarray, bins: int = BINS,
                adaptive: bool = False) -> Reliability:
    """Bins of the top probability: equal width, or with ``adaptive`` equal
    mass (edges at quantiles, so no bin of 0-4 images is drawn as a point)."""
    labels = np.asarray(labels, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    conf = proba.max(axis=1)
    right = (proba.argmax(axis=1) == labels).astype(np.float64)
    if adaptive and conf.size:
        bins = max(1, min(bins, conf.size // MIN_BIN_IMAGES))
        edges = np.quantile(conf, np.linspace(0.0, 1.0, bins + 1))
        edges[0], edges[-1] = min(edges[0], 0.0), 1.0
        edges = np.maximum.accumulate(edges)
    else:
        edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges[1:-1], conf, side="left"), 0, bins - 1)
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


def cross_validated_loss(proba: np.ndarray, labels: np.ndarray, folds: int = CV_FOLDS,
                         seed: int = 0) -> tuple[float, float]:
    """Mean log loss of held-out validation images with no temperature and
    with the temperature fitted on the other folds (stratified folds)."""
    labels = np.asarray(labels, dtype=np.int64)
    rng = np.random.default_rng(seed)
    fold = np.empty(labels.size, dtype=np.int64)
    for c in np.unique(labels):  # each class spread over the folds
        idx = np.flatnonzero(labels == c)
        fold[rng.permutation(idx)] = np.arange(idx.size) % folds
    raw = scaled_loss = 0.0
    for f in range(folds):
        held = fold == f
        if not held.any() or held.all():
            continue
        t = fit_temperature(proba[~held], labels[~held])
        raw += _nll(proba[held], labels[held], 1.0) * held.sum()
        scaled_loss += _nll(proba[held], labels[held], t) * held.sum()
    return float(raw / labels.size), float(scaled_loss / labels.size)


@dataclass(frozen=True)
class Calibration:
    """One run's calibration: the temperature fitted on validation, whether it
    was kept (it lowered the cross-validated log loss on validation), and the
    test set's reliability before and after (``after`` = with the temperature
    applied, which is ``before`` when it was left off)."""

    temperature: float  # the one applied: the fitted one when kept, else 1.0
    before: Reliability
    after: Reliability
    val_images: int
    fitted: float | None = None  # what the validation part gave; None: older records
    kept: bool = True
    cv_loss: tuple[float, float] | None = None  # held-out log loss without, with T
    # equal-mass bins for the diagrams (None in older records)
    before_adaptive: Reliability | None = None
    after_adaptive: Reliability | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "val_images": self.val_images,
                "before": self.before.to_dict(), "after": self.after.to_dict(),
                "fitted": self.fitted, "kept": self.kept,
                "cv_loss": list(self.cv_loss) if self.cv_loss else None,
                "before_adaptive": self.before_adaptive.to_dict() if self.before_adaptive
                else None,
                "after_adaptive": self.after_adaptive.to_dict() if self.after_adaptive
                else None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibration:
        def rel(key: str) -> Reliability | None:
            return Reliability.from_dict(d[key]) if d.get(key) else None

        cv = d.get("cv_loss")
        return cls(float(d["temperature"]), Reliability.from_dict(d["before"]),
                   Reliability.from_dict(d["after"]), int(d.get("val_images", 0)),
                   None if d.get("fitted") is None else float(d["fitted"]),
                   bool(d.get("kept", True)),
                   (float(cv[0]), float(cv[1])) if cv else None,
                   rel("before_adaptive"), rel("after_adaptive"))

    def decision(self) -> str:
        """Why the temperature is or is not applied, in words."""
        if self.cv_loss is None and not self.kept:
            return (f"temperature scaling left off: {self.val_images} validation images are "
                    "too few to check on held-out images that it helps")
        if self.cv_loss is None:  # a record from before the check
            return (f"temperature {self.temperature:.3f} fitted on {self.val_images} validation "
                    "images (not checked on held-out images)")
        before, after = self.cv_loss
        fitted = self.fitted if self.fitted is not None else self.temperature
        if self.kept:
            return (f"temperature {fitted:.3f} kept: it lowered the log loss of held-out "
                    f"validation images from {before:.4f} to {after:.4f} ({CV_FOLDS}-fold, "
                    f"{self.val_images} images)")
        return (f"temperature scaling left off: the temperature fitted on validation "
                f"({fitted:.3f}) did not lower the log loss of held-out validation images "
                f"({before:.4f} without, {after:.4f} with; {CV_FOLDS}-fold, "
                f"{self.val_images} images), so the probabilities are the model's own")

    def line(self) -> str:
        return (f"{self.decision()}: ECE on the test set {self.before.ece:.4f} before, "
                f"{self.after.ece:.4f} after")


def calibrate(val_labels: np.ndarray, val_proba: np.ndarray, test_labels: np.ndarray,
              test_proba: np.ndarray) -> Calibration:
    """T fitted on validation, kept only when it lowers the cross-validated
    log loss there, and the test set's reliability before and after."""
    val_labels = np.asarray(val_labels, dtype=np.int64)
    val_proba = np.asarray(val_proba, dtype=np.float64)
    fitted = fit_temperature(val_proba, val_labels)
    cv: tuple[float, float] | None = None
    kept = False
    if val_labels.size >= 2 * CV_FOLDS and len(np.unique(val_labels)) > 1:
        raw, with_t = cross_validated_loss(val_proba, val_labels)
        cv = (float(raw), float(with_t))
        kept = bool(with_t < raw)
    t = fitted if kept else 1.0
    after = scaled(test_proba, t) if kept else np.asarray(test_proba, dtype=np.float64)
    return Calibration(t, reliability(test_labels, test_proba), reliability(test_labels, after),
                       len(val_labels), fitted, kept, cv,
                       reliability(test_labels, test_proba, ADAPTIVE_BINS, adaptive=True),
                       reliability(test_labels, after, ADAPTIVE_BINS, adaptive=True))
