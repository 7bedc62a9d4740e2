"""The Validate tab's table of runs: one row per figure, one column per run
and summary. Every column in view at a laptop's width: the headers on two
short lines (whole on hover), the numbers' columns as wide as their numbers,
words ("too few test patients to say") on two lines where one is too wide,
and the figures' names given what is left, wrapped (whole on hover)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from allgui.gui.widgets.fit_table import FittedTable, fit_columns, short_header
from allgui.gui.widgets.text import plain_tooltip


def run_table() -> QTableWidget:
    """An empty, read-only table tall enough for its header and three rows."""
    table = FittedTable(0, 0)
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
