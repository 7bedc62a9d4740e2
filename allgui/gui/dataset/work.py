"""What the Dataset tab's jobs run (no Qt): a folder read and summarised,
split by patient and audited for leakage, and a few images of each class
made small (their pixmaps are made on the GUI thread)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from allgui.core.errors import AllguiError, DatasetError
from allgui.core.events import Sink
from allgui.core.project import SplitSettings

THUMBS_PER_CLASS = 6
THUMB_SIZE = 96


@dataclass(frozen=True)
class SplitView:
    split: Any | None  # allgui.core.dataset.splits.Split
    audit: Any | None  # LeakageAudit
    error: str = ""


@dataclass(frozen=True)
class DatasetView:
    """What the tab shows, computed on a worker thread."""

    index: Any  # DatasetIndex
    summary: Any  # DatasetSummary
    text: str
    split: SplitView
    thumbnails: dict[str, list[tuple[str, np.ndarray]]] = field(default_factory=dict)


def split_and_audit(index, settings: SplitSettings, hashes, sink: Sink, cancel,
                    near=None) -> SplitView:
    from allgui.core.dataset.splits import audit, make_split

    try:
        split = make_split(index, settings, hashes or None, near)
    except DatasetError as exc:
        return SplitView(None, None, exc.message)
    return SplitView(split, audit(index, split, hashes, sink=sink, cancel=cancel, near=near))


def split_near(index, settings: SplitSettings, hashes, near, sink: Sink, cancel) -> SplitView:
    """:func:`split_and_audit` with the summary's near-duplicate groups (a job's arguments)."""
    return split_and_audit(index, settings, hashes, sink, cancel, near)


def thumbnails(index, per_class: int = THUMBS_PER_CLASS) -> dict[str, list[tuple[str, np.ndarray]]]:
    """A few images of each class, small, as RGB arrays (pixmaps are made on the GUI thread)."""
    from allgui.core.dataset.imaging import read_rgb

    out: dict[str, list[tuple[str, np.ndarray]]] = {}
    for label in index.classes:
        picked = [r for r in index.records if r.label == label][: per_class * 3]
        step = max(1, len(picked) // per_class)
        for record in picked[::step][:per_class]:
            try:
                img = read_rgb(record.path)
            except AllguiError:
                continue
            img.thumbnail((THUMB_SIZE, THUMB_SIZE))
            out.setdefault(label, []).append((record.path, np.asarray(img).copy()))
    return out


def scan_dataset(path: str, split: SplitSettings, sink: Sink, cancel: threading.Event) -> DatasetView:
    from allgui.core.dataset.discover import discover
    from allgui.core.dataset.summary import format_summary, summarize

    index = discover(path, sink, cancel)
    summary = summarize(index, sink, cancel)
    view = split_and_audit(index, split, summary.hashes, sink, cancel, summary.near)
    return DatasetView(index, summary, format_summary(summary), view, thumbnails(index))
