"""The Classify tab's description of the loaded model (its card: classes,
input, decision rule, metrics, provenance, the notice): wrapped, whole lines
only, about six of them at first (the splitter above the results gives it
more), and the whole text on hover."""

from __future__ import annotations

import html

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QPlainTextEdit

FIRST_LINES = 6  # lines shown before the user gives the description more room
LEAST_LINES = 3


class ModelText(QPlainTextEdit):
    """Read-only, wrapped at the box's width; the full text in its tooltip."""

    def __init__(self) -> None:
        super().__init__()
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.WidgetWidth)
        self.setMinimumHeight(self._lines_height(LEAST_LINES))

    def _lines_height(self, lines: int) -> int:
        margins = self.contentsMargins()
        return (lines * self.fontMetrics().lineSpacing() + 2 * int(self.document().documentMargin())
                + margins.top() + margins.bottom())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(super().sizeHint().width(), self._lines_height(FIRST_LINES))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        # whole lines only: the part of a line that would be cut is left empty
        super().resizeEvent(event)
        top = int(self.document().documentMargin())
        spare = (self.contentsRect().height() - top) % self.fontMetrics().lineSpacing()
        if self.viewportMargins().bottom() != spare:
            self.setViewportMargins(0, 0, 0, spare)

    def show_text(self, text: str) -> None:
        """``text`` (already made safe for a terminal) shown, and whole on hover,
        wrapped there too: a tooltip of the file's own words is never markup."""
        self.setPlainText(text)
        self.setToolTip("<p style='white-space:pre-wrap'>" + html.escape(text) + "</p>"
                        if text else "")
