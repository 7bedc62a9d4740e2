"""The mistakes gallery: the test images of one confusion-matrix cell (or a
run's false negatives, most uncertain answers...) as thumbnails with the true
and predicted class, the probability, the patient and the heatmap; one opens
large in the image viewer; the list saves as CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
)

from allgui.core.errors import AllguiError
from allgui.core.files.atomic import atomic_write_text
from allgui.core.files.text import terminal_text
from allgui.gui import dialogs
from allgui.gui.validate.mistakes import THUMB_SIDE, GalleryContents, GalleryItem, csv_text
from allgui.gui.widgets import colormap
from allgui.gui.widgets.image_view import ImageViewer, fit_heat, to_pixmap
from allgui.gui.widgets.text import markup, plain_label, plain_tooltip, rich_label


def item_text(item: GalleryItem) -> str:
    mark = "✓" if item.true == item.predicted else "✗"
    patient = f"\npatient {item.patient}" if item.patient else ""
    return (f"{mark} true {item.true}\ncalled {item.predicted} {item.probability:.0%}"
            + patient)


class ImageDialog(QDialog):
    """One test image, large, with zoom and its heatmap."""

    def __init__(self, parent, item: GalleryItem, heat: np.ndarray | None, note: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"{Path(item.path).name}: true {item.true}, "
                            f"called {item.predicted} ({item.probability:.1%})")
        self.resize(720, 640)
        layout = QVBoxLayout(self)
        self.viewer = ImageViewer("")
        layout.addWidget(self.viewer, 1)
        answer = rich_label(f"True class <b>{markup(item.true)}</b>; the model said "
                            f"<b>{markup(item.predicted)}</b> with probability "
                            f"{item.probability:.1%} (margin {item.margin:.2f}).")
        answer.setWordWrap(True)
        layout.insertWidget(0, answer)
        from allgui.core.dataset.imaging import read_rgb

        try:
            rgb = np.asarray(read_rgb(item.path))
        except AllguiError as exc:
            self.viewer.setText(exc.message)
        else:
            self.viewer.set_image(rgb, heat, path=terminal_text(item.path),
                                  patient=terminal_text(item.patient), no_heat_reason=note)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


class MistakesGallery(QDialog):
    """Thumbnails of the selected test images; double-click opens one."""

    def __init__(self, parent, title: str, contents: GalleryContents, save_dir: Path) -> None:
        super().__init__(parent)
        self.contents = contents
        self.save_dir = save_dir
        self.setWindowTitle(title)
        self.resize(900, 620)
        self.setMinimumSize(480, 360)
        layout = QVBoxLayout(self)
        n, total = len(contents.items), contents.total
        shown = (f"{n} image{'s' if n != 1 else ''}" if n == total
                 else f"the {n} most telling of {total} images")
        head = f"<b>{markup(title)}</b>: {shown}."
        if contents.model:
            head += f" Heatmaps from the exported model {markup(contents.model)}."
        self.header = rich_label(head)
        self.header.setWordWrap(True)
        layout.addWidget(self.header)
        if contents.heat_note:
            note = plain_label(terminal_text(contents.heat_note))
            note.setWordWrap(True)
            layout.addWidget(note)
        row = QHBoxLayout()
        self.heat_check = QCheckBox("Heatmaps on the thumbnails")
        self.heat_check.setChecked(any(p.heat is not None for p in contents.pictures))
        self.heat_check.setEnabled(self.heat_check.isChecked())
        self.heat_check.toggled.connect(self._fill)
        row.addWidget(self.heat_check)
        row.addStretch(1)
        self.export_button = QPushButton("Export the list as CSV…")
        self.export_button.setToolTip("Path, patient, true and predicted class, probability "
                                      "and margin of every image listed here")
        self.export_button.clicked.connect(self.choose_csv)
        row.addWidget(self.export_button)
        layout.addLayout(row)
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.IconMode)
        self.list.setIconSize(QSize(THUMB_SIDE, THUMB_SIDE))
        self.list.setGridSize(QSize(THUMB_SIDE + 40, THUMB_SIDE + 64))
        self.list.setResizeMode(QListWidget.Adjust)
        self.list.setMovement(QListWidget.Static)
        self.list.setWordWrap(True)
        self.list.setToolTip("Double-click an image to open it large")
        self.list.itemActivated.connect(lambda it: self.open_item(self.list.row(it)))
        layout.addWidget(self.list, 1)
        if not contents.items:
            layout.addWidget(plain_label("No test image falls here."))
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._fill()

    def paths(self) -> list[str]:
        return [self.list.item(i).data(Qt.UserRole) for i in range(self.list.count())]

    def _fill(self) -> None:
        self.list.clear()
        heat_on = self.heat_check.isChecked()
        for item, pic in zip(self.contents.items, self.contents.pictures, strict=True):
            entry = QListWidgetItem(item_text(item))
            if pic.thumb is not None:
                rgb = pic.thumb
                if heat_on and pic.heat is not None:
                    rgb = colormap.blend(rgb, fit_heat(pic.heat, rgb.shape[:2]), 0.6)
                entry.setIcon(QIcon(to_pixmap(rgb)))
            tip = terminal_text(item.path) + (f"\n{pic.problem}" if pic.problem else "")
            entry.setToolTip(plain_tooltip(tip))  # a file name is never markup
            entry.setData(Qt.UserRole, item.path)
            entry.setTextAlignment(Qt.AlignHCenter | Qt.AlignTop)
            self.list.addItem(entry)

    def open_item(self, row: int) -> ImageDialog | None:
        if not 0 <= row < len(self.contents.items):
            return None
        pic = self.contents.pictures[row]
        note = self.contents.heat_note or pic.problem
        dialog = ImageDialog(self, self.contents.items[row], pic.heat, note)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def choose_csv(self) -> None:
        path = dialogs.choose_save_file(self, "Export the list", str(self.save_dir / "images.csv"),
                                        "CSV files (*.csv)")
        if path:
            self.save_csv(path)

    def save_csv(self, path: str) -> None:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, csv_text(self.contents.items))
        except OSError as exc:
            from allgui.gui.errors import show_error

            show_error(self, exc, "Cannot save the list")
