"""A split described: images and patients per class and part, as numbers and
as the plain text the command line and the Dataset tab show."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from allgui.core.dataset.leakage import LeakageAudit
from allgui.core.dataset.records import DatasetIndex
from allgui.core.dataset.splits import PARTS, Split


def split_counts(index: DatasetIndex, split: Split) -> dict[str, dict[str, Any]]:
    """Per part: images per class, total images, and patients (per class and in all)."""
    out: dict[str, dict[str, Any]] = {}
    for name in PARTS:
        ids = split.part(name)
        per_class: Counter = Counter(index.records[i].label for i in ids)
        patients: dict[str, set] = defaultdict(set)
        for i in ids:
            r = index.records[i]
            if r.patient:
                patients[r.label].add(r.patient)
        out[name] = {
            "images": len(ids),
            "per_class": {c: per_class.get(c, 0) for c in index.classes},
            "patients": len(set().union(*patients.values())) if patients else 0,
            "patients_per_class": {c: len(patients.get(c, ())) for c in index.classes},
        }
    return out


def format_split(index: DatasetIndex, split: Split, leak_check: LeakageAudit | None = None) -> str:
    """The split as plain text: sizes per class and patients per part, warnings, audit."""
    source = {
        "official": "the dataset's own test set",
        "held-out": "held out from the training images",
        "none": "no test part",
    }[split.test_source]
    lines = [f"Split: {split.method} (seed {split.seed}); test: {source}"]
    if split.fold_names:
        k = split.seed % len(split.fold_names)
        lines.append(
            f"Folds as cross-validation groups: {', '.join(split.fold_names)}; "
            f"validation = {split.fold_names[k]}"
        )
    counts = split_counts(index, split)
    width = max([8] + [len(c) + 2 for c in index.classes])
    lines.append(
        f"  {'part':<7}" + "".join(f"{c:>{width}}" for c in index.classes)
        + f"{'total':>9}{'patients':>10}"
    )
    for name in PARTS:
        row = counts[name]
        cells = "".join(f"{row['per_class'][c]:>{width},}" for c in index.classes)
        pats = ", ".join(f"{row['patients_per_class'][c]} {c}" for c in index.classes)
        patients = f"{row['patients']:>10}" + (f"  ({pats})" if row["patients"] else "")
        lines.append(f"  {name:<7}{cells}{row['images']:>9,}{patients}")
    for w in split.warnings:
        lines.append(f"WARNING: {w}")
    if leak_check is not None:
        lines.append("Leakage audit: " + leak_check.verdict())
    return "\n".join(lines)
