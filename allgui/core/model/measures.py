"""The measures registry: every figure allgui reports of a model, once, with
its name (the one key files, events and tables use), its label, its
direction, how it is computed, whether a search may maximise it, and where it
is shown. Adding a measure as an objective or a headline is one entry here
(and its computation where the figures are computed).

Files written before a measure was renamed are read through :func:`canonical`
(``f1_weighted`` is now ``weighted_f1``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

# Where a measure is shown (the places that list headline figures):
CARD = "card"  # a model file's summary (Classify tab, allgui classify)
RUN_LINE = "run line"  # the line after each validation run (terminal, log panel)
EVIDENCE = "evidence"  # the report's baselines section
EXTERNAL = "external"  # external validation, each with a bootstrap interval
SAMPLERS = "samplers"  # each sampler's best trial on the test set


@dataclass(frozen=True)
class Measure:
    name: str
    label: str  # in tables, naming its average
    short: str  # in a sentence
    computed: str  # how, in words (the code that computes it names this name)
    higher_is_better: bool = True
    objective: str = ""  # what a search says it maximises; "" when it cannot
    shown: tuple[str, ...] = ()
    old_names: tuple[str, ...] = ()  # keys earlier files used


MEASURES: tuple[Measure, ...] = (
    Measure("accuracy", "Accuracy (all images)", "accuracy",
            "the share of images whose most probable class is right",
            objective="validation accuracy", shown=(CARD, EXTERNAL)),
    Measure("balanced_accuracy", "Balanced accuracy (macro recall)", "balanced accuracy",
            "the mean recall over classes (not fooled by a majority class)",
            objective="validation balanced accuracy",
            shown=(CARD, RUN_LINE, EVIDENCE, EXTERNAL, SAMPLERS)),
    Measure("weighted_f1", "F1, weighted by class support (C-NMC metric)", "weighted F1",
            "F1 averaged with each class weighted by its share of the images: the C-NMC "
            "2019 challenge's metric", objective="validation weighted F1",
            shown=(CARD, RUN_LINE, EVIDENCE, EXTERNAL, SAMPLERS), old_names=("f1_weighted",)),
    Measure("auc_roc", "AUC-ROC", "AUC",
            "area under the ROC curve: of the positive class's probability with two "
            "classes, macro one-vs-rest with more", objective="validation AUC",
            shown=(CARD, RUN_LINE, EVIDENCE, EXTERNAL), old_names=("auc",)),
)
BY_NAME: Mapping[str, Measure] = {m.name: m for m in MEASURES}
_RENAMED = {old: m.name for m in MEASURES for old in m.old_names}

# What a search may maximise, by the measure's name.
OBJECTIVES: tuple[str, ...] = tuple(m.name for m in MEASURES if m.objective)


def shown_in(place: str) -> tuple[str, ...]:
    """The measures ``place`` shows, in the registry's order."""
    return tuple(m.name for m in MEASURES if place in m.shown)


def name_of(key: str) -> str:
    """The measure's name today for ``key`` (an earlier file's name, or itself)."""
    return _RENAMED.get(key, key)


V = TypeVar("V")


def canonical(values: Mapping[str, V]) -> dict[str, V]:
    """``values`` keyed by today's names (a file written before a rename)."""
    return {name_of(k): v for k, v in values.items()}


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
