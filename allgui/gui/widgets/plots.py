"""Live matplotlib plots in the window: Agg canvas, throttled redraws, and
the user's zoom kept while data arrive.

Figures are changed only on the GUI thread (events reach the tabs as queued
signals), and drawn in full on one worker thread (:mod:`.render`), so that a
draw never pauses the window. :class:`LivePlot` owns one figure; a tab changes
its artists and calls :meth:`LivePlot.request_redraw`, which coalesces
requests into at most one redraw per interval: the changing lines repainted
over a cached background (a few milliseconds, on the GUI thread), or a full
draw on the worker while the plot leaves its figure alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import shiboken6
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QPushButton, QVBoxLayout, QWidget

from allgui.gui.widgets.plot_limits import AutoLimits
from allgui.gui.widgets.plot_toolbar import PlotToolbar
from allgui.gui.widgets.render import Canvas, figure_renderer, on_gui_thread

REDRAW_INTERVAL_MS = 250


def _palette_colours(widget: QWidget) -> tuple[str, str]:
    pal = widget.palette()
    return pal.color(QPalette.Base).name(), pal.color(QPalette.Text).name()


class LivePlot(AutoLimits, QWidget):
    """A figure with a toolbar (zoom, pan, save) and a "Fit" button."""

    shown = Signal()  # the plot became visible (its tab was chosen)
    fit_requested = Signal()  # "Fit": plots redrawn from scratch forget their zoom too

    def __init__(
        self,
        parent: QWidget | None = None,
        nrows: int = 1,
        ncols: int = 1,
        toolbar: bool = True,
        figsize: tuple[float, float] = (5.0, 3.0),
        keep_zoom: bool = True,
    ) -> None:
        super().__init__(parent)
        # The layout is computed when the size or the margins change, not at every
        # draw: a constrained-layout pass doubles the cost of a draw.
        self.figure = Figure(figsize=figsize)
        self._ncols = ncols
        self.canvas = Canvas(self.figure, self._resized, self._full_draw)
        self._layout_dirty = True
        self._full = True  # the next redraw must draw everything (limits changed)
        self._margins: tuple[float, ...] | None = None  # points; None: measured
        self._pending = False  # a redraw was asked for while hidden
        self._rendering = False  # a full draw is under way on the worker thread
        self._again = False  # asked for while it was: redraw once it is done
        self._generation = 0  # of full draws; a result for an older one is dropped
        self._free = threading.Event()  # set when the worker has finished with the figure
        self._free.set()
        self.canvas.setMinimumSize(200, 150)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        if toolbar:
            self.toolbar = PlotToolbar(self.canvas, self)
            self.toolbar.setIconSize(self.toolbar.iconSize() * PlotToolbar.ICON_SCALE)
            fit = QPushButton("Fit")
            fit.setToolTip("Forget the zoom and show all the data")
            fit.clicked.connect(self.fit)
            self.toolbar.addWidget(fit)
            layout.addWidget(self.toolbar)
        layout.addWidget(self.canvas, 1)
        self.axes = [self.figure.add_subplot(nrows, ncols, i + 1) for i in range(nrows * ncols)]
        self._auto_limits: dict[int, tuple] = {}
        self.keep_zoom = keep_zoom  # False for plots redrawn from scratch each time
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self._redraw)
        self._updater: Callable[..., None] | None = None
        self._snapshot: Callable[[], Any] | None = None
        self._animated: list = []
        self._background = None
        self._background_size = None
        self.canvas.mpl_connect("draw_event", self._on_draw)
        self.draw_count = 0  # redraws asked for and done
        self.blit_count = 0  # of which only the changing artists were repainted
        self.apply_palette()

    @property
    def ax(self):
        return self.axes[0]

    def apply_palette(self) -> None:
        """Follow the system's light or dark palette."""
        base, text = _palette_colours(self)
        self.figure.set_facecolor(base)
        for ax in self.axes:
            ax.set_facecolor(base)
            ax.tick_params(colors=text)
            for spine in ax.spines.values():
                spine.set_color(text)
            ax.xaxis.label.set_color(text)
            ax.yaxis.label.set_color(text)
            ax.title.set_color(text)

    def set_updater(self, updater: Callable[..., None],
                    snapshot: Callable[[], Any] | None = None) -> None:
        """``updater`` refreshes the artists from the tab's data before a redraw,
        on the GUI thread. With ``snapshot``, for a plot drawn from scratch each
        time: ``snapshot()`` takes what to draw on the GUI thread (cheaply, so
        that the tab may go on changing its data) and ``updater(data)`` makes
        the artists from it on the worker thread, just before the draw."""
        self._updater = updater
        self._snapshot = snapshot

    def _update(self) -> None:
        """Refresh the artists now, on this thread."""
        if self._updater is not None:
            self._updater(self._snapshot()) if self._snapshot is not None else self._updater()

    def request_redraw(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def redraw_pending(self) -> bool:
        """Whether a redraw is asked for (the throttle's timer runs) or under way."""
        return self._timer.isActive() or self._rendering or self._again

    def redraw(self) -> None:
        """Redraw now: the changing lines at once, a full draw on the worker thread."""
        self._timer.stop()
        self._redraw()

    def redraw_now(self) -> None:
        """Redraw at once, on this thread (a click asked for it, or a test)."""
        self._timer.stop()
        self._redraw(force=True)

    def wait_drawn(self, timeout: float = 10.0) -> None:
        """Wait until the worker has finished with the figure (before changing
        it outside the redraw cycle); a result still to come is dropped."""
        if self._rendering:
            self._free.wait(timeout)
            self._generation += 1
            self._rendering = self.canvas.rendering = False

    def _resized(self) -> None:
        # Laid out with the draw the resize has queued (on the worker thread).
        self._layout_dirty = True

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.PaletteChange:  # the system switched light/dark
            self.wait_drawn()
            self.apply_palette()
            if hasattr(self, "toolbar"):
                self.toolbar.refresh_icons()
            self._layout_dirty = True
            self.request_redraw()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._pending:  # right after the first paint (the last picture, or none)
            QTimer.singleShot(0, self, self._redraw)
        self.shown.emit()

    def set_margins(self, left: float, bottom: float, right: float, top: float,
                    gap: float = 0.0) -> None:
        """Fixed margins in points (``gap``: between axes side by side), for a
        plot whose labels are known in advance: laying out is then arithmetic,
        not the measuring of every label."""
        if self._margins != (left, bottom, right, top, gap):
            self._margins = (left, bottom, right, top, gap)
            self._layout_dirty = True

    def _layout(self) -> bool:
        """Lay the axes out for the figure's size; False when it is too small."""
        w, h = self.figure.get_size_inches()
        if w * self.figure.dpi < 50 or h * self.figure.dpi < 50:
            return False
        if self._margins is not None:
            left, bottom, right, top, gap = (m / 72 for m in self._margins)  # points to inches
            n = self._ncols
            width = (w - left - right - (n - 1) * gap) / n  # of one axes
            if width > 0.5 and bottom + top < h - 0.5:
                self.figure.subplots_adjust(left=left / w, right=1 - right / w,
                                            bottom=bottom / h, top=1 - top / h,
                                            wspace=gap / width)
                return True
            return False
        try:
            ConstrainedLayoutEngine().execute(self.figure)
        except (ValueError, RuntimeError):  # too small to lay out: keep the last one
            return False
        return True

    def animate(self, *artists) -> None:
        """Mark ``artists`` (lines, titles) as the ones that change: while the
        axes keep their limits, a redraw repaints only them over a cached
        background (blitting), a few milliseconds instead of a full draw."""
        for artist in artists:
            artist.set_animated(True)
            self._animated.append(artist)

    def _on_draw(self, event) -> None:
        # After every full draw (ours, a resize, the toolbar's): keep the
        # background and put the changing artists on top of it. A draw on the
        # worker thread has its turn when its picture is swapped in.
        if not self._animated or not on_gui_thread():
            return
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)
        self._background_size = self.canvas.get_width_height()
        for artist in self._animated:
            self.figure.draw_artist(artist)

    def _blit(self) -> bool:
        if self._rendering or self._background is None or \
                self._background_size != self.canvas.get_width_height():
            return False
        self.canvas.restore_region(self._background)
        for artist in self._animated:
            self.figure.draw_artist(artist)
        # painted at the event loop's next turn (not at once, as canvas.blit would):
        # the window answers in between
        self.canvas.update()
        return True

    def _redraw(self, force: bool = False) -> None:
        if force:
            self.wait_drawn()
        elif self._rendering:
            self._again = True  # the figure is the worker's until it is drawn
            return
        if not self.isVisible() and not force:
            self._pending = True  # drawn when shown: hidden plots cost nothing
            return
        self._pending = False
        if self._updater is not None and self._snapshot is None:
            self._updater()
        full = self._full or self._layout_dirty or not self._animated
        for i, ax in enumerate(self.axes if self.keep_zoom else ()):
            limits = (ax.get_xlim(), ax.get_ylim())
            if i in self._auto_limits and self._auto_limits[i] != limits:
                continue  # zoomed by the user: leave the limits alone
            ax.relim()
            if i not in self._auto_limits or not self._shows_all(ax):
                self._follow(ax, self._auto_limits.get(i))
                self._auto_limits[i] = (ax.get_xlim(), ax.get_ylim())
                full = True
        self.draw_count += 1
        if not full and self.isVisible() and self._blit():
            self.blit_count += 1
            return
        if not force:
            self._full_draw()
            return
        if self._snapshot is not None:
            self._update()
        if self._layout_dirty and self._layout():
            self._layout_dirty = False
        self._full = False
        if self.isVisible():
            self.canvas.draw()  # asked for now (a click): not after the job has started
        else:
            self.canvas.draw_idle()

    def _full_draw(self) -> None:
        """Draw everything on the worker thread; the GUI thread goes on answering
        and shows the last picture until the new one is swapped in."""
        if self._rendering:
            self._again = True
            return
        w, h = self.canvas.get_width_height(physical=True)
        if w <= 0 or h <= 0:
            return
        key = (w, h, self.figure.dpi)
        data = self._snapshot() if self._snapshot is not None else None
        build = self._updater if self._snapshot is not None else None
        layout = self._layout_dirty
        figure = self.figure

        def job() -> tuple[RendererAgg, bool]:
            if build is not None:
                build(data)
            laid_out = (layout or self._layout_dirty) and self._layout()  # margins may be new
            renderer = RendererAgg(w, h, key[2])
            figure.draw(renderer)
            return renderer, laid_out

        self._rendering = self.canvas.rendering = True
        self._again = False
        self._full = False
        self._generation += 1
        generation = self._generation
        figure_renderer().submit(job, lambda result, error: self._drawn(
            generation, key, result, error), self._free)

    def _drawn(self, generation: int, key: tuple, result, error) -> None:
        if not shiboken6.isValid(self) or generation != self._generation:
            return  # closed, or drawn since on this thread
        self._rendering = False
        canvas = self.canvas
        current = (*canvas.get_width_height(physical=True), self.figure.dpi)
        if error is not None or current != key:
            self._full = True  # resized meanwhile (or it failed): once more, at the new size
            self._again = self._again or current != key
        else:
            renderer, laid_out = result
            if laid_out:
                self._layout_dirty = False
            canvas.renderer, canvas._lastKey = renderer, key
            self._on_draw(None)  # the background for blitting, the changing lines on top
            canvas.update()
        canvas.rendering = False  # a mouse move kept meanwhile is taken now
        if self._again:
            self._again = False
            self._redraw()

    def fit(self) -> None:
        self.wait_drawn()
        self.fit_requested.emit()
        self._auto_limits.clear()
        for ax in self.axes:
            ax.set_autoscale_on(True)
        self._redraw(force=True)

    def forget_readout(self) -> None:
        """The toolbar's pointer readout ("x=… y=…") says nothing of data drawn since."""
        if hasattr(self, "toolbar"):
            self.toolbar.set_message("")

    def mark_stale(self) -> None:
        """A still part (a legend) changed: the next redraw draws everything."""
        self._full = True

    def clear(self) -> None:
        self.wait_drawn()
        self._animated.clear()
        self._background = None
        for ax in self.axes:
            ax.clear()
        self._auto_limits.clear()
        self._layout_dirty = True
        self.apply_palette()
        self.request_redraw()
