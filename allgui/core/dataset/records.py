"""What a dataset is, once found: the records every later step works from."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ImageRecord:
    """One image the dataset holds.

    ``subset`` is the dataset's own designation: 'train' (labelled, for
    training and validation), 'test' (labelled, held out by the dataset's
    authors, such as C-NMC's preliminary test set) or 'unlabelled'.
    """

    path: str  # absolute path on this machine
    label: str  # class name ('all', 'hem', ...); '' when unlabelled
    patient: str | None = None  # patient / donor ID when known
    fold: str | None = None  # the dataset's own fold ('fold_0', ...) when it has one
    subset: str = "train"
    original_name: str = ""  # C-NMC test images: the name before renumbering


@dataclass(frozen=True)
class BadFile:
    """A file that looked like an image but could not be used, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class DatasetIndex:
    """Everything found under one dataset root."""

    root: str
    layout: str  # 'cnmc', 'class-folders' or 'manifest'
    classes: tuple[str, ...]  # sorted class names; index = label id
    records: tuple[ImageRecord, ...]
    bad_files: tuple[BadFile, ...] = ()
    positive_class: str | None = None  # the class a 'positive' result means ('all' for C-NMC)
    synthetic: bool = False  # generated demo data, never real cells
    notes: tuple[str, ...] = field(default=())  # what the reader noticed, for the summary

    def label_id(self, label: str) -> int:
        return self.classes.index(label)

    def fingerprint(self) -> str:
        """A hash of what the index holds (relative paths, labels, patients,
        subsets): two machines with the same data at different paths agree.
        Names are hashed as the bytes the file system holds (os.fsencode), so
        a name that is not valid UTF-8 hashes too, and valid ones as before."""
        h = hashlib.sha256()
        h.update(os.fsencode("|".join(self.classes)))
        root = self.root.rstrip("/\\")
        for r in sorted(self.records, key=lambda r: r.path):
            rel = r.path[len(root):].lstrip("/\\") if r.path.startswith(root) else r.path
            rel = rel.replace("\\", "/")
            h.update(os.fsencode(f"\n{rel}\t{r.label}\t{r.patient}\t{r.subset}"))
        return h.hexdigest()[:16]
