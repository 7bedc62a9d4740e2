"""The leakage audit of any split: patients, files, identical images and
near-duplicates found in more than one part, said in plain lines.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from allgui.core.dataset.duplicates import content_hashes
from allgui.core.dataset.near_duplicates import pairs_across
from allgui.core.dataset.patients import patient_sort_key
from allgui.core.dataset.records import DatasetIndex
from allgui.core.events import Sink, null_sink
from allgui.core.files.text import count

if TYPE_CHECKING:
    from allgui.core.dataset.splits import Split


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
    parts = split.parts()
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
