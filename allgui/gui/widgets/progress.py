"""A progress line for a tab's job: phase, bar, time left, and Stop."""

from __future__ import annotations

import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from allgui.core.events import JobStarted, Progress
from allgui.gui.widgets.elided import ElidedLabel


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class PhaseClock:
    """Estimates the time left in a phase from its rate so far."""

    def __init__(self) -> None:
        self.phase = ""
        self.started = time.monotonic()

    def estimate(self, phase: str, done: int, total: int | None) -> str:
        now = time.monotonic()
        if phase != self.phase:
            self.phase, self.started = phase, now
            return ""
        if not total or done <= 0 or done >= total:
            return ""
        elapsed = now - self.started
        if elapsed < 1.0:
            return ""
        return f"about {format_duration(elapsed / done * (total - done))} left"


class JobProgress(QWidget):
    """Shows one job's progress; ``stop_requested`` when the user presses Stop."""

    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = ElidedLabel("")  # a long phase shortens with "…", whole on hover
        self.label.setMinimumWidth(160)
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.eta = QLabel("")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the job; finished work is kept (Esc)")
        self.stop_button.clicked.connect(self._stop)
        layout.addWidget(self.label, 1)  # as wide as the bar: a phase's words are read
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.eta)
        layout.addWidget(self.stop_button)
        self._clock = PhaseClock()
        self._running = self._stopping = False
        self.set_running(False)

    def _stop(self) -> None:
        self.stop_button.setEnabled(False)
        self.show_stopping()
        self.stop_requested.emit()

    def show_stopping(self) -> None:
        """"Stopping…" from now until the job ends (its later progress not shown)."""
        self._stopping = True
        self.label.setText("Stopping…")

    def set_running(self, running: bool, text: str = "", done: bool = True) -> None:
        """Running: a busy bar. Ended: ``text``, and a full bar only when the
        work ended whole (``done``); a failed or stopped job leaves it empty."""
        self.stop_button.setEnabled(running)
        self._running, self._stopping = running, False
        if running:
            self._clock = PhaseClock()
            self.bar.setRange(0, 0)  # busy until the first Progress
            self.label.setText(text or "Working…")
            self.eta.setText("")
        else:
            self.bar.setRange(0, 1)
            self.bar.setValue(1 if text and done else 0)
            self.label.setText(text)
            self.eta.setText("")

    def show(self, words: str, phase: str, done: int, total: int | None) -> None:
        """One step of the work: its words and the bar from the same event, so
        that the words never name a phase the bar has left (Stop's "Stopping…"
        stays until the job ends)."""
        if total:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        else:
            self.bar.setRange(0, 0)
        # A job without Stop (an export) says its steps too (issue 26: 20 s of
        # "checking..." unseen); after Stop, "Stopping…" stays.
        if self._running and not self._stopping:
            self.label.setText(words or phase or "Working…")
        self.eta.setText(self._clock.estimate(phase, done, total))

    def set_ended(self, text: str, done: int, total: int) -> None:
        """No job: ``done`` of ``total`` of the work shown (a study opened part
        way), never an empty bar beside finished work."""
        self.set_running(False, text)
        self.bar.setRange(0, max(total, done, 1))
        self.bar.setValue(done)

    def on_event(self, event) -> None:
        if isinstance(event, JobStarted) and event.description:
            self.label.setText(event.description)
        elif isinstance(event, Progress):
            self.show(event.message or event.phase, event.phase, event.done, event.total)
