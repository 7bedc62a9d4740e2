"""The Classify tab's selected image: the picture with its heatmap (zoom,
pan, opacity), the model's answer under it, full size in a window of its
own, and saved as shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QLabel, QPushButton, QVBoxLayout, QWidget

from allgui.core.dataset.imaging import read_rgb
from allgui.core.errors import AllguiError
from allgui.core.files.text import terminal_text
from allgui.gui import dialogs
from allgui.gui.classify.results import html_text as _html
from allgui.gui.widgets.elided import scrolled
from allgui.gui.widgets.image_view import ImageViewer


class SelectedImage:
    """Mixed into the Classify tab (which has ``table``, ``results``,
    ``settings``, ``project``, ``log`` and ``show_error``)."""

    _shown: Any = None
    full_size: Any = None  # the picture's own window, once opened

    def _build_viewer(self) -> QWidget:
        box = QGroupBox("Selected image")
        layout = QVBoxLayout(box)
        layout.setSpacing(4)
        self.image_label = ImageViewer(
            "Select a result to see the image and its heatmap.",
            heatmap=bool(self.settings.choice("classify/heatmap", True)),
            opacity=int(self.settings.choice("classify/opacity", 60)))
        self.heatmap_check = self.image_label.heatmap_check
        self.opacity = self.image_label.opacity
        self.image_label.offer_enlarge()
        self.image_label.enlarge_requested.connect(self.open_full_size)
        layout.addWidget(self.image_label, 1)
        self.answer_label = QLabel("")
        self.answer_label.setTextFormat(Qt.RichText)
        layout.addWidget(scrolled(self.answer_label, lines=3, grow=False))  # the picture grows
        self.save_image_button = QPushButton("Save image as shown…")
        self.save_image_button.setToolTip("Save the picture as drawn here, with the heatmap "
                                          "when it is shown, as a PNG file")
        self.save_image_button.clicked.connect(self.choose_image_file)
        layout.addWidget(self.save_image_button)
        return box

    def _show_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        item = self.table.item(rows[0].row(), 0)
        self._shown = self.results[item.data(Qt.UserRole)]
        pred = self._shown.prediction
        if pred is None:
            self.answer_label.setText(f"<b>Could not be read</b>: {_html(self._shown.error)}")
        else:
            flag = ("  <span style='color:#b36b00'><b>UNCERTAIN</b>: the two classes are close; "
                    "do not rely on this answer.</span>" if pred.uncertain else "")
            probs = ", ".join(f"{_html(c)} {p:.1%}" for c, p in pred.probabilities.items())
            self.answer_label.setText(
                f"<b>{_html(pred.label)}</b> with probability {pred.probability:.1%} "
                f"(margin {pred.margin:.2f}){flag}<br>{probs}"
            )
        self._redraw_image()

    def _redraw_image(self) -> None:
        shown = self._shown
        if shown is None:
            return
        try:
            rgb = np.asarray(read_rgb(shown.path))
        except AllguiError as exc:
            self.image_label.setText(exc.message)
            return
        reason = ("No heatmap: this image could not be classified." if shown.prediction is None
                  else "No heatmap: the model gave none for this image.")
        self.image_label.set_image(rgb, shown.heatmap_small, path=terminal_text(shown.path),
                                   patient=terminal_text(shown.patient or ""),
                                   no_heat_reason=reason)

    def open_full_size(self):
        """The selected picture at full size, in a window of its own."""
        from allgui.gui.widgets.image_view import open_full_size

        if self.full_size is not None:
            self.full_size.close()
        self.full_size = open_full_size(self, self.image_label)
        if self.full_size is not None:
            self.full_size.destroyed.connect(lambda *_: setattr(self, "full_size", None))
        return self.full_size

    def choose_image_file(self) -> None:
        if self._shown is None:
            return
        start = (self.project.reports_dir if self.project else Path.home()) / (
            Path(self._shown.path).stem + "-heatmap.png")
        path = dialogs.choose_save_file(self, "Save the image", str(start), "PNG images (*.png)")
        if path:
            self.save_image(path)

    def save_image(self, path: str) -> None:
        """The picture as shown (with its heatmap when on) as a PNG."""
        from allgui.core.files.atomic import atomic_write_bytes
        from allgui.core.infer.heatmap import png_bytes

        pixels = self.image_label.composed()
        if pixels is None:
            return
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, png_bytes(pixels))
        except OSError as exc:
            self.show_error(exc, "Cannot save the image")
            return
        self.log(f"Saved the image to {path}")

