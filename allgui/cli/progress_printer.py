"""The terminal's sink: a long job's progress on stderr, so that stdout stays
clean for the results (and for ``--json``).

Bars, rates and time left are tqdm's. On a terminal each phase is one
updating bar; elsewhere (a log file, CI) a line every few seconds with the
same figures, never a carriage return. Every command's printer is this one
class: the search and validation add their own lines through :meth:`say`.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

from allgui.core.events import Event, JobFinished, Notice, Progress

# The figures a line or a bar gives: done of total, elapsed < time left, rate.
LINE_FORMAT = "{desc}: {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]"
OPEN_FORMAT = "{desc}: {n_fmt} [{elapsed}, {rate_fmt}]"  # no total: no time left


class ProgressPrinter:
    """Progress as one tqdm bar per phase on a terminal, or a line every
    ``every_s`` seconds elsewhere; Notices as their own lines. ``quiet`` shows
    only the Notices."""

    def __init__(self, stream: TextIO | None = None, quiet: bool = False, every_s: float = 5.0,
                 unit: str = "") -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = every_s
        self.unit = unit
        self._bar: tqdm | None = None
        self._phase: tuple[str, int | None] | None = None
        self._phase_started = 0.0
        self._last_line = 0.0

    def say(self, text: str) -> None:
        """``text`` on a line of its own, above the bar being drawn."""
        if self._bar is not None:
            self._bar.clear()
        self.stream.write(text + "\n")
        if self._bar is not None:
            self._bar.refresh()
        self.stream.flush()

    def end_bar(self) -> None:
        """Leave the current bar where it stands; the next progress starts another."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._phase = None

    def progress(self, phase: str, done: int, total: int | None, unit: str | None = None,
                 detail: str = "") -> None:
        """``done`` of ``total`` in ``phase``; ``detail`` follows the figures."""
        if self.quiet or total == 0:
            return
        now = time.monotonic()
        if self._phase != (phase, total):
            self.end_bar()
            self._phase, self._phase_started, self._last_line = (phase, total), now, 0.0
        finished = total is not None and done >= total
        if self.tty:
            if self._bar is None:
                self._bar = tqdm(total=total, desc=f"  {phase}", unit=unit or self.unit,
                                 file=self.stream, leave=True, dynamic_ncols=True,
                                 mininterval=0.1)
            if detail:
                self._bar.set_postfix_str(detail, refresh=False)
            self._bar.update(done - self._bar.n)
        elif finished or now - self._last_line >= self.every_s:
            self._last_line = now
            self.stream.write(tqdm.format_meter(
                done, total, now - self._phase_started, prefix=f"  {phase}", unit=unit or self.unit,
                bar_format=LINE_FORMAT if total else OPEN_FORMAT)
                + (f"  {detail}" if detail else "") + "\n")
            self.stream.flush()
        if finished:
            self.end_bar()

    def __call__(self, event: Event) -> None:
        if isinstance(event, Notice):
            prefix = {"warning": "warning: ", "error": "error: "}.get(event.level, "")
            self.say(f"{prefix}{event.text}")
        elif isinstance(event, Progress):
            self.progress(event.phase, event.done, event.total)
        elif isinstance(event, JobFinished):
            self.end_bar()
