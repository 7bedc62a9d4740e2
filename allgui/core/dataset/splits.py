"""Splitting a dataset into train / validation / test, honestly, and auditing
any split for leakage.

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

import threading
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from allgui.core.dataset.duplicates import _copies_follow_first_fold, _group_keys, content_hashes
from allgui.core.dataset.near_duplicates import pairs_across
from allgui.core.dataset.patients import patient_sort_key
from allgui.core.dataset.records import DatasetIndex
from allgui.core.errors import DatasetError
from allgui.core.events import Sink, null_sink
from allgui.core.files.text import count
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


# -- leakage audit --------------------------------------------------------------


@dataclass(frozen=True)
class PartOverlap:
    """What two parts of a split share."""

    a: str
    b: str
    patients: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    identical: tuple[tuple[str, str], ...] = ()  # (file in a, file in b) with the same content
    similar: tuple[tuple[str, str], ...] = ()  # (file in a, file in b): near-duplicates

    @property
    def clean(self) -> bool:
        return not (self.patients or self.files or self.identical or self.similar)


@dataclass(frozen=True)
class LeakageAudit:
    """Patients, files and identical images found on both sides of a split."""

    method: str
    overlaps: tuple[PartOverlap, ...]
    sizes: tuple[tuple[str, int], ...]
    patients_known: bool
    content_checked: bool
    near_checked: bool = False  # near-duplicates looked for
    notes: tuple[str, ...] = ()  # classes that differ by acquisition (dataset.sources)

    @property
    def leaky(self) -> bool:
        return any(not o.clean for o in self.overlaps)

    def verdict(self) -> str:
        """A few plain lines a clinician can read."""
        lines = []
        if not self.leaky:
            lines.append("No leakage found: no patient, file or identical image is in two parts.")
        else:
            lines.append("LEAKAGE: some data are in more than one part; figures will be optimistic.")
        for o in self.overlaps:
            if o.clean:
                continue
            bits = []
            if o.patients:
                shown = ", ".join(o.patients[:8]) + (" ..." if len(o.patients) > 8 else "")
                bits.append(f"{count(len(o.patients), 'patient')} ({shown})")
            if o.files:
                bits.append(count(len(o.files), "file"))
            if o.identical:
                bits.append(count(len(o.identical), "identical image"))
            if o.similar:
                bits.append(count(len(o.similar), "near-duplicate image"))
            lines.append(f"  {o.a} / {o.b}: " + "; ".join(bits))
        if not self.patients_known:
            lines.append("  Patient IDs are unknown, so patient leakage cannot be checked.")
        if not self.content_checked:
            lines.append("  Image contents were not compared.")
        elif not self.near_checked:
            lines.append("  Near-duplicates (the same field saved twice) were not looked for.")
        lines += [f"  WARNING: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "leaky": self.leaky,
            "patients_known": self.patients_known,
            "content_checked": self.content_checked,
            "near_checked": self.near_checked,
            "notes": list(self.notes),
            "sizes": dict(self.sizes),
            "overlaps": [
                {
                    "parts": [o.a, o.b],
                    "patients": list(o.patients),
                    "files": list(o.files),
                    "identical": [list(p) for p in o.identical],
                    "similar": [list(p) for p in o.similar],
                }
                for o in self.overlaps
            ],
            "verdict": self.verdict(),
        }


def audit(
    index: DatasetIndex,
    split: Split,
    hashes: dict[str, str] | None = None,
    *,
    check_content: bool = True,
    sink: Sink = null_sink,
    cancel: threading.Event | None = None,
    near: Mapping[str, str] | None = None,
    notes: tuple[str, ...] = (),
) -> LeakageAudit:
    """Look for anything shared between any two parts of ``split``.

    ``hashes`` (path -> content hash, as from a summary) saves re-reading
    files; without it, and with ``check_content``, the files are hashed here.
    ``near`` (path -> near-duplicate group) finds near-duplicates across
    parts; ``notes`` are carried into the verdict (source warnings).
    """
    records = index.records
    parts = {p: split.part(p) for p in PARTS if split.part(p)}
    content: dict[str, str] = dict(hashes or {})
    content_checked = check_content or bool(hashes)
    if check_content:
        todo = [records[i].path for ids in parts.values() for i in ids]
        content.update(content_hashes(index, [p for p in todo if p not in content], sink=sink,
                                      cancel=cancel, job="audit",
                                      stopped="Audit stopped by the user."))
    overlaps = []
    names = list(parts)
    for x in range(len(names)):
        for y in range(x + 1, len(names)):
            a, b = names[x], names[y]
            ra = [records[i] for i in parts[a]]
            rb = [records[i] for i in parts[b]]
            pa = {r.patient for r in ra if r.patient}
            pb = {r.patient for r in rb if r.patient}
            fa = {r.path for r in ra}
            fb = {r.path for r in rb}
            first_in_a: dict[str, str] = {}
            for r in ra:
                h = content.get(r.path)
                if h is not None:
                    first_in_a.setdefault(h, r.path)
            identical = []
            for r in rb:
                h = content.get(r.path)
                if h is not None and h in first_in_a and first_in_a[h] != r.path:
                    identical.append((first_in_a[h], r.path))
            overlaps.append(
                PartOverlap(
                    a,
                    b,
                    patients=tuple(sorted(pa & pb, key=patient_sort_key)),
                    files=tuple(sorted(fa & fb)),
                    identical=tuple(identical),
                    similar=tuple(pr for pr in pairs_across([r.path for r in ra],
                                                           [r.path for r in rb], near or {})
                                  if content.get(pr[0]) is None
                                  or content.get(pr[0]) != content.get(pr[1])),
                )
            )
    return LeakageAudit(
        method=split.method,
        overlaps=tuple(overlaps),
        sizes=tuple((p, len(ids)) for p, ids in parts.items()),
        patients_known=any(records[i].patient for ids in parts.values() for i in ids),
        content_checked=content_checked,
        near_checked=near is not None,
        notes=tuple(notes),
    )
