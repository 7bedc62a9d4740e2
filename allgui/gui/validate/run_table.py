"""The Validate tab's table of runs: one row per figure, one column per run
and summary, the figures' names kept narrow enough that the numbers show."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from allgui.gui.widgets.text import plain_tooltip

NAME_WIDTH = 200  # pixels a figure's name gets at the least in the table


def run_table() -> QTableWidget:
    """An empty, read-only table tall enough for its header and three rows."""
    table = QTableWidget(0, 0)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
    rows = table.verticalHeader().defaultSectionSize()
    table.setMinimumHeight(table.horizontalHeader().sizeHint().height() + 3 * rows + 6)
    return table


def fill_table(table: QTableWidget, header: list[str], rows: list[list[str]]) -> None:
    """``rows`` under ``header``, the numbers right-aligned, a name whole on hover."""
    table.clear()
    table.setColumnCount(len(header))
    table.setRowCount(len(rows))
    # "Run 1" over "(seed 0)": the runs' columns as narrow as their numbers
    table.setHorizontalHeaderLabels([h.replace(" (seed", "\n(seed") for h in header])
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if c > 0:
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            else:
                item.setToolTip(plain_tooltip(text))  # the whole name, when shortened
            table.setItem(r, c, item)
    fit_names(table)


def fit_names(table: QTableWidget) -> None:
    """The figures' names at most a third of the table wide (shortened with
    "…", whole on hover), so that the numbers beside them are in view."""
    header = table.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
    widest = max(NAME_WIDTH, table.viewport().width() // 3)
    if header.sectionSize(0) > widest:
        header.setSectionResizeMode(0, QHeaderView.Interactive)
        header.resizeSection(0, widest)
