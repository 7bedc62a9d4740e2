"""Every background job of the window, in one place.

A job is a plain engine function run on its own QThread, given its state
explicitly (as Orange's concurrent mixin gives its tasks theirs): it is called
``fn(*args, sink=sink, cancel=cancel)``, where ``sink`` takes its events (they
reach the GUI thread queued, :mod:`event_bridge`) and ``cancel`` is the
``threading.Event`` that Stop sets (the engine checks it between batches and
answers within a second). A function that takes neither is started as
``stateless(fn)``: said where it starts, so that no job loses its Stop to a
parameter's name. A Python warning raised on a job's thread reaches the log
panel as the job's warning (as superqt's ``warned`` signal). Its result, or
its exception, comes back on the GUI thread.

:class:`JobManager` holds the window's jobs: it starts them, keeps "one
training or data job at a time", stops them, and at shutdown stops and joins
every one (refusing new ones) before any Qt object goes; a QThread destroyed
while running would abort the process. :class:`JobsMixin` is what a tab
uses (in the manner of Orange's ConcurrentWidgetMixin): ``run_job`` for the
tab's own job, shown by its progress line and stopped by its Stop button,
and ``start_job`` for a job on the side.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QThread, Signal, Slot

from allgui.core.errors import Cancelled
from allgui.core.events import Notice
from allgui.gui.event_bridge import EventBridge

log = logging.getLogger("allgui.gui")
JobFunction = Callable[..., Any]
Callback = Callable[[Any], None] | None


def stateless(fn: Callable[..., Any]) -> JobFunction:
    """``fn`` as a job function that takes no sink or cancel flag: it reports
    nothing and cannot be stopped (reading a small file, building a model)."""
    def run(*args: Any, sink: Any, cancel: threading.Event) -> Any:
        return fn(*args)

    run.__name__ = getattr(fn, "__name__", "job")
    return run


_running = threading.local()  # the job whose function runs on this thread
_plain_showwarning = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Python's warnings: the running job's Notice on its thread, as before elsewhere."""
    job = getattr(_running, "job", None)
    if job is None:
        _plain_showwarning(message, category, filename, lineno, file, line)
        return
    name, sink = job
    sink(Notice(name, level="warning", text=f"{message} ({category.__name__})"))


class _Worker(QObject):
    """Lives on the job's thread; runs the function once."""

    succeeded = Signal(object)
    failed = Signal(object)

    def __init__(self, name: str, fn: JobFunction, args: tuple, sink: EventBridge,
                 cancel: threading.Event) -> None:
        super().__init__()
        self._name, self._fn, self._args, self._sink, self._cancel = name, fn, args, sink, cancel

    @Slot()
    def run(self) -> None:
        if warnings.showwarning is not _show_warning:  # once (a test's own may replace it)
            warnings.showwarning = _show_warning
        _running.job = (self._name, self._sink)
        try:
            result = self._fn(*self._args, sink=self._sink, cancel=self._cancel)
        except BaseException as exc:  # noqa: BLE001 - reported to the GUI, never lost
            self.failed.emit(exc)
        else:
            self.succeeded.emit(result)
        finally:
            _running.job = None
            self.thread().quit()


