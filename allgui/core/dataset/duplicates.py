"""Identical images (the same bytes under two names): what the split must
keep in one part. Content hashes of the labelled images, and the groups
they make together with patients (union-find, transitively)."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from allgui.core.dataset.hashing import file_hash
from allgui.core.dataset.records import DatasetIndex
from allgui.core.errors import Cancelled
from allgui.core.events import Progress, Sink, null_sink

__all__ = ["content_hashes"]


def content_hashes(index: DatasetIndex, paths=None, *, sink: Sink = null_sink,
                   cancel: threading.Event | None = None, job: str = "split",
                   stopped: str = "Stopped by the user.") -> dict[str, str]:
    """path -> content hash of the labelled images (or of ``paths``); unreadable
    files are left out (they are listed as bad files elsewhere). Progress goes
    to ``sink`` as job ``job``; a set ``cancel`` raises Cancelled(``stopped``)."""
    known = set(index.classes)
    todo = list(paths) if paths is not None else [
        r.path for r in index.records if r.label in known and r.subset in ("train", "test")]
    out: dict[str, str] = {}
    for n, path in enumerate(todo, 1):
        if cancel is not None and cancel.is_set():
            raise Cancelled(stopped)
        try:
            out[path] = file_hash(path)
        except OSError:
            pass
        if n % 500 == 0 or n == len(todo):
            sink(Progress(job, phase="comparing images", done=n, total=len(todo)))
    return out


class _Groups:
    """Union-find over record indices: what must stay in one part."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, i: int) -> int:
        self.parent.setdefault(i, i)
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _group_keys(records, pool: list[int], by_patient: bool,
                hashes: Mapping[str, str], near: Mapping[str, str] | None = None
                ) -> dict[int, str]:
    """Each pool record's group: its patient (when ``by_patient``) joined with
    every identical image and every near-duplicate (``near``: path -> its
    group), transitively; named by its first record's patient (or
    ``#index``), so a dataset without copies splits as it always did."""
    groups = _Groups()
    first: dict[str, int] = {}
    near = near or {}
    for i in pool:
        groups.find(i)
        keys = [f"h:{hashes[records[i].path]}"] if records[i].path in hashes else []
        if records[i].path in near:
            keys.append(f"n:{near[records[i].path]}")
        if by_patient and records[i].patient:
            keys.append(f"p:{records[i].patient}")
        for key in keys:
            if key in first:
                groups.union(first[key], i)
            else:
                first[key] = i
    def name(root: int) -> str:
        return (records[root].patient if by_patient else None) or f"#{root}"

    return {i: name(groups.find(i)) for i in pool}


def _copies_follow_first_fold(records, by_fold: dict[str, list[int]],
                              fold_names: tuple[str, ...], content: Mapping[str, str]) -> None:
    """Move each copy of an image into the first fold (in name order) holding it."""
    home: dict[str, str] = {}
    for name in fold_names:
        for i in by_fold[name]:
            h = content.get(records[i].path)
            if h is not None:
                home.setdefault(h, name)
    for name in fold_names:
        stay: list[int] = []
        for i in by_fold[name]:
            h = content.get(records[i].path)
            target = home.get(h, name) if h is not None else name
            (stay if target == name else by_fold[target]).append(i)
        by_fold[name] = stay
