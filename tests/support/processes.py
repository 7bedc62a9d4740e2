"""Processes the tests need: one that has ended (its ID is free), one that
runs until stopped (a job's body), without polling."""

from __future__ import annotations

import subprocess
import sys
import threading

from allgui.core.errors import Cancelled


def dead_pid() -> int:
    """The ID of a process that ran here and has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def until_stopped(sink, cancel: threading.Event) -> None:
    """A job that works until Stop: it waits on the cancel flag, then stops."""
    cancel.wait()
    raise Cancelled()
