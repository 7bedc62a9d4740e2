"""The Validate tab's table of runs: one row per figure, one column per run
and summary. Every column in view at a laptop's width: the headers on two
short lines (whole on hover), the numbers' columns as wide as their numbers,
words ("too few test patients to say") on two lines where one is too wide,
and the figures' names given what is left, wrapped (whole on hover)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from allgui.gui.widgets.text import plain_tooltip

NAME_WIDTH = 200  # pixels a figure's name gets when the table has the room
NAME_FLOOR = 110  # and at the least, when it has not: "weighted F1…" still reads
LINE = 12  # characters a header line holds before it is broken in two


def short_header(text: str) -> str:
    """A header on at most two lines, broken at the space nearest the middle
    ("95% over test\\npatients (bootstrap)"); "Run 1" over "(seed 0)"."""
    if " (seed" in text:
        return text.replace(" (seed", "\n(seed")
    if len(text) <= LINE or " " not in text:
        return text
    middle = len(text) // 2
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    cut = min(spaces, key=lambda i: abs(i - middle))
    return f"{text[:cut]}\n{text[cut + 1:]}"


class RunTable(QTableWidget):
    """A read-only table whose columns are fitted to its width whenever it changes."""

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        fit_columns(self)


def run_table() -> QTableWidget:
    """An empty, read-only table tall enough for its header and three rows."""
    table = RunTable(0, 0)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.setTextElideMode(Qt.ElideRight)
    table.setWordWrap(True)  # words (and the names) on two lines where the room asks it
    table.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
    rows = table.verticalHeader().defaultSectionSize()
    table.setMinimumHeight(2 * table.horizontalHeader().sizeHint().height() + 3 * rows + 6)
    return table


def fill_table(table: QTableWidget, header: list[str], rows: list[list[str]]) -> None:
    """``rows`` under ``header``, the numbers right-aligned, every cell and
    header whole on hover (in case it is shortened)."""
    table.clear()
    table.setColumnCount(len(header))
    table.setRowCount(len(rows))
    for c, text in enumerate(header):
        item = QTableWidgetItem(short_header(text))
        item.setToolTip(plain_tooltip(text))
        table.setHorizontalHeaderItem(c, item)
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if c > 0:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            item.setToolTip(plain_tooltip(text))
            table.setItem(r, c, item)
    fit_columns(table)


def _two_lines(text: str) -> str:
    """``text`` broken at the space nearest its middle (a cell's narrowest two lines)."""
    return short_header(text) if " " in text else text


def fit_columns(table: QTableWidget) -> None:
    """The figures' columns as wide as their contents, those with words on
    two lines (the widest first) while the table is too narrow for them; the
    names' column takes the rest (at most NAME_WIDTH or a third of the table,
    at least NAME_FLOOR), its names wrapped. Rows as tall as their lines.
    Only a table too narrow for the numbers themselves scrolls sideways."""
    columns = table.columnCount()
    if not columns:
        return
    header = table.horizontalHeader()
    metrics = table.fontMetrics()
    natural, narrow = {}, {}
    for c in range(1, columns):
        table.resizeColumnToContents(c)
        natural[c] = header.sectionSize(c)
        cells = [table.item(r, c).text() for r in range(table.rowCount()) if table.item(r, c)]
        widest = max((metrics.horizontalAdvance(t) for t in cells), default=0)
        pad = natural[c] - widest if widest else 12  # the style's margins around a cell's text
        lines = [line for t in cells for line in _two_lines(t).split("\n")]
        title = table.horizontalHeaderItem(c).text() if table.horizontalHeaderItem(c) else ""
        narrow[c] = max([metrics.horizontalAdvance(x) + pad for x in lines + title.split("\n")]
                        + [0])
    table.resizeColumnToContents(0)
    room = table.viewport().width() - 2
    floor = min(header.sectionSize(0), NAME_FLOOR)
    widths = dict(natural)
    for c in sorted(natural, key=lambda k: narrow[k] - natural[k]):  # the largest saving first
        if floor + sum(widths.values()) <= room:
            break
        widths[c] = min(natural[c], narrow[c])
    for c, width in widths.items():
        header.resizeSection(c, width)
    wanted = max(NAME_WIDTH, room // 3)
    header.resizeSection(0, max(floor, min(header.sectionSize(0), wanted,
                                           room - sum(widths.values()))))
    table.resizeRowsToContents()
