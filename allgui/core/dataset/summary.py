"""What a dataset holds, in numbers a user can check against what they expect:
images per class, patient, fold and subset; sizes and formats; identical
images; files that cannot be read and why.
"""

from __future__ import annotations

import io
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from allgui.core.dataset.hashing import read_hashed
from allgui.core.dataset.imaging import read_rgb
from allgui.core.dataset.near_duplicates import Fingerprint, fingerprint, near_groups
from allgui.core.dataset.parallel import map_items
from allgui.core.dataset.records import BadFile, DatasetIndex
from allgui.core.errors import ImageReadError
from allgui.core.events import Sink, job, null_sink

JOB = "summary"
SUBSETS = ("train", "test", "unlabelled")
LAYOUT_NAMES = {
    "cnmc": "C-NMC 2019 (Kaggle layout)",
    "class-folders": "one folder per class",
    "manifest": "CSV manifest",
}


@dataclass(frozen=True)
class FileFacts:
    """What one file is, read from its bytes."""

    path: str
    content_hash: str = ""
    format: str = ""
    width: int = 0
    height: int = 0
    mode: str = ""
    problem: str = ""  # why it cannot be used; '' when fine
    # for near-duplicates (dataset.near_duplicates); None when the file was not decoded
    looks: Fingerprint | None = field(default=None, compare=False, repr=False)


def inspect_file(path: str, decode: bool = True) -> FileFacts:
    """Hash ``path``, read its header, and (``decode``) decode it fully, as
    training will, all from one read of the file. Never raises."""
    try:
        data, digest = read_hashed(path)
    except OSError as exc:
        return FileFacts(path, problem=f"cannot open the file ({exc.strerror or exc})")
    try:
        with Image.open(path if data is None else io.BytesIO(data)) as img:
            fmt, (w, h), mode = img.format or "", img.size, img.mode
    except Exception as exc:  # header problems were filtered by discover; be safe
        return FileFacts(path, digest, problem=f"cannot read the image ({exc})")
    if decode:
        try:
            rgb = read_rgb(path, data=data)
        except ImageReadError as exc:
            return FileFacts(path, digest, fmt, w, h, mode, problem=exc.reason)
        return FileFacts(path, digest, fmt, w, h, mode, looks=fingerprint(np.asarray(rgb)))
    return FileFacts(path, digest, fmt, w, h, mode)


def _by_class(counter: dict[str, Counter]) -> dict[str, dict[str, int]]:
    return {k: dict(sorted(v.items())) for k, v in sorted(counter.items())}


@dataclass(frozen=True)
class DatasetSummary:
    root: str
    layout: str
    synthetic: bool
    classes: tuple[str, ...]
    positive_class: str | None
    n_images: int  # usable images (records minus those found bad here)
    per_subset: dict[str, dict[str, int]]  # subset -> class -> images
    patients_per_subset: dict[str, dict[str, int]]  # subset -> class -> patients
    per_fold: dict[str, dict[str, int]]  # fold -> class -> images
    per_patient: dict[str, dict[str, int]]  # patient -> class -> images
    sizes: dict[str, int]  # 'W x H' -> images
    formats: dict[str, int]  # 'BMP (RGB)' -> images
    identical: tuple[tuple[str, ...], ...]  # groups of files with the same content
    bad_files: tuple[BadFile, ...]
    notes: tuple[str, ...]
    inspected: bool  # whether file contents were read (sizes, formats, identical)
    images_without_patient: int = 0  # labelled images whose patient is unknown
    # identical images under different labels: (label, path) pairs per group
    contradictions: tuple[tuple[tuple[str, str], ...], ...] = ()
    hashes: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    # path -> near-duplicate group; None when images were not decoded (not looked for)
    near: dict[str, str] | None = field(default=None, repr=False, compare=False)

    @property
    def n_patients(self) -> int:
        return len(self.per_patient)

    def count(self, subset: str, label: str | None = None) -> int:
        row = self.per_subset.get(subset, {})
        return row.get(label, 0) if label is not None else sum(row.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "layout": self.layout,
            "synthetic": self.synthetic,
            "classes": list(self.classes),
            "positive_class": self.positive_class,
            "n_images": self.n_images,
            "n_patients": self.n_patients,
            "per_subset": self.per_subset,
            "patients_per_subset": self.patients_per_subset,
            "per_fold": self.per_fold,
            "per_patient": self.per_patient,
            "sizes": self.sizes,
            "formats": self.formats,
            "identical": [list(g) for g in self.identical],
            "bad_files": [{"path": b.path, "reason": b.reason} for b in self.bad_files],
            "notes": list(self.notes),
            "inspected": self.inspected,
            "images_without_patient": self.images_without_patient,
            "contradicting_labels": [[{"label": lab, "path": p} for lab, p in g]
                                     for g in self.contradictions],
        }


