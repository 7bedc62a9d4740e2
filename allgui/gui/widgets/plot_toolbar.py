"""The live plots' toolbar: matplotlib's (zoom, pan, save), its icons
rendered once instead of at every paint."""

from __future__ import annotations

from matplotlib.backends.backend_qtagg import NavigationToolbar2QT
from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon


class PlotToolbar(NavigationToolbar2QT):
    """Matplotlib's toolbar with its icons rendered once, not at every paint.

    Recent matplotlib gives each button an icon engine that reads and renders
    the SVG file whenever the button is painted, which the live plots made
    several times a second. The icons are rendered again only when the
    palette switches between light and dark.
    """

    ICON_SCALE = 0.8  # of the style's toolbar icon size: room for the plot

    def _icon(self, name):
        live = super()._icon(name)
        icon = QIcon()
        # Only the sizes this toolbar paints: its icon size, before and after
        # scaling, on this screen and at one device pixel per pixel.
        logical = {self.iconSize().width(), round(self.iconSize().width() * self.ICON_SCALE)}
        ratios = {1.0, self.devicePixelRatioF()}
        for size in sorted({round(n * r) for n in logical for r in ratios}):
            icon.addPixmap(live.pixmap(QSize(size, size)))
        return icon

    def refresh_icons(self) -> None:
        for _text, _tip, image, callback in self.toolitems:
            if callback in self._actions:
                self._actions[callback].setIcon(self._icon(image + ".png"))
