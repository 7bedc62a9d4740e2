"""The Optimize tab's table of trials: one row per trial, sortable, kept up to
date from the tab's TrialBook."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from allgui.gui.optimize.trials_model import TrialRecord

STATE_COLOURS = {"failed": Qt.darkRed, "pruned": Qt.darkYellow, "stopped": Qt.darkGray}
TRIAL_COLUMNS = ("Trial", "State", "Value", "Duration (s)", "Parameters", "Why", "Worker")


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


class TrialsTable(QTableWidget):
    def __init__(self) -> None:
        super().__init__(0, len(TRIAL_COLUMNS))
        self.setHorizontalHeaderLabels(TRIAL_COLUMNS)
        self.setSortingEnabled(True)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.Stretch)

    def show_trial(self, rec: TrialRecord) -> None:
        """Add or update the row of trial ``rec.number``."""
        sorting = self.isSortingEnabled()
        self.setSortingEnabled(False)
        row = self.find_row(rec.number)
        if row is None:
            row = self.rowCount()
            self.insertRow(row)
        params = ", ".join(f"{k}={_short(v)}" for k, v in rec.params.items())
        values = [rec.number, rec.state, rec.value, rec.duration_s, params, rec.reason,
                  rec.worker]
        for col, v in enumerate(values):
            item = QTableWidgetItem()
            if isinstance(v, (int, float)) and v is not None:
                item.setData(Qt.DisplayRole, round(v, 4) if isinstance(v, float) else v)
            else:
                item.setText("" if v is None else str(v))
            if col == 4:
                item.setToolTip("\n".join(f"{k} = {v}" for k, v in rec.params.items()))
            if rec.state in STATE_COLOURS:  # stopped: grey, not a failure's red
                item.setForeground(STATE_COLOURS[rec.state])
            self.setItem(row, col, item)
        self.setSortingEnabled(sorting)

    def find_row(self, number: int) -> int | None:
        for row in range(self.rowCount()):
            item = self.item(row, 0)
            if item is not None and item.data(Qt.DisplayRole) == number:
                return row
        return None

    def selected_trial(self) -> int | None:
        rows = self.selectionModel().selectedRows()
        item = self.item(rows[0].row(), 0) if rows else None
        return None if item is None else item.data(Qt.DisplayRole)
