"""What a search maximises, measured on the validation part each epoch.

- ``accuracy``: the paper's choice;
- ``balanced_accuracy``: the mean recall over classes (not fooled by a
  majority class);
- ``weighted_f1``: F1 averaged with each class weighted by its share of the
  images, the C-NMC 2019 challenge metric;
- ``auc``: area under the ROC curve (two classes: of class 1's probability;
  more classes: macro one-vs-rest); NaN when validation has a single class.
"""

from __future__ import annotations

import numpy as np

MODES = ("cached", "online")  # cached backbone features, or images through the backbone
OBJECTIVES = ("accuracy", "balanced_accuracy", "weighted_f1", "auc")

LABELS = {
    "accuracy": "validation accuracy",
    "balanced_accuracy": "validation balanced accuracy",
    "weighted_f1": "validation weighted F1",
    "auc": "validation AUC",
}


def check_mode(mode: str, finetune_stages: int, error: type[Exception] | None = None) -> None:
    """Refuse the cached mode for a backbone that trains (its features change
    every step, so they cannot be computed once); ``error`` is the kind raised."""
    if mode == "cached" and finetune_stages:
        from allgui.core.errors import AllguiError

        raise (error or AllguiError)(
            "The cached mode needs a frozen backbone (finetune_stages = 0); "
            "use the online mode to fine-tune.")


def objective_value(name: str, labels: np.ndarray, proba: np.ndarray, n_classes: int) -> float:
    """The objective ``name`` of class probabilities ``proba`` (N, C) against ``labels``."""
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        f1_score,
        roc_auc_score,
    )

    labels = np.asarray(labels, dtype=np.int64)
    preds = np.asarray(proba).argmax(1)
    if len(labels) == 0:
        return float("nan")
    if name == "accuracy":
        return float(accuracy_score(labels, preds))
    if name == "balanced_accuracy":
        return float(balanced_accuracy_score(labels, preds))
    if name == "weighted_f1":
        return float(f1_score(labels, preds, average="weighted", zero_division=0))
    if name == "auc":
        if len(np.unique(labels)) < 2:
            return float("nan")
        if n_classes == 2:
            return float(roc_auc_score(labels, proba[:, 1]))
        return float(roc_auc_score(labels, proba, multi_class="ovr", average="macro",
                                   labels=list(range(n_classes))))
    raise ValueError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}")
