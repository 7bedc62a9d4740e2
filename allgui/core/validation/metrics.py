"""Test-set figures for one trained model, each saying which average it is.

The seed paper's Table 3 shows precision = recall = F1 = accuracy: what
micro-averaging gives on a single-label problem, and no information beyond
accuracy. allgui reports per-class precision, recall (sensitivity), F1 and
specificity, their macro (unweighted mean over classes) and weighted (mean
weighted by each class's share of the test images; C-NMC 2019's challenge
metric for F1) averages, balanced accuracy (macro recall), AUC-ROC, the
confusion matrix and per-patient accuracy. Everything comes from
scikit-learn, so the figures agree with what a reviewer would compute.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from allgui.core.errors import AllguiError, DatasetError
from allgui.core.model import measures as registry
from allgui.core.model.decision import ARGMAX, DecisionRule
from allgui.core.model.measures import label, read


@dataclass(frozen=True)
class ClassFigures:
    """One class against all others."""

    name: str
    precision: float  # of the images called this class, the share that are
    recall: float  # sensitivity: of the images of this class, the share found
    f1: float
    specificity: float  # of the images of other classes, the share not called this one
    support: int  # test images of this class


@dataclass(frozen=True)
class PatientFigures:
    patient: str
    label: str  # the patient's most frequent true class
    images: int
    correct: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.images


@dataclass(frozen=True)
class RunMetrics:
    """Figures of one model on one test set.

    ``auc_roc`` is the area under the ROC curve of the positive class's
    probability (two classes), or the macro one-vs-rest AUC (more classes).
    ``patient_accuracy`` is the mean over patients of each patient's image
    accuracy (every patient counts once, however many cells they gave);
    ``None`` when the test images carry no patient IDs.
    """

    classes: tuple[str, ...]
    positive_class: str
    images: int
    accuracy: float
    balanced_accuracy: float
    per_class: tuple[ClassFigures, ...]
    precision_macro: float
    recall_macro: float
    f1_macro: float
    precision_weighted: float
    recall_weighted: float
    weighted_f1: float
    f1_micro: float  # equals accuracy here; kept only to show why Table 3 looked as it did
    auc_roc: float
    confusion: tuple[tuple[int, ...], ...]  # rows: true class, columns: predicted class
    patients: tuple[PatientFigures, ...] = ()
    patient_accuracy: float | None = None
    # The measures registry's figures this class has no field for, (name, value),
    # in the registry's order: a measure added there is computed and shown too.
    more: tuple[tuple[str, float], ...] = ()

    def of_class(self, name: str) -> ClassFigures:
        for c in self.per_class:
            if c.name == name:
                return c
        raise KeyError(name)

    # -- the flat list every table and event uses -------------------------
    def measures(self) -> tuple[tuple[str, str, float], ...]:
        """(key, label naming its average, value) for every headline figure,
        in the order tables show them."""
        rows: list[tuple[str, str, float]] = [
            ("accuracy", "Accuracy (all images)", self.accuracy),
            ("balanced_accuracy", "Balanced accuracy (macro recall)", self.balanced_accuracy),
            ("weighted_f1", label("weighted_f1"), self.weighted_f1),
            ("f1_macro", "F1, macro (unweighted class mean)", self.f1_macro),
            ("precision_weighted", "Precision, weighted", self.precision_weighted),
            ("recall_weighted", "Recall, weighted", self.recall_weighted),
            ("auc_roc", self._auc_label(), self.auc_roc),
        ]
        rows += [(name, label(name), value) for name, value in self.more]
        for c in self.per_class:
            rows += [
                (f"precision[{c.name}]", f"Precision, class '{c.name}'", c.precision),
                (f"recall[{c.name}]", f"Recall (sensitivity), class '{c.name}'", c.recall),
                (f"specificity[{c.name}]", f"Specificity, class '{c.name}'", c.specificity),
                (f"f1[{c.name}]", f"F1, class '{c.name}'", c.f1),
            ]
        if self.patient_accuracy is not None:
            rows.append(
                ("patient_accuracy", "Accuracy per patient (mean over patients)",
                 self.patient_accuracy)
            )
        return tuple(rows)

    def headline(self) -> dict[str, float]:
        return {key: value for key, _, value in self.measures()}

    def _auc_label(self) -> str:
        if len(self.classes) == 2:
            return f"AUC-ROC ('{self.positive_class}' as positive)"
        return "AUC-ROC (macro one-vs-rest)"

    # -- JSON ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "positive_class": self.positive_class,
            "images": self.images,
            "accuracy": self.accuracy,
            "balanced_accuracy": self.balanced_accuracy,
            "per_class": [vars(c).copy() for c in self.per_class],
            "precision_macro": self.precision_macro,
            "recall_macro": self.recall_macro,
            "f1_macro": self.f1_macro,
            "precision_weighted": self.precision_weighted,
            "recall_weighted": self.recall_weighted,
            "weighted_f1": self.weighted_f1,
            "f1_micro": self.f1_micro,
            "auc_roc": self.auc_roc,
            "confusion": [list(r) for r in self.confusion],
            "patients": [vars(p).copy() for p in self.patients],
            "patient_accuracy": self.patient_accuracy,
            "more": dict(self.more),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunMetrics:
        return cls(
            classes=tuple(data["classes"]),
            positive_class=data["positive_class"],
            images=int(data["images"]),
            accuracy=float(data["accuracy"]),
            balanced_accuracy=float(data["balanced_accuracy"]),
            per_class=tuple(ClassFigures(**c) for c in data["per_class"]),
            precision_macro=float(data["precision_macro"]),
            recall_macro=float(data["recall_macro"]),
            f1_macro=float(data["f1_macro"]),
            precision_weighted=float(data["precision_weighted"]),
            recall_weighted=float(data["recall_weighted"]),
            weighted_f1=float(read(data, "weighted_f1")),
            f1_micro=float(data["f1_micro"]),
            auc_roc=float(data["auc_roc"]),
            confusion=tuple(tuple(int(v) for v in r) for r in data["confusion"]),
            patients=tuple(PatientFigures(**p) for p in data.get("patients", ())),
            patient_accuracy=data.get("patient_accuracy"),
            more=tuple((registry.name_of(k), float(v)) for k, v in data.get("more", {}).items()),
        )


def compute_metrics(
    labels: Sequence[int] | np.ndarray,
    probabilities: np.ndarray,
    classes: Sequence[str],
    positive_class: str | None = None,
    patients: Sequence[str | None] | None = None,
    rule: DecisionRule = ARGMAX,
) -> RunMetrics:
    """Figures for predictions ``probabilities`` (images x classes) against
    true class ids ``labels``; the predicted class is the one ``rule`` gives
    (an exported model's threshold; the most probable class by default).

    Every class must occur in the test labels: without it recall, AUC and the
    weighted averages are undefined, and the result would mislead.
    """
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    classes = tuple(classes)
    y = np.asarray(labels, dtype=np.int64).ravel()
    proba = np.asarray(probabilities, dtype=np.float64)
    k = len(classes)
    if k < 2:
        raise AllguiError("Metrics need at least two classes.", f"classes: {classes}")
    if proba.ndim != 2 or proba.shape != (len(y), k):
        raise AllguiError(
            "The predictions do not match the test images.",
            f"labels: {y.shape}, probabilities: {proba.shape}, classes: {k}",
        )
    if len(y) == 0:
        raise DatasetError("The test set is empty, so there is nothing to measure.")
    if not np.all(np.isfinite(proba)):
        raise AllguiError(
            "The model produced invalid probabilities (not numbers) on the test set.",
            "NaN or infinite values in the predicted probabilities",
        )
    present = set(np.unique(y).tolist())
    missing = [classes[i] for i in range(k) if i not in present]
    if missing:
        raise DatasetError(
            "The test set has no images of class "
            + ", ".join(f"'{m}'" for m in missing)
            + ", so sensitivity, specificity and AUC cannot be measured. "
            "Choose a split whose test part holds every class.",
            f"test labels present: {sorted(present)}; classes: {classes}",
        )
    positive = positive_class if positive_class in classes else classes[-1 if k == 2 else 0]
    ids = list(range(k))
    pred = rule.predict(proba)

    prec, rec, f1, support = precision_recall_fscore_support(
        y, pred, labels=ids, average=None, zero_division=0
    )
    cm = confusion_matrix(y, pred, labels=ids)
    total = cm.sum()
    per_class = []
    for i, name in enumerate(classes):
        tp = cm[i, i]
        fp = cm[:, i].sum() - tp
        fn = cm[i, :].sum() - tp
        tn = total - tp - fp - fn
        spec = tn / (tn + fp) if (tn + fp) else 0.0
        per_class.append(
            ClassFigures(
                name=name,
                precision=float(prec[i]),
                recall=float(rec[i]),
                f1=float(f1[i]),
                specificity=float(spec),
                support=int(support[i]),
            )
        )

    def avg(kind: str) -> tuple[float, float, float]:
        p, r, f, _ = precision_recall_fscore_support(
            y, pred, labels=ids, average=kind, zero_division=0
        )
        return float(p), float(r), float(f)

    p_macro, r_macro, f_macro = avg("macro")
    p_w, r_w, _ = avg("weighted")
    # Every registered measure, computed where the registry says (the search's objective too)
    figure = {m.name: m.compute(registry.Predictions(y, np.asarray(pred, dtype=np.int64), proba,
                                                     classes.index(positive)))
              for m in registry.MEASURES}

    patient_rows: tuple[PatientFigures, ...] = ()
    patient_acc: float | None = None
    if patients is not None and len(patients) == len(y) and any(p for p in patients):
        groups: dict[str, list[int]] = {}
        for i, p in enumerate(patients):
            if p:
                groups.setdefault(str(p), []).append(i)
        rows = []
        for p in sorted(groups):
            idx = np.asarray(groups[p])
            counts = np.bincount(y[idx], minlength=k)
            rows.append(
                PatientFigures(
                    patient=p,
                    label=classes[int(counts.argmax())],
                    images=len(idx),
                    correct=int((pred[idx] == y[idx]).sum()),
                )
            )
        patient_rows = tuple(rows)
        patient_acc = float(np.mean([r.accuracy for r in rows]))

    return RunMetrics(
        classes=classes,
        positive_class=positive,
        images=int(len(y)),
        accuracy=figure["accuracy"],
        balanced_accuracy=figure["balanced_accuracy"],
        per_class=tuple(per_class),
        precision_macro=p_macro,
        recall_macro=r_macro,
        f1_macro=f_macro,
        precision_weighted=p_w,
        recall_weighted=r_w,
        weighted_f1=figure["weighted_f1"],
        f1_micro=float(f1_score(y, pred, labels=ids, average="micro", zero_division=0)),
        auc_roc=figure["auc_roc"],
        confusion=tuple(tuple(int(v) for v in row) for row in cm),
        patients=patient_rows,
        patient_accuracy=patient_acc,
        more=tuple((name, v) for name, v in figure.items() if name not in _FIELDS),
    )


def roc_points(
    labels: Sequence[int] | np.ndarray, probabilities: np.ndarray, positive: int
) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates of class id ``positive`` against the rest."""
    from sklearn.metrics import roc_curve

    y = (np.asarray(labels).ravel() == positive).astype(int)
    fpr, tpr, _ = roc_curve(y, np.asarray(probabilities)[:, positive])
    return fpr, tpr


_FIELDS = {f.name for f in dataclasses.fields(RunMetrics)}
