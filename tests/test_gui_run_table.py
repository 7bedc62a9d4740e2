"""The Validate tab's table of runs shows every column at a laptop's width
(issue 26, walkthrough at 1200-1280 px): the interval over the test patients
was cut off at the right edge."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui

HEADER = ["Figure (average)", "Run 1 (seed 0)", "Run 2 (seed 1)", "Mean", "SD", "CV",
          "95% over seeds (t)", "95% over test patients (bootstrap)"]
NAMES = ["weighted F1 (weighted over classes)", "balanced accuracy (mean of recalls)",
         "AUC (positive class 'all')", "precision of 'all' (one class)"]


def _rows() -> list[list[str]]:
    # the interval's words as the engine writes them (3 demo patients, 2 runs)
    return [[name, "0.8123", "0.7988", "0.8056", "0.0095", "0.012", "too few runs to say",
             "too few test patients to say" if k % 2 else "[0.7511, 0.8602]"]
            for k, name in enumerate(NAMES)]


@pytest.mark.parametrize("width", [1200, 1280])
def test_every_column_of_the_run_table_is_in_view(window, qtbot, width):
    from allgui.gui.validate.run_table import fill_table

    tab = window.validate_tab
    window.tabs.setCurrentWidget(tab)
    window.resize(width, 800)
    qtbot.waitExposed(window)
    table = tab.table
    fill_table(table, HEADER, _rows())
    qtbot.wait(50)  # the layout's pass
    header = table.horizontalHeader()
    last = table.columnCount() - 1
    right = header.sectionViewportPosition(last) + header.sectionSize(last)
    assert right <= table.viewport().width(), (right, table.viewport().width())
    assert not table.horizontalScrollBar().isVisible()
    # every figure's cell whole in its place: numbers on one line, words on two at most
    from PySide6.QtCore import QRect, Qt

    metrics = table.fontMetrics()
    for r in range(table.rowCount()):
        for c in range(1, table.columnCount()):
            item = table.item(r, c)
            cell = table.visualItemRect(item)
            needed = metrics.boundingRect(QRect(0, 0, cell.width() - 6, 10_000),
                                          int(Qt.TextWordWrap), item.text())
            assert needed.width() <= cell.width() and needed.height() <= cell.height(), \
                (HEADER[c], item.text(), cell, needed)
    # a shortened header or name is whole on hover
    for c, text in enumerate(HEADER):
        assert text in table.horizontalHeaderItem(c).toolTip()
    for r, name in enumerate(NAMES):
        assert name in table.item(r, 0).toolTip()