class Job(QObject):
    """One named engine call on its own thread.

    Signals (all delivered on the GUI thread): ``event`` for each engine
    event, ``succeeded(result)``, ``failed(exception)``, and ``done`` once the
    thread has ended, whatever the outcome.

    ``exclusive``: it trains, reads the data or changes the project (one at a
    time). ``background``: the window's own upkeep (device probe, following a
    shared study): not shown as running and never a reason to ask before
    closing, but stopped and joined at shutdown like the others.
    """

    event = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)
    done = Signal()

    def __init__(self, name: str, fn: JobFunction, *args: Any, exclusive: bool = False,
                 background: bool = False, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.exclusive, self.background = exclusive, background
        self.cancel = threading.Event()
        self._bridge = EventBridge(self)
        self._bridge.event.connect(self.event)
        self._thread = QThread()
        self._thread.setObjectName(f"allgui-{name}")
        self._worker = _Worker(name, fn, args, self._bridge, self.cancel)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.succeeded.connect(self.succeeded)
        self._worker.failed.connect(self.failed)
        self._thread.finished.connect(self._on_thread_finished)
        self._running = False
        self._started = False

    def start(self) -> None:
        self._running = self._started = True
        self._thread.start()

    def stop(self) -> None:
        """Ask the job to stop; it ends at its next check (within a second)."""
        self.cancel.set()

    @property
    def stopping(self) -> bool:
        return self.cancel.is_set()

    def is_running(self) -> bool:
        """True until its end has been delivered on the GUI thread."""
        return self._running

    def thread_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until the thread has ended; True when it has."""
        if not self._started:
            return True
        if timeout_ms < 0:
            return self._thread.wait()
        return self._thread.wait(max(0, timeout_ms))

    @Slot()
    def _on_thread_finished(self) -> None:
        self._running = False
        self.done.emit()


class JobManager(QObject):
    """The window's jobs. ``show_error(error, title)`` tells the user about a
    failed job (or a refused one); ``log_event(event)`` writes each engine
    event to the log panel."""

    started = Signal(object)  # Job
    finished = Signal(object)  # Job, after its callbacks ran
    changed = Signal()  # the set of running jobs changed
    idle = Signal()  # the last job ended while a shutdown waited for it

    def __init__(self, show_error: Callable[[BaseException | str, str], None],
                 log_event: Callable[[Any], None] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._show_error, self._log_event = show_error, log_event
        self._jobs: list[Job] = []
        self.shutting_down = False

    # -- what runs ---------------------------------------------------------------
    @property
    def jobs(self) -> list[Job]:
        """The jobs a user started (not the window's upkeep), until each has ended."""
        return [j for j in self._jobs if not j.background]

    @property
    def all_jobs(self) -> list[Job]:
        return list(self._jobs)

    def busy(self) -> bool:
        return any(j.is_running() for j in self.jobs)

    def exclusive_job(self) -> Job | None:
        """The running job that trains, reads the data or changes the project, if any."""
        return next((j for j in self._jobs if j.exclusive and j.is_running()), None)

    def refuse_second(self, what: str) -> bool:
        """One training or data job at a time (they would share the GPU and
        torch's random state, and change the project together): True, after
        saying so in plain words, when one is running already."""
        running = self.exclusive_job()
        if running is None:
            return False
        self._show_error(
            f"'{running.name}' is still running. Wait for it to end, or stop it, before "
            f"{what}: allgui runs one training or data job at a time.",
            "One job at a time",
        )
        return True

    # -- starting ------------------------------------------------------------------
    def start(self, name: str, fn: JobFunction, *args: Any, on_event: Callback = None,
              on_success: Callback = None, on_failure: Callback = None,
              on_done: Callable[[], None] | None = None, exclusive: bool = False,
              background: bool = False) -> Job | None:
        """Run ``fn(*args, sink=, cancel=)`` on a worker thread; None once shutdown has begun.

        Without ``on_failure`` a failure is a dialog and a stop a log line.
        ``exclusive`` jobs are not refused here: their tab asks
        :meth:`refuse_second` first, before it changes anything.
        """
        if self.shutting_down:
            log.debug("not started while closing: %s", name)
            return None
        job = Job(name, fn, *args, exclusive=exclusive, background=background, parent=self)
        if self._log_event is not None:
            job.event.connect(self._log_event)
        if on_event is not None:
            job.event.connect(on_event)
        if on_success is not None:
            job.succeeded.connect(on_success)
        job.failed.connect(lambda exc: self._failed(job, exc, on_failure))
        job.done.connect(lambda: self._done(job, on_done))
        self._jobs.append(job)
        job.start()
        self.changed.emit()
        self.started.emit(job)
        return job

    def _failed(self, job: Job, exc: BaseException, on_failure: Callback) -> None:
        if on_failure is not None:
            on_failure(exc)
        elif isinstance(exc, Cancelled):
            log.info("%s: %s", job.name, exc.message)
        else:
            self._show_error(exc, f"{job.name} failed")

    def _done(self, job: Job, on_done: Callable[[], None] | None) -> None:
        if job in self._jobs:
            self._jobs.remove(job)
        try:
            if on_done is not None:
                on_done()
        finally:
            self.changed.emit()
            self.finished.emit(job)
            job.deleteLater()
            if self.shutting_down and not self._jobs:
                self.idle.emit()

    # -- stopping ------------------------------------------------------------------
    def stop_all(self) -> None:
        for job in list(self._jobs):
            job.stop()

    def wait_all(self, timeout_ms: int) -> bool:
        """Wait up to ``timeout_ms`` in all for every job's thread, delivering
        their last signals (their callbacks run here); True when none is left."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            for job in list(self._jobs):
                if not job.wait(int(max(0.0, deadline - time.monotonic()) * 1000)):
                    return False
            # Deliver the ends queued from the threads (not the user's clicks:
            # a second close must not run inside this one); a callback may
            # start another job (refused during a shutdown): look again.
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
            if not self._jobs:
                return True
            if time.monotonic() > deadline:
                return False

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Refuse new jobs, stop every job and join them; True when none is
        left. False leaves the manager refusing new jobs, with ``idle`` to
        come once the last of those still running (one that cannot stop
        midway) has ended."""
        self.shutting_down = True
        self.stop_all()
        return self.wait_all(timeout_ms)


class JobsMixin:
    """What a tab uses to run jobs. The tab provides ``job_manager`` (the
    window's), ``progress`` (a JobProgress whose ``stop_requested`` calls
    :meth:`stop`) and ``show_error``; it may override :meth:`job_changed`.

    ``job`` is the tab's own job: one at a time, shown by its progress line,
    stopped by its Stop button and Esc.
    """

    job: Job | None = None
    job_manager: JobManager
    progress: Any
    show_error: Callable[..., None]

    def start_job(self, name: str, fn: JobFunction, *args: Any, on_event: Callback = None,
                  on_success: Callback = None, on_failure: Callback = None,
                  on_done: Callable[[], None] | None = None, exclusive: bool = False) -> Job | None:
        """A job on the side (reading what to show, importances): not the tab's ``job``."""
        return self.job_manager.start(name, fn, *args, on_event=on_event, on_success=on_success,
                                      on_failure=on_failure, on_done=on_done, exclusive=exclusive)

    def job_refused(self, what: str, exclusive: bool = True, if_busy: str = "") -> bool:
        """True, having said why (``if_busy``, when given, for the tab's own job
        running), when a job for ``what`` cannot start now."""
        if self.job is not None:
            if if_busy:
                self.show_error(if_busy)
            return True
        return exclusive and self.job_manager.refuse_second(what)

    def run_job(self, name: str, fn: JobFunction, *args: Any, text: str = "",
                on_event: Callback = None, on_success: Callback = None,
                on_failure: Callback = None, exclusive: bool = False, what: str = "",
                if_busy: str = "") -> Job | None:
        """Start the tab's own job, unless :meth:`job_refused`. The progress line
        shows ``text`` and then the job's events; ``job_changed`` is called as
        it starts and once its thread has ended."""
        if self.job_refused(what or f"starting '{name}'", exclusive, if_busy):
            return None
        self.progress.set_running(True, text)

        def events(event: Any) -> None:
            self.progress.on_event(event)
            if on_event is not None:
                on_event(event)

        self.job = self.job_manager.start(name, fn, *args, on_event=events,
                                          on_success=on_success, on_failure=on_failure,
                                          on_done=self._own_job_done, exclusive=exclusive)
        if self.job is None:  # the window is closing
            self.progress.set_running(False, "")
        self.job_changed()
        return self.job

    def stop(self) -> None:
        """The one cancel path of the tab: Stop, Esc, the progress line's button."""
        if self.job is not None:
            self.job.stop()
            self.progress.show_stopping()
            self.job_changed()

    def _own_job_done(self) -> None:
        self.job = None
        if self.progress.stop_button.isEnabled():  # ended without saying how
            self.progress.set_running(False, "")
        self.job_changed()
        self.job_ended()

    def job_changed(self) -> None:
        """The tab's job started, is stopping, or ended: enable what fits."""

    def job_ended(self) -> None:
        """The tab's job has ended (after its result or error was shown)."""
