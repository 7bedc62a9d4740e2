"""A one-line label that shortens long text with "…" and shows it whole on hover."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy


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
        self.setToolTip(self._full if shown != self._full else "")
