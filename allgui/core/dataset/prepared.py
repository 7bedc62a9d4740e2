"""A project's data, ready for training and validation: found, split,
audited, decoded and resized (through the cache), as arrays per part."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from allgui.core.dataset.cache import ImageCache
from allgui.core.dataset.discover import discover
from allgui.core.dataset.leakage import LeakageAudit, audit
from allgui.core.dataset.records import BadFile, DatasetIndex
from allgui.core.dataset.splits import PARTS, Split, make_split
from allgui.core.errors import DatasetError
from allgui.core.events import Notice, Progress, Sink, null_sink
from allgui.core.project import Project

JOB = "prepare-data"
LOOK_ALIKE = "near-duplicates"


@dataclass(frozen=True, eq=False)
class DataPart:
    """One part of the split (train, val or test) as arrays."""

    name: str
    indices: tuple[int, ...]  # positions in DatasetIndex.records, one per row
    images: np.ndarray  # (N, size, size, 3) uint8
    labels: np.ndarray  # (N,) int64, index into PreparedData.classes
    patients: tuple[str | None, ...]  # per row; None where unknown

    def __len__(self) -> int:
        return len(self.indices)


@dataclass(frozen=True, eq=False)
class PreparedData:
    index: DatasetIndex
    split: Split
    audit: LeakageAudit
    classes: tuple[str, ...]
    image_size: int
    train: DataPart
    val: DataPart
    test: DataPart
    bad_files: tuple[BadFile, ...]  # found while decoding; left out of every part
    hashes: Mapping[str, str] = field(default_factory=dict)  # path -> content hash

    @property
    def positive_class(self) -> str | None:
        return self.index.positive_class

    def part(self, name: str) -> DataPart:
        if name not in PARTS:
            raise ValueError(f"unknown part {name!r}")
        return getattr(self, name)


CHUNK = 256


def _look_alike(index: DatasetIndex, wanted: list[int], cache: ImageCache, build, sink: Sink,
                cancel: threading.Event | None) -> tuple[dict[str, str], tuple[str, ...]]:
    """Near-duplicate groups (path -> group) and the classes that differ by
    acquisition, from the prepared images (read back from the cache in chunks)."""
    from allgui.core.dataset.near_duplicates import fingerprints_of, near_groups
    from allgui.core.dataset.sources import colour_stats, original_size, source_warnings

    records = [index.records[i] for i in wanted if index.records[i].path in build.hashes]
    paths = [r.path for r in records]
    prints, stats = [], []
    # Said as it goes: on 800 smears at 224 px this read back and compared for
    # 20 s after the cache's bar had ended, the window silent (issue 26).
    step = max(1, min(CHUNK, len(paths) // 20 or 1))
    for start in range(0, len(paths), step):
        images = cache.load(paths[start:start + step], build, cancel)
        prints += fingerprints_of(images)
        stats.append(colour_stats(images))
        sink(Progress(JOB, phase=LOOK_ALIKE, done=start + len(images), total=len(paths),
                      message="Looking for near-duplicates and for classes that differ by "
                              "source"))
    near = near_groups(paths, prints, cancel)
    if near:
        groups = len(set(near.values()))
        sink(Notice(JOB, level="info", text=f"{len(near)} images form {groups} groups of "
                    "near-duplicates (the same field saved more than once); each group is "
                    "kept in one part of the split."))
    labels = np.array([index.label_id(r.label) for r in records], dtype=np.int64)
    # original sizes from the headers of up to 200 images per class (enough to tell sources)
    rng = np.random.default_rng(0)
    sizes: list[tuple[int, int] | None] = [None] * len(records)
    for c in range(len(index.classes)):
        members = np.flatnonzero(labels == c)
        for i in rng.permutation(members)[:200]:
            sizes[int(i)] = original_size(records[int(i)].path)
    sampled = [i for i, s in enumerate(sizes) if s is not None] if records else []
    warnings = source_warnings(index.classes, labels,
                               np.concatenate(stats) if stats else np.zeros((0, 4)),
                               sizes) if sampled else ()
    for text in warnings:
        sink(Notice(JOB, level="warning", text=text))
    return near, warnings


def prepare_project_data(
    project: Project, sink: Sink = null_sink, cancel: threading.Event | None = None
) -> PreparedData:
    """Scan the project's dataset, split it as its settings say, and load every
    image of the split at ``settings.dataset.image_size`` through the cache in
    ``project.cache_dir``. Bad files are left out with a warning, never fatal."""
    settings = project.settings
    if not settings.dataset.path:
        raise DatasetError("This project has no dataset yet; choose the folder with the images.")
    index = discover(settings.dataset.path, sink, cancel)
    # Every labelled image goes through the cache first: its content hashes let
    # the split keep identical images in one part without a second read.
    known = set(index.classes)
    wanted = [i for i, r in enumerate(index.records)
              if r.label in known and r.subset in ("train", "test")]
    cache = ImageCache(project.cache_dir, settings.dataset.image_size)
    build = cache.build([index.records[i].path for i in wanted], sink, cancel)
    near, sources = _look_alike(index, wanted, cache, build, sink, cancel)
    split = make_split(index, settings.split, build.hashes, near)
    for text in split.warnings:
        sink(Notice(JOB, level="warning", text=text))
    if build.bad_files:
        sink(
            Notice(
                JOB,
                level="warning",
                text=f"{len(build.bad_files)} images cannot be decoded and were left out.",
            )
        )
    leak_check = audit(index, split, build.hashes, check_content=True, near=near,
                       notes=sources)

    def part(name: str) -> DataPart:
        # Each part is read straight from the cache: no second copy of the images.
        ids = tuple(i for i in split.part(name) if index.records[i].path in build.hashes)
        records = [index.records[i] for i in ids]
        return DataPart(
            name=name,
            indices=ids,
            images=cache.load([r.path for r in records], build, cancel),
            labels=np.array([index.label_id(r.label) for r in records], dtype=np.int64),
            patients=tuple(r.patient for r in records),
        )

    train, val, test = part("train"), part("val"), part("test")
    if len(train) == 0 or len(val) == 0:
        raise DatasetError("After leaving out unreadable images, a training or validation part "
                           "is empty; check the files listed as bad.")
    return PreparedData(
        index=index,
        split=split,
        audit=leak_check,
        classes=index.classes,
        image_size=settings.dataset.image_size,
        train=train,
        val=val,
        test=test,
        bad_files=build.bad_files,
        hashes=dict(build.hashes),
    )
