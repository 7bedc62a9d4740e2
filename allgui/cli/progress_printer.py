"""A sink that shows a long job's progress on the terminal (stderr), so that
stdout stays clean for the results (and for ``--json``)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from allgui.core.events import Event, JobFinished, Notice, Progress


class ProgressPrinter:
    """Prints Progress as one updating line on a terminal, or a line every few
    seconds elsewhere; Notices as their own lines."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False, every_s: float = 5.0):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = every_s
        self._last = 0.0
        self._open_line = False

    def _end_line(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self._open_line = False

    def __call__(self, event: Event) -> None:
        if isinstance(event, Notice):
            self._end_line()
            prefix = {"warning": "warning: ", "error": "error: "}.get(event.level, "")
            self.stream.write(f"{prefix}{event.text}\n")
            self.stream.flush()
            return
        if self.quiet:
            return
        if isinstance(event, Progress):
            now = time.monotonic()
            finished = event.total is not None and event.done >= event.total
            if self.tty:
                if now - self._last < 0.1 and not finished:
                    return
                total = f"/{event.total:,}" if event.total else ""
                self.stream.write(f"\r  {event.phase}: {event.done:,}{total}   ")
                self._open_line = True
            else:
                if now - self._last < self.every_s and not finished:
                    return
                if event.total == 0:
                    return
                total = f" of {event.total:,}" if event.total else ""
                self.stream.write(f"  {event.phase}: {event.done:,}{total}\n")
            self._last = now
            self.stream.flush()
        elif isinstance(event, JobFinished):
            self._end_line()
