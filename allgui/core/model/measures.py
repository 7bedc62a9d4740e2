"""The measures registry: every figure allgui reports of a model, once, with
its name (the one key files, events and tables use), its label, its
direction, how it is computed, whether a search may maximise it, and where it
is shown. Adding a measure as an objective or a headline is one entry here:
the search's objective and the test-set figures (and so every table, card
and report that lists them) both compute it through :attr:`Measure.compute`.

Files written before a measure was renamed are read through :func:`canonical`
(``f1_weighted`` is now ``weighted_f1``).

Standard library only when imported (a model card reads the names): numpy
and scikit-learn are imported when a measure is computed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

# Where a measure is shown (the places that list headline figures):
CARD = "card"  # a model file's summary (Classify tab, allgui classify)
RUN_LINE = "run line"  # the line after each validation run (terminal, log panel)
EVIDENCE = "evidence"  # the report's baselines section
EXTERNAL = "external"  # external validation, each with a bootstrap interval
SAMPLERS = "samplers"  # each sampler's best trial on the test set


@dataclass(frozen=True)
class Predictions:
    """What a measure is computed from: true class ids, the predicted ones
    (after the decision rule), the class probabilities (N, C) and the
    positive class's id (what a two-class AUC ranks)."""

    labels: Any  # numpy arrays: (N,), (N,), (N, C)
    predicted: Any
    proba: Any
    positive: int


def _accuracy(p: Predictions) -> float:
    from sklearn.metrics import accuracy_score
    return float(accuracy_score(p.labels, p.predicted))


def _balanced_accuracy(p: Predictions) -> float:
    from sklearn.metrics import balanced_accuracy_score
    return float(balanced_accuracy_score(p.labels, p.predicted))


def _weighted_f1(p: Predictions) -> float:
    from sklearn.metrics import f1_score
    return float(f1_score(p.labels, p.predicted, labels=list(range(p.proba.shape[1])),
                          average="weighted", zero_division=0))


def _auc_roc(p: Predictions) -> float:
    import numpy as np
    from sklearn.metrics import roc_auc_score
    if len(np.unique(p.labels)) < 2:
        return float("nan")  # undefined with one class present
    k = p.proba.shape[1]
    if k == 2:
        return float(roc_auc_score(p.labels == p.positive, p.proba[:, p.positive]))
    # sklearn's multi-class AUC insists on rows summing to one; softmax
    # outputs do up to rounding
    sums = p.proba.sum(axis=1, keepdims=True)
    rows = p.proba / np.where(sums == 0, 1.0, sums)
    return float(roc_auc_score(p.labels, rows, multi_class="ovr", average="macro",
                               labels=list(range(k))))


@dataclass(frozen=True)
class Measure:
    name: str
    label: str  # in tables, naming its average
    short: str  # in a sentence
    computed: str  # how, in words
    compute: Callable[[Predictions], float]  # how, in code: the one computation
    higher_is_better: bool = True
    objective: str = ""  # what a search says it maximises; "" when it cannot
    shown: tuple[str, ...] = ()
    old_names: tuple[str, ...] = ()  # keys earlier files used


MEASURES: tuple[Measure, ...] = (
    Measure("accuracy", "Accuracy (all images)", "accuracy",
            "the share of images whose most probable class is right", _accuracy,
            objective="validation accuracy", shown=(CARD, EXTERNAL)),
    Measure("balanced_accuracy", "Balanced accuracy (macro recall)", "balanced accuracy",
            "the mean recall over classes (not fooled by a majority class)", _balanced_accuracy,
            objective="validation balanced accuracy",
            shown=(CARD, RUN_LINE, EVIDENCE, EXTERNAL, SAMPLERS)),
    Measure("weighted_f1", "F1, weighted by class support (C-NMC metric)", "weighted F1",
            "F1 averaged with each class weighted by its share of the images: the C-NMC "
            "2019 challenge's metric", _weighted_f1, objective="validation weighted F1",
            shown=(CARD, RUN_LINE, EVIDENCE, EXTERNAL, SAMPLERS), old_names=("f1_weighted",)),
    Measure("auc_roc", "AUC-ROC", "AUC",
            "area under the ROC curve: of the positive class's probability with two "
            "classes, macro one-vs-rest with more", _auc_roc, objective="validation AUC",
            shown=(CARD, RUN_LINE, EVIDENCE, EXTERNAL), old_names=("auc",)),
)
BY_NAME: Mapping[str, Measure] = {m.name: m for m in MEASURES}
_RENAMED = {old: m.name for m in MEASURES for old in m.old_names}

# What a search may maximise, by the measure's name.
OBJECTIVES: tuple[str, ...] = tuple(m.name for m in MEASURES if m.objective)


def value(name: str, labels: Any, predicted: Any, proba: Any, positive: int = 1) -> float:
    """The measure ``name`` (or an earlier name of it) of these predictions."""
    import numpy as np
    return BY_NAME[name_of(name)].compute(Predictions(
        np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64),
        np.asarray(proba, dtype=np.float64), positive))


def shown_in(place: str) -> tuple[str, ...]:
    """The measures ``place`` shows, in the registry's order."""
    return tuple(m.name for m in MEASURES if place in m.shown)


def run_line(values: Mapping[str, float]) -> str:
    """The figures a finished run's line shows: 'balanced accuracy 0.9100, ...'."""
    return ", ".join(f"{BY_NAME[name].short} {float(values.get(name, float('nan'))):.4f}"
                     for name in shown_in(RUN_LINE))


def name_of(key: str) -> str:
    """The measure's name today for ``key`` (an earlier file's name, or itself)."""
    return _RENAMED.get(key, key)


V = TypeVar("V")


def canonical(values: Mapping[str, V]) -> dict[str, V]:
    """``values`` keyed by today's names (a file written before a rename)."""
    return {name_of(k): v for k, v in values.items()}


def short(name: str) -> str:
    """The words for ``name`` in a sentence (the name itself for an unknown one)."""
    m = BY_NAME.get(name_of(name))
    return m.short if m else name


def label(name: str) -> str:
    m = BY_NAME.get(name_of(name))
    return m.label if m else name


def read(values: Mapping[str, Any], name: str) -> Any:
    """``values[name]``, or the value under one of its earlier names."""
    if name in values:
        return values[name]
    for old in BY_NAME[name].old_names:
        if old in values:
            return values[old]
    raise KeyError(name)
