"""The pages of the Validate tab's figures (ROC curves, confusion matrices):
each holds one figure at a time, or a placeholder until a run has finished."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from allgui.gui.widgets.text import plain_label


def figure_page(figures: QTabWidget, title: str) -> QVBoxLayout:
    """A new page of ``figures``, showing the placeholder; its layout holds the figure."""
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.setContentsMargins(0, 0, 0, 0)
    set_figure(layout, None)
    figures.addTab(page, title)
    return layout


def set_figure(holder: QVBoxLayout, widget: QWidget | None) -> None:
    """Put ``widget`` (None: the placeholder) in ``holder``, instead of what was there."""
    while holder.count():
        old = holder.takeAt(0).widget()
        if old is not None and old is not widget:
            if getattr(old, "keep", False):  # the confusion view lives as long as the tab
                old.hide()
                old.setParent(None)
            else:
                old.deleteLater()
    if widget is None:
        widget = plain_label("Appears once a run has finished.")
        widget.setAlignment(Qt.AlignCenter)
    holder.addWidget(widget)
