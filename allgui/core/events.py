"""Events a long job emits, as plain frozen dataclasses.

A job (scan, cache build, study, validation batch, export) is handed a
``sink``: any callable taking one event. The CLI's sink prints progress bars;
the window's sink re-emits each event as a queued Qt signal, so it crosses
into the GUI thread safely. Events carry only plain values (numbers,
strings, tuples, dicts of plain values) so they are cheap to copy and safe to
hand between threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["info", "warning", "error"]
Ending = Literal["ok", "stopped", "error"]


@dataclass(frozen=True)
class Event:
    """Base of every event; ``job`` names the job that emitted it."""

    job: str


@dataclass(frozen=True)
class JobStarted(Event):
    description: str = ""
    total: int | None = None  # units of work (images, trials, runs), when known


@dataclass(frozen=True)
class Progress(Event):
    """``done`` of ``total`` units of the current phase are finished."""

    phase: str = ""
    done: int = 0
    total: int | None = None
    message: str = ""


@dataclass(frozen=True)
class Notice(Event):
    """Something the user should read: ``level`` is 'info', 'warning' or 'error'."""

    level: Level = "info"
    text: str = ""


@dataclass(frozen=True)
class EpochEnded(Event):
    """One epoch of a trial (``trial``) or of a validation run (``run``) ended."""

    trial: int | None = None
    run: int | None = None
    epoch: int = 0
    epochs: int = 0
    train_loss: float = float("nan")
    val_loss: float = float("nan")
    train_accuracy: float = float("nan")
    val_accuracy: float = float("nan")
    train_balanced_accuracy: float = float("nan")
    val_balanced_accuracy: float = float("nan")
    objective: float = float("nan")  # the study's objective on validation, this epoch
    lr: float = float("nan")


@dataclass(frozen=True)
class TrialStarted(Event):
    number: int = 0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialFinished(Event):
    number: int = 0
    value: float = float("nan")
    params: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    epochs_run: int = 0


@dataclass(frozen=True)
class TrialPruned(Event):
    number: int = 0
    epoch: int = 0
    reason: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialFailed(Event):
    number: int = 0
    reason: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StudyFinished(Event):
    best_number: int | None = None
    best_value: float | None = None
    n_complete: int = 0
    n_pruned: int = 0
    n_failed: int = 0  # stopped trials included (as Optuna counts them)
    stopped: bool = False  # True when the user pressed Stop
    n_stopped: int = 0  # of the failed, those Stop or a crash ended (they run again)


@dataclass(frozen=True)
class RunFinished(Event):
    """One validation run finished; ``metrics`` holds its test-set figures."""

    run: int = 0
    seed: int = 0
    label: str = ""  # 'tuned' or 'baseline'
    metrics: dict[str, float] = field(default_factory=dict)
    folder: str = ""  # the batch's folder, to read its record as it stands now


@dataclass(frozen=True)
class JobFinished(Event):
    ok: bool = True
    message: str = ""
    stopped: bool = False

    @property
    def ending(self) -> Ending:
        return "stopped" if self.stopped else ("ok" if self.ok else "error")


Sink = Callable[[Event], None]


def null_sink(event: Event) -> None:
    """A sink that drops everything (for callers that want no progress)."""


class EventLog:
    """A sink that keeps every event in order; handy in tests and scripts."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of_type(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


class JobHandle:
    """What the body of ``with job(...)`` may say about how the job ended."""

    def __init__(self) -> None:
        self.message = ""
        self.ending: Ending | None = None  # None: as the body's exit says
        self.ok: bool | None = None

    def finish(self, message: str = "", ending: Ending | None = None,
               ok: bool | None = None) -> None:
        """Set the message the one ``JobFinished`` will carry. A message alone
        is also used when the body is stopped (``Cancelled``); an ``ending``
        (or ``ok``) given here holds whatever way the body then exits, for a
        body that knows best what to tell."""
        self.message, self.ending, self.ok = message, ending, ok

    @property
    def explicit(self) -> bool:
        return self.ending is not None or self.ok is not None

    def event(self, name: str, default: Ending = "ok", fallback: str = "") -> JobFinished:
        ending = self.ending or default
        return JobFinished(name, ok=ending == "ok" if self.ok is None else self.ok,
                           stopped=ending == "stopped", message=self.message or fallback)


@contextmanager
def job(
    sink: Sink, name: str, description: str = "", total: int | None = None
) -> Iterator[JobHandle]:
    """Emit ``JobStarted``, run the body, then exactly one ``JobFinished``.

    A ``Cancelled`` from the body ends the job as stopped, any other exception
    as an error with its message (unless the body gave an ending with
    ``finish``); both are re-raised so callers still see them.
    """
    from allgui.core.errors import Cancelled  # errors imports nothing of ours

    handle = JobHandle()
    sink(JobStarted(name, description=description, total=total))
    try:
        yield handle
    except Cancelled as exc:
        sink(handle.event(name, "stopped", str(exc)))
        raise
    except BaseException as exc:
        sink(handle.event(name, "error") if handle.explicit else
             JobFinished(name, ok=False, message=str(exc) or type(exc).__name__))
        raise
    sink(handle.event(name))


# How often a step that cannot count its work says it is still at it: often
# enough that a user never watches a still screen for long (issue 26: under
# 10 s), seldom enough to cost nothing.
HEARTBEAT_S = 2.0


@contextmanager
def repeating(call: Callable[[], None], every_s: float,
              name: str = "allgui-heartbeat") -> Iterator[None]:
    """While the body runs, ``call()`` at once and then every ``every_s``
    seconds, from a thread of its own; the last call has returned when the
    body's block is left (a study's heartbeat, a long step's "still at it")."""
    import threading

    stop = threading.Event()

    def beat() -> None:
        while True:
            call()
            if stop.wait(every_s):
                return

    thread = threading.Thread(target=beat, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextmanager
def ticking(say: Callable[[int], None] | None) -> Iterator[None]:
    """While the body runs (one call that cannot report its own progress: an
    ONNX export, a session loaded and checked), ``say(seconds so far)`` at once
    and then every :data:`HEARTBEAT_S` seconds (see :func:`repeating`).
    ``None``: nothing."""
    if say is None:
        yield
        return
    import time

    started = time.monotonic()
    with repeating(lambda: say(int(time.monotonic() - started)), HEARTBEAT_S):
        yield


def seconds_words(message: str, seconds: int) -> str:
    """``message`` with the time it has taken so far, once it is a second or more."""
    return f"{message} ({seconds} s)" if seconds else message
