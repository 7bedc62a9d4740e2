"""The live plots' limits: fitted to the data with room to grow, so that
the next points usually fit without a full redraw, and left alone once the
user has zoomed or panned."""

from __future__ import annotations

import numpy as np


class AutoLimits:
    """Mixed into :class:`~allgui.gui.widgets.plots.LivePlot` (which has
    ``axes``, ``_auto_limits``, ``_full`` and ``wait_drawn``)."""

    axes: list
    _auto_limits: dict
    _full: bool

    @staticmethod
    def _shows_all(ax) -> bool:
        """Whether the data lie inside the current limits."""
        box = ax.dataLim
        if not (np.isfinite(box.x0) and np.isfinite(box.x1)):
            return True
        (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
        return x0 <= box.x0 and box.x1 <= x1 and y0 <= box.y0 and box.y1 <= y1

    @staticmethod
    def _follow(ax, before: tuple | None) -> None:
        """Fit the limits to the data with room to grow, never shrinking what
        was shown (``before``), so that the next points, and the next trial's,
        usually fit without a full redraw. "Fit" starts afresh."""
        ax.set_autoscale_on(True)  # set_xlim below turns it off again
        ax.autoscale_view()
        x0, x1 = ax.get_xlim()
        y0, y1 = ax.get_ylim()
        x1 += 0.25 * ((x1 - x0) or 1.0)
        pad = 0.08 * ((y1 - y0) or 1.0)
        y0, y1 = y0 - pad, y1 + pad
        if before is not None:
            (bx0, bx1), (by0, by1) = before
            x0, x1, y0, y1 = min(x0, bx0), max(x1, bx1), min(y0, by0), max(y1, by1)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)

    def set_view(self, index: int, xlim=None, ylim=None) -> None:
        """Limits the tab knows in advance (say, epochs 1..N), kept as automatic."""
        ax = self.axes[index]
        want = (tuple(xlim) if xlim is not None else ax.get_xlim(),
                tuple(ylim) if ylim is not None else ax.get_ylim())
        if self._auto_limits.get(index) == want == (ax.get_xlim(), ax.get_ylim()):
            return  # as they are: nothing to wait for, nothing to draw
        self.wait_drawn()
        if xlim is not None:
            ax.set_xlim(*xlim)
        if ylim is not None:
            ax.set_ylim(*ylim)
        limits = (ax.get_xlim(), ax.get_ylim())
        if self._auto_limits.get(index) != limits:
            self._full = True  # new ticks: the cached background is stale
        self._auto_limits[index] = limits

    def user_zoomed(self, index: int = 0) -> bool:
        ax = self.axes[index]
        auto = self._auto_limits.get(index)
        return auto is not None and auto != (ax.get_xlim(), ax.get_ylim())
