"""The engine's sink on the Qt side: events from any thread arrive queued."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from allgui.core.events import Event


class EventBridge(QObject):
    """A sink (callable taking one event) that re-emits each event as a signal.

    The bridge lives in the GUI thread. When the engine calls it from a worker
    thread, Qt queues the signal, so connected slots run on the GUI thread and
    may touch widgets and matplotlib figures.
    """

    event = Signal(object)

    def __call__(self, event: Event) -> None:
        self.event.emit(event)
