"""One text rule for every label, dialog, tooltip and table cell.

Text from anywhere (file, class, study and project names, messages) is shown
as plain text; markup only where the code builds it, every name in it escaped
with :func:`markup`. Qt guesses otherwise: a label or tooltip left to guess
reads ``<b>x`` as bold and shows an escaped ``run&#x27;s`` as written, so no
label here is left to guess (:func:`plain_label`, :func:`rich_label`) and a
tooltip that might look like markup is given escaped (:func:`plain_tooltip`).
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QLabel

from allgui.core.files.text import terminal_text


def markup(value: Any) -> str:
    """``value`` (a name, a message) for markup the code builds: shown as written."""
    return html.escape(terminal_text(value))


def plain_label(text: str = "", label: QLabel | None = None) -> QLabel:
    """``label`` (a new one by default) showing ``text`` as plain text."""
    label = label if label is not None else QLabel()
    label.setTextFormat(Qt.PlainText)
    label.setText(text)
    return label


def rich_label(text: str = "", label: QLabel | None = None) -> QLabel:
    """``label`` showing markup the code built (its names escaped with :func:`markup`)."""
    label = label if label is not None else QLabel()
    label.setTextFormat(Qt.RichText)
    label.setText(text)
    return label


def plain_tooltip(text: str) -> str:
    """``text`` for a tooltip, shown as it is: Qt reads a tooltip that looks
    like markup (a file or class name with tags) as rich text, so that one is
    given escaped."""
    if not text or not GuiQt.mightBeRichText(text):
        return text
    return "<p style='white-space:pre-wrap'>" + html.escape(text) + "</p>"
