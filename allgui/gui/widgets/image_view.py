"""One picture shown as large as the space allows, never larger."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy


class ImageView(QLabel):
    """Shows one picture as large as the space allows, never larger."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        self.setAlignment(Qt.AlignCenter)
        self.setMinimumSize(200, 200)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)
        self._full: QPixmap | None = None

    def set_image(self, pixmap: QPixmap) -> None:
        self._full = pixmap
        self._fit()

    def clear(self) -> None:
        self._full = None
        super().clear()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self._full is None:
            return
        size = self.contentsRect().size()
        self.setPixmap(self._full.scaled(max(50, size.width() - 4), max(50, size.height() - 4),
                                         Qt.KeepAspectRatio, Qt.SmoothTransformation))
