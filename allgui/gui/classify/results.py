"""The Classify tab's table of answers: one row per image (class,
probability, margin, uncertain flag, patient, problem, the folder's class),
sorted by file name until a header is clicked, numbers sorted by value."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from allgui.core.files.text import terminal_text
from allgui.gui.classify.truth import truth_of
from allgui.gui.widgets.fit_table import FittedTable, fit_columns
from allgui.gui.widgets.text import plain_tooltip

if TYPE_CHECKING:  # onnxruntime loads only when a model is used
    from allgui.core.infer.folder import FolderRow

COLUMNS = ("Image", "Class", "Probability", "Margin", "Uncertain", "Patient", "Problem", "Truth")


def results_table() -> QTableWidget:
    """The empty table: whole rows selected one at a time, read only, its
    columns fitted to its width (see :func:`fit_results`)."""
    table = FittedTable(0, len(COLUMNS))
    table.least = NAME_LEAST
    table.setHorizontalHeaderLabels(COLUMNS)
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    table.setSelectionMode(QAbstractItemView.SingleSelection)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.setSortingEnabled(True)
    table.sortByColumn(0, Qt.AscendingOrder)  # file names A to Z until a header is clicked
    table.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
    table.setTextElideMode(Qt.ElideMiddle)  # both ends of a long name stay visible
    table.setWordWrap(False)
    table.horizontalHeaderItem(7).setToolTip(
        "The class named by the image's folder (an 'all' or 'hem' folder), when it has one")
    return table


NAME_LEAST = 80  # pixels an image's name keeps at the least ("UID_…hem.bmp", whole on hover)
OPTIONAL = (COLUMNS.index("Patient"), COLUMNS.index("Problem"), COLUMNS.index("Truth"))


def fit_results(table: QTableWidget) -> None:
    """Every column in view at a laptop's width: a column no row fills (no
    patient in the file names, no image that failed, no class folders) is
    hidden while it is empty; the images' names take what the others leave."""
    for c in OPTIONAL:
        empty = all(table.item(r, c) is None or not table.item(r, c).text()
                    for r in range(table.rowCount()))
        table.setColumnHidden(c, empty and table.rowCount() > 0)
    fit_columns(table)


def result_cells(result: FolderRow, index: int, classes) -> list[QTableWidgetItem]:
    """One row of the table; the name's cell keeps ``index`` (the result's
    place in the tab's list), whatever the sorting does to the rows."""
    pred = result.prediction
    name = NameItem(terminal_text(Path(result.path).name))
    name.setToolTip(plain_tooltip(terminal_text(result.path)))
    name.setData(Qt.UserRole, index)
    cells = [name]
    if pred is not None:
        cells += [
            QTableWidgetItem(terminal_text(pred.label)),
            NumberItem(pred.probability),
            NumberItem(pred.margin),
            QTableWidgetItem("uncertain" if pred.uncertain else ""),
        ]
    else:
        cells += [QTableWidgetItem("") for _ in range(4)]
    cells.append(QTableWidgetItem(terminal_text(result.patient or "")))
    cells.append(QTableWidgetItem(terminal_text(result.error)))
    truth = truth_of(result.path, classes)
    truth_item = QTableWidgetItem(terminal_text(truth))
    if truth and pred is not None and pred.label != truth:
        truth_item.setToolTip("The model's answer differs from the folder's name")
        truth_item.setText(terminal_text(truth) + " ✗")
    cells.append(truth_item)
    for item in cells:
        if pred is not None and pred.uncertain:
            item.setForeground(Qt.darkYellow)
        if result.error:
            item.setForeground(Qt.red)
    return cells


class NameItem(QTableWidgetItem):
    """A file name sorted as a file manager sorts: numbers within names by
    value ("2.bmp" before "10.bmp"), letters without regard to case."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return natural_key(self.text()) < natural_key(other.text())


def natural_key(text: str) -> list[tuple[int, int | str]]:
    """``text`` cut into runs of digits (compared as numbers) and the rest."""
    return [(0, int(part)) if part.isdigit() else (1, part.casefold())
            for part in re.split(r"(\d+)", text) if part]


class NumberItem(QTableWidgetItem):
    """A number shown with four decimals in every row ("0.7770", not "0.777")
    and sorted by its value, not its text."""

    def __init__(self, value: float) -> None:
        super().__init__(f"{float(value):.4f}")
        self.value = float(value)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if isinstance(other, NumberItem):
            return self.value < other.value
        return self.text() < other.text()  # a row without a number (a file not read)


def html_text(text: str) -> str:
    """Untrusted text (a file or class name) for a rich-text label."""
    return html.escape(terminal_text(text))
