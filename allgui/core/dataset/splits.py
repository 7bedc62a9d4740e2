"""Splitting a dataset into train / validation / test, honestly (any split is
audited for leakage by :mod:`allgui.core.dataset.leakage`; ``audit`` is
imported from here too).

Methods (``SplitSettings.method``):

- ``patient`` (default): whole patients go to one part; parts are stratified
  by class, in images, as closely as whole patients allow.
- ``cnmc-folds``: the dataset's own patient-disjoint folds are the
  cross-validation groups; the fold ``seed % n_folds`` is validation.
- ``image``: the paper's protocol, images drawn individually. When file names
  carry patient IDs the same patient lands on both sides: the split is marked
  leaky and carries a warning.

The dataset's own labelled test set (C-NMC's preliminary test) is the test
set when present and ``use_official_test`` is on; otherwise a test part is
drawn from the training images with ``test_fraction``. Deterministic by seed.

Identical images (the same bytes under two names) always land in one part,
whatever the method: they are grouped like one patient (with the patient
groups they touch), a copy of an official test image is left out of the
training pool, and in ``cnmc-folds`` a copy follows the first fold that holds
it. Otherwise the audit would find them on both sides after the fact.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from allgui.core.dataset.duplicates import _copies_follow_first_fold, _group_keys, content_hashes
from allgui.core.dataset.leakage import audit  # noqa: F401 - the front ends ask for both here
from allgui.core.dataset.records import DatasetIndex
from allgui.core.errors import DatasetError
from allgui.core.project import SplitSettings

METHODS = ("patient", "cnmc-folds", "image")
PARTS = ("train", "val", "test")

LEAKY_WARNING = (
    "Image-level split on data with patient IDs: images of the same patient are on both "
    "sides, so validation and test figures will be optimistic. Kept only to reproduce the "
    "paper; choose the patient split for honest figures."
)


@dataclass(frozen=True)
class Split:
    """Which records (indices into ``DatasetIndex.records``) form each part."""

    method: str
    seed: int
    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]
    leaky: bool = False  # the method itself lets patients cross parts
    test_source: str = "none"  # 'official' (the dataset's own test set), 'held-out' or 'none'
    folds: tuple[tuple[int, ...], ...] = ()  # cross-validation groups ('cnmc-folds')
    fold_names: tuple[str, ...] = ()
    val_fraction: float = 0.0
    test_fraction: float = 0.0
    warnings: tuple[str, ...] = field(default=())

    def part(self, name: str) -> tuple[int, ...]:
        if name not in PARTS:
            raise ValueError(f"unknown part {name!r}")
        return getattr(self, name)

    def parts(self) -> dict[str, tuple[int, ...]]:
        """The parts that hold any image, in the order of PARTS."""
        return {p: self.part(p) for p in PARTS if self.part(p)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "seed": self.seed,
            "leaky": self.leaky,
            "test_source": self.test_source,
            "val_fraction": self.val_fraction,
            "test_fraction": self.test_fraction,
            "sizes": {p: len(self.part(p)) for p in PARTS},
            "fold_names": list(self.fold_names),
            "warnings": list(self.warnings),
        }


def _check_settings(settings: SplitSettings) -> None:
    if settings.method not in METHODS:
        raise DatasetError(
            f"Unknown split method {settings.method!r}; choose one of: {', '.join(METHODS)}."
        )
    if not 0.0 < settings.val_fraction < 1.0:
        raise DatasetError("The validation fraction must be between 0 and 1 (for example 0.2).")
    if not 0.0 <= settings.test_fraction < 1.0:
        raise DatasetError("The test fraction must be between 0 and 1 (for example 0.15).")
    if settings.val_fraction + settings.test_fraction >= 1.0:
        raise DatasetError("Validation and test fractions together must leave images to train on.")


def make_split(index: DatasetIndex, settings: SplitSettings,
               hashes: Mapping[str, str] | None = None,
               near: Mapping[str, str] | None = None) -> Split:
    """Split ``index`` as ``settings`` say. Raises DatasetError in plain words
    when the data cannot be split that way.

    ``hashes`` (path -> content hash, as the image cache or a summary gives
    them) say which images are identical; without them the files are hashed
    here (one read of each). ``near`` (path -> near-duplicate group, from
    :mod:`~allgui.core.dataset.near_duplicates`) keeps near-duplicates in one
    part too."""
    _check_settings(settings)
    records = index.records
    known = set(index.classes)
    pool = [i for i, r in enumerate(records) if r.subset == "train" and r.label in known]
    official = [i for i, r in enumerate(records) if r.subset == "test" and r.label in known]
    content = dict(hashes) if hashes is not None else content_hashes(index)
    in_test = {content[records[i].path] for i in official if records[i].path in content}
    copies = [i for i in pool if content.get(records[i].path) in in_test]
    dropped_copies = bool(copies) and bool(official) and settings.use_official_test
    if dropped_copies:
        pool = [i for i in pool if i not in set(copies)]
    if not pool:
        raise DatasetError("The dataset has no labelled training images to split.")
    pool_classes = sorted({records[i].label for i in pool})
    if len(pool_classes) < 2:
        raise DatasetError(
            f"Training needs at least two classes; the training images are all "
            f"'{pool_classes[0]}'."
        )
    use_official = bool(official) and settings.use_official_test
    warnings: list[str] = []
    if dropped_copies:
        warnings.append(f"{len(copies)} training image(s) are copies of images in the test set "
                        "and were left out of training and validation.")
    if official and not settings.use_official_test:
        warnings.append("The dataset's own test set is set aside; a test part is drawn instead.")
    test_fraction = 0.0 if use_official else settings.test_fraction
    rng = np.random.default_rng(settings.seed)
    has_patients = any(records[i].patient for i in pool)

    folds: tuple[tuple[int, ...], ...] = ()
    fold_names: tuple[str, ...] = ()
    if settings.method == "cnmc-folds":
        by_fold: dict[str, list[int]] = defaultdict(list)
        for i in pool:
            by_fold[records[i].fold or ""].append(i)
        if "" in by_fold or len(by_fold) < 2:
            raise DatasetError(
                "This dataset has no folds of its own (C-NMC's fold_0, fold_1, fold_2); "
                "choose the patient split instead."
            )
        fold_names = tuple(sorted(by_fold))
        _copies_follow_first_fold(records, by_fold, fold_names, content)
        folds = tuple(tuple(sorted(by_fold[f])) for f in fold_names)
        k = settings.seed % len(folds)
        val = list(folds[k])
        train = [i for j, f in enumerate(folds) if j != k for i in f]
        test: list[int] = []
        if not use_official:
            warnings.append(
                "There is no official test set, so this split has no test part; "
                "the folds give validation only."
            )
    elif settings.method == "image":
        groups = _group_keys(records, pool, False, content, near)
        train, val, test = _grouped(records, pool, groups, settings.val_fraction, test_fraction, rng)
        if has_patients:
            warnings.append(LEAKY_WARNING)
    else:
        groups = _group_keys(records, pool, True, content, near)
        if not has_patients:
            warnings.append(
                "No patient IDs are known for these images, so they are split one by one; "
                "if a patient gave several images, figures may be optimistic."
            )
        train, val, test = _grouped(records, pool, groups, settings.val_fraction, test_fraction, rng)

    if use_official:
        test = official
        test_source = "official"
    else:
        test_source = "held-out" if test else "none"
    return Split(
        method=settings.method,
        seed=settings.seed,
        train=tuple(sorted(train)),
        val=tuple(sorted(val)),
        test=tuple(sorted(test)),
        leaky=settings.method == "image" and has_patients,
        test_source=test_source,
        folds=folds,
        fold_names=fold_names,
        val_fraction=settings.val_fraction,
        test_fraction=test_fraction,
        warnings=tuple(warnings),
    )


def _grouped(records, pool, groups, val_fraction, test_fraction, rng):
    """Stratified split of ``pool`` keeping each group (patient) whole.

    Each group counts for its most common class. Within a class, groups are
    shuffled and taken for test, then validation, while that brings the
    part's image count closer to its target; the rest is training.
    """
    members: dict[str, list[int]] = defaultdict(list)
    for i in pool:
        members[groups[i]].append(i)
    by_class: dict[str, list[str]] = defaultdict(list)
    for g in sorted(members):
        label = Counter(records[i].label for i in members[g]).most_common(1)[0][0]
        by_class[label].append(g)
    fractions = [("test", test_fraction), ("val", val_fraction)]
    fractions = [(p, f) for p, f in fractions if f > 0]
    need = len(fractions) + 1
    unit = "image" if all(len(members[g]) == 1 for g in members) else "patient"
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for label in sorted(by_class):
        gs = by_class[label]
        if len(gs) < need:
            names = {2: "training and validation", 3: "training, validation and test"}[need]
            have = f"{len(gs)} {unit}" + ("" if len(gs) == 1 else "s")
            raise DatasetError(
                f"Class '{label}' has only {have}; a split into {names} needs at "
                f"least {need}, each part with its own {unit}s."
            )
        order = [gs[j] for j in rng.permutation(len(gs))]
        total = sum(len(members[g]) for g in gs)
        for part, fraction in fractions:
            target = fraction * total
            count = 0
            taken: list[str] = []
            for g in order:
                if len(order) - len(taken) <= need - 1 - fractions.index((part, fraction)):
                    break  # leave at least one group for each later part and training
                size = len(members[g])
                if not taken or abs(count + size - target) < abs(count - target):
                    taken.append(g)
                    count += size
                    if count >= target:
                        break
            for g in taken:
                parts[part] += members[g]
            order = [g for g in order if g not in set(taken)]
        for g in order:
            parts["train"] += members[g]
    return parts["train"], parts["val"], parts["test"]