def summarize(
    index: DatasetIndex,
    sink: Sink = null_sink,
    cancel: threading.Event | None = None,
    *,
    inspect: bool = True,
    decode: bool = True,
    workers: int | None = None,
) -> DatasetSummary:
    """Count what ``index`` holds. With ``inspect``, every file is read once
    (in parallel) for its content hash, size and format, and with ``decode``
    fully decoded, so truncated files are found now rather than in training."""
    facts: dict[str, FileFacts] = {}
    if not inspect:
        return _summary(index, facts, inspect)
    with job(sink, JOB, "Reading every image", len(index.records)) as j:
        paths = [r.path for r in index.records]
        for f in map_items(
            inspect_file, paths, (decode,), job=JOB, phase="reading images",
            sink=sink, cancel=cancel, workers=workers,
        ):
            facts[f.path] = f
        summary = _summary(index, facts, inspect)
        j.finish(f"{summary.n_images} usable images")
    return summary


def _summary(index: DatasetIndex, facts: dict[str, FileFacts], inspect: bool) -> DatasetSummary:
    bad = list(index.bad_files)
    bad += [BadFile(f.path, f.problem) for f in facts.values() if f.problem]
    bad_paths = {b.path for b in bad}
    records = [r for r in index.records if r.path not in bad_paths]

    per_subset: dict[str, Counter] = defaultdict(Counter)
    patients: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    per_fold: dict[str, Counter] = defaultdict(Counter)
    per_patient: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        label = r.label or "(unlabelled)"
        per_subset[r.subset][label] += 1
        if r.patient:
            patients[r.subset][label].add(r.patient)
            per_patient[r.patient][label] += 1
        if r.fold:
            per_fold[r.fold][label] += 1
    sizes: Counter = Counter()
    formats: Counter = Counter()
    groups: dict[str, list[str]] = defaultdict(list)
    for r in records:
        fact = facts.get(r.path)
        if fact is None:
            continue
        sizes[f"{fact.width} x {fact.height}"] += 1
        formats[f"{fact.format} ({fact.mode})"] += 1
        groups[fact.content_hash].append(r.path)
    identical = tuple(tuple(g) for g in groups.values() if len(g) > 1)
    label_of = {r.path: r.label for r in records}
    contradictions = tuple(
        tuple((label_of[p], p) for p in g) for g in identical
        if len({label_of[p] for p in g if label_of[p]}) > 1)
    summary = DatasetSummary(
        root=index.root,
        layout=index.layout,
        synthetic=index.synthetic,
        classes=index.classes,
        positive_class=index.positive_class,
        n_images=len(records),
        per_subset={s: dict(sorted(per_subset[s].items())) for s in SUBSETS if s in per_subset},
        patients_per_subset={
            s: {c: len(p) for c, p in sorted(patients[s].items())}
            for s in SUBSETS
            if s in patients
        },
        per_fold=_by_class(per_fold),
        per_patient={
            p: dict(sorted(c.items())) for p, c in sorted(per_patient.items(), key=_pkey)
        },
        sizes=dict(sizes.most_common()),
        formats=dict(formats.most_common()),
        identical=identical,
        bad_files=tuple(bad),
        notes=index.notes,
        inspected=inspect,
        images_without_patient=sum(1 for r in records if r.label and not r.patient),
        contradictions=contradictions,
        hashes={p: f.content_hash for p, f in facts.items() if f.content_hash},
        near=_near(records, facts),
    )
    return summary


def _near(records, facts: dict[str, FileFacts]) -> dict[str, str] | None:
    """Near-duplicate groups of the labelled images, when every one was decoded."""
    labelled = [r.path for r in records if r.label and r.path in facts]
    prints = [facts[p].looks for p in labelled]
    if not labelled or any(p is None for p in prints):
        return None
    return near_groups(labelled, [p for p in prints if p is not None])


