"""The images a batch's models saw: the training and validation parts, by
path, label and content hash, written once per batch as ``training.json``.

The export carries the hashes into the model file (so ``evaluate`` can tell
which of a folder's images the model already saw) and reads a sample of the
images back to record where the training images lie in the model's feature
space (so ``evaluate`` can tell images unlike them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from allgui.core.dataset.prepared import prepare_project_data
from allgui.core.files.atomic import atomic_write_text

__all__ = ["SeenImages", "prepare_project_data", "read_seen", "seen_from_prepared", "write_seen"]

SEEN_FILE = "training.json"
FORMAT = "allgui-training-images"


@dataclass(frozen=True)
class SeenImages:
    """(path, class id, content hash) of the training and validation images."""

    classes: tuple[str, ...]
    train: tuple[tuple[str, int, str], ...]
    val: tuple[tuple[str, int, str], ...]

    @property
    def hashes(self) -> tuple[str, ...]:
        """Every content hash the model saw (train and validation), sorted, once each."""
        return tuple(sorted({h for _, _, h in self.train + self.val if h}))

    def to_dict(self) -> dict:
        return {"format": FORMAT, "classes": list(self.classes),
                "train": [list(r) for r in self.train], "val": [list(r) for r in self.val]}

    @classmethod
    def from_dict(cls, d: dict) -> SeenImages:
        if d.get("format") != FORMAT:
            raise ValueError("not a training-images record")

        def rows(key: str) -> tuple[tuple[str, int, str], ...]:
            return tuple((str(p), int(c), str(h)) for p, c, h in d.get(key) or ())

        return cls(tuple(str(c) for c in d.get("classes") or ()), rows("train"), rows("val"))


def seen_from_prepared(prepared) -> SeenImages:
    """The record of a :class:`~allgui.core.dataset.prepared.PreparedData`."""
    def rows(part) -> tuple[tuple[str, int, str], ...]:
        records = prepared.index.records
        return tuple((records[i].path, int(label), prepared.hashes.get(records[i].path, ""))
                     for i, label in zip(part.indices, part.labels, strict=True))

    return SeenImages(tuple(prepared.classes), rows(prepared.train), rows(prepared.val))


def write_seen(folder: str | Path, seen: SeenImages) -> None:
    atomic_write_text(Path(folder) / SEEN_FILE, json.dumps(seen.to_dict()))


def read_seen(folder: str | Path) -> SeenImages | None:
    """The batch's record, or None (a batch from before it was written, or damaged)."""
    try:
        return SeenImages.from_dict(json.loads((Path(folder) / SEEN_FILE).read_text("utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        return None
