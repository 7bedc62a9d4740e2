"""The one Ctrl+C rule of every long command: the first Ctrl+C asks the job
to stop cleanly (it checks ``cancel`` between batches and keeps its finished
work); a second one quits at once. ``kill`` (SIGTERM) and a closed terminal
or SSH session (SIGHUP) are asked the same way: a batch system or a dropped
connection stops the job as Ctrl+C does, its finished work kept."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterable
from types import TracebackType

# Every signal that asks a command to end: stopped at the next batch, alike.
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
if sys.platform != "win32":  # Windows has no SIGHUP
    STOP_SIGNALS += (signal.SIGHUP,)


def _to_stderr(text: str) -> None:
    print(f"\n{text}", file=sys.stderr)  # on its own line, after the terminal's ^C


class StopOnInterrupt:
    """While installed, the first of ``signals`` sets ``cancel`` and says
    ``message``; the next raises KeyboardInterrupt. Use it as a context
    manager, or :meth:`install` / :meth:`restore` around a try block.

    Off the main thread (allgui used from another program) signals are not
    ours to take: nothing is installed and ``cancel`` stays the caller's.
    """

    def __init__(self, cancel: threading.Event, message: str,
                 say: Callable[[str], None] = _to_stderr,
                 signals: Iterable[signal.Signals] = STOP_SIGNALS) -> None:
        self.cancel, self.message, self.say = cancel, message, say
        self.signals = tuple(signals)
        self._previous: dict[signal.Signals, object] = {}

    def _handle(self, signum, frame) -> None:
        if self.cancel.is_set():
            raise KeyboardInterrupt
        self.cancel.set()
        try:
            self.say(self.message)
        except (OSError, ValueError):  # the terminal is gone (SIGHUP): stop all the same
            pass

    def install(self) -> StopOnInterrupt:
        try:
            for s in self.signals:
                self._previous[s] = signal.signal(s, self._handle)
        except ValueError:  # not the main thread
            self.restore()
        return self

    def restore(self) -> None:
        """Hand the signals back as they were."""
        for s, handler in self._previous.items():
            signal.signal(s, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def __enter__(self) -> StopOnInterrupt:
        return self.install()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.restore()