def _pkey(item: tuple[str, Any]) -> tuple[str, int, str]:
    p = item[0]
    prefix = p.rstrip("0123456789")
    digits = p[len(prefix):]
    return (prefix, int(digits) if digits else -1, p)


def _n(x: int) -> str:
    return f"{x:,}"


def format_summary(s: DatasetSummary, max_listed: int = 10) -> str:
    """The summary as plain text for the terminal or a report."""
    lines = [f"Dataset: {s.root}", f"Layout: {LAYOUT_NAMES.get(s.layout, s.layout)}"]
    if s.synthetic:
        lines.append("SYNTHETIC DEMO DATA: generated cells, not real patients.")
    pos = f" (positive class: {s.positive_class})" if s.positive_class else ""
    lines.append(f"Classes: {', '.join(s.classes) or 'none'}{pos}")
    lines.append(f"Usable images: {_n(s.n_images)}")
    for subset, row in s.patients_per_subset.items():
        parts = ", ".join(f"{n} {c}" for c, n in row.items())
        lines.append(f"Patients in {subset}: {sum(row.values())} ({parts})")
    cols = list(s.classes) + (["(unlabelled)"] if "unlabelled" in s.per_subset else [])
    width = max([10] + [len(c) + 2 for c in cols])
    header = f"  {'subset':<11}" + "".join(f"{c:>{width}}" for c in cols) + f"{'total':>9}"
    lines += ["", header]
    for subset, row in s.per_subset.items():
        cells = "".join(f"{_n(row.get(c, 0)):>{width}}" for c in cols)
        lines.append(f"  {subset:<11}{cells}{_n(sum(row.values())):>9}")
    if s.per_fold:
        lines += ["", "Folds (training images per class):"]
        for fold, row in s.per_fold.items():
            parts = ", ".join(f"{c} {_n(n)}" for c, n in row.items())
            lines.append(f"  {fold}: {parts}")
    if s.per_patient:
        counts = sorted(sum(c.values()) for c in s.per_patient.values())
        lines.append(
            f"\nImages per patient: {counts[0]} to {counts[-1]} "
            f"(median {counts[len(counts) // 2]})"
        )
    if not s.per_patient and s.n_images:
        lines.append("\nNo patient IDs found: a patient split cannot keep patients apart.")
    elif s.images_without_patient:
        lines.append(f"Labelled images without a patient ID: {_n(s.images_without_patient)}")
    if s.inspected:
        lines.append("\nImage sizes: " + _top(s.sizes))
        lines.append("Formats: " + _top(s.formats))
        if s.identical:
            n = sum(len(g) for g in s.identical)
            lines.append(f"Identical images: {len(s.identical)} groups ({n} files), e.g.:")
            for g in s.identical[:3]:
                lines.append("  " + "  ==  ".join(g[:3]))
        else:
            lines.append("Identical images: none")
        if s.contradictions:
            n = sum(len(g) for g in s.contradictions)
            lines.append(f"CONTRADICTING LABELS: {len(s.contradictions)} images ({n} files) are "
                         "the same bytes under different labels; at most one label is right. "
                         "Check them, e.g.:")
            for pairs in s.contradictions[:3]:
                lines.append("  " + "  ==  ".join(f"{p} ({lab})" for lab, p in pairs[:3]))
    if s.bad_files:
        lines.append(f"\nFiles that cannot be used: {len(s.bad_files)}")
        for b in s.bad_files[:max_listed]:
            lines.append(f"  {b.path}: {b.reason}")
        if len(s.bad_files) > max_listed:
            lines.append(f"  ... and {len(s.bad_files) - max_listed} more")
    else:
        lines.append("Files that cannot be used: none")
    if s.notes:
        lines += ["", "Notes:"] + [f"  {n}" for n in s.notes]
    return "\n".join(lines)


def _top(counts: dict[str, int], k: int = 4) -> str:
    items = list(counts.items())
    text = ", ".join(f"{key} ({_n(n)})" for key, n in items[:k])
    if len(items) > k:
        text += f", and {len(items) - k} more"
    return text or "none"
