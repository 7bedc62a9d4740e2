"""What a search maximises, measured on the validation part each epoch: one
of the measures registry's objectives (:mod:`allgui.core.model.measures`,
which says what each is), computed here on validation probabilities.
"""

from __future__ import annotations

import numpy as np

from allgui.core.model.measures import BY_NAME, OBJECTIVES, name_of, value

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
    """The objective ``name`` of class probabilities ``proba`` (N, C) against
    ``labels``, the most probable class predicted (the registry computes it)."""
    if name_of(name) not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}")
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) == 0:
        return float("nan")
    proba = np.asarray(proba)
    return value(name, labels, proba.argmax(1), proba, positive=1 if n_classes == 2 else 0)
