"""The one image viewer of the window (Dataset, mistakes gallery, Classify):
zoom with the wheel or the buttons, pan by dragging, the heatmap on or off
with its opacity and colour scale, and the file's path and patient.

Numpy, Pillow and Qt only: it runs in the classify-only build.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from allgui.gui.widgets import colormap
from allgui.gui.widgets.elided import ElidedLabel

ZOOM_STEP = 1.25
ZOOM_RANGE = (0.05, 32.0)  # of the picture's own pixels


def to_pixmap(rgb: np.ndarray) -> QPixmap:
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888)
    return QPixmap.fromImage(image.copy())  # copy: the array may go away


EMPTY_HEAT = "Empty heatmap: no part of this image spoke for the answer."


def fit_heat(heat: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A heatmap (float 0..1, or uint8 0..255) brought to the image's height x width."""
    heat = np.asarray(heat)
    if heat.dtype == np.uint8:
        heat = heat.astype(np.float32) / 255.0
    heat = heat.astype(np.float32)
    if heat.shape != shape:
        heat = np.asarray(Image.fromarray(heat).resize((shape[1], shape[0]),
                                                       Image.Resampling.BILINEAR))
    return heat


class ZoomView(QGraphicsView):
    """A picture fitted to the space until the user zooms; then kept at that zoom."""

    zoomed = Signal(float)
    double_clicked = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._scene = QGraphicsScene(self)
        self._item = QGraphicsPixmapItem()
        self._item.setTransformationMode(Qt.SmoothTransformation)
        self._scene.addItem(self._item)
        self.setScene(self._scene)
        self.setDragMode(QGraphicsView.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setRenderHint(QPainter.SmoothPixmapTransform)
        self.setMinimumSize(140, 96)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.fitted = True

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_pixmap(self, pixmap: QPixmap, keep_view: bool = False) -> None:
        self._item.setPixmap(pixmap)
        self._scene.setSceneRect(QRectF(pixmap.rect()))
        if not keep_view:
            self.fitted = True
        if self.fitted:
            self.fit()

    def pixmap(self) -> QPixmap:
        return self._item.pixmap()

    def fit(self) -> None:
        self.fitted = True
        if not self._item.pixmap().isNull():
            self.fitInView(self._item, Qt.KeepAspectRatio)
        self.zoomed.emit(self.zoom)

    def actual_size(self) -> None:
        self.resetTransform()
        self.fitted = False
        self.zoomed.emit(self.zoom)

    def zoom_by(self, factor: float) -> None:
        target = min(max(self.zoom * factor, ZOOM_RANGE[0]), ZOOM_RANGE[1])
        if self.zoom > 0:
            self.scale(target / self.zoom, target / self.zoom)
        self.fitted = False
        self.zoomed.emit(self.zoom)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt's
        self.double_clicked.emit()

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(ZOOM_STEP ** steps)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.fitted:
            self.fit()


class ImageViewer(QWidget):
    """One picture with its optional heatmap, a zoom row and a caption.
    ``enlarge_requested``: the user asked for the picture at full size (its
    "Full size" button, or a double-click on it)."""

    options_changed = Signal()  # heatmap shown or opacity changed
    enlarge_requested = Signal()

    def __init__(self, placeholder: str = "", heatmap: bool = True, opacity: int = 60) -> None:
        super().__init__()
        self._rgb: np.ndarray | None = None
        self._heat: np.ndarray | None = None
        self.placeholder = placeholder
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)  # five rows under the picture: the picture keeps the room
        self.view = ZoomView()
        self.message = QLabel(placeholder)
        self.message.setAlignment(Qt.AlignCenter)
        self.message.setWordWrap(True)
        # the picture's room even before there is one: showing it squeezes nothing
        self.message.setMinimumHeight(self.view.minimumHeight())
        layout.addWidget(self.message, 1)
        layout.addWidget(self.view, 1)
        self.view.hide()

        zoom_row = QHBoxLayout()
        for text, tip, slot in (("Fit", "Show the whole image", self.view.fit),
                                ("1:1", "One screen pixel per image pixel", self.view.actual_size),
                                ("−", "Zoom out (or turn the mouse wheel)",
                                 lambda: self.view.zoom_by(1 / ZOOM_STEP)),
                                ("+", "Zoom in (or turn the mouse wheel); drag to move around",
                                 lambda: self.view.zoom_by(ZOOM_STEP))):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            zoom_row.addWidget(button)
        self.enlarge_button = QToolButton()
        self.enlarge_button.setText("Full size…")
        self.enlarge_button.setToolTip("Open the picture in a window of its own, one screen "
                                       "pixel per image pixel (or double-click the picture)")
        self.enlarge_button.clicked.connect(self.enlarge_requested)
        self.enlarge_button.setVisible(False)  # where a tab offers it (show_enlarge)
        zoom_row.addWidget(self.enlarge_button)
        self.view.double_clicked.connect(self.enlarge_requested)
        self.zoom_label = QLabel("")
        self.zoom_label.setMinimumWidth(48)
        self.view.zoomed.connect(lambda z: self.zoom_label.setText(f"{z:.0%}"))
        zoom_row.addWidget(self.zoom_label)
        zoom_row.addStretch(1)
        self.heatmap_check = QCheckBox("Heatmap")
        self.heatmap_check.setToolTip("Colour where the model looked to decide (Grad-CAM): "
                                      "bright yellow is where it looked most")
        self.heatmap_check.setChecked(heatmap)
        self.heatmap_check.toggled.connect(self._options)
        self.opacity = QSlider(Qt.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(opacity)
        self.opacity.setMaximumWidth(110)
        self.opacity.setMinimumWidth(60)  # a slider, never squeezed to a dot
        self.opacity.setToolTip("How strongly the heatmap is drawn over the image")
        self.opacity.valueChanged.connect(self._options)
        zoom_row.addWidget(self.heatmap_check)
        zoom_row.addWidget(QLabel("Opacity"))
        zoom_row.addWidget(self.opacity)
        layout.addLayout(zoom_row)

        scale_row = QHBoxLayout()
        self.scale_low = QLabel("looked least")
        self.scale_bar = QLabel()
        self.scale_bar.setPixmap(to_pixmap(colormap.bar(100, 10)))
        self.scale_bar.setToolTip(f"Heatmap colour scale ({colormap.NAME}): from where the model "
                                  "looked least (dark) to most (yellow)")
        self.scale_high = QLabel("most")
        for w in (self.scale_low, self.scale_bar, self.scale_high):
            scale_row.addWidget(w)
        self.patient = ElidedLabel("")
        scale_row.addWidget(self.patient, 1)
        layout.addLayout(scale_row)
        self.heat_note = ElidedLabel("")  # one line, kept when hidden: it squeezes nothing
        keep = self.heat_note.sizePolicy()
        keep.setRetainSizeWhenHidden(True)
        self.heat_note.setSizePolicy(keep)
        self.heat_note.hide()
        layout.addWidget(self.heat_note)
        self.caption = ElidedLabel("", Qt.ElideMiddle)
        layout.addWidget(self.caption)
        self._update_controls()

    # -- what is shown ------------------------------------------------------------------
    def set_image(self, rgb: np.ndarray, heat: np.ndarray | None = None, *, path: str = "",
                  patient: str = "", no_heat_reason: str = "") -> None:
        """Show ``rgb`` (H x W x 3 uint8) with ``heat`` (any size, 0..1 or uint8)
        when given; ``no_heat_reason`` says why there is none."""
        self._rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        self._heat = None if heat is None else fit_heat(heat, self._rgb.shape[:2])
        self.caption.set_full_text(path)
        self.patient.set_full_text(f"Patient: {patient}" if patient else "")
        self.patient.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        if heat is None:
            note = no_heat_reason
        elif not np.any(self._heat > 0):  # Grad-CAM keeps only what counts for the answer
            note = EMPTY_HEAT
        else:
            note = ""
        self.heat_note.setText(note)
        self.heat_note.setVisible(bool(self.heat_note.text()))
        self.message.hide()
        self.view.show()
        self._draw(keep_view=False)

    def set_pixmap(self, pixmap: QPixmap, path: str = "") -> None:
        """A picture without a heatmap (a thumbnail's full image)."""
        image = pixmap.toImage().convertToFormat(QImage.Format_RGB888)
        ptr = image.constBits()
        arr = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine())
        self.set_image(arr[:, : 3 * image.width()].reshape(image.height(), image.width(), 3),
                       path=path)

    def clear(self, text: str | None = None) -> None:
        self._rgb = self._heat = None
        self.view.set_pixmap(QPixmap())
        self.view.hide()
        self.message.setText(self.placeholder if text is None else text)
        self.message.show()
        self.caption.set_full_text("")
        self.patient.set_full_text("")
        self.heat_note.setText("")
        self.heat_note.hide()
        self._update_controls()

    def setText(self, text: str) -> None:  # noqa: N802 - as QLabel, for a message instead
        self.clear(text)

    def offer_enlarge(self) -> None:
        """Show the "Full size…" button (the tab opens the window on ``enlarge_requested``)."""
        self.enlarge_button.setVisible(True)

    def has_heatmap(self) -> bool:
        return self._heat is not None

    def showing_heatmap(self) -> bool:
        return self._heat is not None and self.heatmap_check.isChecked()

    def composed(self) -> np.ndarray | None:
        """The picture as drawn: with the heatmap blended in when it is shown."""
        if self._rgb is None:
            return None
        if self.showing_heatmap():
            return colormap.blend(self._rgb, self._heat, self.opacity.value() / 100)
        return self._rgb

    def pixmap(self) -> QPixmap | None:
        shown = self.view.pixmap()
        return None if self._rgb is None or shown.isNull() else shown

    # -- drawing ----------------------------------------------------------------------------
    def _options(self) -> None:
        self._draw(keep_view=True)
        self.options_changed.emit()

    def _update_controls(self) -> None:
        has = self._heat is not None
        for w in (self.heatmap_check, self.opacity, self.scale_low, self.scale_bar,
                  self.scale_high):
            w.setEnabled(has)

    def _draw(self, keep_view: bool) -> None:
        self._update_controls()
        pixels = self.composed()
        if pixels is not None:
            self.view.set_pixmap(to_pixmap(pixels), keep_view=keep_view)


