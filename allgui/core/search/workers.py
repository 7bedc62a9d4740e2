"""What a worker of a shared study does besides training: say it is alive
(its ``worker:<host:pid>`` study attribute, and its running trial's
heartbeat), take the database lock between counting the budget and asking a
trial, and queue again the trials of workers that died.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from allgui.core.events import Notice, Sink, repeating
from allgui.core.search import study_write as W
from allgui.core.search.loop import JOB
from allgui.core.search.record import StudyRecord, TrialRecord
from allgui.core.search.storage import scheme

MAX_RETRIES = 3  # a trial whose workers keep dying is given up after this many


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class WorkerSeen:
    """One worker's last sign of life, as the study holds it."""

    name: str  # host:pid
    # 'starting', 'running', 'waiting', 'finished', 'stopped', 'failed'; 'silent' (snapshot):
    # running or waiting but no sign of life for longer than the heartbeat's grace period
    state: str
    trial: int | None  # the trial it runs
    done: int  # trials it finished
    seen: datetime  # UTC

    def age_s(self, now: datetime | None = None) -> float:
        now = now or datetime.now(timezone.utc)
        return max((now - self.seen).total_seconds(), 0.0)

    def describe(self, now: datetime | None = None) -> str:
        what = f"running trial {self.trial}" if self.state == "running" and \
            self.trial is not None else self.state
        if self.state == "silent":
            what = "silent (stopped answering" + (f" during trial {self.trial})"
                                                  if self.trial is not None else ")")
        return f"{self.name}: {what}, {self.done} done, seen {_ago(self.age_s(now))}"


def _ago(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def workers_seen(study, within_s: float | None = None) -> tuple[WorkerSeen, ...]:
    """The workers that have announced themselves on ``study``, most recent
    first; only those seen in the last ``within_s`` seconds when given."""
    now = datetime.now(timezone.utc)
    out = []
    record = study if isinstance(study, StudyRecord) else StudyRecord.from_study(study)
    for name, value in record.workers.items():
        if not isinstance(value, dict):
            continue
        try:
            seen = datetime.fromisoformat(value["seen"])
        except (KeyError, TypeError, ValueError):
            continue
        w = WorkerSeen(name=name, state=str(value.get("state", "")),
                       trial=value.get("trial"), done=int(value.get("done") or 0), seen=seen)
        if within_s is None or w.age_s(now) <= within_s:
            out.append(w)
    return tuple(sorted(out, key=lambda w: w.seen, reverse=True))


@contextlib.contextmanager
def ask_lock(storage, study_name: str) -> Iterator[None]:
    """One worker at a time between counting the budget and asking a trial."""
    kind = scheme(str(storage.url))
    if kind != "postgresql":
        yield  # SQLite serialises writers itself; other servers: the count may run over by one
        return
    from sqlalchemy import text

    key = zlib.crc32(f"allgui-study:{study_name}".encode())
    with storage.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


class Requeue:
    """Heartbeat-stale trial callback: queue the parameters again and say so."""

    def __init__(self, sink: Sink) -> None:
        from optuna.storages import RetryHeartbeatStaleTrialCallback

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # experimental in Optuna; its interface is pinned
            self._retry = RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)
        self.sink = sink

    def __call__(self, study, trial) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._retry(study, trial)
        who = TrialRecord.from_trial(trial).worker or "its worker"
        self.sink(Notice(JOB, level="warning",
                         text=f"Trial {trial.number} stopped answering ({who} died or lost the "
                              "connection); its parameters will run again."))


class Presence:
    """This worker's ``worker:<name>`` study attribute."""

    def __init__(self, storage, study_id: int, name: str) -> None:
        self.storage, self.study_id, self.name = storage, study_id, name
        self.state, self.done = "starting", 0
        self.trial: int | None = None
        self._lock = threading.Lock()

    def say(self, state: str | None = None, trial: int | None = None) -> None:
        with self._lock:
            if state is not None:
                self.state, self.trial = state, trial
            value = {"state": self.state, "trial": self.trial, "done": self.done,
                     "seen": datetime.now(timezone.utc).isoformat(timespec="seconds")}
            with contextlib.suppress(Exception):  # a missed sign of life is harmless
                W.say_worker(self.storage, self.study_id, self.name, value)


@contextlib.contextmanager
def heartbeat(storage, trial_id: int, every_s: float, presence: Presence) -> Iterator[None]:
    def beat() -> None:
        with contextlib.suppress(Exception):  # the next beat tries again
            storage.record_heartbeat(trial_id)
        presence.say()

    with repeating(beat, every_s):
        yield
