"""The search space as an editable table, checked as the user types."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("Parameter", "Search", "Low", "High", "Log", "Choices", "Fixed at")
_BAD = QColor(255, 205, 205)


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _parse_value(text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class SpaceEditor(QWidget):
    """Rows of :class:`allgui.core.search.space.Param`; :meth:`space` builds and
    validates a SearchSpace, ``changed(ok)`` fires after every edit."""

    changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemChanged.connect(self._edited)
        self.table.setMinimumHeight(215)  # all seven parameters without scrolling
        layout.addWidget(self.table)
        self.problem = QLabel("")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b00020;")
        layout.addWidget(self.problem)
        self.reset_button = QPushButton("Paper's preset")
        self.reset_button.setToolTip("Put back the search space of the paper (Table 1)")
        self.reset_button.clicked.connect(self.reset)
        layout.addWidget(self.reset_button, 0, Qt.AlignLeft)
        self._loading = False
        self.reset()

    def reset(self) -> None:
        from allgui.core.search.space import SearchSpace

        self.set_space(SearchSpace())

    def set_space(self, space) -> None:
        from allgui.core.model.params import label

        self._loading = True
        self.table.setRowCount(0)
        for p in space.params:
            row = self.table.rowCount()
            self.table.insertRow(row)
            name = QTableWidgetItem(label(p.name))
            name.setData(Qt.UserRole, p.name)
            name.setFlags(Qt.ItemIsEnabled)
            search = QTableWidgetItem()
            search.setFlags(Qt.ItemIsEnabled | Qt.ItemIsUserCheckable)
            search.setCheckState(Qt.Checked if p.search else Qt.Unchecked)
            log = QTableWidgetItem()
            log.setFlags(Qt.ItemIsEnabled | Qt.ItemIsUserCheckable)
            log.setCheckState(Qt.Checked if p.log else Qt.Unchecked)
            cells = [
                name, search, QTableWidgetItem(_fmt(p.low)), QTableWidgetItem(_fmt(p.high)), log,
                QTableWidgetItem(", ".join(_fmt(c) for c in p.choices)),
                QTableWidgetItem(_fmt(p.fixed)),
            ]
            for col, item in enumerate(cells):
                self.table.setItem(row, col, item)
        self._loading = False
        self._edited()

    def _row_dict(self, row: int) -> tuple[str, dict[str, Any]]:
        t = self.table
        name = t.item(row, 0).data(Qt.UserRole)
        choices_text = t.item(row, 5).text().strip()
        d: dict[str, Any] = {}
        if choices_text:
            d["choices"] = [_parse_value(c) for c in choices_text.split(",") if c.strip()]
        else:
            d["low"] = _parse_value(t.item(row, 2).text())
            d["high"] = _parse_value(t.item(row, 3).text())
            d["log"] = t.item(row, 4).checkState() == Qt.Checked
        if t.item(row, 1).checkState() != Qt.Checked:
            d["search"] = False
            d["fixed"] = _parse_value(t.item(row, 6).text())
        return name, d

    def space(self):
        """The SearchSpace in the table; raises SearchSpaceError in plain words."""
        from allgui.core.model.params import label
        from allgui.core.search.space import SearchSpace, SearchSpaceError

        data = dict(self._row_dict(r) for r in range(self.table.rowCount()))
        for name, d in data.items():
            for key in ("low", "high"):
                if isinstance(d.get(key), str):
                    raise SearchSpaceError(f"{label(name)}: '{d[key]}' is not a number.")
        return SearchSpace.from_dict(data)

    def _edited(self, *_: Any) -> None:
        if self._loading:
            return
        from allgui.core.errors import AllguiError

        self._loading = True
        for r in range(self.table.rowCount()):
            for c in range(self.table.columnCount()):
                self.table.item(r, c).setBackground(QBrush())
        try:
            self.space()
        except (AllguiError, ValueError, TypeError) as exc:
            message = getattr(exc, "message", str(exc))
            self.problem.setText(message)
            for r in range(self.table.rowCount()):
                item = self.table.item(r, 0)
                if item.text() in message or item.data(Qt.UserRole) in message:
                    for c in range(self.table.columnCount()):
                        self.table.item(r, c).setBackground(QBrush(_BAD))
            ok = False
        else:
            self.problem.setText("")
            ok = True
        self._loading = False
        self.changed.emit(ok)

    def is_valid(self) -> bool:
        return not self.problem.text()
