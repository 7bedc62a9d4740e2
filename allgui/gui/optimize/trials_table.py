"""The Optimize tab's table of trials: one row per trial, sortable by the
numbers themselves (not their text), kept up to date from the tab's
TrialBook, with the selected trial's full settings in a pane below."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from allgui.core.model.params import format_value, label, ordered
from allgui.gui.optimize.trials_model import TrialRecord

STATE_COLOURS = {"failed": Qt.darkRed, "pruned": Qt.darkYellow, "stopped": Qt.darkGray}
TRIAL_COLUMNS = ("Trial", "State", "Value", "Duration", "Parameters", "Why", "Worker")
SORT_KEY = Qt.UserRole + 1
NO_SELECTION = "Select a trial to see all its settings."


def duration_text(seconds: float | None) -> str:
    """12.1 s, 4 min 05 s, 1 h 02 min."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def params_text(params: dict, sep: str = ", ") -> str:
    return sep.join(f"{label(k)} {format_value(k, params[k])}" for k in ordered(params))


class _Item(QTableWidgetItem):
    """A cell shown as text and sorted by its value (empty cells last).

    The sort key lives on the Python object, never in Qt's item data: a
    blank cell's key is None, and PySide6 (6.12 on Python 3.11) drops a
    reference to None each time such data is read, until the window aborts
    (``none_dealloc``) after a few sorts of a study of thousands of trials.
    Only the trial number (an int) goes into the item data, to find a row."""

    def __init__(self, text: str, key=None) -> None:
        super().__init__(text)
        self.key = key
        if isinstance(key, int) and not isinstance(key, bool):
            self.setData(SORT_KEY, key)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.key, getattr(other, "key", None)
        if a is None or b is None:  # blanks (a running trial's value) last either way
            table = self.tableWidget()
            down = table is not None and \
                table.horizontalHeader().sortIndicatorOrder() == Qt.DescendingOrder
            return a is not b and (a is not None) != down
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a < b
        return str(a) < str(b)


class TrialsTable(QTableWidget):
    def __init__(self) -> None:
        super().__init__(0, len(TRIAL_COLUMNS))
        self.setHorizontalHeaderLabels(TRIAL_COLUMNS)
        self.setSortingEnabled(True)
        self.sortByColumn(0, Qt.AscendingOrder)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setTextElideMode(Qt.ElideRight)
        self.setWordWrap(False)  # one line a trial; the whole settings on hover and below
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.Stretch)
        self.setMinimumHeight(80)
        self.records: dict[int, TrialRecord] = {}
        self._firsts: dict[int, QTableWidgetItem] = {}
        self.detail = QLabel(NO_SELECTION)
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.itemSelectionChanged.connect(self._show_detail)
        self._show_columns()

    def pane(self) -> QWidget:
        """The table with its detail pane underneath."""
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self, 1)
        layout.addWidget(self.detail)
        return box

    def clear_rows(self) -> None:
        """No trial (another study): nor any trial's settings below."""
        self.setRowCount(0)
        self.records.clear()
        self._firsts.clear()
        self.detail.setText(NO_SELECTION)
        self._show_columns()

    def _show_columns(self) -> None:
        # "Why" and "Worker" only when a trial has one: their room goes to the settings
        for col, field in ((5, "reason"), (6, "worker")):
            self.setColumnHidden(col, not any(getattr(r, field) for r in self.records.values()))

    def show_trial(self, rec: TrialRecord) -> None:
        """Add or update the row of trial ``rec.number``."""
        self.show_trials((rec,))

    def show_trials(self, recs) -> None:
        """Add or update the rows of ``recs`` at once: the table is sorted (and
        its columns chosen) once for all of them, not once per trial, so a
        study of thousands of trials opens in seconds."""
        sorting = self.isSortingEnabled()
        self.setSortingEnabled(False)
        for rec in recs:
            self._put(rec)
        self.setSortingEnabled(sorting)
        self._show_columns()
        if self.selected_trial() in {rec.number for rec in recs}:
            self._show_detail()

    def _put(self, rec: TrialRecord) -> None:
        self.records[rec.number] = rec
        row = self.find_row(rec.number)
        if row is None:
            row = self.rowCount()
            self.insertRow(row)
        value = rec.value if rec.value is not None and not math.isnan(rec.value) else None
        cells = [
            _Item(str(rec.number), rec.number),
            _Item(rec.state, rec.state),
            _Item("" if value is None else f"{value:.4f}", value),
            _Item(duration_text(rec.duration_s), rec.duration_s),
            _Item(params_text(rec.params), params_text(rec.params)),
            _Item(rec.reason, rec.reason or None),
            _Item(rec.worker, rec.worker or None),
        ]
        full = params_text(rec.params, "\n")
        for col, item in enumerate(cells):
            if col in (0, 2, 3):
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            item.setToolTip(f"Trial {rec.number}\n{full}" + (f"\n{rec.reason}" if rec.reason else ""))
            if rec.state in STATE_COLOURS:  # stopped: grey, not a failure's red
                item.setForeground(STATE_COLOURS[rec.state])
            self.setItem(row, col, item)
        self._firsts[rec.number] = cells[0]

    def find_row(self, number: int) -> int | None:
        item = self._firsts.get(number)  # each trial's first cell: no scan of every row
        return item.row() if item is not None else None

    def selected_trial(self) -> int | None:
        rows = self.selectionModel().selectedRows()
        item = self.item(rows[0].row(), 0) if rows else None
        return None if item is None else item.data(SORT_KEY)

    def select_trial(self, number: int) -> None:
        row = self.find_row(number)
        if row is not None:
            self.selectRow(row)
            self.scrollToItem(self.item(row, 0))

    def _show_detail(self) -> None:
        number = self.selected_trial()
        rec = self.records.get(number) if number is not None else None
        if rec is None:
            return
        head = f"Trial {rec.number} ({rec.state}"
        if rec.value is not None and not math.isnan(rec.value):
            head += f", value {rec.value:.4f}"
        if rec.duration_s is not None:
            head += f", {duration_text(rec.duration_s)}"
        head += ")"
        more = f". {rec.reason}" if rec.reason else ""
        self.detail.setText(f"{head}: {params_text(rec.params) or 'no settings yet'}{more}")
