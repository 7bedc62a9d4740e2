"""Running one function over many files on all CPU cores, with progress and Stop.

Decoding images is CPU-bound Python/Pillow work, so it runs in worker
processes. Workers are started by 'forkserver' (or 'spawn' where that is all
there is), never plain 'fork': the window calls this from a worker thread,
and forking a threaded process can deadlock. Small jobs run in-process,
where starting workers would cost more than it saves.
"""

from __future__ import annotations

import multiprocessing
import os
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
    """Worker start-up: give way to the process that asked for the work, so a
    window stays responsive while every core decodes images."""
    try:
        os.nice(5)
    except (AttributeError, OSError):  # not POSIX, or not allowed: run as is
        pass


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
        max_workers=workers, mp_context=_context(), initializer=_lower_priority
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
