"""One search at a time per project.

A lock file beside the study holds the process ID and host of the search
running on it. While that process lives, a second search is refused (two
writers would each take the other's running trials for crashed ones). A
lock left by a process that died (``kill -9``, power cut) is taken over:
that is how allgui knows that trials still marked RUNNING were interrupted.

Taking the lock is atomic: the file is created with ``O_CREAT | O_EXCL``,
so of two processes starting at once exactly one gets it. A stale lock is
removed only by the process holding a short-lived "breaker" file (itself
created with ``O_EXCL``), after reading the stale holder again, so two
processes replacing the same stale lock cannot remove each other's new one.
Whether the holder still runs is :mod:`allgui.core.search.liveness`'s answer.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from allgui.core.errors import ProjectError
from allgui.core.search.liveness import process_started, same_process

_held: set[str] = set()  # lock paths this process holds (two searches in one window)
_guard = threading.Lock()
# A lock file being written by its taker reads empty for a moment; one that
# stays unreadable this long was left by a process that died while taking it.
UNREADABLE_GRACE_S = 10.0
BREAKER_STALE_S = 30.0  # a breaker older than this was left by a crash


def _holder(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


@contextlib.contextmanager
def study_lock(path: str | Path) -> Iterator[None]:
    """Hold the lock file ``path`` for the duration of the block."""
    path = Path(path).resolve()
    with _guard:
        if str(path) in _held:
            raise ProjectError("A search is already running on this project; stop it first.")
        _held.add(str(path))
    try:
        with _lock_file(path):
            yield
    finally:
        with _guard:
            _held.discard(str(path))


def _create(path: Path, record: dict) -> bool:
    """Create ``path`` holding ``record``, atomically; False if it exists."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        os.write(fd, json.dumps(record).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def _stale(path: Path, holder: dict | None, host: str) -> bool:
    """Whether the lock at ``path`` (read as ``holder``) may be replaced; raises
    ProjectError when a live search holds it."""
    if holder is None:
        if _age_s(path) < UNREADABLE_GRACE_S:
            raise ProjectError("Another search is starting on this project right now; "
                               "stop it first, or wait for it to finish.")
        return True
    pid = int(holder.get("pid", 0) or 0)
    if holder.get("host") != host:
        raise ProjectError(
            f"A search on this project was started on another computer ({holder.get('host')})."
            f" If it is no longer running, delete the lock file {path}."
        )
    if pid != os.getpid() and same_process(pid, holder.get("started")):  # ours: left by us
        raise ProjectError(
            "A search is already running on this project (process "
            f"{pid}); stop it first, or wait for it to finish. If no search is running, "
            f"delete the lock file {path}."
        )
    return True


def _break_stale(path: Path, seen: dict | None, host: str) -> None:
    """Remove the stale lock ``path`` if it still holds what was ``seen``."""
    breaker = path.with_name(path.name + ".break")
    if breaker.exists() and _age_s(breaker) > BREAKER_STALE_S:
        with contextlib.suppress(OSError):
            breaker.unlink()
    if not _create(breaker, {"pid": os.getpid(), "host": host}):
        return  # another process is replacing it; the caller tries again
    try:
        if _holder(path) == seen:  # not replaced meanwhile by a live taker
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    finally:
        with contextlib.suppress(OSError):
            breaker.unlink()


@contextlib.contextmanager
def _lock_file(path: Path) -> Iterator[None]:
    host = socket.gethostname()
    mine = {"pid": os.getpid(), "host": host, "taken": time.time(),
            "started": process_started(os.getpid())}
    for _ in range(50):
        if _create(path, mine):
            break
        seen = _holder(path)
        if seen is None and not path.exists():
            continue  # released meanwhile: try again at once
        if _stale(path, seen, host):
            _break_stale(path, seen, host)
        time.sleep(0.02)
    else:
        raise ProjectError("The project's search lock could not be taken; another search "
                           f"may be starting. Try again in a moment (lock file: {path}).")
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if _holder(path) == mine:
                path.unlink()
