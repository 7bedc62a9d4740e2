"""What a search maximises, measured on the validation part each epoch: one
of the measures registry's objectives (:mod:`allgui.core.model.measures`,
which says what each is), computed here on validation probabilities.
"""

from __future__ import annotations

import numpy as np

from allgui.core.model.measures import BY_NAME, OBJECTIVES, name_of

MODES = ("cached", "online")  # cached backbone features, or images through the backbone
LABELS = {name: BY_NAME[name].objective for name in OBJECTIVES}


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

    name = name_of(name)
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
    if name == "auc_roc":
        if len(np.unique(labels)) < 2:
            return float("nan")
        if n_classes == 2:
            return float(roc_auc_score(labels, proba[:, 1]))
        return float(roc_auc_score(labels, proba, multi_class="ovr", average="macro",
                                   labels=list(range(n_classes))))
    raise ValueError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}")
