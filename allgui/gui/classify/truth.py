"""Classifying against the truth: when the dropped folders are named after the
model's classes (an ``all`` and a ``hem`` folder, as C-NMC and most datasets
are laid out), the folder's name is taken as each image's true class, and
the window reports each folder's and each patient's accuracy. No Qt here."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from allgui.core.files.text import count, terminal_text

LOOK_UP = 3  # folders above an image searched for a class name (all/UID_1/x.bmp)


def truth_of(path: str, classes: Sequence[str]) -> str:
    """The class named by one of the image's nearest folders, or ''."""
    by_name = {c.casefold(): c for c in classes}
    for parent in list(Path(path).parents)[:LOOK_UP]:
        found = by_name.get(parent.name.casefold())
        if found is not None:
            return found
    return ""


@dataclass(frozen=True)
class Tally:
    """Images of one folder or patient: how many, how many read, how many right."""

    name: str
    images: int
    classified: int
    with_truth: int
    correct: int
    majority: str = ""

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.with_truth if self.with_truth else None

    def sentence(self) -> str:
        words = f"{count(self.images, 'image')}"
        if self.classified != self.images:
            words += f", {self.classified} classified"
        if self.majority:
            words += f", mostly called {self.majority}"
        acc = self.accuracy
        if acc is not None:
            words += f"; {self.correct} of {self.with_truth} right ({acc:.1%})"
        return words


def tallies(rows, classes: Sequence[str], key) -> list[Tally]:
    """One :class:`Tally` per value of ``key(row)`` (a folder, a patient)."""
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    out = []
    for name, members in sorted(groups.items()):
        done = [r for r in members if r.prediction is not None]
        judged = [r for r in done if truth_of(r.path, classes)]
        right = sum(1 for r in judged if r.prediction.label == truth_of(r.path, classes))
        labels = [r.prediction.label for r in done]
        top = max(set(labels), key=labels.count) if labels else ""
        if labels and labels.count(top) * 2 == len(labels) and len(set(labels)) > 1:
            top = ""  # a tie: no majority
        out.append(Tally(name, len(members), len(done), len(judged), right, top))
    return out


def summary_html(rows, classes: Sequence[str]) -> str:
    """Per folder, and per patient when patients are known; '' for no rows."""
    if not rows:
        return ""
    folders = tallies(rows, classes, lambda r: str(Path(r.path).parent))
    lines = []
    judged = [t for t in folders if t.with_truth]
    if judged:
        right = sum(t.correct for t in judged)
        total = sum(t.with_truth for t in judged)
        lines.append(f"<b>Against the folder names</b>: {right} of {total} right "
                     f"({right / total:.1%}).")
    for t in folders:
        lines.append(f"Folder <b>{_h(Path(t.name).name)}</b>: {t.sentence()}.")
    patients = tallies([r for r in rows if r.patient], classes, lambda r: r.patient)
    if patients:
        lines.append("<br>" + "; ".join(f"patient <b>{_h(t.name)}</b>: {t.sentence()}"
                                         for t in patients) + ".")
    return "<br>".join(lines)


def _h(text: str) -> str:
    return html.escape(terminal_text(text))
