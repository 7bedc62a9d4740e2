"""Looking at the dataset's images: one opened large in the image viewer, or
every image of a class as thumbnails (read on a job's thread, a page at a
time, so a class of 10 000 images opens at once)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
)

from allgui.core.errors import AllguiError, Cancelled
from allgui.core.events import Progress, Sink
from allgui.core.files.text import terminal_text
from allgui.gui.widgets.image_view import ImageViewer, to_pixmap

PAGE = 120  # thumbnails read per "Show more"
SIDE = 112


def open_image(parent, path: str, patient: str = "", title: str = "") -> QDialog:
    """One image, large, with zoom and pan (no heatmap: no model is involved)."""
    from allgui.core.dataset.imaging import read_rgb

    dialog = QDialog(parent)
    dialog.setWindowTitle(title or Path(path).name)
    dialog.resize(720, 620)
    layout = QVBoxLayout(dialog)
    viewer = ImageViewer("")
    layout.addWidget(viewer, 1)
    try:
        viewer.set_image(np.asarray(read_rgb(path)), path=terminal_text(path),
                         patient=terminal_text(patient or ""),
                         no_heat_reason="Heatmaps appear where a model classified the image "
                                        "(Classify tab, mistakes gallery).")
    except AllguiError as exc:
        viewer.setText(exc.message)
    buttons = QDialogButtonBox(QDialogButtonBox.Close)
    buttons.rejected.connect(dialog.reject)
    layout.addWidget(buttons)
    dialog.viewer = viewer
    dialog.setAttribute(Qt.WA_DeleteOnClose)
    dialog.show()
    return dialog


def read_thumbs(records, sink: Sink, cancel: threading.Event) -> list:
    """(record, RGB thumbnail or None) for each record (on a job's thread)."""
    from allgui.core.dataset.imaging import read_rgb

    out = []
    for n, r in enumerate(records):
        if cancel.is_set():
            raise Cancelled()
        sink(Progress("browse", "images", n, len(records), f"Reading image {n + 1} of {len(records)}"))
        try:
            img = read_rgb(r.path)
            img.thumbnail((SIDE, SIDE))
            out.append((r, np.asarray(img).copy()))
        except AllguiError:
            out.append((r, None))
    return out


class ClassBrowser(QDialog):
    """Every image of one class, a page at a time; double-click opens one."""

    def __init__(self, tab, label: str, records) -> None:
        super().__init__(tab)
        self.tab = tab
        self.records = list(records)
        self.setWindowTitle(f"All images of {label}")
        self.resize(900, 620)
        self.setMinimumSize(480, 360)
        layout = QVBoxLayout(self)
        self.header = QLabel("")
        layout.addWidget(self.header)
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.IconMode)
        self.list.setIconSize(QSize(SIDE, SIDE))
        self.list.setGridSize(QSize(SIDE + 36, SIDE + 40))
        self.list.setResizeMode(QListWidget.Adjust)
        self.list.setMovement(QListWidget.Static)
        self.list.setToolTip("Double-click an image to open it large")
        self.list.itemActivated.connect(self._open)
        layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.more_button = QPushButton("Show more")
        self.more_button.clicked.connect(self.more)
        row.addWidget(self.more_button)
        row.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        row.addWidget(buttons)
        layout.addLayout(row)
        self.shown = 0
        self.more()

    def more(self) -> None:
        page = self.records[self.shown:self.shown + PAGE]
        if not page:
            return
        self.more_button.setEnabled(False)
        self.tab.start_job("Reading the images", read_thumbs, page, on_success=self._add,
                           on_failure=lambda exc: self.more_button.setEnabled(True))

    def _add(self, thumbs) -> None:
        for record, rgb in thumbs:
            name = Path(record.path).name
            item = QListWidgetItem(terminal_text(name))
            if rgb is not None:
                item.setIcon(QIcon(to_pixmap(rgb)))
            patient = f"\npatient {record.patient}" if record.patient else ""
            item.setToolTip(terminal_text(record.path) + patient)
            item.setData(Qt.UserRole, (record.path, record.patient or ""))
            self.list.addItem(item)
        self.shown += len(thumbs)
        n = len(self.records)
        self.header.setText(f"{self.shown} of {n} image{'s' if n != 1 else ''} shown.")
        self.more_button.setEnabled(self.shown < n)

    def _open(self, item: QListWidgetItem) -> None:
        path, patient = item.data(Qt.UserRole)
        open_image(self, path, patient)


def browse_class(tab, label: str) -> ClassBrowser | None:
    """The browser for ``label`` of the tab's dataset; None without a dataset."""
    view = tab.view
    if view is None:
        return None
    records = [r for r in view.index.records if r.label == label]
    browser = ClassBrowser(tab, label, records)
    browser.setAttribute(Qt.WA_DeleteOnClose)
    browser.show()
    return browser
