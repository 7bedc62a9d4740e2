"""What a user reads in a widget, as Qt renders it: a label or tooltip Qt
takes as rich text is read as its rendered words, other text as written.
The window tests compare it with what was meant (issue 26, item 4)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QApplication, QLabel, QListWidget, QMessageBox, QTableWidget, QWidget

# Markup or escapes a user should never read: they mean the text went through
# the wrong rule (escaped for markup, shown plain; or markup shown as text).
LEFTOVERS = re.compile(r"&(#x?[0-9a-f]+|amp|lt|gt|quot|apos);|<\s*/?\s*(p|b|i|br|span|small)\b",
                       re.IGNORECASE)


def rendered(text: str, rich: bool) -> str:
    if not rich:
        return text
    doc = QTextDocument()
    doc.setHtml(text)
    return doc.toPlainText()


def label_text(label: QLabel) -> str:
    fmt = label.textFormat()
    rich = fmt == Qt.RichText or (fmt == Qt.AutoText and GuiQt.mightBeRichText(label.text()))
    return rendered(label.text(), rich)


def box_text(box: QMessageBox) -> str:
    fmt = box.textFormat()
    rich = fmt == Qt.RichText or (fmt == Qt.AutoText and GuiQt.mightBeRichText(box.text()))
    return rendered(box.text(), rich)


def tip_text(tip: str) -> str:
    """A tooltip as Qt shows it (rich text whenever it might be)."""
    return rendered(tip, GuiQt.mightBeRichText(tip))


def everything_read(roots: list[QWidget] | None = None) -> Iterator[tuple[str, str]]:
    """(where, what a user reads) for every label, tooltip, list and table
    item under ``roots`` (every top-level window by default)."""
    roots = roots if roots is not None else list(QApplication.topLevelWidgets())
    for root in roots:
        for w in [root, *root.findChildren(QWidget)]:
            name = f"{type(w).__name__} {w.objectName()}".strip()
            if isinstance(w, QLabel) and w.text():
                yield name, label_text(w)
            if isinstance(w, QMessageBox) and w.text():
                yield name, box_text(w)
            if w.toolTip():
                yield f"tooltip of {name}", tip_text(w.toolTip())
            if isinstance(w, QListWidget):
                for i in range(w.count()):
                    item = w.item(i)
                    yield f"{name} item {i}", item.text()
                    if item.toolTip():
                        yield f"tooltip of {name} item {i}", tip_text(item.toolTip())
            if isinstance(w, QTableWidget):
                for r in range(w.rowCount()):
                    for c in range(w.columnCount()):
                        item = w.item(r, c)
                        if item is not None and item.toolTip():
                            yield (f"tooltip of {name} cell {r},{c}", tip_text(item.toolTip()))


def leftovers(roots: list[QWidget] | None = None) -> list[tuple[str, str]]:
    """Every text a user would read with markup or an escape left in it."""
    return [(where, text) for where, text in everything_read(roots) if LEFTOVERS.search(text)]