# The name the tabs used for the plain fitted picture.
ImageView = ImageViewer


def open_full_size(parent: QWidget, viewer: ImageViewer, title: str = ""):
    """``viewer``'s picture in a window of its own at one screen pixel per image
    pixel (as large as the screen allows), with the same heatmap settings;
    None when it shows none."""
    from PySide6.QtWidgets import QDialog

    if viewer._rgb is None:
        return None
    dialog = QDialog(parent)
    dialog.setAttribute(Qt.WA_DeleteOnClose)
    dialog.setWindowTitle(title or viewer.caption.full_text() or "Image")
    layout = QVBoxLayout(dialog)
    big = ImageViewer("", heatmap=viewer.heatmap_check.isChecked(),
                      opacity=viewer.opacity.value())
    layout.addWidget(big, 1)
    big.set_image(viewer._rgb, viewer._heat, path=viewer.caption.full_text(),
                  patient=viewer.patient.full_text().removeprefix("Patient: "))
    h, w = viewer._rgb.shape[:2]
    room = parent.screen().availableGeometry() if parent.screen() is not None else None
    want_w, want_h = w + 40, h + 140  # the picture, and the rows under it
    if room is not None:
        want_w, want_h = min(want_w, room.width() * 9 // 10), min(want_h, room.height() * 9 // 10)
    dialog.resize(max(want_w, 360), max(want_h, 300))
    dialog.show()
    big.view.actual_size()  # full size; Fit shrinks it to the window
    dialog.viewer = big  # type: ignore[attr-defined]
    return dialog
