"""Long jobs on worker threads: a QThread running one engine call.

An engine call takes ``(sink, cancel)``: a sink for its events and a
``threading.Event`` it checks between batches. :class:`Job` runs it on its own
QThread, turns its events into queued signals and reports the result or the
exception on the GUI thread. Stop sets the event; the engine answers within a
second and leaves its work consistent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from allgui.core.events import Sink
from allgui.gui.event_bridge import EventBridge

JobFunction = Callable[[Sink, threading.Event], Any]


class _Worker(QObject):
    """Lives on the worker thread; runs the function once."""

    succeeded = Signal(object)
    failed = Signal(object)

    def __init__(self, fn: JobFunction, sink: Sink, cancel: threading.Event) -> None:
        super().__init__()
        self._fn = fn
        self._sink = sink
        self._cancel = cancel

    @Slot()
    def run(self) -> None:
        try:
            result = self._fn(self._sink, self._cancel)
        except BaseException as exc:  # noqa: BLE001 - reported to the GUI, never lost
            self.failed.emit(exc)
        else:
            self.succeeded.emit(result)
        finally:
            self.thread().quit()


class Job(QObject):
    """One named engine call on its own thread.

    Signals (all delivered on the GUI thread): ``event`` for each engine
    event, ``succeeded(result)``, ``failed(exception)``, and ``done`` once the
    thread has ended, whatever the outcome.
    """

    event = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)
    done = Signal()
    exclusive = False  # trains, reads the data or changes the project: one at a time

    def __init__(self, name: str, fn: JobFunction, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.cancel = threading.Event()
        self._bridge = EventBridge(self)
        self._bridge.event.connect(self.event)
        self._thread = QThread()
        self._thread.setObjectName(f"allgui-{name}")
        self._worker = _Worker(fn, self._bridge, self.cancel)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.succeeded.connect(self.succeeded)
        self._worker.failed.connect(self.failed)
        self._thread.finished.connect(self._on_thread_finished)
        self._running = False
        self._started = False

    def start(self) -> None:
        self._running = True
        self._started = True
        self._thread.start()

    def stop(self) -> None:
        """Ask the job to stop; it ends at its next check (within a second)."""
        self.cancel.set()

    @property
    def stopping(self) -> bool:
        return self.cancel.is_set()

    def is_running(self) -> bool:
        return self._running

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until the thread has ended; True when it has."""
        if not self._started:
            return True
        if timeout_ms < 0:
            return self._thread.wait()
        return self._thread.wait(timeout_ms)

    @Slot()
    def _on_thread_finished(self) -> None:
        self._running = False
        self.done.emit()

