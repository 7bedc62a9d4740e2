"""Running one function over many files on all CPU cores, with progress and Stop.

Decoding images is CPU-bound Python/Pillow work, so it runs in worker
processes. Workers are started by 'forkserver' (or 'spawn' where that is all
there is), never plain 'fork': the window calls this from a worker thread,
and forking a threaded process can deadlock. Small jobs run in-process,
where starting workers would cost more than it saves.

Workers die with the process that asked for the work, even when it is killed
outright (kill -9, a crash): on Linux the kernel sends them SIGKILL when their
parent goes, and everywhere a watcher thread in each worker waits on the pipe
the parent holds open and exits when it reaches end-of-file. With no worker
left holding it, multiprocessing's resource tracker then exits too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from allgui.core.errors import Cancelled
from allgui.core.events import Progress, Sink, null_sink

T = TypeVar("T")
R = TypeVar("R")

# Below this many items the work is done in this process.
MIN_PARALLEL = 64


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _lower_priority() -> None:
    """Give way to the process that asked for the work, so a window stays
    responsive while every core decodes images."""
    try:
        os.nice(5)
    except (AttributeError, OSError):  # not POSIX, or not allowed: run as is
        pass


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Make this worker end when the process that started it ends."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # no prctl here: the watcher below still applies
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    # The parent keeps a pipe to each worker open for its whole life; its end
    # closes when the parent dies, however it dies (also where prctl is not).
    watcher = threading.Thread(target=_exit_when_gone, args=(parent,), daemon=True,
                               name="allgui-parent-watch")
    watcher.start()


def _exit_when_gone(parent) -> None:
    parent.join()
    os._exit(1)


def _worker_start() -> None:
    """Worker start-up (the pool's initializer)."""
    _die_with_parent()
    _lower_priority()


class _TaskFailed(Exception):
    """An exception raised by the work itself, not by starting workers."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _run_chunk(fn: Callable[..., R], items: Sequence[Any], args: tuple) -> list[R]:
    return [fn(item, *args) for item in items]


def map_items(
    fn: Callable[..., R],
    items: Sequence[T],
    args: tuple = (),
    *,
    job: str,
    phase: str,
    sink: Sink = null_sink,
    cancel: threading.Event | None = None,
    workers: int | None = None,
    chunk: int = 32,
) -> list[R]:
    """``[fn(item, *args) for item in items]``, in order, on ``workers`` processes.

    ``fn`` must be a module-level function (it is pickled). Emits Progress
    after each chunk; raises Cancelled soon after ``cancel`` is set, with
    finished chunks' side effects (such as written cache files) kept.
    """
    total = len(items)
    workers = workers or default_workers()
    sink(Progress(job, phase=phase, done=0, total=total))
    chunks = [items[i : i + chunk] for i in range(0, total, chunk)]
    if workers > 1 and total >= MIN_PARALLEL:
        try:
            return _in_processes(fn, chunks, args, job, phase, sink, cancel, workers, total)
        except _TaskFailed as failed:
            raise failed.error from None  # the work's own error (a full disk), as in-process
        except (BrokenProcessPool, OSError):
            pass  # workers cannot start here (a locked-down or frozen app): do it in-process
    results: list[R] = []
    for part in chunks:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        results.extend(_run_chunk(fn, part, args))
        sink(Progress(job, phase=phase, done=len(results), total=total))
    return results


def _in_processes(fn, chunks, args, job, phase, sink, cancel, workers, total):
    out: list[list | None] = [None] * len(chunks)
    done = 0
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=_context(), initializer=_worker_start
    )
    try:
        pending: dict[Future, int] = {}
        next_chunk = 0
        # Keep a few chunks per worker in flight, so Stop is answered quickly.
        while next_chunk < len(chunks) or pending:
            if cancel is not None and cancel.is_set():
                raise Cancelled()  # before handing out more work
            while next_chunk < len(chunks) and len(pending) < workers * 3:
                fut = pool.submit(_run_chunk, fn, chunks[next_chunk], args)
                pending[fut] = next_chunk
                next_chunk += 1
            finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            for fut in finished:
                k = pending.pop(fut)
                error = fut.exception()
                if isinstance(error, BrokenProcessPool):
                    raise error
                if error is not None:
                    raise _TaskFailed(error)
                out[k] = fut.result()
                done += len(chunks[k])
            if finished:
                sink(Progress(job, phase=phase, done=done, total=total))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    results = []
    for part in out:
        results.extend(part or [])
    return results
