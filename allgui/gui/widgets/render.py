"""Full draws of the live plots on one worker thread, so that the window keeps
answering while a figure is drawn.

A full draw of a small matplotlib figure (every tick label, legend and line)
takes 20-150 ms on a busy CPU: on the GUI thread, that long a pause whenever
a new trial changes a figure or a plot tab is shown. Here the figure is drawn
into an Agg renderer of its own on a worker thread (matplotlib keeps a font
cache per thread, and one renderer is only ever used by one thread); the GUI
thread then only swaps the finished picture in. The plot that owns the
figure leaves it alone while it is drawn (see :class:`.plots.LivePlot`); its
:class:`Canvas` keeps the mouse's moves meanwhile for afterwards.
"""

from __future__ import annotations

import queue
import threading
import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QObject, Signal

Job = Callable[[], Any]
Done = Callable[[Any, BaseException | None], None]


class FigureRenderer(QObject):
    """Runs draw jobs one after another on a daemon thread; each job's result
    (or its error) reaches its ``on_done`` on the GUI thread, as a queued signal."""

    done = Signal(object, object, object)  # on_done, result, error

    def __init__(self) -> None:
        super().__init__()
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.done.connect(self._deliver)
        self._thread = threading.Thread(target=self._work, name="allgui-figures", daemon=True)
        self._thread.start()

    def submit(self, job: Job, on_done: Done, finished: threading.Event) -> None:
        """``finished`` is set on the worker thread as soon as ``job`` returns
        (for a caller that must wait for the figure to be free)."""
        finished.clear()
        self._jobs.put((job, on_done, finished))

    def _work(self) -> None:
        while True:
            job, on_done, finished = self._jobs.get()
            try:
                result, error = job(), None
            except Exception as exc:  # noqa: BLE001 - handed to the plot, which draws again
                result, error = None, exc
                traceback.print_exc()
            finished.set()
            if not shiboken6.isValid(self):  # the application is gone
                return
            self.done.emit(on_done, result, error)

    @staticmethod
    def _deliver(on_done: Done, result: Any, error: BaseException | None) -> None:
        on_done(result, error)


_shared: FigureRenderer | None = None


def figure_renderer() -> FigureRenderer:
    """The one renderer of the window (made on the GUI thread, at the first plot)."""
    global _shared
    if _shared is None or not shiboken6.isValid(_shared):
        _shared = FigureRenderer()
    return _shared


def on_gui_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class Canvas(FigureCanvasQTAgg):
    """The Agg canvas, drawing only what can be seen, its full draws done on
    the worker thread; laid out there too when it was resized."""

    def __init__(self, figure: Figure, on_resize: Callable[[], None],
                 full_draw: Callable[[], None]) -> None:
        super().__init__(figure)
        self._on_resize = on_resize
        self._full_draw = full_draw
        self._rendering = False  # the worker is drawing the figure: leave it alone
        self._moved = None  # the mouse's last move meanwhile

    def _draw_idle(self) -> None:
        # A hidden canvas keeps its draw pending; paintEvent asks for it when shown.
        if not getattr(self, "_draw_pending", False) or not self.isVisible():
            return
        self._draw_pending = False
        if self.height() > 0 and self.width() > 0:
            self._full_draw()  # meanwhile paintEvent shows the last picture

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)  # new figure size, and a draw_idle queued
        self._on_resize()

    @property
    def rendering(self) -> bool:
        return self._rendering

    @rendering.setter
    def rendering(self, on: bool) -> None:
        self._rendering = on
        if not on and self._moved is not None:
            moved, self._moved = self._moved, None
            super().mouseMoveEvent(moved)

    def mouseMoveEvent(self, event) -> None:
        if self._rendering:  # hovering reads the figure the worker draws: once it is done
            self._moved = event.clone()
        else:
            super().mouseMoveEvent(event)
