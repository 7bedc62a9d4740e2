"""What the Optimize tab knows about a study's trials, fed by engine events."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from allgui.core.events import (
    EpochEnded,
    TrialFailed,
    TrialFinished,
    TrialPruned,
    TrialStarted,
)

STOPPED_REASONS = ("stopped by the user", "interrupted")  # the loop's words for a Stop


@dataclass
class TrialRecord:
    number: int
    state: str = "running"  # running, complete, pruned, failed, stopped
    value: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    duration_s: float | None = None
    reason: str = ""
    curve: list[EpochEnded] = field(default_factory=list)
    worker: str = ""  # host:pid that ran it (a study shared with workers)


class TrialBook:
    """Trials by number, updated from events; what the table and plots read."""

    def __init__(self) -> None:
        self.trials: dict[int, TrialRecord] = {}
        self.running: int | None = None

    def clear(self) -> None:
        self.trials.clear()
        self.running = None

    def record(self, number: int) -> TrialRecord:
        if number not in self.trials:
            self.trials[number] = TrialRecord(number)
        return self.trials[number]

    def apply(self, event) -> int | None:
        """Take one event in; returns the trial number it changed, if any."""
        if isinstance(event, TrialStarted):
            rec = self.record(event.number)
            rec.state, rec.params, rec.curve = "running", dict(event.params), []
            self.running = event.number
            return event.number
        if isinstance(event, EpochEnded) and event.trial is not None:
            self.record(event.trial).curve.append(event)
            return event.trial
        if isinstance(event, TrialFinished):
            rec = self.record(event.number)
            rec.state, rec.value = "complete", float(event.value)
            rec.params = dict(event.params) or rec.params
            rec.duration_s = event.duration_s
            return event.number
        if isinstance(event, TrialPruned):
            rec = self.record(event.number)
            rec.state = "pruned"
            rec.reason = event.reason or f"pruned after epoch {event.epoch}"
            rec.params = dict(event.params) or rec.params
            return event.number
        if isinstance(event, TrialFailed):
            rec = self.record(event.number)
            # Stop (or Ctrl+C) is not a fault: the trial runs again on resume.
            stopped = event.reason.startswith(STOPPED_REASONS)
            rec.state, rec.reason = ("stopped" if stopped else "failed"), event.reason
            rec.params = dict(event.params) or rec.params
            return event.number
        return None

    def complete(self) -> list[TrialRecord]:
        return [
            t for n, t in sorted(self.trials.items())
            if t.state == "complete" and t.value is not None and not math.isnan(t.value)
        ]

    def history(self, maximize: bool = True) -> tuple[list[int], list[float], list[float]]:
        """(trial numbers, values, best so far) of the complete trials, in order."""
        numbers, values, best = [], [], []
        top = None
        for t in self.complete():
            numbers.append(t.number)
            values.append(t.value)
            top = t.value if top is None else (max(top, t.value) if maximize else min(top, t.value))
            best.append(top)
        return numbers, values, best

    def param_names(self) -> list[str]:
        names: list[str] = []
        for t in self.trials.values():
            for k in t.params:
                if k not in names:
                    names.append(k)
        return names
