"""Per-run metrics against scikit-learn computed directly."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from allgui.core.errors import DatasetError
from allgui.core.validation.metrics import RunMetrics, compute_metrics

CLASSES = ("all", "hem")


def _imbalanced(seed: int = 0, n: int = 60):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)  # about 70% 'all' (id 0), as C-NMC
    p_hem = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
    proba = np.stack([1 - p_hem, p_hem], axis=1)
    return y, proba


def test_figures_match_sklearn():
    y, proba = _imbalanced()
    pred = proba.argmax(1)
    m = compute_metrics(y, proba, CLASSES, positive_class="all")
    assert m.accuracy == pytest.approx(accuracy_score(y, pred))
    assert m.balanced_accuracy == pytest.approx(balanced_accuracy_score(y, pred))
    assert m.weighted_f1 == pytest.approx(f1_score(y, pred, average="weighted"))
    assert m.f1_macro == pytest.approx(f1_score(y, pred, average="macro"))
    assert m.precision_weighted == pytest.approx(precision_score(y, pred, average="weighted"))
    assert m.of_class("all").recall == pytest.approx(recall_score(y, pred, pos_label=0))
    assert m.of_class("hem").precision == pytest.approx(precision_score(y, pred, pos_label=1))
    # specificity of 'all' is the recall of 'hem' in a two-class problem
    assert m.of_class("all").specificity == pytest.approx(recall_score(y, pred, pos_label=1))
    assert m.auc_roc == pytest.approx(roc_auc_score(y == 0, proba[:, 0]))
    assert m.of_class("all").support == int((y == 0).sum())
    cm = np.asarray(m.confusion)
    assert cm.sum() == len(y) and cm.trace() == int((pred == y).sum())


def test_weighted_is_not_micro_on_imbalanced_data():
    y, proba = _imbalanced()
    m = compute_metrics(y, proba, CLASSES, positive_class="all")
    assert m.f1_micro == pytest.approx(m.accuracy)  # the paper's Table 3 signature
    assert m.weighted_f1 != pytest.approx(m.f1_micro)
    labels = {key: label for key, label, _ in m.measures()}
    assert "weighted" in labels["weighted_f1"]
    assert "macro" in labels["f1_macro"]
    assert "'all' as positive" in labels["auc_roc"]


def test_per_patient_accuracy_counts_each_patient_once():
    y = np.array([0, 0, 0, 0, 1, 1])
    proba = np.array([[0.9, 0.1]] * 3 + [[0.2, 0.8]] + [[0.1, 0.9]] * 2)
    patients = ["p1", "p1", "p1", "p1", "h1", "h1"]
    m = compute_metrics(y, proba, CLASSES, positive_class="all", patients=patients)
    by = {p.patient: p for p in m.patients}
    assert by["p1"].accuracy == pytest.approx(0.75) and by["h1"].accuracy == 1.0
    assert m.patient_accuracy == pytest.approx((0.75 + 1.0) / 2)
    assert m.accuracy == pytest.approx(5 / 6)
    assert compute_metrics(y, proba, CLASSES).patient_accuracy is None


def test_three_classes_and_round_trip():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], 10)
    proba = rng.dirichlet([1, 1, 1], size=30)
    proba[np.arange(30), y] += 0.5
    proba /= proba.sum(1, keepdims=True)
    m = compute_metrics(y, proba, ("a", "b", "c"))
    assert m.auc_roc == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"))
    assert RunMetrics.from_dict(m.to_dict()) == m


def test_test_set_without_a_class_is_a_clear_error():
    proba = np.array([[0.9, 0.1], [0.8, 0.2]])
    with pytest.raises(DatasetError, match="no images of class 'hem'"):
        compute_metrics([0, 0], proba, CLASSES)
