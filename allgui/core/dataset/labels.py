"""Class names by identity, not bytes.

Two labels that print the same are one class: ``Präb`` typed on a Mac
(decomposed, NFD) and on Windows (composed, NFC), or ``ALL`` and ``all``,
are merged into one class with a note that says so. A label holding an
invisible or direction-changing character (a zero-width space, a
right-to-left mark) prints like another name while being a different one,
so it is refused, naming the character, and its images left out.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict

# Characters with no width of their own that still count as format (Cf), such
# as zero-width spaces and joiners and the bidi marks, plus controls (Cc),
# separators of lines and paragraphs (Zl, Zp) and unassigned code points.
_REFUSED_CATEGORIES = {"Cf", "Cc", "Zl", "Zp", "Cs", "Co", "Cn"}


def label_problem(name: str) -> str | None:
    """Why ``name`` cannot be a class name (None when it can)."""
    if not name.strip():
        return "an empty class name"
    for ch in name:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            what = unicodedata.name(ch, "a control character").lower()
            return (f"the class name holds an invisible character (U+{ord(ch):04X}, {what}) "
                    "that makes it look like another name; rename it with visible "
                    "letters only")
    return None


def class_key(name: str) -> str:
    """The class ``name`` belongs to: Unicode-composed (NFC), case-folded,
    without surrounding spaces."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name.strip()).casefold())


class ClassNames:
    """The names met for each class, to say which were merged."""

    def __init__(self) -> None:
        self._spellings: dict[str, set[str]] = defaultdict(set)

    def add(self, name: str) -> str:
        key = class_key(name)
        self._spellings[key].add(name)
        return key

    def merge_note(self, where: str) -> list[str]:
        merged = {k: v for k, v in self._spellings.items() if len(v) > 1}
        if not merged:
            return []
        # ascii(): two Unicode forms of one name print alike, their escapes do not
        parts = "; ".join(
            " and ".join(ascii(n) for n in sorted(v, key=lambda n: n.encode("utf-8")))
            + f" as '{k}'" for k, v in sorted(merged.items()))
        return [f"Some {where} name one class in different upper/lower case or Unicode "
                f"forms; they were merged: {parts}."]
