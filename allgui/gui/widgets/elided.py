"""A one-line label that shortens long text with "…" and shows it whole on hover."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QLabel, QSizePolicy


def plain_tooltip(text: str) -> str:
    """``text`` for a tooltip, shown as it is: Qt reads a tooltip that looks
    like markup (a file or class name with tags) as rich text, so that one is
    given escaped."""
    if not GuiQt.mightBeRichText(text):
        return text
    return "<p style='white-space:pre-wrap'>" + html.escape(text) + "</p>"


class ElidedLabel(QLabel):
    """Plain text on one line, elided to the width it is given (``mode``: where
    the "…" goes; the middle keeps both ends of a file path)."""

    def __init__(self, text: str = "", mode: Qt.TextElideMode = Qt.ElideRight) -> None:
        super().__init__()
        self._full = ""
        self._mode = mode
        self.setTextFormat(Qt.PlainText)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.setMinimumWidth(40)
        self.set_full_text(text)

    def full_text(self) -> str:
        return self._full

    def set_full_text(self, text: str) -> None:
        self._full = text
        self._elide()

    # As a QLabel's, for callers that set and read the label's text.
    def setText(self, text: str) -> None:  # noqa: N802
        self.set_full_text(text)

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, self._mode, max(10, self.width()))
        super().setText(shown)
        self.setToolTip(plain_tooltip(self._full) if shown != self._full else "")
