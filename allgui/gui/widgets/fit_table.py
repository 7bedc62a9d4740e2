"""A table whose columns all fit its width, fitted again whenever it changes:
the first column (names) takes what the others leave, shortened with "…"
(whole on hover), the others as wide as their contents, words on two lines
where one is too wide. Only a table too narrow for the contents themselves
scrolls sideways. The Validate tab's runs and the Classify tab's answers."""

from __future__ import annotations

from PySide6.QtWidgets import QTableWidget

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


class FittedTable(QTableWidget):
    """A read-only table whose columns are fitted to its width whenever it changes."""

    least = NAME_FLOOR  # pixels the names' column keeps at the least

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        fit_columns(self)


def _two_lines(text: str) -> str:
    """``text`` broken at the space nearest its middle (a cell's narrowest two lines)."""
    return short_header(text) if " " in text else text


def fit_columns(table: QTableWidget) -> None:
    """The other columns as wide as their contents, those with words on two
    lines (the largest saving first) while the table is too narrow for them
    (a table that wraps its words); the names' column takes the rest (at most
    NAME_WIDTH or a third of the table, at least the table's ``least``, NAME_FLOOR by default). Rows as tall as
    their lines. Only a table too narrow for the contents scrolls sideways."""
    columns = table.columnCount()
    if not columns:
        return
    header = table.horizontalHeader()
    metrics = table.fontMetrics()
    natural, narrow = {}, {}
    for c in range(1, columns):
        if table.isColumnHidden(c):
            continue
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
    floor = min(header.sectionSize(0), getattr(table, "least", NAME_FLOOR))
    widths = dict(natural)
    for c in sorted(natural, key=lambda k: narrow[k] - natural[k]):  # the largest saving first
        if not table.wordWrap() or floor + sum(widths.values()) <= room:
            break
        widths[c] = min(natural[c], narrow[c])
    for c, width in widths.items():
        header.resizeSection(c, width)
    wanted = max(NAME_WIDTH, room // 3)
    header.resizeSection(0, max(floor, min(header.sectionSize(0), wanted,
                                           room - sum(widths.values()))))
    if table.wordWrap():  # a table of one-line rows (thousands, maybe) keeps its rows
        table.resizeRowsToContents()
