"""Whether a process recorded in a file (a search's lock, a batch's writer)
still runs, through psutil: the same answer on Linux, macOS and Windows, and
no signal sent (``os.kill(pid, 0)`` on Windows would send Ctrl+C).

A process ID is reused once its process ends, so a record names its process
by ID *and* creation time: a live process with the same ID but another
creation time is someone else's.
"""

from __future__ import annotations

import psutil

# psutil reads creation times from the kernel's clock ticks; two reads of one
# process agree far closer than this, two processes sharing an ID cannot.
SAME_START_S = 0.5


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this computer (an ended process its
    parent has not reaped yet, a zombie, does not)."""
    if pid <= 0:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # exists, owned by someone else
    except psutil.Error:
        return True  # cannot tell: assume it runs (refusing is the safe side)


def process_started(pid: int) -> float | None:
    """When process ``pid`` was created (seconds since the epoch), or None
    where that cannot be read."""
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.Error, OSError, ValueError):
        return None


def same_process(pid: int, started: object) -> bool:
    """Whether ``pid`` still runs and is the process recorded as created at
    ``started``. A record without a readable time (or from an older allgui,
    which kept another clock) is judged by its ID alone."""
    if not process_alive(pid):
        return False
    now = process_started(pid)
    if not isinstance(started, (int, float)) or isinstance(started, bool) or now is None:
        return True
    return abs(now - float(started)) < SAME_START_S
