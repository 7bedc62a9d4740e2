"""Counted words for the window's sentences: "1 image", "2 images"."""

from __future__ import annotations


def count(n: int, word: str, plural: str = "") -> str:
    """``n`` and ``word``, in the plural unless n is 1 (``plural`` for irregular words)."""
    return f"{n} {word if n == 1 else plural or word + 's'}"
