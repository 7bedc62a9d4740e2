"""One search at a time per project.

A lock file beside the study holds the process ID and host of the search
running on it. While that process lives, a second search is refused (two
writers would each take the other's running trials for crashed ones). A
lock left by a process that died (``kill -9``, power cut) is taken over:
that is how allgui knows that trials still marked RUNNING were interrupted.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

from allgui.core.atomic import atomic_write_text
from allgui.core.errors import ProjectError

_held: set[str] = set()  # lock paths this process holds (two searches in one window)
_guard = threading.Lock()


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True


def _holder(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


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


@contextlib.contextmanager
def _lock_file(path: Path) -> Iterator[None]:
    holder = _holder(path)
    host = socket.gethostname()
    if holder and holder.get("pid") != os.getpid():
        same_host = holder.get("host") == host
        if same_host and _alive(int(holder.get("pid", 0))):
            raise ProjectError(
                "A search is already running on this project (process "
                f"{holder.get('pid')}); stop it first, or wait for it to finish."
            )
        if not same_host:
            raise ProjectError(
                f"A search on this project was started on another computer ({holder.get('host')})."
                f" If it is no longer running, delete {path.name} in the project folder."
            )
    atomic_write_text(path, json.dumps({"pid": os.getpid(), "host": host}))
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if (_holder(path) or {}).get("pid") == os.getpid():
                path.unlink()
